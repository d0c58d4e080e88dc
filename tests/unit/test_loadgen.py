"""bench.loadgen: packets checked by hand (RFC 2865/2866/3579) and against pyrad, and
run() against a UDP server thread on 127.0.0.1 that reorders, drops, corrupts and
duplicates its answers."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import re
import socket
import struct
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any, TypedDict, Unpack

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyrad.dictionary import Dictionary
from pyrad.packet import AccessAccept, AccessReject, AcctPacket, AuthPacket

from bench import loadgen
from bench.loadgen import AcctItem, build_accounting_requests, build_access_requests, parse_reply_attributes
from tests.fixtures.nas import DICTIONARY

SECRET = b"bench-shared-secret"
PYRAD_DICT = Dictionary(str(DICTIONARY))
MAC = re.compile(r"^[0-9A-F]{2}(:[0-9A-F]{2}){5}$")
#: Where a datagram came from (AF_INET): host and port.
Address = tuple[str, int]


# --------------------------------------------------------------------------- RFC helpers, written independently
def attributes(raw: bytes) -> list[tuple[int, bytes, int]]:
    """(type, value, offset of the type octet) of every attribute, checking the framing."""
    assert len(raw) >= 20 and struct.unpack("!H", raw[2:4])[0] == len(raw)
    out, pos = [], 20
    while pos < len(raw):
        kind, length = raw[pos], raw[pos + 1]
        assert length >= 2 and pos + length <= len(raw)
        out.append((kind, raw[pos + 2 : pos + length], pos))
        pos += length
    return out


def first(raw: bytes, kind: int) -> bytes:
    values = [v for k, v, _ in attributes(raw) if k == kind]
    assert len(values) == 1, (kind, values)
    return values[0]


def decrypt_password(hidden: bytes, secret: bytes, authenticator: bytes) -> bytes:
    """RFC 2865 5.2, the server's side: p_i = c_i XOR MD5(S + c_{i-1}), c_0 = RA."""
    assert hidden and len(hidden) % 16 == 0 and len(hidden) <= 128
    plain, last = b"", authenticator
    for off in range(0, len(hidden), 16):
        block = hidden[off : off + 16]
        key = hashlib.md5(secret + last).digest()
        plain += bytes(a ^ b for a, b in zip(block, key))
        last = block
    return plain.rstrip(b"\0")


def message_authenticator_ok(raw: bytes, secret: bytes) -> bool:
    """RFC 3579 3.2: HMAC-MD5 over the packet with the Message-Authenticator zeroed."""
    (offset,) = [off for k, _, off in attributes(raw) if k == 80]
    zeroed = raw[: offset + 2] + bytes(16) + raw[offset + 18 :]
    return hmac.compare_digest(hmac.new(secret, zeroed, hashlib.md5).digest(), raw[offset + 2 : offset + 18])


def acct_authenticator_ok(raw: bytes, secret: bytes) -> bool:
    """RFC 2866 3: MD5(Code + Identifier + Length + 16 zero octets + Attributes + Secret)."""
    return hashlib.md5(raw[:4] + bytes(16) + raw[20:] + secret).digest() == raw[4:20]


def answer(request: bytes, code: int, attrs: bytes = b"", *, secret: bytes = SECRET, corrupt: bool = False) -> bytes:
    """A reply with the Response Authenticator of RFC 2865 3 (or a wrong one)."""
    head = struct.pack("!BBH", code, request[1], 20 + len(attrs))
    auth = hashlib.md5(head + request[4:20] + attrs + secret).digest()
    if corrupt:
        auth = bytes([auth[0] ^ 0x01]) + auth[1:]
    return head + auth + attrs


def user_of(request: bytes) -> str:
    return first(request, 1).decode()


def index_of(request: bytes) -> int:
    """Test users are named user<k>."""
    return int(user_of(request)[4:])


# --------------------------------------------------------------------------- a UDP server thread
class UdpServer:
    """Calls ``on_request(server, data, addr)`` for every datagram and ``on_idle(server)``
    after 10 ms without one. Records every datagram; a handler exception fails the test."""

    def __init__(
        self,
        on_request: Callable[[UdpServer, bytes, Address], None],
        on_idle: Callable[[UdpServer], None] | None = None,
    ) -> None:
        self.on_request = on_request
        self.on_idle = on_idle
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.01)
        self.port = self.sock.getsockname()[1]
        self.requests: list[tuple[bytes, Address]] = []
        self.replies = 0
        self.max_outstanding = 0
        self.held: list[tuple[bytes, Address]] = []
        #: Scratch space of the test's handlers (counters, sets of ports, copies by index).
        self.state: dict[str, Any] = {}
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def send(self, data: bytes, addr: Address) -> None:
        self.sock.sendto(data, addr)
        self.replies += 1

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                try:
                    data, addr = self.sock.recvfrom(4096)
                except socket.timeout:
                    if self.on_idle:
                        self.on_idle(self)
                    continue
                self.requests.append((data, addr))
                self.max_outstanding = max(self.max_outstanding, len(self.requests) - self.replies)
                self.on_request(self, data, addr)
            except BaseException as exc:  # surfaced by the fixture
                self.errors.append(exc)

    def __enter__(self) -> UdpServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()
        assert not self.errors, self.errors


@contextmanager
def serving(on_request: Callable[[UdpServer, bytes, Address], None],
            on_idle: Callable[[UdpServer], None] | None = None) -> Iterator[UdpServer]:
    with UdpServer(on_request, on_idle) as server:
        yield server


class RunOptions(TypedDict, total=False):
    """The keyword arguments of loadgen.run the tests use."""

    window: int
    timeout: float
    retries: int
    sockets: int | None
    drain: bool
    keep_answers: Iterable[int]


def go(packets: Sequence[bytes], server: UdpServer, **kw: Unpack[RunOptions]) -> loadgen.Result:
    return asyncio.run(loadgen.run(packets, "127.0.0.1", server.port, **kw))


PASSWORDS = {f"user{k}": f"pw-{k}" for k in range(2000)}


def authenticate(request: bytes) -> int:
    """Accept iff the Message-Authenticator verifies and the password decrypts to the user's."""
    assert request[0] == 1 and message_authenticator_ok(request, SECRET)
    password = decrypt_password(first(request, 2), SECRET, request[4:20]).decode()
    return 2 if PASSWORDS[user_of(request)] == password else 3


def logins(n: int, wrong_every: int = 7) -> tuple[list[tuple[str, str]], list[int]]:
    """n users, every wrong_every-th with a wrong password; and the answer codes expected."""
    items = [(f"user{k}", PASSWORDS[f"user{k}"] + ("x" if k % wrong_every == 0 else "")) for k in range(n)]
    return items, [3 if k % wrong_every == 0 else 2 for k in range(n)]


def echo(server: UdpServer, data: bytes, addr: Address) -> None:
    server.send(answer(data, authenticate(data)), addr)


# --------------------------------------------------------------------------- Access-Request encoding
PASSWORD_CASES = ["", "a", "x" * 15, "y" * 16, "z" * 17, "ü" * 20, "p" * 128]


@pytest.mark.parametrize("password", PASSWORD_CASES, ids=lambda p: f"len{len(p.encode())}")
def test_user_password_decrypts_to_the_original(password: str) -> None:
    (raw,) = build_access_requests([("alice", password)], SECRET)
    hidden = first(raw, 2)
    assert len(hidden) == max(16, -(-len(password.encode()) // 16) * 16)
    assert decrypt_password(hidden, SECRET, raw[4:20]) == password.encode()
    pkt = AuthPacket(packet=raw, secret=SECRET, dict=PYRAD_DICT)
    assert pkt.PwDecrypt(pkt["User-Password"][0]) == password


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=0, max_size=128).map(lambda b: b.rstrip(b"\0")), st.binary(min_size=1, max_size=40))
def test_user_password_round_trips_for_any_password_and_secret(password: bytes, secret: bytes) -> None:
    (raw,) = build_access_requests([(b"u", password)], secret)
    assert decrypt_password(first(raw, 2), secret, raw[4:20]) == password
    assert message_authenticator_ok(raw, secret)


def test_password_over_128_octets_is_refused() -> None:
    with pytest.raises(ValueError):
        build_access_requests([("u", "p" * 129)], SECRET)


def test_access_request_layout_and_message_authenticator() -> None:
    items = [(f"user{k}", f"pw-{k}") for k in range(300)]
    packets = build_access_requests(items, SECRET)
    assert isinstance(packets, list) and packets.secret == SECRET
    assert len(packets) == 300
    assert len({p[4:20] for p in packets}) == 300, "Request Authenticators must be random per packet"
    macs = set()
    for k, raw in enumerate(packets):
        assert raw[0] == 1 and raw[1] == k & 0xFF
        attrs = attributes(raw)
        assert attrs[0][0] == 80, "Message-Authenticator goes first (BlastRADIUS)"
        assert message_authenticator_ok(raw, SECRET)
        assert not message_authenticator_ok(raw, SECRET + b"x")
        assert sorted(k for k, _, _ in attrs) == [1, 2, 4, 6, 31, 61, 80]
        assert first(raw, 1) == f"user{k}".encode()
        assert first(raw, 4) == ipaddress.IPv4Address("127.0.0.1").packed
        assert first(raw, 61) == struct.pack("!I", 15)
        assert first(raw, 6) == struct.pack("!I", 2)
        mac = first(raw, 31).decode()
        assert MAC.match(mac), mac
        macs.add(mac)
        # pyrad agrees
        pkt = AuthPacket(packet=raw, secret=SECRET, dict=PYRAD_DICT)
        assert pkt.verify_message_authenticator()
        assert pkt["User-Name"] == [f"user{k}"]
        assert pkt.PwDecrypt(pkt["User-Password"][0]) == f"pw-{k}"
        assert pkt["NAS-IP-Address"] == ["127.0.0.1"]
        assert pkt["NAS-Port-Type"] == ["Ethernet"]
        assert pkt["Service-Type"] == ["Framed-User"]
    assert len(macs) == 300


def test_access_items_may_be_objects_or_mappings_with_an_explicit_mac() -> None:
    items = [
        SimpleNamespace(username="obj", password="pw1"),
        {"username": "map", "password": "pw2", "mac": "AA:BB:CC:DD:EE:FF"},
        ("tup", "pw3", "11:22:33:44:55:66"),
    ]
    a, b, c = build_access_requests(items, "str-secret")
    assert (first(a, 1), first(b, 1), first(c, 1)) == (b"obj", b"map", b"tup")
    assert decrypt_password(first(b, 2), b"str-secret", b[4:20]) == b"pw2"
    assert first(b, 31) == b"AA:BB:CC:DD:EE:FF" and first(c, 31) == b"11:22:33:44:55:66"
    with pytest.raises(TypeError):
        build_access_requests([SimpleNamespace(username="x")], SECRET)


# --------------------------------------------------------------------------- Accounting-Request encoding
def test_accounting_request_authenticator_and_attributes() -> None:
    big_in, big_out = 5 * 2**32 + 7, 2**32 - 1
    items = [
        AcctItem("alice", "s-1", "Start", framed_ip="100.64.0.9"),
        AcctItem("alice", "s-1", "Interim-Update", big_in, big_out, 600, "100.64.0.9"),
        {"username": "bob", "session_id": "s-2", "status": "Stop", "input_octets": 10,
         "output_octets": 2**33, "session_time": 3600},
    ]
    start, interim, stop = packets = build_accounting_requests(items, SECRET)
    assert packets.secret == SECRET
    for k, raw in enumerate(packets):
        assert raw[0] == 4 and raw[1] == k
        assert acct_authenticator_ok(raw, SECRET)
        assert not acct_authenticator_ok(raw, SECRET + b"x")
        assert AcctPacket(packet=raw, secret=SECRET, dict=PYRAD_DICT).VerifyAcctRequest()
        assert first(raw, 4) == bytes([127, 0, 0, 1])
    assert first(start, 40) == struct.pack("!I", 1)
    assert {k for k, _, _ in attributes(start)} == {40, 1, 44, 4, 8}
    assert first(interim, 40) == struct.pack("!I", 3) and first(stop, 40) == struct.pack("!I", 2)

    p = AcctPacket(packet=interim, secret=SECRET, dict=PYRAD_DICT)
    assert p["User-Name"] == ["alice"] and p["Acct-Session-Id"] == ["s-1"]
    assert p["Acct-Status-Type"] == ["Interim-Update"]
    assert p["Acct-Input-Octets"] == [7] and p["Acct-Input-Gigawords"] == [5]
    assert p["Acct-Output-Octets"] == [2**32 - 1] and p["Acct-Output-Gigawords"] == [0]
    assert p["Acct-Session-Time"] == [600]
    assert p["Framed-IP-Address"] == ["100.64.0.9"]
    assert p["NAS-IP-Address"] == ["127.0.0.1"]

    q = AcctPacket(packet=stop, secret=SECRET, dict=PYRAD_DICT)
    assert q["Acct-Status-Type"] == ["Stop"]
    assert (q["Acct-Output-Octets"], q["Acct-Output-Gigawords"]) == ([0], [2])
    assert q["Acct-Session-Time"] == [3600] and "Framed-IP-Address" not in q
    with pytest.raises(ValueError):
        build_accounting_requests([AcctItem("a", "s", "Sideways")], SECRET)


def test_accounting_run_counts_accounting_responses() -> None:
    def on_request(server: UdpServer, data: bytes, addr: Address) -> None:
        assert data[0] == 4 and acct_authenticator_ok(data, SECRET)
        server.send(answer(data, 5), addr)

    items = [AcctItem(f"user{k}", f"sess-{k}", ("Start", "Interim-Update", "Stop")[k % 3], k, k) for k in range(90)]
    with serving(on_request) as server:
        result = go(build_accounting_requests(items, SECRET), server, window=16)
    assert result.acct_responses == result.answered == result.sent == 90
    assert result.codes == [5] * 90
    assert (result.accepted, result.rejected, result.timeouts, result.bad_authenticators) == (0, 0, 0, 0)


# --------------------------------------------------------------------------- run()
@pytest.mark.parametrize("drain", [True, False])
def test_answers_out_of_order_are_matched_and_codes_keep_input_order(drain: bool) -> None:
    """The server holds 16 requests at a time and answers them in reverse order."""

    def flush(server: UdpServer) -> None:
        held, server.held = server.held, []
        if len(held) > 1:
            server.state["reordered"] = server.state.get("reordered", 0) + 1
        for data, addr in reversed(held):
            server.send(answer(data, authenticate(data)), addr)

    def on_request(server: UdpServer, data: bytes, addr: Address) -> None:
        server.held.append((data, addr))
        if len(server.held) == 16:
            flush(server)

    items, expected = logins(400)
    with serving(on_request, flush) as server:
        result = go(build_access_requests(items, SECRET), server, window=64, drain=drain)
    assert server.state["reordered"] > 5
    assert result.codes == expected
    assert result.accepted == expected.count(2) and result.rejected == expected.count(3)
    assert result.answered == result.sent == 400
    assert (result.timeouts, result.bad_authenticators, result.retransmits, result.unexpected) == (0, 0, 0, 0)
    assert server.max_outstanding <= 64
    assert all(x is not None and x > 0 for x in result.latencies_ns)
    assert 0 < result.p50_ms <= result.p99_ms
    assert result.rps > 0 and result.elapsed > 0


@pytest.mark.parametrize("window", [1, 5, 64])
def test_window_is_kept_full_but_never_exceeded(window: int) -> None:
    """A server that answers only when it holds `window` requests and has heard nothing
    for 10 ms: the generator must reach exactly `window` outstanding, or nothing is
    ever answered, and must not send more."""

    def on_request(server: UdpServer, data: bytes, addr: Address) -> None:
        server.held.append((data, addr))

    def on_idle(server: UdpServer) -> None:
        """After 10 ms of quiet, so a request beyond the window would be held too."""
        if len(server.held) >= window or server.held and len(server.requests) == 120:
            held, server.held = server.held, []
            for d, a in held:
                server.send(answer(d, authenticate(d)), a)

    items, expected = logins(120)
    with serving(on_request, on_idle) as server:
        result = go(build_access_requests(items, SECRET), server, window=window, timeout=3.0, retries=0)
    assert result.codes == expected
    assert server.max_outstanding == window


@pytest.mark.parametrize("window, n", [(300, 600), (600, 600), (1000, 1200)])
def test_window_over_256_uses_several_source_ports(window: int, n: int) -> None:
    """The server answers (in reverse) only once it holds `window` requests (and 10 ms
    passed without another); every held (source port, identifier) pair must be distinct."""

    def on_request(server: UdpServer, data: bytes, addr: Address) -> None:
        server.held.append((data, addr))

    def on_idle(server: UdpServer) -> None:
        if len(server.held) >= window or server.held and len(server.requests) == n:
            held, server.held = server.held, []
            keys = {(a[1], d[1]) for d, a in held}
            assert len(keys) == len(held), "two outstanding requests share a (port, id)"
            server.state.setdefault("ports", set()).update(a[1] for _, a in held)
            for d, a in reversed(held):
                server.send(answer(d, authenticate(d)), a)

    items, expected = logins(n)
    with serving(on_request, on_idle) as server:
        result = go(build_access_requests(items, SECRET), server, window=window, timeout=3.0, retries=0)
    assert result.codes == expected
    assert result.answered == n and result.timeouts == 0
    assert result.sockets == window // 256 + 1 == len(server.state["ports"])
    assert server.max_outstanding == window


def test_identifier_collisions_wait_for_a_free_slot() -> None:
    """One socket, window 256, answers reversed in batches: request k+256 has request k's
    identifier and must wait for it, never sharing the slot."""

    def on_request(server: UdpServer, data: bytes, addr: Address) -> None:
        server.held.append((data, addr))
        if len(server.held) == 256 or len(server.requests) == 700:
            held, server.held = server.held, []
            assert len({d[1] for d, _ in held}) == len(held)
            for d, a in reversed(held):
                server.send(answer(d, authenticate(d)), a)

    items, expected = logins(700)
    with serving(on_request) as server:
        result = go(build_access_requests(items, SECRET), server, window=256, sockets=1, timeout=3.0, retries=0)
    assert result.codes == expected
    assert len({a for _, a in server.requests}) == 1
    assert server.max_outstanding == 256


@pytest.mark.parametrize("retries", [0, 1, 2])
def test_dropped_requests_are_retransmitted_then_time_out(retries: int) -> None:
    """user k with k % 5 == 0: first copy dropped; k % 7 == 0 (not % 5): always dropped."""

    def on_request(server: UdpServer, data: bytes, addr: Address) -> None:
        k = index_of(data)
        seen = server.state.setdefault("copies", {})
        seen.setdefault(k, []).append(data)
        if k % 5 == 0 and len(seen[k]) == 1 or k % 7 == 0 and k % 5:
            return
        server.send(answer(data, authenticate(data)), addr)

    n = 40
    items, expected = logins(n, wrong_every=3)
    lost_once = [k for k in range(n) if k % 5 == 0]
    lost_always = [k for k in range(n) if k % 7 == 0 and k % 5]
    dead = lost_always + (lost_once if retries == 0 else [])
    with serving(on_request) as server:
        result = go(build_access_requests(items, SECRET), server, window=n, timeout=0.2, retries=retries)
    copies = server.state["copies"]

    assert result.sent == n
    assert result.timeouts == len(dead)
    assert result.answered == n - len(dead)
    assert result.retransmits == len(lost_once) * min(1, retries) + len(lost_always) * retries
    for k in range(n):
        want = 1 + (retries if k in lost_always else min(1, retries) if k in lost_once else 0)
        assert len(copies[k]) == want, k
        assert len(set(copies[k])) == 1, "a retransmission must be the same bytes"
        assert result.codes[k] == (None if k in dead else expected[k])
        if k in dead:
            assert result.latencies_ns[k] is None
        elif k in lost_once:
            latency = result.latencies_ns[k]
            assert latency is not None and latency >= 0.2e9  # measured from the first transmission
    assert result.accepted == sum(1 for k in range(n) if k not in dead and expected[k] == 2)


def test_bad_response_authenticators_are_counted_and_not_answers() -> None:
    """k % 4 == 0: only corrupted answers; k % 4 == 1: a corrupted answer, then a good one."""

    def on_request(server: UdpServer, data: bytes, addr: Address) -> None:
        k = index_of(data)
        code = authenticate(data)
        if k % 4 in (0, 1):
            server.send(answer(data, code, corrupt=True), addr)
        if k % 4 == 1:
            server.send(answer(data, code, secret=b"wrong-secret"), addr)
            server.send(answer(data, code), addr)
        elif k % 4 > 1:
            server.send(answer(data, code), addr)

    n = 48
    items, expected = logins(n)
    with serving(on_request) as server:
        result = go(build_access_requests(items, SECRET), server, window=n, timeout=0.3, retries=1)
    never = [k for k in range(n) if k % 4 == 0]
    assert result.timeouts == len(never)
    assert result.answered == n - len(never)
    # every copy of a k%4==0 request got one bad answer (2 copies); k%4==1 got two bad ones
    assert result.bad_authenticators == 2 * len(never) + 2 * (n // 4)
    assert result.unexpected == 0
    assert result.codes == [None if k % 4 == 0 else expected[k] for k in range(n)]


def test_late_duplicate_answers_are_unexpected_not_bad() -> None:
    """Every answer but the last is sent twice; for k < 256 the duplicate arrives only after request
    k+256 (same socket, same identifier) is outstanding, so it must be recognised as
    belonging to the slot's previous request."""
    held: dict[int, tuple[bytes, Address]] = {}

    def on_request(server: UdpServer, data: bytes, addr: Address) -> None:
        k = index_of(data)
        reply = answer(data, authenticate(data))
        if k >= 256:
            server.send(*held.pop(k - 256))
        server.send(reply, addr)
        if k < 256:
            held[k] = (reply, addr)
        elif k < 511:  # (a duplicate of the last answer would arrive after run() returned)
            server.send(reply, addr)

    items, expected = logins(512)
    with serving(on_request) as server:
        result = go(build_access_requests(items, SECRET), server, window=1, sockets=1, timeout=2.0, retries=0)
    assert result.codes == expected
    assert result.unexpected == 511 and result.bad_authenticators == 0
    assert result.answered == 512


def test_malformed_answers_are_ignored() -> None:
    def on_request(server: UdpServer, data: bytes, addr: Address) -> None:
        good = answer(data, authenticate(data))
        server.send(b"\x02\x00", addr)  # shorter than a header
        server.send(good[:2] + struct.pack("!H", 400) + good[4:], addr)  # Length beyond the datagram
        server.send(good + b"\0\0padding", addr)  # padding after Length is fine

    items, expected = logins(20)
    with serving(on_request) as server:
        result = go(build_access_requests(items, SECRET), server, window=4, timeout=1.0, retries=0)
    assert result.codes == expected
    assert result.unexpected == 40 and result.bad_authenticators == 0


def test_reply_attributes_from_a_pyrad_server_and_kept_answers() -> None:
    """A pyrad server decodes the requests and answers with Mikrotik-Rate-Limit and a
    Message-Authenticator; run() verifies pyrad's Response Authenticators."""

    def on_request(server: UdpServer, data: bytes, addr: Address) -> None:
        req = AuthPacket(packet=data, secret=SECRET, dict=PYRAD_DICT)
        assert req.verify_message_authenticator()
        ok = PASSWORDS[req["User-Name"][0]] == req.PwDecrypt(req["User-Password"][0])
        reply = req.CreateReply()
        if ok:
            reply["Mikrotik-Rate-Limit"] = f"{req.id}M/8M"
            reply["Session-Timeout"] = 3600
        else:
            reply.code = AccessReject
            reply["Reply-Message"] = "nope"
        server.send(reply.ReplyPacket(), addr)

    items, expected = logins(30)
    keep = {0, 1, 29}
    with serving(on_request) as server:
        result = go(build_access_requests(items, SECRET), server, window=8, keep_answers=keep)
    assert result.codes == expected and result.bad_authenticators == 0
    assert set(result.answers) == keep
    for k in (1, 29):
        attrs = parse_reply_attributes(result.answers[k])
        assert result.answers[k][0] == AccessAccept
        assert attrs[(14988, 8)] == [f"{k}M/8M".encode()]
        assert attrs[27] == [struct.pack("!I", 3600)]
        assert len(attrs[80]) == 1 and len(attrs[80][0]) == 16
    rejected = parse_reply_attributes(result.answers[0])
    assert result.answers[0][0] == AccessReject and rejected[18] == [b"nope"]


def test_parse_reply_attributes_vendor_specific() -> None:
    mikrotik = struct.pack("!I", 14988)
    vsa_two = mikrotik + bytes([8, 7]) + b"2M/8M" + bytes([19, 6]) + b"list"
    # not in RFC 2865 5.26 format: kept raw under 26
    odd_short = struct.pack("!I", 9) + b"\xff"
    odd_overrun = struct.pack("!I", 9) + bytes([1, 9, 0])
    odd_trailing = struct.pack("!I", 9) + bytes([1, 3, 0x41, 0])
    body = (
        bytes([26, 2 + len(vsa_two)]) + vsa_two
        + bytes([1, 5]) + b"bob"
        + bytes([18, 4]) + b"hi" + bytes([18, 5]) + b"you"
        + b"".join(bytes([26, 2 + len(v)]) + v for v in (odd_short, odd_overrun, odd_trailing))
    )
    raw = struct.pack("!BBH", 2, 7, 20 + len(body)) + bytes(16) + body
    attrs = parse_reply_attributes(raw + b"trailing padding")
    assert attrs == {
        (14988, 8): [b"2M/8M"],
        (14988, 19): [b"list"],
        1: [b"bob"],
        18: [b"hi", b"you"],
        26: [odd_short, odd_overrun, odd_trailing],
    }
    with pytest.raises(ValueError):
        parse_reply_attributes(struct.pack("!BBH", 2, 7, 24) + bytes(16) + bytes([1, 9, 0, 0]))
    with pytest.raises(ValueError):
        parse_reply_attributes(b"\x02\x00")


def test_no_answer_at_all_is_all_timeouts_and_errors_are_rejected() -> None:
    with serving(lambda s, d, a: None) as server:
        result = go(build_access_requests(logins(10)[0], SECRET), server, window=4, timeout=0.05, retries=1)
    assert (result.sent, result.answered, result.timeouts, result.retransmits) == (10, 0, 10, 10)
    assert result.codes == [None] * 10 and result.p50_ms == 0.0
    assert len(server.requests) == 20

    empty = asyncio.run(loadgen.run(build_access_requests([], SECRET), "127.0.0.1", server.port))
    assert (empty.sent, empty.answered, empty.codes) == (0, 0, [])
    with pytest.raises(ValueError):
        asyncio.run(loadgen.run([b"x" * 20], "127.0.0.1", 9))  # no secret
    with pytest.raises(ValueError):
        asyncio.run(loadgen.run(build_access_requests([], SECRET), "127.0.0.1", 9, window=0))


def test_cli_prints_the_result(capsys: pytest.CaptureFixture[str]) -> None:
    def on_request(server: UdpServer, data: bytes, addr: Address) -> None:
        assert message_authenticator_ok(data, SECRET)
        ok = decrypt_password(first(data, 2), SECRET, data[4:20]) == b"pw"
        assert re.fullmatch(rb"user\d{6}", first(data, 1))
        server.send(answer(data, 2 if ok else 3), addr)

    with serving(on_request) as server:
        code = loadgen.main(["--port", str(server.port), "--secret", SECRET.decode(), "--users", "25", "--window", "4"])
    out = capsys.readouterr().out
    assert code == 0
    assert "sent=25 answered=25 accept=25 reject=0" in out
    assert sorted(first(d, 1) for d, _ in server.requests) == [f"user{k:06d}".encode() for k in range(25)]
