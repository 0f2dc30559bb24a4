"""A local HTTP server on 127.0.0.1 for the image and download tests, and the faulty answers of the fault
suite: stall, trickle, endless body, redirects."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# How long a stalling answer waits at most (the server's stop ends it sooner).
STALL_SECONDS = 30.0


class FaultServer:
    """An HTTP server on 127.0.0.1 (a free port) in a thread.

    routes: path -> (status, headers, body), or a function(handler) that writes the answer itself (it finds
    the server's `stopping` event as handler.server.stopping). Other paths get 404. `hits` lists the paths
    asked for. Use as a context manager, or call stop().
    """

    def __init__(self, routes=None, protocol_version: str = "HTTP/1.0"):
        self.routes = dict(routes or {})
        self.hits: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                outer.hits.append(self.path)
                route = outer.routes.get(self.path)
                try:
                    if route is None:
                        self.send_error(404, "Not Found")
                    elif callable(route):
                        route(self)
                    else:
                        send(self, *route)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up, as it should on a faulty answer

            def log_message(self, *args):
                pass

        Handler.protocol_version = protocol_version
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.httpd.stopping = threading.Event()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def stop(self):
        self.httpd.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def send(handler, status: int, headers: dict, body: bytes) -> None:
    """Answer with `status`, `headers` (Content-Length added unless given) and `body`."""
    handler.send_response(status)
    for key, value in headers.items():
        handler.send_header(key, value)
    if "Content-Length" not in headers:
        handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def redirect(location: str, status: int = 302):
    return (status, {"Location": location}, b"")


def stall(handler) -> None:
    """Headers of a 1 kB PNG, then nothing: the transfer stalls."""
    handler.send_response(200)
    handler.send_header("Content-Type", "image/png")
    handler.send_header("Content-Length", "1000")
    handler.end_headers()
    handler.wfile.flush()
    handler.server.stopping.wait(STALL_SECONDS)


def silent(handler) -> None:
    """Accept the request and never answer, not even the status line."""
    handler.server.stopping.wait(STALL_SECONDS)


def trickle(body: bytes, interval: float):
    """An answer sending `body` (a PNG) one byte every `interval` seconds: each read waits less than any
    read timeout, so only a bound on the whole transfer stops it."""

    def answer(handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "image/png")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        for byte in body:
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            if handler.server.stopping.wait(interval):
                return

    return answer


def endless(prefix: bytes = b"", chunk: int = 64 * 1024, limit: int = 1 << 30):
    """An image/png answer without Content-Length whose body never ends (up to `limit` bytes): `prefix`,
    then zeros."""

    def answer(handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "image/png")
        handler.end_headers()
        handler.wfile.write(prefix)
        sent = len(prefix)
        zeros = bytes(chunk)
        while sent < limit and not handler.server.stopping.is_set():
            handler.wfile.write(zeros)
            sent += chunk
        handler.close_connection = True

    return answer


def slow(seconds: float):
    """Wait `seconds` before answering with the headers of an empty PNG."""

    def answer(handler) -> None:
        time.sleep(seconds)
        handler.send_response(200)
        handler.send_header("Content-Type", "image/png")
        handler.end_headers()

    return answer
