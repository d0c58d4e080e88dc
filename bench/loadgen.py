"""A lean closed-loop RADIUS load generator (stdlib only: asyncio, hashlib, hmac).

The benchmark machine has two cores shared by the generator and the server, so
everything that can be done before the clock starts is: :func:`build_access_requests`
and :func:`build_accounting_requests` return the finished datagrams (identifier,
Request Authenticator, encrypted User-Password, Message-Authenticator all in
place). :func:`run` then only sends bytes, matches answers by (socket, identifier),
checks each Response Authenticator with one MD5, and records the latency.

Identifiers: packet ``i`` of a batch carries identifier ``i & 0xFF``. At most 256
requests can be outstanding per UDP socket (source port), so :func:`run` opens
``window // 256 + 1`` sockets and puts each request on one whose slot for its
identifier is free; a request finding that slot busy on every socket waits
(still counted in the window) until one frees.

Latency is measured from the first transmission of a request to its (valid)
answer, so a retransmitted request's latency includes the timeout it waited.

    python -m bench.loadgen --host 127.0.0.1 --port 1812 --secret S --users 1000 --window 64
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import hashlib
import hmac
import ipaddress
import math
import os
import socket
import struct
import sys
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ACCESS_REQUEST",
    "ACCESS_ACCEPT",
    "ACCESS_REJECT",
    "ACCOUNTING_REQUEST",
    "ACCOUNTING_RESPONSE",
    "AcctItem",
    "RequestBatch",
    "Result",
    "build_access_requests",
    "build_accounting_requests",
    "parse_reply_attributes",
    "run",
    "main",
]

ACCESS_REQUEST = 1
ACCESS_ACCEPT = 2
ACCESS_REJECT = 3
ACCOUNTING_REQUEST = 4
ACCOUNTING_RESPONSE = 5

# Attribute types (RFC 2865 / 2866 / 2869 / 3579)
USER_NAME = 1
USER_PASSWORD = 2
NAS_IP_ADDRESS = 4
SERVICE_TYPE = 6
FRAMED_IP_ADDRESS = 8
VENDOR_SPECIFIC = 26
CALLING_STATION_ID = 31
ACCT_STATUS_TYPE = 40
ACCT_INPUT_OCTETS = 42
ACCT_OUTPUT_OCTETS = 43
ACCT_SESSION_ID = 44
ACCT_SESSION_TIME = 46
ACCT_INPUT_GIGAWORDS = 52
ACCT_OUTPUT_GIGAWORDS = 53
NAS_PORT_TYPE = 61
MESSAGE_AUTHENTICATOR = 80

SERVICE_TYPE_FRAMED_USER = 2
NAS_PORT_TYPE_ETHERNET = 15

ACCT_STATUS = {"start": 1, "stop": 2, "interim-update": 3, "interim": 3}

_ZERO16 = bytes(16)
_md5 = hashlib.md5


class RequestBatch(list[bytes]):
    """``list[bytes]`` of finished request datagrams that remembers the shared secret,
    so ``run(batch, host, port)`` can verify the answers without being told it again."""

    secret: bytes

    def __init__(self, packets: Iterable[bytes] = (), secret: bytes = b"") -> None:
        super().__init__(packets)
        self.secret = secret


# --------------------------------------------------------------------------- encoding
def _b(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def _attr(kind: int, value: bytes) -> bytes:
    if not 0 < len(value) <= 253:
        raise ValueError(f"attribute {kind}: value of {len(value)} octets (must be 1..253)")
    return bytes((kind, len(value) + 2)) + value


def _int_attr(kind: int, value: int) -> bytes:
    return bytes((kind, 6)) + struct.pack("!I", value)


def _ip_attr(kind: int, value: str | bytes) -> bytes:
    return bytes((kind, 6)) + (value if isinstance(value, bytes) else ipaddress.IPv4Address(value).packed)


def encrypt_password(password: bytes, secret: bytes, authenticator: bytes) -> bytes:
    """User-Password hiding (RFC 2865 section 5.2)."""
    if len(password) > 128:
        raise ValueError("User-Password longer than 128 octets")
    padded = password.ljust(max(16, -(-len(password) // 16) * 16), b"\0")
    out = bytearray()
    last = authenticator
    for off in range(0, len(padded), 16):
        b = _md5(secret + last).digest()
        c = (int.from_bytes(padded[off : off + 16], "big") ^ int.from_bytes(b, "big")).to_bytes(16, "big")
        out += c
        last = c
    return bytes(out)


def _mac_for(index: int) -> str:
    """A locally administered MAC, distinct per index, in RouterOS's spelling."""
    raw = (0x020000000000 | (index & 0xFFFFFFFFFF)).to_bytes(6, "big")
    return ":".join(f"{o:02X}" for o in raw)


def _field(item: Any, name: str, default: Any = None) -> Any:
    if isinstance(item, Mapping):
        return item.get(name, default)
    return getattr(item, name, default)


def _credentials(item: Any, index: int) -> tuple[bytes, bytes, bytes]:
    if isinstance(item, (tuple, list)):
        user, password = item[0], item[1]
        mac = item[2] if len(item) > 2 else None
    else:
        user, password = _field(item, "username"), _field(item, "password")
        mac = _field(item, "mac")
    if user is None or password is None:
        raise TypeError(f"item {index}: need a username and a password, got {item!r}")
    return _b(user), _b(password), _b(mac or _mac_for(index))


def build_access_requests(
    items: Iterable[Any], secret: str | bytes, *, nas_ip: str = "127.0.0.1"
) -> RequestBatch:
    """PAP Access-Requests, one per item, ready to send.

    An item is ``(username, password[, mac])`` or anything with ``username`` and
    ``password`` attributes or keys (and optionally ``mac``), e.g. a
    ``bench.spec.BenchSubscriber``. Each packet carries a random Request
    Authenticator, identifier ``index & 0xFF``, Message-Authenticator first
    (BlastRADIUS), User-Name, User-Password, NAS-IP-Address, NAS-Port-Type
    Ethernet, Service-Type Framed-User and Calling-Station-Id.
    """
    secret = _b(secret)
    items = list(items)
    randomness = os.urandom(16 * len(items))
    common = (
        _ip_attr(NAS_IP_ADDRESS, nas_ip)
        + _int_attr(NAS_PORT_TYPE, NAS_PORT_TYPE_ETHERNET)
        + _int_attr(SERVICE_TYPE, SERVICE_TYPE_FRAMED_USER)
    )
    ma_zero = bytes((MESSAGE_AUTHENTICATOR, 18)) + _ZERO16
    out = RequestBatch(secret=secret)
    for i, item in enumerate(items):
        user, password, mac = _credentials(item, i)
        auth = randomness[16 * i : 16 * i + 16]
        attrs = (
            ma_zero
            + _attr(USER_NAME, user)
            + _attr(USER_PASSWORD, encrypt_password(password, secret, auth))
            + common
            + _attr(CALLING_STATION_ID, mac)
        )
        header = struct.pack("!BBH", ACCESS_REQUEST, i & 0xFF, 20 + len(attrs)) + auth
        ma = hmac.new(secret, header + attrs, "md5").digest()
        out.append(header + attrs[:2] + ma + attrs[18:])
    return out


@dataclass(frozen=True)
class AcctItem:
    """One Accounting-Request. Octet counters may exceed 2**32: the high part goes
    into Acct-{Input,Output}-Gigawords. Counters and Acct-Session-Time are sent
    for Interim-Update and Stop, not for Start."""

    username: str
    session_id: str
    status: str | int = "Interim-Update"  # Start / Interim-Update / Stop or 1 / 3 / 2
    input_octets: int = 0
    output_octets: int = 0
    session_time: int = 0
    framed_ip: str | None = None
    nas_ip: str = "127.0.0.1"


def _status_code(status: str | int) -> int:
    if isinstance(status, int):
        return status
    try:
        return ACCT_STATUS[status.lower()]
    except KeyError:
        raise ValueError(f"unknown Acct-Status-Type {status!r}") from None


def build_accounting_requests(items: Iterable[Any], secret: str | bytes) -> RequestBatch:
    """Accounting-Requests (RFC 2866), one per item, ready to send.

    An item is an :class:`AcctItem` or anything with the same attribute names or
    keys (only ``username`` and ``session_id`` are required). The Request
    Authenticator is MD5(Code + Identifier + Length + 16 zero octets +
    Attributes + Secret); the identifier is ``index & 0xFF``.
    """
    secret = _b(secret)
    out = RequestBatch(secret=secret)
    for i, item in enumerate(items):
        status = _status_code(_field(item, "status", "Interim-Update"))
        attrs = (
            _int_attr(ACCT_STATUS_TYPE, status)
            + _attr(USER_NAME, _b(_field(item, "username")))
            + _attr(ACCT_SESSION_ID, _b(_field(item, "session_id")))
            + _ip_attr(NAS_IP_ADDRESS, _field(item, "nas_ip", "127.0.0.1") or "127.0.0.1")
        )
        framed_ip = _field(item, "framed_ip")
        if framed_ip:
            attrs += _ip_attr(FRAMED_IP_ADDRESS, framed_ip)
        if status != 1:
            octets_in = int(_field(item, "input_octets", 0) or 0)
            octets_out = int(_field(item, "output_octets", 0) or 0)
            attrs += (
                _int_attr(ACCT_INPUT_OCTETS, octets_in & 0xFFFFFFFF)
                + _int_attr(ACCT_OUTPUT_OCTETS, octets_out & 0xFFFFFFFF)
                + _int_attr(ACCT_INPUT_GIGAWORDS, octets_in >> 32)
                + _int_attr(ACCT_OUTPUT_GIGAWORDS, octets_out >> 32)
                + _int_attr(ACCT_SESSION_TIME, int(_field(item, "session_time", 0) or 0))
            )
        head = struct.pack("!BBH", ACCOUNTING_REQUEST, i & 0xFF, 20 + len(attrs))
        auth = _md5(head + _ZERO16 + attrs + secret).digest()
        out.append(head + auth + attrs)
    return out


# --------------------------------------------------------------------------- decoding
def parse_reply_attributes(data: bytes) -> dict[int | tuple[int, int], list[bytes]]:
    """Attributes of a RADIUS packet: ``{type: [value, ...]}``, Vendor-Specific
    sub-attributes as ``{(vendor_id, vendor_type): [value, ...]}`` (RFC 2865 5.26
    format; a VSA that does not parse as such is kept under 26).
    Mikrotik-Rate-Limit is ``attrs[(14988, 8)]``."""
    if len(data) < 20:
        raise ValueError("shorter than a RADIUS header")
    end = min(len(data), struct.unpack_from("!H", data, 2)[0])
    out: dict[int | tuple[int, int], list[bytes]] = {}
    pos = 20
    while pos + 2 <= end:
        kind, length = data[pos], data[pos + 1]
        if length < 2 or pos + length > end:
            raise ValueError(f"malformed attribute {kind} at offset {pos}")
        value = data[pos + 2 : pos + length]
        pos += length
        if kind == VENDOR_SPECIFIC and len(value) >= 6:
            vendor = struct.unpack_from("!I", value)[0]
            subs: list[tuple[tuple[int, int], bytes]] = []
            sp = 4
            while sp + 2 <= len(value):
                vtype, vlen = value[sp], value[sp + 1]
                if vlen < 2 or sp + vlen > len(value):
                    subs = []
                    break
                subs.append(((vendor, vtype), value[sp + 2 : sp + vlen]))
                sp += vlen
            if subs and sp == len(value):
                for key, sub in subs:
                    out.setdefault(key, []).append(sub)
                continue
        out.setdefault(kind, []).append(value)
    return out


# --------------------------------------------------------------------------- running
@dataclass
class Result:
    sent: int  # requests transmitted at least once
    answered: int  # requests with a valid answer
    accepted: int  # Access-Accept
    rejected: int  # Access-Reject
    acct_responses: int  # Accounting-Response
    timeouts: int  # requests unanswered after all retries
    elapsed: float  # seconds, first send to last completion
    rps: float  # answered / elapsed
    p50_ms: float
    p99_ms: float
    #: Answer code per request, in the order of the input packets (None: no valid answer).
    codes: list[int | None]
    bad_authenticators: int = 0  # answers whose Response Authenticator did not verify
    retransmits: int = 0
    other_codes: int = 0  # valid answers that were not 2, 3 or 5 (e.g. Access-Challenge)
    unexpected: int = 0  # answers for no outstanding request (late duplicates), malformed ones
    errors: int = 0  # socket errors (e.g. ICMP port unreachable)
    sockets: int = 1
    #: Per-request latency in ns from first transmission, input order (None: no answer).
    latencies_ns: list[int | None] = field(default_factory=list, repr=False)
    #: Raw answers of the input indexes asked for with ``keep_answers``.
    answers: dict[int, bytes] = field(default_factory=dict, repr=False)

    def summary(self) -> str:
        return (
            f"sent={self.sent} answered={self.answered} accept={self.accepted} reject={self.rejected} "
            f"acct={self.acct_responses} other={self.other_codes} timeouts={self.timeouts} "
            f"bad_auth={self.bad_authenticators} retransmits={self.retransmits} "
            f"unexpected={self.unexpected} errors={self.errors} sockets={self.sockets} "
            f"elapsed={self.elapsed:.3f}s rps={self.rps:.0f} p50={self.p50_ms:.3f}ms p99={self.p99_ms:.3f}ms"
        )


def _percentile_ms(sorted_ns: Sequence[int], p: float) -> float:
    if not sorted_ns:
        return 0.0
    # nearest rank: the smallest value with at least p of the samples at or below it
    rank = max(0, min(len(sorted_ns) - 1, math.ceil(round(p * len(sorted_ns), 9)) - 1))
    return sorted_ns[rank] / 1e6


class _Endpoint(asyncio.DatagramProtocol):
    """One UDP socket. asyncio hands a datagram transport's protocol one datagram per
    event-loop iteration (one select() per answer); with ``recv`` set, the answers
    already queued on the socket are taken in the same callback (up to 64)."""

    __slots__ = ("runner", "index", "recv")

    def __init__(self, runner: _Runner, index: int, recv: Any) -> None:
        self.runner = runner
        self.index = index
        self.recv = recv

    def datagram_received(self, data: bytes, addr: Any) -> None:
        answer = self.runner.answer
        s = self.index
        answer(s, data)
        recv = self.recv
        if recv is None:
            return
        for _ in range(64):
            try:
                data = recv(4096)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # e.g. ICMP port unreachable
                self.runner.errors += 1
                return
            answer(s, data)

    def error_received(self, exc: Exception) -> None:
        self.runner.errors += 1


class _Runner:
    def __init__(
        self,
        packets: Sequence[bytes],
        secret: bytes,
        window: int,
        timeout: float,
        retries: int,
        nsockets: int,
        keep: set[int],
    ) -> None:
        n = len(packets)
        self.packets = packets
        self.secret = secret
        self.window = window
        self.timeout_ns = int(timeout * 1e9)
        self.retries = retries
        self.nsockets = nsockets
        self.keep = keep
        self.n = n
        self.next = 0  # next input index to start
        self.inflight = 0  # started, not finished (includes deferred)
        self.finished = 0
        self.sent = 0
        self.answered = 0
        self.timeouts = 0
        self.retransmits = 0
        self.bad = 0
        self.unexpected = 0
        self.errors = 0
        self.codes: list[int | None] = [None] * n
        self.first_ns = [0] * n
        self.deadline = [0] * n
        self.tries = [0] * n
        self.lat: list[int | None] = [None] * n
        self.answers: dict[int, bytes] = {}
        # slots[s][ident] = input index outstanding there, -1 if free
        self.slots = [[-1] * 256 for _ in range(nsockets)]
        # previous occupant of a slot, to recognise late duplicates of its answer
        self.prev = [[-1] * 256 for _ in range(nsockets)]
        self.deferred: list[deque[int] | None] = [None] * 256
        self.ndeferred = 0
        self.sends: list[Any] = []  # bound transport.sendto per socket
        self.done: asyncio.Future[None] | None = None
        self.t_end = 0

    # ---- sending
    def pump(self) -> None:
        packets = self.packets
        window = self.window
        n = self.n
        while self.inflight < window and self.next < n:
            i = self.next
            self.next = i + 1
            self.inflight += 1
            self.start(i, packets[i][1])

    def start(self, i: int, ident: int) -> None:
        slots = self.slots
        k = self.nsockets
        s = (i >> 8) % k
        for _ in range(k):
            row = slots[s]
            if row[ident] < 0:
                row[ident] = i
                now = time.perf_counter_ns()
                self.first_ns[i] = now
                self.deadline[i] = now + self.timeout_ns
                self.tries[i] = 1
                self.sent += 1
                self.sends[s](self.packets[i])
                return
            s += 1
            if s == k:
                s = 0
        q = self.deferred[ident]
        if q is None:
            q = self.deferred[ident] = deque()
        q.append(i)
        self.ndeferred += 1

    def freed(self, s: int, ident: int) -> None:
        """Slot (s, ident) is free again: finish bookkeeping, refill the window."""
        self.finished += 1
        self.inflight -= 1
        if self.ndeferred:
            q = self.deferred[ident]
            if q:
                self.ndeferred -= 1
                self.start(q.popleft(), ident)
        if self.finished == self.n:
            self.t_end = time.perf_counter_ns()
            if self.done is not None and not self.done.done():
                self.done.set_result(None)
            return
        self.pump()

    # ---- receiving
    def answer(self, s: int, data: bytes) -> None:
        if len(data) < 20:
            self.unexpected += 1
            return
        ident = data[1]
        row = self.slots[s]
        i = row[ident]
        length = (data[2] << 8) | data[3]
        if length != len(data):
            if length < 20 or length > len(data):
                self.unexpected += 1
                return
            data = data[:length]  # octets beyond Length are padding (RFC 2865 section 3)
        if i < 0:
            self.unexpected += 1
            return
        if _md5(data[:4] + self.packets[i][4:20] + data[20:] + self.secret).digest() != data[4:20]:
            j = self.prev[s][ident]
            if j >= 0 and _md5(data[:4] + self.packets[j][4:20] + data[20:] + self.secret).digest() == data[4:20]:
                self.unexpected += 1  # a late duplicate answer to the slot's previous request
            else:
                self.bad += 1
            return
        self.lat[i] = time.perf_counter_ns() - self.first_ns[i]
        self.codes[i] = data[0]
        self.answered += 1
        if self.keep and i in self.keep:
            self.answers[i] = data
        row[ident] = -1
        self.prev[s][ident] = i
        self.freed(s, ident)

    # ---- timeouts
    def sweep(self) -> None:
        now = time.perf_counter_ns()
        deadline = self.deadline
        for s, row in enumerate(self.slots):
            for ident in range(256):
                i = row[ident]
                if i < 0 or deadline[i] > now:
                    continue
                if self.tries[i] <= self.retries:
                    self.tries[i] += 1
                    self.retransmits += 1
                    deadline[i] = now + self.timeout_ns
                    self.sends[s](self.packets[i])
                else:
                    self.timeouts += 1
                    row[ident] = -1
                    self.prev[s][ident] = i
                    self.freed(s, ident)


async def run(
    packets: Sequence[bytes],
    host: str,
    port: int,
    *,
    window: int = 64,
    timeout: float = 2.0,
    retries: int = 1,
    secret: str | bytes | None = None,
    keep_answers: Iterable[int] = (),
    sockets: int | None = None,
    sweep_interval: float | None = None,
    drain: bool = True,
) -> Result:
    """Send ``packets`` to ``host:port`` keeping ``window`` requests outstanding.

    ``secret`` defaults to the one the :class:`RequestBatch` was built with. A
    request unanswered after ``timeout`` seconds is sent again (same bytes, same
    socket) up to ``retries`` times, then counted as a timeout. Timeouts are
    found by one sweep every ``sweep_interval`` seconds (default ``timeout/4``
    clamped to 10..50 ms). ``keep_answers`` names input indexes whose raw answers
    are returned in ``Result.answers``. ``sockets`` overrides the number of UDP
    sockets (default ``window // 256 + 1``). ``drain=False`` leaves the reading to
    asyncio alone (one datagram per loop iteration).
    """
    if window < 1:
        raise ValueError("window must be at least 1")
    if retries < 0 or timeout <= 0:
        raise ValueError("need retries >= 0 and timeout > 0")
    if secret is None:
        secret = getattr(packets, "secret", None)
        if not secret:
            raise ValueError("no secret: pass secret= or a RequestBatch from build_*_requests")
    secret = _b(secret)
    for i, p in enumerate(packets):
        if len(p) < 20:
            raise ValueError(f"packet {i} is shorter than a RADIUS header")
    nsockets = sockets or window // 256 + 1
    runner = _Runner(packets, secret, window, timeout, retries, nsockets, set(keep_answers))
    loop = asyncio.get_running_loop()
    family, _, _, _, address = (await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM))[0]
    transports: list[asyncio.DatagramTransport] = []
    try:
        for s in range(nsockets):
            sock = socket.socket(family, socket.SOCK_DGRAM)
            try:
                sock.setblocking(False)
                for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
                    try:  # capped by net.core.rmem_max / wmem_max
                        sock.setsockopt(socket.SOL_SOCKET, opt, 1 << 20)
                    except OSError:
                        pass
                sock.connect(address)
                recv = sock.recv if drain else None
                transport, _ = await loop.create_datagram_endpoint(
                    functools.partial(_Endpoint, runner, s, recv), sock=sock
                )
            except BaseException:
                sock.close()
                raise
            transports.append(transport)
            runner.sends.append(transport.sendto)

        interval = sweep_interval or min(0.05, max(0.01, timeout / 4))
        handle: asyncio.TimerHandle | None = None

        def tick() -> None:
            nonlocal handle
            runner.sweep()
            assert runner.done is not None  # set before the first tick is scheduled
            if not runner.done.done():
                handle = loop.call_later(interval, tick)

        runner.done = loop.create_future()
        t0 = time.perf_counter_ns()
        if runner.n:
            handle = loop.call_later(interval, tick)
            runner.pump()
            try:
                await runner.done
            finally:
                if handle is not None:
                    handle.cancel()
        else:
            runner.t_end = t0
    finally:
        for transport in transports:
            transport.close()

    elapsed = max(runner.t_end - t0, 1) / 1e9
    codes = runner.codes
    accepted = codes.count(ACCESS_ACCEPT)
    rejected = codes.count(ACCESS_REJECT)
    acct = codes.count(ACCOUNTING_RESPONSE)
    lat = sorted(x for x in runner.lat if x is not None)
    return Result(
        sent=runner.sent,
        answered=runner.answered,
        accepted=accepted,
        rejected=rejected,
        acct_responses=acct,
        timeouts=runner.timeouts,
        elapsed=elapsed if runner.n else 0.0,
        rps=runner.answered / elapsed if runner.n else 0.0,
        p50_ms=_percentile_ms(lat, 0.50),
        p99_ms=_percentile_ms(lat, 0.99),
        codes=codes,
        bad_authenticators=runner.bad,
        retransmits=runner.retransmits,
        other_codes=runner.answered - accepted - rejected - acct,
        unexpected=runner.unexpected,
        errors=runner.errors,
        sockets=nsockets,
        latencies_ns=runner.lat,
        answers=runner.answers,
    )


# --------------------------------------------------------------------------- CLI
def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.loadgen", description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=1812)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--users", type=int, default=1000, help="PAP requests for user000000..N-1")
    ap.add_argument("--password", default="pw")
    ap.add_argument("--window", type=int, default=64)
    ap.add_argument("--timeout", type=float, default=2.0)
    ap.add_argument("--retries", type=int, default=1)
    args = ap.parse_args(argv)
    t = time.perf_counter()
    packets = build_access_requests(
        ((f"user{i:06d}", args.password) for i in range(args.users)), args.secret
    )
    built = time.perf_counter() - t
    cpu0 = time.process_time()
    result = asyncio.run(
        run(packets, args.host, args.port, window=args.window, timeout=args.timeout, retries=args.retries)
    )
    cpu = time.process_time() - cpu0
    print(f"built {len(packets)} requests in {built:.3f}s")
    print(result.summary())
    if result.sent:
        print(f"generator cpu={cpu:.3f}s ({cpu / result.sent * 1e6:.1f} us/request)")
    return 0 if result.answered == result.sent else 1


if __name__ == "__main__":
    sys.exit(main())
