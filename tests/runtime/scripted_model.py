"""A scripted OpenAI-compatible model server on loopback, for testing the real-provider path.

It replays, in order, what a test queues: streamed text, tool calls whose arguments are split
across chunks, parallel tool calls, error statuses (a 429 with retry-after, a 500), and streams
cut in the middle. It records every request it got. The engine reaches it through the openai SDK
over real HTTP, exactly as it would reach a provider.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 200
    chunks: list[dict] = field(default_factory=list)
    body: dict | None = None
    headers: dict = field(default_factory=dict)
    cut_after: int | None = None  # close the connection after this many chunks
    garbled_at: int | None = None  # send a chunk of broken JSON in this chunk's place
    before_chunk: Callable[[int], None] | None = None  # called with each chunk's index before it is sent


def _chunk(delta: dict, finish: str | None = None) -> dict:
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "scripted",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _usage(prompt: int, completion: int) -> dict:
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "scripted",
        "choices": [],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
    }


class ScriptedModel:
    def __init__(self) -> None:
        self.script: deque[Reply] = deque()
        self.requests: list[dict] = []
        self.received: list[tuple[str, dict]] = []  # each request's path and headers
        self._server: ThreadingHTTPServer | None = None

    # --- what to answer ---------------------------------------------------------------------

    def text(
        self,
        text: str,
        *,
        pieces: int = 4,
        usage=(20, 10),
        finish: str = "stop",
        cut_after=None,
        garbled_at=None,
        before_chunk=None,
    ) -> None:
        size = max(1, len(text) // pieces)
        parts = [text[i : i + size] for i in range(0, len(text), size)]
        chunks = [_chunk({"role": "assistant", "content": ""})]
        chunks += [_chunk({"content": part}) for part in parts]
        chunks += [_chunk({}, finish), _usage(*usage)]
        self.script.append(Reply(chunks=chunks, cut_after=cut_after, garbled_at=garbled_at, before_chunk=before_chunk))

    def tool_calls(self, *calls: tuple[str, dict | str], usage=(30, 15), split: int = 3, ids=None) -> None:
        """Parallel calls; each one's arguments arrive in `split` fragments after its first chunk.
        Arguments given as a string are sent as that very text (a model may write anything); `ids`
        replaces the calls' ids."""
        chunks = [_chunk({"role": "assistant", "content": None})]
        for index, (name, arguments) in enumerate(calls):
            call_id = ids[index] if ids else f"call_scripted{len(self.requests)}{index}"
            first = {"index": index, "id": call_id, "type": "function"}
            first["function"] = {"name": name, "arguments": ""}
            chunks.append(_chunk({"tool_calls": [first]}))
            text = arguments if isinstance(arguments, str) else json.dumps(arguments)
            size = max(1, len(text) // split)
            for i in range(0, len(text), size):
                fragment = {"index": index, "function": {"arguments": text[i : i + size]}}
                chunks.append(_chunk({"tool_calls": [fragment]}))
        chunks += [_chunk({}, "tool_calls"), _usage(*usage)]
        self.script.append(Reply(chunks=chunks))

    def status(self, status: int, *, message: str = "scripted error", headers: dict | None = None) -> None:
        body = {"error": {"message": message, "type": "server_error", "param": None, "code": None}}
        self.script.append(Reply(status=status, body=body, headers=headers or {}))

    # --- the server -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> ScriptedModel:
        model = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                model.requests.append(json.loads(self.rfile.read(length) or b"{}"))
                model.received.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                reply = model.script.popleft() if model.script else Reply(status=500, body={"error": "script empty"})
                if reply.body is not None:
                    payload = json.dumps(reply.body).encode()
                    self.send_response(reply.status)
                    for key, value in {"content-type": "application/json", **reply.headers}.items():
                        self.send_header(key, value)
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                for n, chunk in enumerate(reply.chunks):
                    if reply.before_chunk is not None:
                        reply.before_chunk(n)
                    if reply.cut_after is not None and n >= reply.cut_after:
                        self.wfile.flush()
                        self.close_connection = True
                        self.connection.shutdown(2)  # mid-body: the client sees a broken stream
                        return
                    if n == reply.garbled_at:
                        self._write(b'data: {"id": "chatcmpl-scripted", "choices": [{"delta": {"cont\n\n')
                        continue
                    self._write(f"data: {json.dumps(chunk)}\n\n".encode())
                self._write(b"data: [DONE]\n\n")
                self._write(b"")

            def _write(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
