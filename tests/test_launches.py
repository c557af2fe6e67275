"""Values that come from the launch: shell as bash reads it, flags as HfArgumentParser/argparse parse them,
TRL scripts and their docstring usage, shell scripts and Makefiles, the trl/swift/llamafactory-cli commands.
Real bashlex and libcst parses, bundled inventories of real checkpoints; the PEFT-verified counterpart is
tests/test_launches_vs_peft.py (slow)."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from loralint.cli import main
from loralint.config import Settings
from loralint.engine import Linter
from loralint.frontends.cliargs import FlagSpec, parse_flags
from loralint.frontends.launch import makefile_launches, shell_launches, target_of
from loralint.resolve import Resolver


pytestmark = pytest.mark.usefixtures("offline_env")


def lint(path: Path):
    return Linter(Settings(root=path.parent), Resolver(offline=True)).lint_path(path).diagnostics


def fixed(path: Path, unsafe=False) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(["check", "--offline", "--fix", *(["--unsafe-fixes"] if unsafe else []), str(path)])
    return path.read_text()


def words(text: str):
    (launch,) = shell_launches(Path("run.sh"), text)
    return launch


# -- shell as bash reads it -----------------------------------------------------------------------------
def test_continuations_variables_and_quoting():
    launches = shell_launches(Path("run.sh"), 'M=google/gemma-3-4b-it\nexport T="q_proj v_proj"\n'
                              'python train.py \\\n  --model "$M" --targets $T --fallback ${UNSET:-x} --sub $(cat f)\n')
    assert len(launches) == 1
    assert launches[0].argv[:8] == ["python", "train.py", "--model", "google/gemma-3-4b-it", "--targets", "q_proj",
                                    "v_proj", "--fallback"]
    assert launches[0].argv[8] == "x" and repr(launches[0].argv[10]) == "UNKNOWN"


def test_a_comment_line_inside_a_continuation_ends_the_command():
    launches = shell_launches(Path("run.sh"), "python train.py \\\n  --a 1 \\\n  # --b 2 \\\n  --c 3\n")
    assert [launch.argv for launch in launches] == [["python", "train.py", "--a", "1"], ["--c", "3"]]


def test_loops_make_one_launch_per_value_and_unreadable_files_are_read_command_by_command():
    launches = shell_launches(Path("run.sh"), "arr=(1 2)\nfor r in 8 16; do\n  python train.py --r $r\ndone\n")
    assert [(launch.label, launch.argv[-1]) for launch in launches] == [("r=8", "8"), ("r=16", "16")]


def test_makefile_recipes_with_make_variables():
    (launch,) = [l for l in makefile_launches(Path("Makefile"), "MODEL := org/m\ntrain:\n\t@python train.py --model $(MODEL) \\\n\t  --r 8\n")
                 if target_of(l)]
    assert launch.argv == ["python", "train.py", "--model", "org/m", "--r", "8"]


@pytest.mark.parametrize("command, name", [
    ("python3 train.py --x 1", "train.py"),
    ("CUDA_VISIBLE_DEVICES=0,1 accelerate launch --config_file cfg.yaml --num_processes 2 train.py --x 1", "train.py"),
    ("torchrun --nproc_per_node 8 --master_port=29500 scripts/train.py --x 1", "scripts/train.py"),
    ("python -m torch.distributed.run --nproc_per_node=8 train.py --x 1", "train.py"),
    ("deepspeed --num_gpus 8 train.py --deepspeed ds.json --x 1", "train.py"),
])
def test_launchers_and_their_own_options(command, name):
    target = target_of(words(command))
    assert (target.kind, target.name) == ("script", name)
    assert target.args[-2].value == "--x" and target.args[-1].value == "1"


# -- flags as HfArgumentParser parses them -----------------------------------------------------------------
SPECS = {"lora_target_modules": FlagSpec("list"), "use_peft": FlagSpec("bool", False), "lora_r": FlagSpec("int", 16),
         "gradient_checkpointing": FlagSpec("bool", True)}


@pytest.mark.parametrize("command, expected", [
    ("--lora_target_modules down_proj, o_proj, v_proj", {"lora_target_modules": ["down_proj,", "o_proj,", "v_proj"]}),
    ("--lora_target_modules=q_proj --lora_target_modules k_proj v_proj", {"lora_target_modules": ["k_proj", "v_proj"]}),
    ("--use_peft --lora_r 8", {"use_peft": True, "lora_r": 8}),
    ("--use_peft false --lora-r=32", {"use_peft": False, "lora_r": 32}),
    ("--no_gradient_checkpointing --unknown 5 --lora_r 4", {"gradient_checkpointing": False, "lora_r": 4}),
])
def test_hf_argument_parser_rules(command, expected):
    launch = words("python t.py " + command)
    given = parse_flags(target_of(launch).args, SPECS)
    assert {dest: g.value for dest, g in given.items()} == expected


# -- TRL scripts, their docstring usage and their launches ------------------------------------------------------
TRL_SCRIPT = '''"""
accelerate launch
    --config_file=examples/accelerate_configs/deepspeed_zero3.yaml \\
    examples/scripts/sft_vlm.py \\
    --dataset_name trl-lib/Capybara \\
    --model_name_or_path Qwen/Qwen2.5-7B-Instruct \\
    --use_peft \\
    --lora_target_modules down_proj, o_proj, v_proj
"""
from trl import ModelConfig, ScriptArguments, SFTConfig, SFTTrainer, TrlParser, get_peft_config

if __name__ == "__main__":
    parser = TrlParser((ScriptArguments, SFTConfig, ModelConfig))
    script_args, training_args, model_args = parser.parse_args_and_config()
    trainer = SFTTrainer(model=model_args.model_name_or_path, args=training_args,
                         peft_config=get_peft_config(model_args))
'''


@pytest.fixture
def repo(tmp_path):
    (tmp_path / ".git").mkdir()
    script = tmp_path / "examples" / "scripts" / "sft_vlm.py"
    script.parent.mkdir(parents=True)
    script.write_text(TRL_SCRIPT)
    return tmp_path


def test_docstring_usage_comma_entries_are_ll003_with_a_fix(repo):
    script = repo / "examples/scripts/sft_vlm.py"
    (diag,) = lint(script)
    assert diag.code == "LL003" and "`down_proj,`, `o_proj,`" in diag.message and "not split on commas" in diag.message
    assert (diag.span.line, diag.span.column) == (8, 27)  # at the flag's values in the docstring
    assert diag.fix.applicability == "unsafe"  # usage in documentation is rewritten only when asked
    assert "--lora_target_modules down_proj o_proj v_proj\n" in fixed(script, unsafe=True)
    assert lint(script) == []


def test_shell_launch_is_checked_at_its_flags_and_fixed_with_shell_quoting(repo):
    script = repo / "examples/scripts/sft_vlm.py"
    script.write_text(TRL_SCRIPT.split('"""', 2)[2])  # no docstring usage
    run = repo / "scripts" / "train_gemma.sh"
    run.parent.mkdir()
    run.write_text("#!/bin/bash\nMODEL=google/gemma-3-4b-it\naccelerate launch --config_file=cfg.yaml \\\n"
                   "    examples/scripts/sft_vlm.py \\\n    --model_name_or_path $MODEL \\\n"
                   "    --dataset_name trl-lib/Capybara --use_peft \\\n    --lora_target_modules q_proj v_proj\n")
    assert lint(script) == []  # checked where the launch is written
    (diag,) = lint(run)
    assert diag.code == "LL001" and (diag.span.line, diag.span.column) == (7, 27)
    assert "sft_vlm.py, line" not in diag.message and "trl-lib/Capybara" in diag.message
    text = fixed(run)
    assert "--lora_target_modules 'model\\.language_model\\..*\\.(q_proj|v_proj)'\n" in text
    assert lint(run) == []


def test_a_script_whose_settings_come_from_a_launch_that_is_nowhere_is_ll901(repo):
    script = repo / "examples/scripts/sft_vlm.py"
    script.write_text(TRL_SCRIPT.split('"""', 2)[2])
    (diag,) = lint(script)
    assert diag.code == "LL901" and "no launch of this script found" in diag.message
    assert "looked in its docstring and 0 shell scripts" in diag.message and diag.span.line == 5


def test_argparse_script_launched_with_a_list_flag_gets_no_regex_fix(tmp_path):
    (tmp_path / "train.py").write_text(
        "import argparse\nfrom peft import LoraConfig, get_peft_model\nfrom transformers import AutoModelForImageTextToText\n"
        "parser = argparse.ArgumentParser()\nparser.add_argument('--targets', nargs='+', default=['q_proj'])\n"
        "parser.add_argument('--model', default='google/gemma-3-4b-it')\nargs = parser.parse_args()\n"
        "model = AutoModelForImageTextToText.from_pretrained(args.model)\n"
        "model = get_peft_model(model, LoraConfig(target_modules=args.targets))\n")
    run = tmp_path / "run.sh"
    run.write_text("# loralint: modality=text\npython train.py --targets q_proj v_proj fc1\n")
    (diag,) = lint(run)
    assert diag.code == "LL001" and diag.fix is None and "takes a list of module names" in diag.message
    assert (diag.span.line, diag.span.column) == (2, 27)


# -- trainer CLIs ------------------------------------------------------------------------------------------------
def test_trl_cli(tmp_path):
    run = tmp_path / "run.sh"
    run.write_text("# loralint: modality=text\n"
                   "trl sft --model_name_or_path google/gemma-3-4b-it --use_peft --lora_target_modules q_proj\n"
                   "trl sft --model_name_or_path google/gemma-3-4b-it --use_peft --lora_target_modules q_proj v_proj\n"
                   "trl sft --model_name_or_path google/gemma-3-4b-it --lora_target_modules q_proj v_proj\n")
    one, two = lint(run)
    assert (one.code, one.span.line) == ("LL004", 2) and "no module matches `target_modules` 'q_proj'" in one.message  # a one-entry list is a regex
    assert (two.code, two.span.line) == ("LL001", 3) and two.fix.applicability == "safe"  # line 4: no --use_peft


def test_swift_cli(tmp_path):
    run = tmp_path / "run.sh"
    run.write_text("# loralint: modality=text\n"
                   "swift sft --model Qwen/Qwen2.5-VL-7B-Instruct --train_type lora \\\n"
                   "    --target_modules q_proj k_proj v_proj o_proj gate_proj up_proj down_proj --dataset d\n"
                   "swift sft --model Qwen/Qwen2.5-VL-7B-Instruct --tuner_type lora --dataset d\n"
                   "swift sft --model Qwen/Qwen2.5-VL-7B-Instruct --tuner_type full --target_modules q_proj\n")
    (diag,) = lint(run)  # the default all-linear is narrowed to the language model; full tuning has no LoRA
    assert (diag.code, diag.span.line) == ("LL001", 3) and "model.visual" in diag.message
    text = fixed(run)
    assert "--target_regex 'model\\.language_model\\..*\\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)'" in text
    assert "--target_modules q_proj k_proj" not in text and lint(run) == []


def test_swift_all_linear_with_the_vision_tower_unfrozen(tmp_path):
    run = tmp_path / "run.sh"
    run.write_text("# loralint: modality=text\nswift sft --model Qwen/Qwen2.5-VL-7B-Instruct --freeze_vit false\n")
    (diag,) = lint(run)
    assert diag.code == "LL001" and "`model.visual`" in diag.message


def test_llamafactory_cli_overrides_apply_to_its_config(tmp_path):
    (tmp_path / "qwen.yaml").write_text("model_name_or_path: Qwen/Qwen2.5-VL-7B-Instruct\nstage: sft\nfinetuning_type: lora\n"
                                        "lora_target: all\ndataset: alpaca_en_demo\ntemplate: qwen2_vl\n")
    run = tmp_path / "run.sh"
    run.write_text("llamafactory-cli train qwen.yaml\nllamafactory-cli train qwen.yaml freeze_vision_tower=false\n")
    (diag,) = lint(run)
    assert (diag.code, diag.span.line) == ("LL001", 2) and "alpaca_en_demo" in diag.message


def test_json_output_locates_launch_findings_in_the_shell_file(tmp_path):
    run = tmp_path / "run.sh"
    run.write_text("# loralint: modality=text\ntrl sft --model_name_or_path google/gemma-3-4b-it --use_peft "
                   "--lora_target_modules q_proj v_proj\n")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(["check", "--offline", "--output-format", "json", str(run)])
    (diag,) = json.loads(out.getvalue())
    assert diag["file"].endswith("run.sh") and diag["line"] == 2 and diag["fix"]["edits"][0]["line"] == 2


def test_user_dataclasses_and_trl_config_files(tmp_path):
    (tmp_path / "train.py").write_text(
        "from dataclasses import dataclass, field\nfrom transformers import HfArgumentParser, AutoModelForImageTextToText\n"
        "from peft import LoraConfig, get_peft_model\n@dataclass\nclass LoraArguments:\n"
        "    model: str = 'google/gemma-3-4b-it'\n    targets: list[str] = field(default_factory=lambda: ['gate_proj'])\n"
        "    rank: int = 8\n"
        "if __name__ == '__main__':\n    (lora_args,) = HfArgumentParser((LoraArguments,)).parse_args_into_dataclasses()\n"
        "    model = AutoModelForImageTextToText.from_pretrained(lora_args.model)\n"
        "    model = get_peft_model(model, LoraConfig(r=lora_args.rank, target_modules=lora_args.targets))\n")
    run = tmp_path / "run.sh"
    run.write_text("# loralint: modality=text\npython train.py --rank 4\npython train.py --targets gate_proj fc1\n")
    (diag,) = lint(run)  # the defaults (gate_proj) stay on the language model; fc1 reaches the vision tower
    assert (diag.code, diag.span.line) == ("LL001", 3)


def test_trl_config_file_sets_defaults_and_flags_override(repo):
    script = repo / "examples/scripts/sft_vlm.py"
    script.write_text(TRL_SCRIPT.split('"""', 2)[2])
    (repo / "recipe.yaml").write_text("model_name_or_path: google/gemma-3-4b-it\nuse_peft: true\n"
                                      "lora_target_modules: [q_proj, v_proj]\ndataset_name: trl-lib/Capybara\n")
    run = repo / "run.sh"
    run.write_text("python examples/scripts/sft_vlm.py --config recipe.yaml\n"
                   "python examples/scripts/sft_vlm.py --config recipe.yaml --lora_target_modules gate_proj up_proj\n")
    diagnostics = lint(run)
    assert [(d.code, d.span.line) for d in diagnostics] == [("LL002", 1)]  # the file's targets; the flags' are live


def test_pinned_trainer_versions_decide_and_are_said(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "requirements.txt").write_text("ms-swift==4.6.0\naxolotl==0.12.2\n")
    run = tmp_path / "run.sh"
    run.write_text("swift sft --model Qwen/Qwen2.5-VL-7B-Instruct --train_type lora --dataset d\n")
    (diag,) = lint(run)
    assert diag.code == "LL004" and "renamed --tuner_type" in diag.message
    assert "ms-swift 4.6.0 semantics (pinned in requirements.txt)" in diag.message
    (tmp_path / "requirements.txt").write_text("ms-swift==3.9.0\n")
    from loralint.pins import project_pins

    project_pins.cache_clear()
    assert lint(run) == []  # 3.x reads --train_type; the default targets stay on the language model
    config = tmp_path / "ax.yml"
    config.write_text("base_model: google/gemma-3-4b-it\nadapter: lora\nlora_target_linear: true\n"
                      "datasets:\n  - path: tatsu-lab/alpaca\n    type: alpaca\n")
    (tmp_path / "requirements.txt").write_text("axolotl==0.12.2\n")
    project_pins.cache_clear()
    (diag,) = lint(config)
    assert "axolotl 0.19 semantics; the project pins 0.12.2 (requirements.txt)" in diag.message
