"""loralint: finds LoRA adapters that land on modules which never see gradient, before you train.

check     lint training scripts, notebooks, trainer configs, launch scripts and saved adapters
report    show where a LoRA config's adapters sit, per component, and how much of the budget is dead
inventory write a model's module inventory (for private models in CI without torch)
rule      print a rule's page (e.g. loralint rule LL001)
lsp       run the language server over stdio (for editors)"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import __version__

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    pass


def _split_list(value: str | None):
    """`--target-modules`: `all-linear`, a comma list, or (with --regex) one regular expression."""
    if value is None:
        return None
    items = [item.strip() for item in value.split(",") if item.strip()]
    if not items:
        raise UsageError("--target-modules is empty")
    return items


def _modality(value: str) -> str:
    from .modality import canonical

    if value == "auto":
        return value
    try:
        return canonical(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _cli_site(args):
    from .matching import LoraSpec
    from .site import Site

    if args.target_regex is not None:
        targets = args.target_regex
    else:
        targets = _split_list(args.target_modules)
        if targets and len(targets) == 1 and targets[0].lower() == "all-linear":
            targets = targets[0]
    spec = LoraSpec(
        target_modules=targets,
        exclude_modules=_split_list(args.exclude_modules),
        layers_to_transform=[int(x) for x in _split_list(args.layers_to_transform)] if args.layers_to_transform else None,
        modules_to_save=_split_list(args.modules_to_save),
        r=args.r,
        use_dora=args.use_dora,
    )
    return Site(file=None, line=None, framework="cli", model_ref=args.model, lora=spec,
                model_class=args.model_class, modality=args.modality or "unknown")


def cmd_report(args) -> int:
    from . import frontends
    from .analysis import Overrides, analyze
    from .config import ConfigError, load_settings
    from .discovery import discover
    from .engine import SourceFile, unreadable_site
    from .frontends.errors import FrontEndError
    from .report import render_markdown, render_table, report_json
    from .resolve import Resolver

    try:
        settings = load_settings(Path.cwd())
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    resolver = Resolver(offline=args.offline or settings.offline, aliases=settings.models, refresh=args.refresh)
    sites = []
    if args.paths:
        paths = [Path(p) for p in args.paths]
        missing = [p for p in paths if not p.exists()]
        if missing:
            raise UsageError(f"{missing[0]}: no such file or directory")
        for path in discover(paths, settings):
            frontend = frontends.for_path(path)
            if frontend is None or frontend.binary:
                continue
            try:
                text = SourceFile.read(path).text
            except FrontEndError as exc:
                sites.append(unreadable_site(path, exc))
                continue
            try:
                found = frontend.parse(path, text).sites
            except FrontEndError as exc:
                found = [] if frontend.foreign(path, text) else [unreadable_site(path, exc)]
            sites.extend(found)
        if not sites:
            print("loralint: no LoRA configuration found in " + ", ".join(args.paths), file=sys.stderr)
        modality = args.modality or settings.modality
        overrides = Overrides(modality=None if modality == "auto" else modality, model=args.model, model_class=args.model_class,
                              transformers=args.transformers or settings.transformers,
                              transformers_from="--transformers" if args.transformers else "[tool.loralint] transformers")
    elif args.model:
        sites.append(_cli_site(args))
        overrides = Overrides(transformers=args.transformers or settings.transformers,
                              transformers_from="--transformers" if args.transformers else "[tool.loralint] transformers")
    else:
        raise UsageError("give files or directories with LoRA configs, or --model REF")

    analyses = [analyze(site, resolver, overrides) for site in sites]
    report = report_json(analyses)
    if args.format == "json":
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    elif args.format == "markdown":
        sys.stdout.write(render_markdown(report))
    else:
        sys.stdout.write(render_table(report))
    # an unresolved model is an error row (with its way out) in every format, so it fails the run
    failed = any(site["error"] for site in report["sites"])
    return EXIT_FINDINGS if failed or not sites else EXIT_OK


def cmd_check(args) -> int:
    import difflib

    from . import output
    from .config import ConfigError, load_settings
    from .discovery import discover
    from .engine import Linter
    from .resolve import Resolver

    paths = [Path(p) for p in (args.paths or ["."])]
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise UsageError(f"{missing[0]}: no such file or directory")
    try:
        settings = load_settings(Path.cwd(), Path(args.config) if args.config else None)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    resolver = Resolver(offline=args.offline or settings.offline, aliases=settings.models, refresh=args.refresh)
    try:
        linter = Linter(settings, resolver, modality=None if args.modality == "auto" else args.modality,
                        model=args.model, select=_split_list(args.select), ignore=_split_list(args.ignore),
                        transformers=args.transformers)
    except ValueError as exc:  # an unknown rule selector, on the command line or in [tool.loralint]
        where = f" ({settings.source})" if settings.source and not (args.select or args.ignore) else ""
        raise UsageError(f"{exc}{where}") from None

    unsafe = args.unsafe_fixes or settings.unsafe_fixes
    diagnostics, texts, fixed_files, diffs, found = [], {}, 0, [], 0
    for path in discover(paths, settings):
        result = linter.lint_path(path)
        file_diagnostics = result.diagnostics
        found += len(result.diagnostics)
        if result.source is not None and (args.fix or args.diff):
            new_text, file_diagnostics = linter.fix_text(path, result.source.text, unsafe)
            if new_text != result.source.text:
                if args.diff:  # what the fixes would change, and (below) what they would leave
                    diffs.extend(difflib.unified_diff(
                        result.source.text.splitlines(keepends=True), new_text.splitlines(keepends=True),
                        fromfile=str(path), tofile=str(path)))
                else:
                    try:
                        result.source.write(new_text)
                        fixed_files += 1
                    except OSError as exc:  # this file stays as it was; the run goes on
                        print(f"loralint: {path}: not fixed: {exc.strerror or exc}", file=sys.stderr)
                        file_diagnostics = result.diagnostics
        if result.source is not None:
            texts[str(path)] = result.source.text
        diagnostics.extend(file_diagnostics)

    fixes_applied = args.fix or args.diff
    summary = output.summary(diagnostics, fixed=found - len(diagnostics) if fixes_applied else 0,
                             diff=args.diff, unsafe_enabled=unsafe, in_hook=bool(os.environ.get("PRE_COMMIT")))
    if args.diff:
        sys.stdout.write("".join(diffs))
        if diagnostics:  # what the fixes leave, so a --diff run never hides a problem
            sys.stdout.write(output.concise(diagnostics))
        sys.stdout.write(summary)
    elif args.output_format == "json":
        sys.stdout.write(output.as_json(diagnostics))
    elif args.output_format == "github":
        sys.stdout.write(output.github(diagnostics))
    elif args.output_format == "sarif":
        sys.stdout.write(output.sarif(diagnostics, texts))
    elif args.output_format == "concise":
        sys.stdout.write(output.concise(diagnostics))
        sys.stdout.write(summary)
    else:
        sys.stdout.write(output.full(diagnostics, texts))
        sys.stdout.write(summary)
    if args.exit_zero:
        return EXIT_OK
    if args.diff:
        return EXIT_FINDINGS if diffs or diagnostics else EXIT_OK
    return EXIT_FINDINGS if diagnostics or fixed_files else EXIT_OK


def cmd_inventory(args) -> int:
    from .inventory import write_json_atomic
    from .resolve import Resolver, Unresolved

    resolver = Resolver(offline=args.offline, refresh=args.refresh)
    try:
        model, inv = resolver.inventory(args.ref, args.model_class)
    except Unresolved as exc:
        way_out = f". To check it: {exc.help}" if exc.help else ""
        print(f"loralint: cannot resolve model {args.ref!r}: {exc}{way_out}", file=sys.stderr)
        return EXIT_FINDINGS
    data = inv.to_json()
    if args.output:
        write_json_atomic(Path(args.output), data)
        print(f"wrote {args.output}: {inv.model_class} ({len(inv.modules)} modules, from {inv.source})", file=sys.stderr)
    else:
        sys.stdout.write(json.dumps(data) + "\n")
    return EXIT_OK


def cmd_rule(args) -> int:
    from pathlib import Path as _Path

    from loralint import rules

    try:
        (found,) = rules.resolve_selector(args.rule) if args.rule.upper() != "ALL" else (None,)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if found is None:
        sys.stdout.write("".join(f"{r.CODE} {r.NAME}: {r.SUMMARY}\n" for r in rules.RULES))
        return EXIT_OK
    sys.stdout.write((_Path(rules.__file__).parent / f"{found.CODE}.md").read_text(encoding="utf-8"))
    return EXIT_OK


def cmd_lsp(args) -> int:
    try:
        from .lsp import main as lsp_main
    except ImportError as exc:
        print(f"loralint: the language server needs pygls ({exc.name} is missing): pip install 'loralint[lsp]'",
              file=sys.stderr)
        return EXIT_USAGE
    return lsp_main()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="loralint", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"loralint {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    report = sub.add_parser("report", help="show where a LoRA config's adapters sit, per component")
    report.add_argument("paths", nargs="*", help="training scripts, trainer configs, adapter_config.json files, or directories")
    report.add_argument("--model", help="base model: hub id, local directory, or inventory file (overrides the file's)")
    report.add_argument("--model-class", help="transformers class the model is loaded with (default: the config's)")
    report.add_argument("--target-modules", help="comma list of module names, or all-linear")
    report.add_argument("--target-regex", help="target_modules as one regular expression (re.fullmatch)")
    report.add_argument("--exclude-modules", help="comma list of module names to exclude")
    report.add_argument("--layers-to-transform", help="comma list of layer indices")
    report.add_argument("--modules-to-save", help="comma list of modules trained in full")
    report.add_argument("-r", "--rank", dest="r", type=int, default=8, help="LoRA rank (default 8)")
    report.add_argument("--use-dora", action="store_true", help="count DoRA's magnitude parameters too")
    report.add_argument("--modality", type=_modality, metavar="MIX",
                        help="the training data's modality: text, multimodal, auto, or a mix such as text,image")
    report.add_argument("--format", choices=["table", "markdown", "json"], default="table",
                        help="table (default), markdown (for pull requests), or json (version 1)")
    report.add_argument("--offline", action="store_true", help="never download a config.json")
    report.add_argument("--refresh", action="store_true", help="retry models whose download failed recently")
    report.add_argument("--transformers", metavar="VERSION",
                       help="the transformers version you train with, for its module names (default: what the project pins)")
    report.set_defaults(func=cmd_report)

    check = sub.add_parser(
        "check", help="lint training scripts and configs", formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="exit codes: 0 no problems, 1 problems found (or --fix changed a file), 2 usage, configuration or\n"
               "internal error. Rule pages: `loralint rule LL001` (or rules/LLNNN.md beside the code).")
    check.add_argument("paths", nargs="*", help="files or directories (default: .)")
    check.add_argument("--fix", action="store_true", help="apply safe fixes")
    check.add_argument("--unsafe-fixes", action="store_true", help="with --fix/--diff, apply unsafe fixes too")
    check.add_argument("--diff", action="store_true", help="print the fixes as a diff instead of writing them")
    check.add_argument("--select", help="comma list of rule codes, prefixes or names to enable")
    check.add_argument("--ignore", help="comma list of rule codes, prefixes or names to disable")
    check.add_argument("--output-format", choices=["full", "concise", "json", "github", "sarif"], default="full",
                       help="full (default: source and fix), concise, json, github (annotations) or sarif 2.1.0")
    check.add_argument("--modality", type=_modality, metavar="MIX", default=None,
                       help="the training data's modality for every site: text, multimodal, auto (inferred, the "
                            "default), or a mix such as text,image or text,audio")
    check.add_argument("--model", help="base model for every site (overrides what the files name)")
    check.add_argument("--offline", action="store_true", help="never download a config.json")
    check.add_argument("--refresh", action="store_true", help="retry models whose download failed recently")
    check.add_argument("--transformers", metavar="VERSION",
                       help="the transformers version you train with, for its module names (default: what the project pins)")
    check.add_argument("--exit-zero", action="store_true", help="exit 0 even when problems are found")
    check.add_argument("--config", help="pyproject.toml to read [tool.loralint] from")
    check.set_defaults(func=cmd_check)

    rule = sub.add_parser("rule", help="print a rule's page")
    rule.add_argument("rule", help="a code (LL001) or a name (gradient-sink)")
    rule.set_defaults(func=cmd_rule)

    lsp = sub.add_parser("lsp", help="run the language server over stdio (for editors)")
    lsp.set_defaults(func=cmd_lsp)

    inventory = sub.add_parser("inventory", help="write a model's module inventory (for private models in CI)")
    inventory.add_argument("ref", help="hub id, local directory with config.json, or config.json")
    inventory.add_argument("-o", "--output", help="file to write (default: stdout)")
    inventory.add_argument("--model-class", help="transformers class the model is loaded with")
    inventory.add_argument("--offline", action="store_true", help="never download a config.json")
    inventory.add_argument("--refresh", action="store_true", help="retry a model whose download failed recently")
    inventory.set_defaults(func=cmd_inventory)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code not in (0, None) else EXIT_OK
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"loralint: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # the last line of defence: one line, never a traceback
        print(f"loralint: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
