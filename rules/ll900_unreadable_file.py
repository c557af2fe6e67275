"""LL900 unreadable-file: a file loralint should read cannot be read or parsed."""

CODE = "LL900"
NAME = "unreadable-file"
SEVERITY = "error"
FIX = None
SUMMARY = "A file cannot be read or parsed, so nothing in it was checked."


def check(ctx):
    # Emitted by the engine when a front end gives up on a file; there is no site to look at.
    return iter(())


VALID = []
INVALID = [
    "from peft import LoraConfig\nconfig = LoraConfig(target_modules=[\"q_proj\"\n",
]
