"""`loralint lsp`: a language server (pygls, stdio) with diagnostics and quick fixes.

Linting runs in worker threads (the first resolution of a model may build it on the meta device), so
the editor never waits; results go back through the event loop. Positions are UTF-16 code units.
"""

from __future__ import annotations

import asyncio
import re
import threading
import uuid
from pathlib import Path

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from . import __version__
from .diagnostics import SAFE, Diagnostic, split_lines

DEBOUNCE_SECONDS = 0.3
FIX_ALL_KIND = f"{types.CodeActionKind.SourceFixAll.value}.loralint"


def utf16_column(line_text: str, codepoint_column: int) -> int:
    """0-based UTF-16 offset of a 1-based code point column."""
    prefix = line_text[: max(0, codepoint_column - 1)]
    return len(prefix.encode("utf-16-le")) // 2


def to_range(text: str, line: int, column: int, end_line: int, end_column: int) -> types.Range:
    lines = split_lines(text)

    def position(l: int, c: int) -> types.Position:
        if l - 1 >= len(lines):
            return types.Position(line=max(0, len(lines) - 1), character=0)
        return types.Position(line=l - 1, character=utf16_column(lines[l - 1], c))

    return types.Range(start=position(line, column), end=position(end_line, end_column))


class LoralintServer(LanguageServer):
    def __init__(self):
        super().__init__("loralint", __version__)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.timers: dict[str, threading.Timer] = {}
        self.results: dict[str, tuple[str, list[Diagnostic]]] = {}
        self.lock = threading.Lock()
        self.progress_supported = False
        self._resolver = None

    # -- linting ------------------------------------------------------------------------------------
    def linter_for(self, path: Path):
        """A linter with the settings in force for `path` now (pyproject edits apply at once).
        Raises ConfigError for a broken [tool.loralint]."""
        from .config import load_settings
        from .engine import Linter

        settings = load_settings(path.parent)
        return Linter(settings, self.resolver(settings.offline, settings.models))

    def resolver(self, offline: bool, aliases: dict):
        from .resolve import Resolver

        # one resolver per configuration: inventories stay in memory between edits
        key = (offline, tuple(sorted(aliases.items())))
        if self._resolver is None or self._resolver[0] != key:
            self._resolver = (key, Resolver(offline=offline, aliases=aliases))
        return self._resolver[1]

    def lint(self, uri: str) -> None:
        from .config import ConfigError
        from .discovery import is_candidate

        if uri not in self.workspace.text_documents:
            return  # closed meanwhile; a path is never read from disk here
        document = self.workspace.get_text_document(uri)
        path = Path(to_fs_path(uri) or uri)
        if not is_candidate(path):
            return
        text, version = document.source, document.version
        token = None
        if self.progress_supported:
            token = str(uuid.uuid4())
            self.call(self._begin_progress, token, path.name)
        try:
            try:
                linter = self.linter_for(path)
            except ConfigError as exc:
                self.call(self.window_log_message, types.LogMessageParams(type=types.MessageType.Error, message=str(exc)))
                return
            diagnostics, _ = linter.lint_text(path, text)
        except Exception as exc:  # a linter bug must not take the editor's server down
            self.call(self.window_log_message, types.LogMessageParams(
                type=types.MessageType.Error, message=f"loralint failed on {path.name}: {type(exc).__name__}: {exc}"))
            return
        finally:
            if token:
                self.call(self.work_done_progress.end, token, types.WorkDoneProgressEnd(message="done"))
        with self.lock:
            self.results[uri] = (text, diagnostics)
        published = [self.to_lsp(text, d) for d in diagnostics if Path(d.file) == path or d.file == str(path)]
        self.call(self.text_document_publish_diagnostics,
                  types.PublishDiagnosticsParams(uri=uri, version=version, diagnostics=published))

    def _begin_progress(self, token: str, name: str) -> None:
        def begin(*_):
            self.work_done_progress.begin(token, types.WorkDoneProgressBegin(title="loralint", message=f"checking {name}"))

        self.work_done_progress.create(token, callback=begin)

    def call(self, fn, *args) -> None:
        """Run `fn` on the event loop (the protocol writer is not thread-safe)."""
        if self.loop is not None and self.loop.is_running():
            self.loop.call_soon_threadsafe(fn, *args)
        else:
            fn(*args)

    def schedule(self, uri: str, delay: float = 0.0) -> None:
        with self.lock:
            previous = self.timers.pop(uri, None)
            if previous:
                previous.cancel()
            timer = threading.Timer(delay, self.lint, args=(uri,))
            timer.daemon = True
            self.timers[uri] = timer
        timer.start()

    def to_lsp(self, text: str, d: Diagnostic) -> types.Diagnostic:
        message = f"cell {d.cell}: {d.message}" if d.cell is not None else d.message
        span = d.span if d.cell is None else None
        rng = (to_range(text, span.line, span.column, span.end_line, span.end_column) if span
               else types.Range(start=types.Position(line=0, character=0), end=types.Position(line=0, character=0)))
        return types.Diagnostic(
            range=rng,
            message=message,
            severity=types.DiagnosticSeverity.Error if d.severity == "error" else types.DiagnosticSeverity.Warning,
            code=d.code,
            code_description=_rule_page(d.code),
            source="loralint",
            data={"name": d.name, "fix": d.fix.applicability if d.fix else None},
        )

    # -- code actions ---------------------------------------------------------------------------------
    def code_actions(self, params: types.CodeActionParams) -> list[types.CodeAction]:
        uri = params.text_document.uri
        if uri not in self.workspace.text_documents:
            return []  # not open in the editor: never read the path (it may be a FIFO or a device)
        with self.lock:
            text, diagnostics = self.results.get(uri, ("", []))
        document = self.workspace.get_text_document(uri)
        if document.source != text:
            return []  # stale: new diagnostics are on their way
        path = Path(to_fs_path(uri) or uri)
        wanted = params.context.only
        actions: list[types.CodeAction] = []
        requested = params.range
        for d in diagnostics:
            if d.cell is not None:
                continue
            lsp_diag = self.to_lsp(text, d)
            if lsp_diag.range.end.line < requested.start.line or lsp_diag.range.start.line > requested.end.line:
                continue
            if d.fix and d.fix.edits and _kind_wanted(wanted, types.CodeActionKind.QuickFix):
                edits = [types.TextEdit(range=to_range(text, e.span.line, e.span.column, e.span.end_line, e.span.end_column),
                                        new_text=e.content) for e in d.fix.edits]
                actions.append(types.CodeAction(
                    title=f"{d.fix.message[0].upper()}{d.fix.message[1:]} ({d.code})",
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=[lsp_diag],
                    is_preferred=d.fix.applicability == SAFE,
                    edit=types.WorkspaceEdit(changes={uri: edits}),
                ))
            ignore = _ignore_comment(path, d)
            if ignore and _kind_wanted(wanted, types.CodeActionKind.QuickFix):
                line_text = split_lines(text)[d.span.line - 1]
                end = types.Position(line=d.span.line - 1, character=len(line_text.encode("utf-16-le")) // 2)
                actions.append(types.CodeAction(
                    title=f"Ignore {d.code} on this line",
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=[lsp_diag],
                    edit=types.WorkspaceEdit(changes={uri: [types.TextEdit(range=types.Range(start=end, end=end),
                                                                           new_text=ignore)]}),
                ))
        if _kind_wanted(wanted, FIX_ALL_KIND) and any(d.fix and d.fix.applicability == SAFE for d in diagnostics):
            fixed = self.fix_all(path, text)
            if fixed is not None and fixed != text:
                lines = split_lines(text)
                whole = types.Range(start=types.Position(line=0, character=0),
                                    end=types.Position(line=len(lines), character=0))
                actions.append(types.CodeAction(
                    title="Fix all safe loralint problems",
                    kind=FIX_ALL_KIND,
                    edit=types.WorkspaceEdit(changes={uri: [types.TextEdit(range=whole, new_text=fixed)]}),
                ))
        return actions

    def fix_all(self, path: Path, text: str) -> str | None:
        from .config import ConfigError

        try:
            linter = self.linter_for(path)
        except ConfigError:
            return None
        fixed, _ = linter.fix_text(path, text, unsafe=False)
        return fixed


def _rule_page(code: str) -> types.CodeDescription | None:
    """The installed rule page, as a link the editor can open."""
    from loralint import rules

    page = Path(rules.__file__).parent / f"{code}.md"
    return types.CodeDescription(href=page.as_uri()) if page.is_file() else None


def _kind_wanted(only, kind) -> bool:
    if not only:
        return True
    value = kind.value if hasattr(kind, "value") else kind
    return any(value == k or value.startswith(f"{k}.") for k in (o.value if hasattr(o, "value") else o for o in only))


def _ignore_comment(path: Path, d: Diagnostic) -> str | None:
    from . import frontends

    frontend = frontends.for_path(path)
    return frontend.ignore_comment(path, d.code) if frontend is not None else None


def build_server() -> LoralintServer:
    server = LoralintServer()

    @server.feature(types.INITIALIZE)
    def initialize(ls: LoralintServer, params: types.InitializeParams):
        window = params.capabilities.window
        ls.progress_supported = bool(window and window.work_done_progress)

    @server.feature(types.INITIALIZED)
    async def initialized(ls: LoralintServer, params: types.InitializedParams):
        ls.loop = asyncio.get_running_loop()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    async def did_open(ls: LoralintServer, params: types.DidOpenTextDocumentParams):
        ls.loop = ls.loop or asyncio.get_running_loop()
        ls.schedule(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: LoralintServer, params: types.DidChangeTextDocumentParams):
        ls.schedule(params.text_document.uri, DEBOUNCE_SECONDS)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: LoralintServer, params: types.DidSaveTextDocumentParams):
        ls.schedule(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: LoralintServer, params: types.DidCloseTextDocumentParams):
        with ls.lock:
            ls.results.pop(params.text_document.uri, None)
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[]))

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def watched(ls: LoralintServer, params: types.DidChangeWatchedFilesParams):
        for uri in list(ls.workspace.text_documents):
            ls.schedule(uri)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def configuration(ls: LoralintServer, params: types.DidChangeConfigurationParams):
        for uri in list(ls.workspace.text_documents):
            ls.schedule(uri)

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix, FIX_ALL_KIND]),
    )
    def code_action(ls: LoralintServer, params: types.CodeActionParams):
        return ls.code_actions(params)

    return server


MAX_BODY_BYTES = 64 * 1024 * 1024
MAX_HEADER_LINE = 8 * 1024


def main() -> int:
    """Serve over stdio; the exit code is 0 after `shutdown` then `exit`, 1 for `exit` alone (the LSP spec)."""
    import logging
    import sys

    logging.getLogger("pygls").setLevel(logging.CRITICAL)  # malformed input is answered, not printed
    server = build_server()
    try:
        asyncio.run(_serve(server, sys.stdin.buffer, sys.stdout.buffer))
    except (KeyboardInterrupt, BrokenPipeError):
        pass
    return 0 if server.protocol._shutdown else 1


class _Exit(Exception):
    pass


async def _serve(server: LoralintServer, stdin, stdout) -> None:
    """The stdio framing, read robustly: LF or CRLF header lines, a missing, invalid or oversized
    Content-Length skipped until the next header, bodies that are not JSON-RPC answered with an error."""
    import json

    from pygls.io_ import StdinAsyncReader, StdoutWriter

    reader = StdinAsyncReader(stdin, server.thread_pool)
    server.protocol.set_writer(StdoutWriter(stdout))
    length = None
    while True:
        line = await reader.readline()
        if not line:
            return  # the client closed the stream
        if len(line) > MAX_HEADER_LINE:
            length = None
            continue
        text = line.decode("ascii", "replace").strip()
        found = re.search(r"Content-Length:\s*(\S*)", text, re.I)
        if found:  # also resynchronises after a malformed message
            value = found.group(1)
            length = int(value) if value.isdigit() and 0 < int(value) <= MAX_BODY_BYTES else None
            continue
        if text or length is None:
            continue  # another header, or a blank line after a header we could not use
        body = await reader.readexactly(length)
        length = None
        if not body:
            return
        try:
            _dispatch(server, json.loads(body))
        except _Exit:
            return
        except ValueError:
            _reply_error(server, None, -32700, "Parse error: the body is not JSON")


def _dispatch(server: LoralintServer, data) -> None:
    protocol = server.protocol
    if not isinstance(data, dict) or data.get("jsonrpc") != "2.0":
        _reply_error(server, data.get("id") if isinstance(data, dict) else None, -32600, "Invalid request")
        return
    request_id, method = data.get("id"), data.get("method")
    if protocol._shutdown and method != "exit":
        if request_id is not None and method is not None:
            _reply_error(server, request_id, -32600, "the server is shut down; only `exit` is accepted")
        return
    try:
        message = protocol.structure_message(data)
    except Exception:  # pygls raises JsonRpcInvalidParams / JsonRpcInternalError
        if request_id is not None and method is not None:
            _reply_error(server, request_id, -32602, f"Invalid params for {method}")
        return
    if method == "exit":
        raise _Exit  # main() turns shutdown-or-not into the exit code
    try:
        protocol.handle_message(message)
    except Exception:
        if request_id is not None and method is not None:
            _reply_error(server, request_id, -32603, f"Internal error handling {method}")


def _reply_error(server: LoralintServer, request_id, code: int, message: str) -> None:
    import json

    body = json.dumps({"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}).encode()
    server.protocol.writer.write(b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
