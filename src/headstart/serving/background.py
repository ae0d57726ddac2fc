"""Run an ASGI app with uvicorn in a background thread on a free loopback port.

For tests and benchmarks that need a real HTTP server in the same process (the API zero-shot client against
`headstart serve`'s app). The socket is bound here, before uvicorn starts, so the port is known and no other
process can take it in between (asking the OS for a free port and binding it later races).

Example:
    >>> with BackgroundServer(create_app("smollm2")) as server:  # doctest: +SKIP
    ...     client = ApiClient(base_url=server.base_url, model="smollm2")
"""

from __future__ import annotations

import socket
import threading
import time

__all__ = ["BackgroundServer"]


class BackgroundServer:
    """uvicorn serving `app` on `host`:`port` (0: any free port) until `stop()` or the `with` block ends."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0, start_timeout: float = 10.0) -> None:
        self.app, self.host, self.port, self.start_timeout = app, host, port, start_timeout
        self._server = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL (ends in /v1)."""
        return self.url + "/v1"

    def start(self) -> BackgroundServer:
        import uvicorn

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        self._server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", lifespan="off"))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True,
                                        name=f"uvicorn-{self.port}")
        self._thread.start()
        deadline = time.monotonic() + self.start_timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server on {self.url} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
            self._server = self._thread = None

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
