"""A TCP proxy that loses answers: the server did the work, the client never
hears of it (a connection reset just as the answer starts)."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class DroppingProxy:
    """Forwards connections to `upstream`; the first `drops` answers to
    requests whose first line starts with `prefix` are cut off: the client's
    connection is reset when the server starts to answer (after it has
    committed), and the answer is thrown away."""

    def __init__(self, upstream: int, *, prefix: bytes, drops: int = 1) -> None:
        self.upstream = upstream
        self.prefix = prefix
        self.left = drops
        self.dropped = 0
        self.requests = 0
        self._lock = threading.Lock()
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        """Stop accepting connections."""
        self._closed = True
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        server = socket.create_connection(("127.0.0.1", self.upstream))
        watched = threading.Event()  # the request now in flight is one we drop

        def forward() -> None:
            try:
                while data := client.recv(65536):
                    if data[:8].split(b" ")[0] in (b"GET", b"POST", b"PUT"):
                        with self._lock:
                            self.requests += 1
                        if data.startswith(self.prefix):
                            watched.set()
                    server.sendall(data)
            except OSError:
                pass
            finally:
                _shut(server)

        threading.Thread(target=forward, daemon=True).start()
        try:
            while data := server.recv(65536):
                if watched.is_set():
                    watched.clear()
                    with self._lock:
                        drop = self.left > 0
                        self.left -= drop
                        self.dropped += drop
                    if drop:
                        _reset(client)
                        return
                client.sendall(data)
        except OSError:
            pass
        finally:
            _shut(client)
            _shut(server)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def _reset(sock: socket.socket) -> None:
    """Cut the connection as a network failure would (shutdown first: a plain
    close would wait for the thread still reading from it)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    _shut(sock)


@contextmanager
def dropping_proxy(
    url: str, *, prefix: bytes, drops: int = 1
) -> Iterator[DroppingProxy]:
    """A DroppingProxy in front of a server at http://127.0.0.1:PORT."""
    proxy = DroppingProxy(int(url.rsplit(":", 1)[1]), prefix=prefix, drops=drops)
    try:
        yield proxy
    finally:
        proxy.close()
