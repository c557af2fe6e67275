"""The one error every front end raises for a file it owns but cannot read."""


class FrontEndError(Exception):
    """The file is ours but cannot be read; the message says where and why (1-based)."""

    def __init__(self, message: str, line: int = 1, column: int = 1):
        super().__init__(message)
        self.line = line
        self.column = column
