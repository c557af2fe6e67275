"""LL900 unreadable-file: a file loralint should read cannot be read or parsed."""

from loralint.problems import Kind
from loralint.rule import RuleContext

CODE = "LL900"
NAME = "unreadable-file"
SEVERITY = "error"
FIX = None
SUMMARY = "A file cannot be read or parsed, so nothing in it was checked."


def check(ctx: RuleContext):
    for problem in ctx.analysis.problems:
        if problem.kind is Kind.UNREADABLE:
            yield ctx.diagnostic(problem.reason, problem.span or ctx.file_start(), file=problem.file)


VALID = []
INVALID = [
    "from peft import LoraConfig\nconfig = LoraConfig(target_modules=[\"q_proj\"\n",
]
