"""The TCP proxy fixture against a tiny echo server: it passes, cuts and blackholes as it says."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.fixtures.proxy import Proxy


class Echo:
    """A TCP echo server on a free 127.0.0.1 port, one thread per connection."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port: int = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn: socket.socket) -> None:
        with conn:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                conn.sendall(data)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def echo() -> Iterator[Echo]:
    e = Echo()
    yield e
    e.close()


@pytest.fixture
def proxy(echo: Echo) -> Iterator[Proxy]:
    with Proxy("127.0.0.1", echo.port) as p:
        yield p


def connect(proxy: Proxy, timeout: float = 2.0) -> socket.socket:
    return socket.create_connection((proxy.host, proxy.port), timeout=timeout)


def roundtrip(s: socket.socket, data: bytes) -> bytes:
    s.sendall(data)
    got = b""
    while len(got) < len(data):
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    return got


def silent(s: socket.socket, wait: float = 0.5) -> bool:
    """True if nothing arrives on ``s`` within ``wait`` seconds and it is not closed."""
    s.settimeout(wait)
    try:
        s.recv(1)
    except TimeoutError:
        return True
    return False


def test_pass_forwards_both_ways(proxy: Proxy, echo: Echo) -> None:
    with connect(proxy) as a, connect(proxy) as b:
        assert roundtrip(a, b"hello") == b"hello"
        big = bytes(range(256)) * 4096  # 1 MiB, more than one recv
        assert roundtrip(b, big) == big
    assert proxy.port not in (0, echo.port)


def test_blackhole_holds_old_and_new_connections_silently_then_resumes(proxy: Proxy, echo: Echo) -> None:
    old = connect(proxy)
    assert roundtrip(old, b"before") == b"before"
    proxy.blackhole()
    old.sendall(b"during")
    assert silent(old)  # nothing answered, nothing closed
    new = connect(proxy)  # the connection is accepted ...
    new.sendall(b"new")
    assert silent(new)  # ... and never answered
    accepted = echo.accepted
    assert accepted == 1  # the new one was not even forwarded
    proxy.pass_()
    old.settimeout(2)
    new.settimeout(2)
    assert old.recv(100) == b"during"  # held, not lost
    assert new.recv(100) == b"new"
    assert echo.accepted == 2
    old.close()
    new.close()


def test_cut_resets_current_connections_and_refuses_new_ones(proxy: Proxy) -> None:
    old = connect(proxy)
    assert roundtrip(old, b"before") == b"before"
    proxy.cut()
    old.settimeout(2)
    with pytest.raises(ConnectionResetError):  # a RST, not a clean FIN (recv would return b"")
        old.recv(100)
    # The listener still accepts, and resets at once: connect itself may already see the RST.
    with pytest.raises(ConnectionResetError), connect(proxy) as new:
        new.sendall(b"x")
        new.recv(100)
    assert proxy.connections == 0
    proxy.pass_()
    with connect(proxy) as again:
        assert roundtrip(again, b"after") == b"after"
    old.close()


def test_cut_during_blackhole_ends_held_connections(proxy: Proxy) -> None:
    held = connect(proxy)
    proxy.blackhole()
    new = connect(proxy)
    deadline = time.monotonic() + 2
    while proxy.connections < 2:  # accepted by the proxy's thread a moment after connect returns
        assert time.monotonic() < deadline, proxy.connections
        time.sleep(0.01)
    proxy.cut()
    assert proxy.connections == 0
    for s in (held, new):
        s.settimeout(2)
        with pytest.raises(ConnectionResetError):
            s.recv(100)
        s.close()


def test_close_frees_the_port(echo: Echo) -> None:
    with Proxy("127.0.0.1", echo.port) as p:
        port = p.port
        conn = connect(p)
        assert roundtrip(conn, b"x") == b"x"
    conn.settimeout(2)
    with pytest.raises(ConnectionResetError):
        conn.recv(1)
    conn.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1)
