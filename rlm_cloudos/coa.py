"""Dynamic Authorization (RFC 5176): CoA-Request and Disconnect-Request to a NAS.

RouterOS (``/radius incoming set accept=yes``) finds the session by User-Name
with Acct-Session-Id and/or Framed-IP-Address, so all three are sent; a CoA
carrying Mikrotik-Rate-Limit changes the speed without a redial.

The packets are small and fixed in shape, so they are encoded here rather than
through a dictionary: strings, an IPv4 address and MikroTik's vendor attribute.
Every request is signed with a Message-Authenticator as well as its Request
Authenticator (RFC 5176 section 3.3, the BlastRADIUS advice), and requests to
many NASes are sent at once: one socket each, waited on together, so a NAS that
never answers costs the others nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import selectors
import socket
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Generic, TypeVar

MIKROTIK_VENDOR = 14988
MESSAGE_AUTHENTICATOR = 80
ERROR_CAUSE = 101


class Code(IntEnum):
    DISCONNECT_REQUEST = 40
    DISCONNECT_ACK = 41
    DISCONNECT_NAK = 42
    COA_REQUEST = 43
    COA_ACK = 44
    COA_NAK = 45


#: Attribute name → (type, encoding); Mikrotik-* are vendor 14988 sub-attributes.
ATTRIBUTES: dict[str, tuple[int, str]] = {
    "User-Name": (1, "string"),
    "NAS-IP-Address": (4, "ipaddr"),
    "Framed-IP-Address": (8, "ipaddr"),
    "Reply-Message": (18, "string"),
    "Session-Timeout": (27, "integer"),
    "Acct-Session-Id": (44, "string"),
    "Mikrotik-Rate-Limit": (8, "mikrotik-string"),
    "Mikrotik-Address-List": (19, "mikrotik-string"),
}

#: RFC 5176 section 3.6 Error-Cause values, for the outcome a NAS gives.
ERROR_CAUSES = {
    201: "Residual-Session-Context-Removed",
    202: "Invalid-EAP-Packet",
    401: "Unsupported-Attribute",
    402: "Missing-Attribute",
    403: "NAS-Identification-Mismatch",
    404: "Invalid-Request",
    405: "Unsupported-Service",
    406: "Unsupported-Extension",
    407: "Invalid-Attribute-Value",
    501: "Administratively-Prohibited",
    502: "Request-Not-Routable",
    503: "Session-Context-Not-Found",
    504: "Session-Context-Not-Removable",
    505: "Other-Proxy-Processing-Error",
    506: "Resources-Unavailable",
    507: "Request-Initiated",
    508: "Multiple-Session-Selection-Unsupported",
}


class CoaError(ValueError):
    """An attribute cannot be encoded (unknown name or bad value)."""


def _attr(kind: int, value: bytes) -> bytes:
    if len(value) > 253:
        raise CoaError(f"attribute {kind} value longer than 253 bytes")
    return bytes([kind, len(value) + 2]) + value


def encode_attributes(attributes: dict[str, str | int]) -> bytes:
    """Attributes in a stable order (the dict's); raises CoaError for what cannot be sent."""
    out = b""
    for name, value in attributes.items():
        if name not in ATTRIBUTES:
            raise CoaError(f"unknown attribute {name!r}")
        kind, enc = ATTRIBUTES[name]
        if enc == "string":
            out += _attr(kind, str(value).encode())
        elif enc == "integer":
            out += _attr(kind, struct.pack("!I", int(value)))
        elif enc == "ipaddr":
            try:
                out += _attr(kind, ipaddress.IPv4Address(str(value)).packed)
            except ValueError:
                raise CoaError(f"{name}: not an IPv4 address: {value!r}") from None
        else:  # MikroTik vendor-specific string
            sub = _attr(kind, str(value).encode())
            out += _attr(26, struct.pack("!I", MIKROTIK_VENDOR) + sub)
    return out


def message_authenticator(packet: bytes, vector: bytes, secret: bytes) -> bytes | None:
    """HMAC-MD5 (RFC 3579 section 3.2) over ``packet`` with ``vector`` in the Authenticator
    field and the Message-Authenticator's value zeroed; None when the packet has none (or
    its attributes are malformed, or it has one of the wrong length)."""
    pos, attrs = 20, bytearray(packet[20:])
    found = False
    while pos < len(packet):
        if pos + 2 > len(packet):
            return None
        kind, alen = packet[pos], packet[pos + 1]
        if alen < 2 or pos + alen > len(packet):
            return None
        if kind == MESSAGE_AUTHENTICATOR:
            if alen != 18 or found:
                return None
            attrs[pos - 20 + 2 : pos - 20 + 18] = b"\x00" * 16
            found = True
        pos += alen
    if not found:
        return None
    return hmac.new(secret, packet[:4] + vector + bytes(attrs), hashlib.md5).digest()


def build_request(code: Code, identifier: int, attributes: dict[str, str | int], secret: bytes) -> bytes:
    """A CoA-Request or Disconnect-Request, signed as FreeRADIUS signs one (src/lib/radius.c,
    rad_sign): a Message-Authenticator first, HMAC-MD5 over the packet with a zero Authenticator
    field (RFC 5176 section 3.3), then the Request Authenticator, MD5(Code + Identifier + Length
    + 16 zero octets + Attributes + Secret) over the packet with that value in it (section 3.5)."""
    attrs = _attr(MESSAGE_AUTHENTICATOR, b"\x00" * 16) + encode_attributes(attributes)
    length = 20 + len(attrs)
    if length > 4096:
        raise CoaError("packet longer than 4096 bytes")
    header = struct.pack("!BBH", code, identifier, length)
    mac = hmac.new(secret, header + b"\x00" * 16 + attrs, hashlib.md5).digest()
    attrs = attrs[:2] + mac + attrs[18:]
    authenticator = hashlib.md5(header + b"\x00" * 16 + attrs + secret).digest()
    return header + authenticator + attrs


@dataclass(frozen=True)
class Response:
    code: Code
    error_cause: int | None

    @property
    def acked(self) -> bool:
        return self.code in (Code.COA_ACK, Code.DISCONNECT_ACK)

    def describe(self) -> str:
        if self.acked:
            return self.code.name
        cause = ""
        if self.error_cause is not None:
            cause = f" Error-Cause={self.error_cause} ({ERROR_CAUSES.get(self.error_cause, 'unknown')})"
        return self.code.name + cause


def parse_response(data: bytes, request: bytes, secret: bytes) -> Response | None:
    """The NAS's answer to ``request``, or None if it is not a valid answer to it (wrong id,
    length, code, Response Authenticator, or a Message-Authenticator that does not verify:
    one is checked when present, computed with the request's authenticator in the field)."""
    if len(data) < 20:
        return None
    code, ident, length = struct.unpack("!BBH", data[:4])
    if ident != request[1] or length > len(data) or length < 20:
        return None
    data = data[:length]
    expected = {Code.COA_REQUEST: (Code.COA_ACK, Code.COA_NAK),
                Code.DISCONNECT_REQUEST: (Code.DISCONNECT_ACK, Code.DISCONNECT_NAK)}[Code(request[0])]
    if code not in expected:
        return None
    check = hashlib.md5(data[:4] + request[4:20] + data[20:] + secret).digest()
    if check != data[4:20]:
        return None
    cause = None
    signed = False
    pos = 20
    while pos < len(data):
        if pos + 2 > len(data):
            return None  # a stray octet after the last attribute
        kind, alen = data[pos], data[pos + 1]
        if alen < 2 or pos + alen > len(data):
            return None  # an attribute cut off by the end of the packet
        if kind == ERROR_CAUSE and alen == 6:
            cause = struct.unpack("!I", data[pos + 2 : pos + 6])[0]
        signed = signed or kind == MESSAGE_AUTHENTICATOR
        pos += alen
    if signed:
        mac = message_authenticator(data, request[4:20], secret)
        if mac is None or not hmac.compare_digest(mac, _ma_value(data)):
            return None
    return Response(Code(code), cause)


def _ma_value(packet: bytes) -> bytes:
    """The Message-Authenticator's value in a packet whose attributes are well formed."""
    pos = 20
    while pos + 2 <= len(packet):
        if packet[pos] == MESSAGE_AUTHENTICATOR:
            return packet[pos + 2 : pos + packet[pos + 1]]
        pos += max(packet[pos + 1], 2)
    return b""


@dataclass(frozen=True)
class Request:
    """One CoA-Request or Disconnect-Request to the NAS at ``host``:``port``."""
    host: str
    port: int
    code: Code
    attributes: dict[str, str | int]
    secret: str


#: What exchange() gives for each request: the answer, None (nothing valid came back in
#: time) or the error that stopped it being sent (CoaError, OSError).
Result = Response | None | Exception

T = TypeVar("T")


@dataclass
class _Flight(Generic[T]):
    token: T
    request: Request
    packet: bytes
    sock: socket.socket
    timeout: float
    tries_left: int
    deadline: float


class Exchange(Generic[T]):
    """Requests in flight, each from a socket of its own, waited on together: a NAS that never
    answers holds up no other request, and more can be added while some are waiting.
    A context manager; close() drops whatever is still in flight."""

    def __init__(self) -> None:
        self._sel = selectors.DefaultSelector()
        self._live: dict[socket.socket, _Flight[T]] = {}

    def __len__(self) -> int:
        return len(self._live)

    def __enter__(self) -> Exchange[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for s in list(self._live):
            self._drop(s)
        self._sel.close()

    def send(self, token: T, request: Request, *, timeout: float = 2.0, tries: int = 1) -> Exception | None:
        """Put ``request`` in flight (answered by ``token`` in poll()); the error (CoaError, OSError)
        when it cannot be sent, and then it is not in flight."""
        try:
            packet = build_request(request.code, os.urandom(1)[0], request.attributes, request.secret.encode())
            s = socket.socket(socket.AF_INET6 if ":" in request.host else socket.AF_INET, socket.SOCK_DGRAM)
        except (CoaError, OSError) as exc:
            return exc
        s.setblocking(False)
        try:
            s.sendto(packet, (request.host, request.port))
        except OSError as exc:
            s.close()
            return exc
        self._live[s] = _Flight(token, request, packet, s, timeout, max(1, tries) - 1, time.monotonic() + timeout)
        self._sel.register(s, selectors.EVENT_READ, s)
        return None

    def poll(self, wait: float) -> list[tuple[T, Response | None]]:
        """Wait up to ``wait`` seconds for something to happen; returns the requests that were answered
        (with the answer) or ran out of time after their tries (with None), possibly none. A request
        still unanswered at its deadline with tries left is retransmitted (the same packet)."""
        done: list[tuple[T, Response | None]] = []
        if not self._live:
            return done
        now = time.monotonic()
        nearest = min(f.deadline for f in self._live.values())
        for key, _mask in self._sel.select(max(0.0, min(wait, nearest - now))):
            s = key.data
            flight = self._live[s]
            try:
                data = s.recv(4096)
            except OSError:  # an ICMP error from an earlier send: wait on for the deadline
                continue
            answer = parse_response(data, flight.packet, flight.request.secret.encode())
            if answer is not None:
                done.append((flight.token, answer))
                self._drop(s)
        now = time.monotonic()
        for s, flight in list(self._live.items()):
            if flight.deadline > now:
                continue
            if flight.tries_left > 0:
                flight.tries_left -= 1
                flight.deadline = now + flight.timeout
                try:
                    s.sendto(flight.packet, (flight.request.host, flight.request.port))
                    continue
                except OSError:
                    pass
            done.append((flight.token, None))
            self._drop(s)
        return done

    def _drop(self, s: socket.socket) -> None:
        self._sel.unregister(s)
        s.close()
        del self._live[s]


def exchange(requests: Sequence[Request], *, timeout: float = 2.0, tries: int = 1,
             on_answer: Callable[[int, Response], None] | None = None) -> list[Result]:
    """Send every request at once and wait for all the answers together: the whole call takes at
    most ``tries`` x ``timeout`` seconds, however many NASes are silent. Never raises for one
    request's failure: that request's result is the exception. ``on_answer(index, response)`` is
    called as each answer arrives, before the others are in."""
    results: list[Result] = [None] * len(requests)
    with Exchange[int]() as flights:
        for i, req in enumerate(requests):
            results[i] = flights.send(i, req, timeout=timeout, tries=tries)
        while flights:
            for i, answer in flights.poll(timeout):
                results[i] = answer
                if answer is not None and on_answer is not None:
                    on_answer(i, answer)
    return results


def send(host: str, port: int, code: Code, attributes: dict[str, str | int], secret: str, *,
         timeout: float = 2.0, tries: int = 1) -> Response | None:
    """Send one request, retransmitting the same packet ``tries`` times; None when nothing valid
    came back; raises CoaError or OSError when it cannot be sent."""
    (result,) = exchange([Request(host, port, code, attributes, secret)], timeout=timeout, tries=tries)
    if isinstance(result, Exception):
        raise result
    return result
