"""Attribute tuples as rlm_python3 passes them ⇄ typed requests (radattrs)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rlm_cloudos.radattrs import (
    ACCT_STATUSES,
    AccessRequest,
    AcctRequest,
    BadAttribute,
    delay_claimed,
    normalize_mac,
    parse_access,
    parse_acct,
    to_dict,
)
from tests.unit.attributes import REQUEST_ATTRIBUTES

Pairs = tuple[tuple[str, str], ...]

PAP: Pairs = (
    ("User-Name", "ali"),
    ("User-Password", "pw"),
    ("NAS-Port-Type", "Ethernet"),
    ("Calling-Station-Id", "AA:BB:CC:DD:EE:FF"),
    ("CloudOS-NAS-Address", "127.0.0.1"),
)


def replace(pairs: Pairs, name: str, value: str | None) -> Pairs:
    """``pairs`` with attribute ``name`` set to ``value`` (appended if absent), or removed when None."""
    kept = tuple(p for p in pairs if p[0] != name)
    return kept if value is None else kept + ((name, value),)


def bad(result: object, attribute: str) -> BadAttribute:
    assert isinstance(result, BadAttribute), result
    assert result.attribute == attribute
    assert result.problem
    return result


# ------------------------------------------------------------------------ Access-Request


def test_pap_request() -> None:
    req = parse_access(PAP)
    assert req == AccessRequest(
        user_name="ali",
        nas_address="127.0.0.1",
        auth_method="pap",
        calling_station_id="AA:BB:CC:DD:EE:FF",
        nas_port_type="Ethernet",
    )


def test_full_mikrotik_pppoe_request() -> None:
    pairs = (
        ("User-Name", "ali@isp1"),
        ("CHAP-Password", "0x01a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1d3"),
        ("CHAP-Challenge", "0x5a1f9e2d3c4b5a69788796a5b4c3d2e1"),
        ("Service-Type", "Framed-User"),
        ("Framed-Protocol", "PPP"),
        ("NAS-Port", "15728641"),
        ("NAS-Port-Type", "Ethernet"),
        ("Calling-Station-Id", "aa:bb:cc:dd:ee:01"),
        ("Called-Station-Id", "pppoe-isp1"),
        ("NAS-Port-Id", "ether2-customers"),
        ("NAS-Identifier", "gw-lahore-1"),
        ("NAS-IP-Address", "10.0.0.1"),
        ("Framed-IP-Address", "100.64.0.20"),
        ("Message-Authenticator", "0x00000000000000000000000000000000"),
        ("CloudOS-NAS-Address", "192.0.2.10"),
    )
    req = parse_access(pairs)
    assert isinstance(req, AccessRequest)
    assert req.user_name == "ali@isp1"
    assert req.auth_method == "chap"
    assert req.calling_station_id == "AA:BB:CC:DD:EE:01"
    assert req.nas_address == "192.0.2.10"  # the packet source, never NAS-IP-Address
    assert req.nas_identifier == "gw-lahore-1"
    assert req.nas_port_id == "ether2-customers"
    assert req.nas_port_type == "Ethernet"
    assert req.framed_ip == "100.64.0.20"


@pytest.mark.parametrize(
    ("credential", "method"),
    [
        (("User-Password", "pw"), "pap"),
        (("CHAP-Password", "0x0102"), "chap"),
        (("MS-CHAP2-Response", "0x0102"), "mschapv2"),
        (("MS-CHAP-Response", "0x0102"), "mschap"),
    ],
)
def test_auth_method_comes_from_the_credential_attribute(credential: tuple[str, str], method: str) -> None:
    pairs = replace(PAP, "User-Password", None) + (credential,)
    req = parse_access(pairs)
    assert isinstance(req, AccessRequest)
    assert req.auth_method == method


def test_mschapv2_request_carries_ms_chap_challenge_too() -> None:
    pairs = replace(PAP, "User-Password", None) + (
        ("MS-CHAP-Challenge", "0x" + "ab" * 16),
        ("MS-CHAP2-Response", "0x" + "cd" * 50),
    )
    req = parse_access(pairs)
    assert isinstance(req, AccessRequest) and req.auth_method == "mschapv2"


def test_no_credentials_is_a_bad_attribute() -> None:
    bad(parse_access(replace(PAP, "User-Password", None)), "User-Password")


@pytest.mark.parametrize(
    ("raw", "mac"),
    [
        ("AA:BB:CC:DD:EE:FF", "AA:BB:CC:DD:EE:FF"),
        ("aa:bb:cc:dd:ee:ff", "AA:BB:CC:DD:EE:FF"),
        ("aa-bb-cc-dd-ee-ff", "AA:BB:CC:DD:EE:FF"),
        ("aabb.ccdd.eeff", "AA:BB:CC:DD:EE:FF"),
        ("AABBCCDDEEFF", "AA:BB:CC:DD:EE:FF"),
        (" 00:0c:29:3e:5b:7a ", "00:0C:29:3E:5B:7A"),
    ],
)
def test_calling_station_id_is_normalised(raw: str, mac: str) -> None:
    req = parse_access(replace(PAP, "Calling-Station-Id", raw))
    assert isinstance(req, AccessRequest)
    assert req.calling_station_id == mac
    assert normalize_mac(raw) == mac


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "10.0.0.5",  # some NAS put the client IP here
        "pppoe-isp1",
        "AA:BB:CC:DD:EE",
        "AA:BB:CC:DD:EE:FF:00",
        "GG:BB:CC:DD:EE:FF",
        "AA:BB:CC:DD:EE:FF; drop",
    ],
)
def test_non_mac_calling_station_id_is_none(raw: str) -> None:
    req = parse_access(replace(PAP, "Calling-Station-Id", raw))
    assert isinstance(req, AccessRequest)
    assert req.calling_station_id is None


def test_missing_calling_station_id_is_none() -> None:
    req = parse_access(replace(PAP, "Calling-Station-Id", None))
    assert isinstance(req, AccessRequest) and req.calling_station_id is None


def test_first_value_of_a_repeated_attribute_wins() -> None:
    req = parse_access(PAP + (("User-Name", "mallory"),))
    assert isinstance(req, AccessRequest) and req.user_name == "ali"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (None, "missing"),
        ("", "empty"),
        ("ali\x00", "control"),
        ("ali\nhook=authorize", "control"),
        ("ali\r", "control"),
        ("\x7f", "control"),
        ("a\tb", "control"),
    ],
)
def test_bad_user_name(value: str | None, problem: str) -> None:
    result = bad(parse_access(replace(PAP, "User-Name", value)), "User-Name")
    assert problem in result.problem


def test_non_ascii_user_name_is_fine() -> None:
    req = parse_access(replace(PAP, "User-Name", "علی"))
    assert isinstance(req, AccessRequest) and req.user_name == "علی"


@pytest.mark.parametrize("value", [None, "", "not-an-address", "999.0.0.1"])
def test_missing_or_invalid_nas_address(value: str | None) -> None:
    result = bad(parse_access(replace(PAP, "CloudOS-NAS-Address", value)), "CloudOS-NAS-Address")
    assert "cloudos_nas_address" in result.problem  # tells the operator what to fix


def test_ipv6_nas_address_is_normalised() -> None:
    req = parse_access(replace(PAP, "CloudOS-NAS-Address", "2001:DB8:0:0::1"))
    assert isinstance(req, AccessRequest) and req.nas_address == "2001:db8::1"


def test_invalid_framed_ip_is_dropped_not_fatal() -> None:
    req = parse_access(replace(PAP, "Framed-IP-Address", "100.64.0.300"))
    assert isinstance(req, AccessRequest) and req.framed_ip is None


def test_accepts_a_list_of_pairs_as_well_as_a_tuple() -> None:
    assert to_dict(PAP)["User-Name"] == "ali"
    assert parse_access(list(PAP)) == parse_access(PAP)


# -------------------------------------------------------------------- Accounting-Request

ACCT: Pairs = (
    ("Acct-Status-Type", "Interim-Update"),
    ("User-Name", "ali"),
    ("Acct-Session-Id", "81e00005"),
    ("Acct-Unique-Session-Id", "5d41402abc4b2a76b9719d911017c592"),
    ("Acct-Input-Octets", "1000"),
    ("Acct-Output-Octets", "2000"),
    ("Acct-Session-Time", "300"),
    ("Acct-Delay-Time", "2"),
    ("Framed-IP-Address", "100.64.0.20"),
    ("Calling-Station-Id", "AA:BB:CC:DD:EE:FF"),
    ("NAS-Port-Id", "ether2"),
    ("CloudOS-NAS-Address", "127.0.0.1"),
)


def test_interim_update() -> None:
    req = parse_acct(ACCT)
    assert req == AcctRequest(
        status="Interim-Update",
        user_name="ali",
        nas_address="127.0.0.1",
        acct_unique_id="5d41402abc4b2a76b9719d911017c592",
        acct_session_id="81e00005",
        input_octets=1000,
        output_octets=2000,
        session_time=300,
        delay=2,
        framed_ip="100.64.0.20",
        calling_station_id="AA:BB:CC:DD:EE:FF",
        nas_port_id="ether2",
    )


def test_stop_carries_the_terminate_cause() -> None:
    pairs = replace(replace(ACCT, "Acct-Status-Type", "Stop"), "Acct-Terminate-Cause", "User-Request")
    req = parse_acct(pairs)
    assert isinstance(req, AcctRequest)
    assert (req.status, req.terminate_cause) == ("Stop", "User-Request")


@pytest.mark.parametrize("status", sorted(ACCT_STATUSES))
def test_every_known_status(status: str) -> None:
    req = parse_acct(replace(ACCT, "Acct-Status-Type", status))
    assert isinstance(req, AcctRequest) and req.status == status


def test_start_without_counters_counts_zero() -> None:
    pairs = replace(ACCT, "Acct-Status-Type", "Start")
    for name in ("Acct-Input-Octets", "Acct-Output-Octets", "Acct-Session-Time", "Acct-Delay-Time"):
        pairs = replace(pairs, name, None)
    req = parse_acct(pairs)
    assert isinstance(req, AcctRequest)
    assert (req.input_octets, req.output_octets, req.session_time, req.delay) == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("octets", "gigawords", "total"),
    [
        ("5", "1", 2**32 + 5),
        ("0", "3", 3 * 2**32),
        (str(2**32 - 1), "0", 2**32 - 1),
        (str(2**32 - 1), str(2**30 - 1), 2**62 - 1),  # the largest a session may report
    ],
)
def test_gigawords_fold_into_true_bytes(octets: str, gigawords: str, total: int) -> None:
    pairs = replace(replace(ACCT, "Acct-Input-Octets", octets), "Acct-Input-Gigawords", gigawords)
    pairs = replace(replace(pairs, "Acct-Output-Octets", octets), "Acct-Output-Gigawords", gigawords)
    req = parse_acct(pairs)
    assert isinstance(req, AcctRequest)
    assert req.input_octets == total
    assert req.output_octets == total


@pytest.mark.parametrize("gigawords", [str(2**30), str(2**32 - 1)])
def test_counters_past_4_eib_are_refused_by_name(gigawords: str) -> None:
    # Beyond what a bigint usage sum holds: stored, it would fail in PostgreSQL on every replay.
    pairs = replace(ACCT, "Acct-Output-Gigawords", gigawords)
    assert parse_acct(pairs) == BadAttribute("Acct-Output-Gigawords", "out of range")


@pytest.mark.parametrize(
    ("name", "value", "attribute"),
    [
        ("Acct-Input-Octets", "lots", "Acct-Input-Octets"),
        ("Acct-Input-Octets", "", "Acct-Input-Octets"),
        ("Acct-Input-Octets", "1.5", "Acct-Input-Octets"),
        ("Acct-Input-Octets", "-1", "Acct-Input-Octets"),
        ("Acct-Input-Octets", str(2**32), "Acct-Input-Octets"),
        ("Acct-Input-Gigawords", "x", "Acct-Input-Octets"),
        ("Acct-Input-Gigawords", str(2**32), "Acct-Input-Octets"),
        ("Acct-Output-Octets", "0x10", "Acct-Output-Octets"),
        ("Acct-Output-Octets", str(2**40), "Acct-Output-Octets"),
        ("Acct-Output-Gigawords", "-3", "Acct-Output-Octets"),
        ("Acct-Session-Time", "five minutes", "Acct-Session-Time"),
        ("Acct-Session-Time", "-1", "Acct-Session-Time"),
        ("Acct-Session-Time", str(2**32), "Acct-Session-Time"),
    ],
)
def test_bad_counters(name: str, value: str, attribute: str) -> None:
    result = bad(parse_acct(replace(ACCT, name, value)), attribute)
    assert result.problem in ("not an integer", "out of range")


@pytest.mark.parametrize(("value", "problem"), [("soon", "not an integer"), (str(2**32), "out of range")])
def test_bad_delay_time_names_acct_delay_time(value: str, problem: str) -> None:
    # The accounting warn line must name the attribute that is actually bad.
    result = bad(parse_acct(replace(ACCT, "Acct-Delay-Time", value)), "Acct-Delay-Time")
    assert result.problem == problem


@pytest.mark.parametrize("status", [None, "", "Interim", "start", "Accounting-Restart", "3"])
def test_unknown_or_missing_status(status: str | None) -> None:
    result = bad(parse_acct(replace(ACCT, "Acct-Status-Type", status)), "Acct-Status-Type")
    assert result.problem == ("missing" if status is None else "unknown value")


def test_missing_nas_address() -> None:
    bad(parse_acct(replace(ACCT, "CloudOS-NAS-Address", None)), "CloudOS-NAS-Address")


@pytest.mark.parametrize("status", ["Start", "Interim-Update", "Stop", "Alive"])
@pytest.mark.parametrize(
    ("name", "value", "attribute"),
    [
        ("User-Name", None, "User-Name"),
        ("User-Name", "", "User-Name"),
        ("User-Name", "a\x00b", "User-Name"),
        ("Acct-Session-Id", None, "Acct-Session-Id"),
        ("Acct-Session-Id", "", "Acct-Session-Id"),
        ("Acct-Unique-Session-Id", None, "Acct-Unique-Session-Id"),
    ],
)
def test_session_records_need_user_and_session_ids(
    status: str, name: str, value: str | None, attribute: str
) -> None:
    pairs = replace(replace(ACCT, "Acct-Status-Type", status), name, value)
    bad(parse_acct(pairs), attribute)


@pytest.mark.parametrize("status", ["Accounting-On", "Accounting-Off"])
def test_accounting_on_off_needs_no_user_or_session(status: str) -> None:
    pairs = (
        ("Acct-Status-Type", status),
        ("NAS-Identifier", "gw-lahore-1"),
        ("Acct-Delay-Time", "0"),
        ("CloudOS-NAS-Address", "127.0.0.1"),
    )
    req = parse_acct(pairs)
    assert isinstance(req, AcctRequest)
    assert (req.status, req.user_name, req.acct_session_id, req.acct_unique_id) == (status, "", "", "")
    assert req.nas_address == "127.0.0.1"


# ---------------------------------------------------------------------------- totality

names = st.sampled_from(REQUEST_ATTRIBUTES) | st.text(max_size=20)
values = st.sampled_from(
    ["0", "5", "-1", str(2**32), "127.0.0.1", "::1", "Start", "Stop", "Accounting-On", "aa-bb-cc-dd-ee-ff", ""]
) | st.text(max_size=40)
text_pairs = st.lists(st.tuples(names, values), max_size=16).map(tuple)
odd_items = st.one_of(
    st.tuples(names, values),
    st.tuples(names),
    st.tuples(),
    st.tuples(names, st.just(":="), values),
    st.tuples(st.integers(), values),
    st.tuples(names, st.one_of(st.none(), st.integers(), st.binary(max_size=8), st.floats())),
    st.lists(st.text(max_size=5), max_size=3),
    st.none(),
    st.integers(),
    st.text(max_size=10),
    st.binary(max_size=10),
)
odd_pairs = st.one_of(
    st.none(),
    st.just(()),
    st.lists(odd_items, max_size=12).map(tuple),
    st.lists(odd_items, max_size=12),
    st.text(max_size=10),
)


@given(text_pairs)
def test_parse_access_is_total_on_text_pairs(pairs: Any) -> None:
    result = parse_access(pairs)
    assert isinstance(result, (AccessRequest, BadAttribute))
    if isinstance(result, AccessRequest):
        assert result.user_name and all(ord(c) >= 0x20 and ord(c) != 0x7F for c in result.user_name)
        assert result.auth_method in ("pap", "chap", "mschapv2", "mschap")


@given(text_pairs)
def test_parse_acct_is_total_on_text_pairs(pairs: Any) -> None:
    result = parse_acct(pairs)
    assert isinstance(result, (AcctRequest, BadAttribute))
    if isinstance(result, AcctRequest):
        assert result.status in ACCT_STATUSES
        assert 0 <= result.input_octets < 2**64 and 0 <= result.output_octets < 2**64
        assert 0 <= result.session_time < 2**32 and 0 <= result.delay < 2**32


@given(odd_pairs)
def test_parsers_are_total_on_odd_shapes(pairs: Any) -> None:
    assert isinstance(parse_access(pairs), (AccessRequest, BadAttribute))
    assert isinstance(parse_acct(pairs), (AcctRequest, BadAttribute))


@given(st.one_of(st.none(), st.text(max_size=30)))
def test_normalize_mac_is_total_and_canonical(text: str | None) -> None:
    mac = normalize_mac(text)
    if mac is not None:
        assert len(mac) == 17
        assert all(c in "0123456789ABCDEF:" for c in mac)
        assert normalize_mac(mac) == mac


def test_delay_time_past_the_bound_is_clamped() -> None:
    assert isinstance(req := parse_acct(replace(ACCT, "Acct-Delay-Time", str(2**32 - 1))), AcctRequest)
    assert req.delay == 86_400  # a day by default
    assert isinstance(req := parse_acct(replace(ACCT, "Acct-Delay-Time", str(40 * 86_400)), 31 * 86_400), AcctRequest)
    assert req.delay == 31 * 86_400
    assert isinstance(req := parse_acct(replace(ACCT, "Acct-Delay-Time", "7")), AcctRequest)
    assert req.delay == 7
    assert delay_claimed(replace(ACCT, "Acct-Delay-Time", str(2**32 - 1))) == 2**32 - 1
    assert delay_claimed(replace(ACCT, "Acct-Delay-Time", None)) is None
