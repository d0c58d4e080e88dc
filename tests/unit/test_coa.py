"""rlm_cloudos.coa: RFC 5176 packets checked against pyrad and by hand, and send() over loopback UDP."""

from __future__ import annotations

import hashlib
import hmac
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyrad.dictionary import Dictionary
from pyrad.packet import CoAPacket, Packet

from rlm_cloudos import coa
from rlm_cloudos.coa import Code, CoaError, Response
from tests.fixtures.nas import DICTIONARY

SECRET = b"coa-shared-secret"
ATTRS: dict[str, str | int] = {
    "User-Name": "ali@isp1",
    "Acct-Session-Id": "81a00007",
    "Framed-IP-Address": "100.64.0.7",
    "Mikrotik-Rate-Limit": "256k/512k",
}
ERROR_CAUSE = 101


@pytest.fixture(scope="module")
def dictionary() -> Dictionary:
    return Dictionary(str(DICTIONARY))


def attribute(kind: int, value: bytes) -> bytes:
    return bytes([kind, len(value) + 2]) + value


def answer(request: bytes, code: int, attrs: bytes = b"", *, secret: bytes = SECRET, ident: int | None = None,
           length: int | None = None) -> bytes:
    """A response signed as a NAS signs it: MD5(Code+Identifier+Length+Request Authenticator+Attributes+Secret)."""
    header = struct.pack("!BBH", code, request[1] if ident is None else ident,
                         20 + len(attrs) if length is None else length)
    return header + hashlib.md5(header + request[4:20] + attrs + secret).digest() + attrs


def signed_answer(request: bytes, code: int, attrs: bytes = b"", *, secret: bytes = SECRET,
                  mac: bytes | None = None) -> bytes:
    """A response carrying a Message-Authenticator, signed as FreeRADIUS signs one: HMAC-MD5 with
    the request's authenticator in the field, then the Response Authenticator over the result."""
    body = bytes([80, 18]) + b"\x00" * 16 + attrs
    header = struct.pack("!BBH", code, request[1], 20 + len(body))
    if mac is None:
        mac = hmac.new(secret, header + request[4:20] + body, hashlib.md5).digest()
    body = body[:2] + mac + body[18:]
    return header + hashlib.md5(header + request[4:20] + body + secret).digest() + body


def error_cause(value: int) -> bytes:
    return attribute(ERROR_CAUSE, struct.pack("!I", value))


# ----------------------------------------------------------------------- requests
@pytest.mark.parametrize("code", [Code.COA_REQUEST, Code.DISCONNECT_REQUEST])
def test_request_decodes_with_pyrad_to_the_same_attributes(code: Code, dictionary: Dictionary) -> None:
    raw = coa.build_request(code, 0x5A, ATTRS, SECRET)
    pkt = Packet(packet=raw, dict=dictionary, secret=SECRET)
    assert (pkt.code, pkt.id) == (code, 0x5A)
    decoded = {str(k): list(pkt[k]) for k in pkt.keys()}
    assert len(decoded.pop("Message-Authenticator")) == 1
    assert decoded == {name: [value] for name, value in ATTRS.items()}
    # The rate limit is MikroTik's vendor attribute 14988/8, not a standard one.
    assert pkt.get((14988, 8)) == [b"256k/512k"]
    assert CoAPacket(packet=raw, dict=dictionary, secret=SECRET).VerifyCoARequest()


def test_request_authenticator_is_md5_over_zeroed_authenticator() -> None:
    raw = coa.build_request(Code.COA_REQUEST, 200, ATTRS, SECRET)
    code, ident, length = struct.unpack("!BBH", raw[:4])
    assert (code, ident, length) == (43, 200, len(raw))
    expected = hashlib.md5(raw[:4] + b"\x00" * 16 + raw[20:] + SECRET).digest()
    assert raw[4:20] == expected
    assert coa.build_request(Code.COA_REQUEST, 200, ATTRS, b"other-secret")[4:20] != expected


def test_request_attributes_are_encoded_exactly() -> None:
    raw = coa.build_request(Code.DISCONNECT_REQUEST, 1, {
        "User-Name": "ali", "Framed-IP-Address": "10.9.0.5", "Session-Timeout": 3600,
        "Mikrotik-Address-List": "fup",
    }, SECRET)
    assert raw[20:22] == b"\x50\x12"  # Message-Authenticator first, 16 octets
    assert raw[38:] == (
        b"\x01\x05ali"
        + b"\x08\x06\x0a\x09\x00\x05"
        + b"\x1b\x06" + struct.pack("!I", 3600)
        + b"\x1a\x0b" + struct.pack("!I", 14988) + b"\x13\x05fup"
    )


def test_empty_request_is_a_header_and_its_message_authenticator() -> None:
    raw = coa.build_request(Code.DISCONNECT_REQUEST, 9, {}, SECRET)
    assert len(raw) == 38 and raw[:4] == b"\x28\x09\x00\x26" and raw[20:22] == b"\x50\x12"


@pytest.mark.parametrize("code", [Code.COA_REQUEST, Code.DISCONNECT_REQUEST])
def test_message_authenticator_is_hmac_md5_over_the_zeroed_packet(code: Code, dictionary: Dictionary) -> None:
    """RFC 5176 section 3.3 with RFC 3579 section 3.2, computed independently of rlm_cloudos.coa:
    HMAC-MD5 keyed with the secret over the packet with a zero Authenticator field and a zero
    Message-Authenticator value; the Request Authenticator is then MD5 over the signed packet."""
    raw = coa.build_request(code, 77, ATTRS, SECRET)
    assert raw[20] == 80 and raw[21] == 18
    zeroed = raw[:4] + b"\x00" * 16 + raw[20:22] + b"\x00" * 16 + raw[38:]
    assert raw[22:38] == hmac.new(SECRET, zeroed, hashlib.md5).digest()
    assert raw[4:20] == hashlib.md5(raw[:4] + b"\x00" * 16 + raw[20:] + SECRET).digest()
    # pyrad 2.6 verifies it the same way (its vector for CoA/Disconnect requests is zero).
    pkt = CoAPacket(packet=raw, dict=dictionary, secret=SECRET)
    assert pkt.message_authenticator and pkt.verify_message_authenticator()
    assert pkt.VerifyCoARequest()
    assert not CoAPacket(packet=raw, dict=dictionary, secret=b"other").verify_message_authenticator()


# ----------------------------------------------------------------------- encode_attributes errors
@pytest.mark.parametrize(("attrs", "match"), [
    ({"Filter-Id": "x"}, "unknown attribute"),
    ({"mikrotik-rate-limit": "1M/1M"}, "unknown attribute"),
    ({"Framed-IP-Address": "2001:db8::1"}, "IPv4"),
    ({"Framed-IP-Address": "10.0.0.256"}, "IPv4"),
    ({"Framed-IP-Address": "host.example"}, "IPv4"),
    ({"NAS-IP-Address": ""}, "IPv4"),
    ({"User-Name": "u" * 254}, "253"),
    ({"Acct-Session-Id": "é" * 127}, "253"),  # 254 bytes in UTF-8
    ({"Mikrotik-Rate-Limit": "r" * 248}, "253"),  # fits a sub-attribute, not the Vendor-Specific around it
], ids=["unknown", "case-matters", "ipv6", "bad-octet", "hostname", "empty-ip", "long-string", "long-utf8",
        "long-vendor"])
def test_encode_attributes_refuses_what_cannot_be_sent(attrs: dict[str, str | int], match: str) -> None:
    with pytest.raises(CoaError, match=match):
        coa.encode_attributes(attrs)
    with pytest.raises(CoaError):
        coa.build_request(Code.COA_REQUEST, 1, attrs, SECRET)


def test_longest_values_that_fit() -> None:
    assert len(coa.encode_attributes({"User-Name": "u" * 253})) == 255
    assert len(coa.encode_attributes({"Mikrotik-Rate-Limit": "r" * 247})) == 255


def test_coa_error_is_a_value_error() -> None:
    assert issubclass(CoaError, ValueError)


# ----------------------------------------------------------------------- parse_response
REQUESTS = {
    Code.COA_REQUEST: (Code.COA_ACK, Code.COA_NAK),
    Code.DISCONNECT_REQUEST: (Code.DISCONNECT_ACK, Code.DISCONNECT_NAK),
}


@pytest.mark.parametrize("kind", list(REQUESTS))
def test_signed_ack_is_accepted(kind: Code) -> None:
    request = coa.build_request(kind, 77, ATTRS, SECRET)
    ack, _nak = REQUESTS[kind]
    got = coa.parse_response(answer(request, ack), request, SECRET)
    assert got == Response(ack, None)
    assert got.acked and got.describe() == ack.name


@pytest.mark.parametrize("kind", list(REQUESTS))
def test_signed_nak_carries_its_error_cause(kind: Code) -> None:
    request = coa.build_request(kind, 78, ATTRS, SECRET)
    _ack, nak = REQUESTS[kind]
    attrs = attribute(18, b"no such session") + error_cause(503)
    got = coa.parse_response(answer(request, nak, attrs), request, SECRET)
    assert got == Response(nak, 503)
    assert not got.acked
    assert got.describe() == f"{nak.name} Error-Cause=503 (Session-Context-Not-Found)"


def test_nak_without_error_cause_and_with_an_unknown_one() -> None:
    request = coa.build_request(Code.COA_REQUEST, 3, ATTRS, SECRET)
    assert coa.parse_response(answer(request, Code.COA_NAK), request, SECRET) == Response(Code.COA_NAK, None)
    got = coa.parse_response(answer(request, Code.COA_NAK, error_cause(599)), request, SECRET)
    assert got is not None and got.describe() == "COA_NAK Error-Cause=599 (unknown)"


def test_answer_with_a_valid_message_authenticator_is_accepted() -> None:
    request = coa.build_request(Code.DISCONNECT_REQUEST, 5, ATTRS, SECRET)
    got = coa.parse_response(signed_answer(request, Code.DISCONNECT_NAK, error_cause(503)), request, SECRET)
    assert got == Response(Code.DISCONNECT_NAK, 503)


@pytest.mark.parametrize("case", ["wrong-mac", "mac-with-other-secret", "short-mac"])
def test_answer_whose_message_authenticator_does_not_verify_is_ignored(case: str) -> None:
    """The Response Authenticator is right in every case: only the Message-Authenticator is wrong."""
    request = coa.build_request(Code.COA_REQUEST, 6, ATTRS, SECRET)
    if case == "wrong-mac":
        data = signed_answer(request, Code.COA_ACK, mac=b"\x01" * 16)
    elif case == "mac-with-other-secret":
        other = signed_answer(request, Code.COA_ACK, secret=b"other")
        data = signed_answer(request, Code.COA_ACK, mac=other[22:38])
    else:
        body = bytes([80, 10]) + b"\x00" * 8
        header = struct.pack("!BBH", Code.COA_ACK, request[1], 20 + len(body))
        data = header + hashlib.md5(header + request[4:20] + body + SECRET).digest() + body
    assert coa.parse_response(data, request, SECRET) is None


def test_bytes_past_the_length_field_are_padding() -> None:
    # RFC 2865 section 3: octets beyond Length are padding and are ignored.
    request = coa.build_request(Code.COA_REQUEST, 4, ATTRS, SECRET)
    got = coa.parse_response(answer(request, Code.COA_ACK) + b"\x00junk", request, SECRET)
    assert got == Response(Code.COA_ACK, None)


def flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 1]) + data[index + 1 :]


REJECTED: dict[str, Callable[[bytes], bytes]] = {
    "wrong-identifier": lambda req: answer(req, Code.COA_ACK, ident=(req[1] + 1) % 256),
    "disconnect-ack-to-coa": lambda req: answer(req, Code.DISCONNECT_ACK),
    "disconnect-nak-to-coa": lambda req: answer(req, Code.DISCONNECT_NAK),
    "access-accept": lambda req: answer(req, 2),
    "coa-request-echoed": lambda req: answer(req, Code.COA_REQUEST),
    "wrong-secret": lambda req: answer(req, Code.COA_ACK, secret=b"not-the-secret"),
    "authenticator-flipped": lambda req: flip(answer(req, Code.COA_ACK), 4),
    "attribute-flipped": lambda req: flip(answer(req, Code.COA_NAK, error_cause(503)), 25),
    "unsigned": lambda req: bytes([Code.COA_ACK]) + req[1:2] + struct.pack("!H", 20) + req[4:20],
    "header-only": lambda req: answer(req, Code.COA_ACK)[:4],
    "19-bytes": lambda req: answer(req, Code.COA_ACK)[:19],
    "length-beyond-data": lambda req: answer(req, Code.COA_NAK, error_cause(503))[:-1],
    "length-below-20": lambda req: answer(req, Code.COA_ACK, length=19),
    "empty": lambda req: b"",
    "attribute-length-0": lambda req: answer(req, Code.COA_NAK, b"\x12\x00" + error_cause(503)),
    "attribute-length-1": lambda req: answer(req, Code.COA_NAK, b"\x12\x01" + error_cause(503)),
}


@pytest.mark.parametrize("case", REJECTED)
def test_invalid_answers_are_ignored(case: str) -> None:
    request = coa.build_request(Code.COA_REQUEST, 250, ATTRS, SECRET)
    assert coa.parse_response(REJECTED[case](request), request, SECRET) is None


def test_ack_for_a_disconnect_is_not_an_ack_for_a_coa() -> None:
    disconnect = coa.build_request(Code.DISCONNECT_REQUEST, 5, ATTRS, SECRET)
    for code in (Code.COA_ACK, Code.COA_NAK):
        assert coa.parse_response(answer(disconnect, code), disconnect, SECRET) is None


@pytest.mark.parametrize("attrs", [
    error_cause(503)[:4],  # Error-Cause claims 6 octets, the packet ends after 4
    attribute(18, b"session gone")[:6],  # Reply-Message claims 14 octets, 6 are there
], ids=["error-cause", "reply-message"])
def test_signed_answer_whose_attribute_runs_past_the_end_is_ignored(attrs: bytes) -> None:
    # An attribute cut off by the end of the packet makes the answer invalid: a truncated
    # Error-Cause must not raise (the worker would die), nor anything else pass as an answer.
    request = coa.build_request(Code.COA_REQUEST, 6, ATTRS, SECRET)
    assert coa.parse_response(answer(request, Code.COA_NAK, attrs), request, SECRET) is None


_requests = st.builds(
    coa.build_request,
    st.sampled_from([Code.COA_REQUEST, Code.DISCONNECT_REQUEST]),
    st.integers(0, 255),
    st.just(ATTRS),
    st.just(SECRET),
)


@given(data=st.binary(max_size=300), request=_requests)
def test_parse_response_never_raises_on_arbitrary_bytes(data: bytes, request: bytes) -> None:
    got = coa.parse_response(data, request, SECRET)
    assert got is None or isinstance(got, Response)


# Attribute-shaped bytes (type, any length octet, a short value), so the walk meets
# Error-Cause, lengths that lie, and attributes cut off by the end of the packet.
_attribute_soup = st.lists(
    st.tuples(st.one_of(st.just(ERROR_CAUSE), st.integers(0, 255)),
              st.one_of(st.sampled_from([0, 1, 2, 6]), st.integers(0, 255)), st.binary(max_size=6)),
    max_size=4,
).map(lambda parts: b"".join(bytes([kind, length]) + value for kind, length, value in parts))


@settings(max_examples=500)
@given(nak=st.booleans(), body=st.one_of(st.binary(max_size=120), _attribute_soup), request=_requests)
def test_signed_arbitrary_attributes_never_raise_and_malformed_ones_are_refused(
    nak: bool, body: bytes, request: bytes
) -> None:
    # Signed with the right secret, identifier and code, so the attribute walk is reached.
    # Attributes cut off by the end of the packet (a lone trailing octet, a length that runs
    # past it) make the answer invalid; nothing raises.
    code = REQUESTS[Code(request[0])][nak]
    got = coa.parse_response(answer(request, code, body), request, SECRET)
    assert (got is not None) == well_formed(body)
    assert got is None or got.code is code


def well_formed(attrs: bytes) -> bool:
    """Every attribute at least 2 octets long and inside the packet (RFC 2865 section 5)."""
    pos = 0
    while pos < len(attrs):
        if pos + 2 > len(attrs) or attrs[pos + 1] < 2 or pos + attrs[pos + 1] > len(attrs):
            return False
        pos += attrs[pos + 1]
    return True


# ----------------------------------------------------------------------- send() over UDP
@dataclass
class FakeNas:
    """A UDP socket on loopback answering each request with ``reply(request)`` (None: stay silent)."""

    reply: Callable[[bytes], list[bytes]]
    sock: socket.socket = field(default_factory=lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    received: list[bytes] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                data, addr = self.sock.recvfrom(4096)
            except (TimeoutError, socket.timeout):
                continue
            self.received.append(data)
            for out in self.reply(data):
                self.sock.sendto(out, addr)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def nas() -> Iterator[Callable[[Callable[[bytes], list[bytes]]], FakeNas]]:
    started: list[FakeNas] = []

    def start(reply: Callable[[bytes], list[bytes]]) -> FakeNas:
        started.append(FakeNas(reply))
        return started[-1]

    yield start
    for n in started:
        n.close()


def test_send_gets_the_ack(nas: Callable[..., FakeNas], dictionary: Dictionary) -> None:
    server = nas(lambda req: [answer(req, Code.COA_ACK)])
    got = coa.send("127.0.0.1", server.port, Code.COA_REQUEST, ATTRS, SECRET.decode(), timeout=2.0)
    assert got == Response(Code.COA_ACK, None)
    (request,) = server.received
    assert CoAPacket(packet=request, dict=dictionary, secret=SECRET).VerifyCoARequest()
    assert Packet(packet=request, dict=dictionary, secret=SECRET)["User-Name"] == ["ali@isp1"]


def test_send_skips_answers_that_do_not_match_and_takes_the_valid_one(nas: Callable[..., FakeNas]) -> None:
    server = nas(lambda req: [
        answer(req, Code.DISCONNECT_ACK, ident=(req[1] + 1) % 256),
        answer(req, Code.DISCONNECT_ACK, secret=b"forged"),
        answer(req, Code.DISCONNECT_NAK, error_cause(503)),
    ])
    got = coa.send("127.0.0.1", server.port, Code.DISCONNECT_REQUEST, ATTRS, SECRET.decode(), timeout=2.0)
    assert got == Response(Code.DISCONNECT_NAK, 503)


def test_send_returns_none_when_the_nas_stays_silent(nas: Callable[..., FakeNas]) -> None:
    server = nas(lambda req: [])
    t0 = time.monotonic()
    got = coa.send("127.0.0.1", server.port, Code.COA_REQUEST, ATTRS, SECRET.decode(), timeout=0.2, tries=2)
    elapsed = time.monotonic() - t0
    assert got is None
    assert 0.4 <= elapsed < 2.0
    deadline = time.monotonic() + 1
    while len(server.received) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    # A retransmission is the same packet: same identifier, same authenticator (RFC 5176 section 2.3).
    assert len(server.received) == 2 and server.received[0] == server.received[1]


def test_send_refuses_unencodable_attributes_before_sending(nas: Callable[..., FakeNas]) -> None:
    server = nas(lambda req: [answer(req, Code.COA_ACK)])
    with pytest.raises(CoaError):
        coa.send("127.0.0.1", server.port, Code.COA_REQUEST, {"Framed-IP-Address": "::1"}, SECRET.decode(),
                 timeout=0.2)
    time.sleep(0.1)
    assert server.received == []


def test_exchange_serves_an_answering_nas_while_another_is_silent(nas: Callable[..., FakeNas]) -> None:
    """One NAS never answers (a blackhole), one does: the answer comes in at once, not after the timeout."""
    silent = nas(lambda req: [])
    answering = nas(lambda req: [signed_answer(req, req[0] + 1)])
    answered_at: list[float] = []
    t0 = time.monotonic()
    got = coa.exchange([
        coa.Request("127.0.0.1", silent.port, Code.DISCONNECT_REQUEST, ATTRS, SECRET.decode()),
        coa.Request("127.0.0.1", answering.port, Code.COA_REQUEST, ATTRS, SECRET.decode()),
    ], timeout=1.0, on_answer=lambda i, r: answered_at.append(time.monotonic() - t0))
    elapsed = time.monotonic() - t0
    assert got == [None, Response(Code.COA_ACK, None)]
    assert len(answered_at) == 1 and answered_at[0] < 0.25  # against a 1 s timeout
    assert 1.0 <= elapsed < 1.5
    assert len(silent.received) == 1


def test_exchange_gives_each_request_its_own_error(nas: Callable[..., FakeNas]) -> None:
    answering = nas(lambda req: [answer(req, req[0] + 1)])
    got = coa.exchange([
        coa.Request("127.0.0.1", answering.port, Code.COA_REQUEST, {"Framed-IP-Address": "::1"}, SECRET.decode()),
        coa.Request("127.0.0.1", answering.port, Code.DISCONNECT_REQUEST, ATTRS, SECRET.decode()),
    ], timeout=1.0)
    assert isinstance(got[0], CoaError) and got[1] == Response(Code.DISCONNECT_ACK, None)
