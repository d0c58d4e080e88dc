"""Dynamic Authorization (RFC 5176): CoA-Request and Disconnect-Request to a NAS.

RouterOS (``/radius incoming set accept=yes``) finds the session by User-Name
with Acct-Session-Id and/or Framed-IP-Address, so all three are sent; a CoA
carrying Mikrotik-Rate-Limit changes the speed without a redial.

The packets are small and fixed in shape, so they are encoded here rather than
through a dictionary: strings, an IPv4 address and MikroTik's vendor attribute.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import socket
import struct
from dataclasses import dataclass
from enum import IntEnum

MIKROTIK_VENDOR = 14988


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


def build_request(code: Code, identifier: int, attributes: dict[str, str | int], secret: bytes) -> bytes:
    """A CoA-Request or Disconnect-Request whose Request Authenticator is
    MD5(Code + Identifier + Length + 16 zero octets + Attributes + Secret) (RFC 5176 section 3.5)."""
    attrs = encode_attributes(attributes)
    length = 20 + len(attrs)
    if length > 4096:
        raise CoaError("packet longer than 4096 bytes")
    header = struct.pack("!BBH", code, identifier, length)
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
    length, code or Response Authenticator)."""
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
    pos = 20
    while pos < len(data):
        if pos + 2 > len(data):
            return None  # a stray octet after the last attribute
        kind, alen = data[pos], data[pos + 1]
        if alen < 2 or pos + alen > len(data):
            return None  # an attribute cut off by the end of the packet
        if kind == 101 and alen == 6:
            cause = struct.unpack("!I", data[pos + 2 : pos + 6])[0]
        pos += alen
    return Response(Code(code), cause)


def send(host: str, port: int, code: Code, attributes: dict[str, str | int], secret: str, *,
         timeout: float = 2.0, tries: int = 1) -> Response | None:
    """Send one request, retransmitting the same packet ``tries`` times; None when nothing valid came back."""
    identifier = os.urandom(1)[0]
    packet = build_request(code, identifier, attributes, secret.encode())
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        for _ in range(max(1, tries)):
            s.sendto(packet, (host, port))
            try:
                while True:
                    data, _addr = s.recvfrom(4096)
                    answer = parse_response(data, packet, secret.encode())
                    if answer is not None:
                        return answer
            except (TimeoutError, socket.timeout):
                continue
    return None
