"""Reading a file a repository (or a config) names, without hanging or filling memory.

Only regular files are read (a FIFO, a device or a socket is refused: reading one can block forever or
never end), the file is opened non-blocking, and at most `limit` bytes are read: a larger file is refused
with its size, a sniffed data file reads only its head.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class NotReadable(OSError):
    """The path is not a regular file we may read, or is larger than the limit; str() says which."""


def read_bytes(path: Path, limit: int, *, head: bool = False) -> bytes:
    """The file's bytes (its first `limit` with head=True). Raises NotReadable or OSError."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise NotReadable(exc.strerror or str(exc)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = ("a FIFO" if stat.S_ISFIFO(info.st_mode) else "a device" if stat.S_ISCHR(info.st_mode)
                    or stat.S_ISBLK(info.st_mode) else "a socket" if stat.S_ISSOCK(info.st_mode) else "not a file")
            raise NotReadable(f"{kind}, not a regular file; not read")
        if info.st_size > limit and not head:
            raise NotReadable(f"file is {info.st_size:,} bytes, over the {limit:,} bytes loralint reads; not read")
        chunks, remaining = [], limit + (0 if head else 1)
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        data = b"".join(chunks)
        if len(data) > limit:  # grew while read, or lied about its size (/proc)
            if head:
                return data[:limit]
            raise NotReadable(f"file is over the {limit:,} bytes loralint reads; not read")
        return data
    finally:
        os.close(fd)


def read_text(path: Path, limit: int, *, head: bool = False, errors: str = "strict") -> str:
    return read_bytes(path, limit, head=head).decode("utf-8", errors=errors)
