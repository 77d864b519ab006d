"""A TCP proxy that can cut the network and restore it, to simulate outages in tests.

While cut, open connections are torn down and new ones are closed right after accept,
as a restarting server or a broken network would; the server behind keeps its state.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from collections.abc import Callable
from types import TracebackType


class TcpProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.port: int = self.listener.getsockname()[1]
        self.forwarded_bytes = 0  # client -> server
        self.refused = 0  # connections closed because the network was cut
        # Cut automatically once this many bytes went upstream (then call on_cut).
        self.cut_after_bytes: int | None = None
        self.on_cut: Callable[[], None] | None = None
        self._cut = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._acceptor.start()

    def cut(self) -> None:
        """Break every open connection and refuse new ones until restore()."""
        self._cut.set()
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):  # already closed by its peer
                    sock.shutdown(socket.SHUT_RDWR)

    def restore(self) -> None:
        self._cut.clear()

    def close(self) -> None:
        self._stop.set()
        self.cut()
        self._acceptor.join(timeout=5)
        for thread in self._threads:
            thread.join(timeout=5)
        self.listener.close()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            if self._cut.is_set():
                self.refused += 1
                client.close()
                continue
            thread = threading.Thread(target=self._serve, args=(client,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, client: socket.socket) -> None:
        try:
            server = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            client.close()
            return
        with self._lock:
            self._open.update((client, server))
        try:
            self._pump(client, server)
        finally:
            with self._lock:
                self._open.difference_update((client, server))
            client.close()
            server.close()

    def _pump(self, client: socket.socket, server: socket.socket) -> None:
        peers = {client: server, server: client}
        with selectors.DefaultSelector() as selector:
            for sock in peers:
                selector.register(sock, selectors.EVENT_READ)
            while not self._cut.is_set():
                for key, _ in selector.select(timeout=0.05):
                    source: socket.socket = key.fileobj  # type: ignore[assignment]
                    try:
                        data = source.recv(65536)
                        if not data:
                            return
                        peers[source].sendall(data)
                    except OSError:
                        return
                    if source is client:
                        self._count_upstream(len(data))

    def _count_upstream(self, size: int) -> None:
        self.forwarded_bytes += size
        limit = self.cut_after_bytes
        if limit is not None and self.forwarded_bytes >= limit:
            self.cut_after_bytes = None
            self.cut()
            if self.on_cut is not None:
                self.on_cut()

    def __enter__(self) -> TcpProxy:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
