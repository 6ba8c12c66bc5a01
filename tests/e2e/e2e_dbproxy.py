"""A TCP proxy in front of PostgreSQL that a test can cut and restore.

Stopping the shared PostgreSQL server would break the other tests running on
it at the same time; cutting this proxy takes the database away from one
sunclock process only: open connections are closed ("server closed the
connection unexpectedly") and new ones are closed as soon as they are accepted.
"""

from __future__ import annotations

import socket
import threading

from e2e_processes import free_port


class DatabaseProxy:
    def __init__(self, target_port: int = 5432, host: str = "127.0.0.1"):
        self.target = (host, target_port)
        self.port = free_port()
        self.cut = threading.Event()
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", self.port))
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def __enter__(self) -> DatabaseProxy:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._closed = True
        self._server.close()
        self._close_all()

    def go_away(self) -> None:
        """The database is gone: every connection closed, new ones refused."""
        self.cut.set()
        self._close_all()

    def come_back(self) -> None:
        self.cut.clear()

    def _close_all(self) -> None:
        with self._lock:
            sockets, self._open = self._open, set()
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if self.cut.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open.update((client, upstream))
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
