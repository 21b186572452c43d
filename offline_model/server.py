"""The offline model as an OpenAI-compatible HTTP server (for benchmarks and outside clients).

A thread per connection (daemon threads, a deep listen backlog), HTTP/1.1 keep-alive, streams
sent with chunked transfer encoding and flushed frame by frame. It serves exactly what the
in-process transport serves, through the same `offline_model.http.answer`.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from offline_model.http import Answer, answer, paced

logger = logging.getLogger(__name__)


class OfflineModelServer(ThreadingHTTPServer):
    daemon_threads = True
    # Hundreds of clients may connect in the same instant (benchmarks); the default backlog of 5
    # would make the kernel drop their SYNs and stall them for a second.
    request_queue_size = 1024

    def __init__(
        self,
        address: tuple[str, int],
        *,
        token_delay_ms: float = 0.0,
        model_names: Iterable[str] = (),
        quiet: bool = True,
        record_to: str | None = None,
    ):
        self.token_delay_ms = max(float(token_delay_ms or 0), 0.0)
        self.model_names = list(model_names)
        self.quiet = quiet
        self.record_to = record_to
        self._record_lock = threading.Lock()
        super().__init__(address, OfflineModelHandler)

    def record(self, body: bytes) -> None:
        """Append a chat completion request's body as one line (benchmarks replay them)."""
        with self._record_lock, open(self.record_to, "ab") as out:
            out.write(body.replace(b"\n", b" ") + b"\n")

    def handle_error(self, request, client_address) -> None:
        # A client closing an idle keep-alive connection is how HTTP/1.1 ends, not an error.
        if isinstance(sys.exception(), ConnectionError):
            return
        logger.exception("The offline model server failed on a request from %s", client_address)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/v1"


class OfflineModelHandler(BaseHTTPRequestHandler):
    server: OfflineModelServer
    protocol_version = "HTTP/1.1"
    server_version = "ConciergeOfflineModel/1.0"

    def do_GET(self) -> None:
        self.serve()

    def do_POST(self) -> None:
        self.serve()

    def do_PUT(self) -> None:
        self.serve()

    def do_DELETE(self) -> None:
        self.serve()

    def serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.server.record_to and self.command == "POST" and self.path.endswith("/chat/completions"):
            self.server.record(body)
        result = answer(self.command, self.path, body, model_names=self.server.model_names)
        try:
            if result.events is None:
                self.send_whole(result)
            else:
                self.send_stream(result)
        except ConnectionError:
            # The client hung up mid-answer (a cancelled run): nothing is left to tell it.
            self.close_connection = True

    def send_whole(self, result: Answer) -> None:
        self.send_response(result.status)
        for name, value in result.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(result.body)))
        self.end_headers()
        self.wfile.write(result.body)

    def send_stream(self, result: Answer) -> None:
        self.send_response(result.status)
        for name, value in result.headers.items():
            self.send_header(name, value)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        assert result.events is not None
        for frame in paced(result.events, self.server.token_delay_ms):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(frame), frame))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def log_message(self, format: str, *args: object) -> None:
        if not self.server.quiet:
            logger.info("%s - %s", self.address_string(), format % args)


def start_server(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    token_delay_ms: float = 0.0,
    model_names: Iterable[str] = (),
    record_to: str | None = None,
) -> tuple[OfflineModelServer, threading.Thread]:
    """Serve in a background thread (port 0 picks a free port); stop with `server.shutdown()`."""
    server = OfflineModelServer(
        (host, port), token_delay_ms=token_delay_ms, model_names=model_names, record_to=record_to
    )
    thread = threading.Thread(target=server.serve_forever, name="offline-model-server", daemon=True)
    thread.start()
    return server, thread
