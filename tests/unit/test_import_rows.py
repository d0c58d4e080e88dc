"""cloudos.bulk.rows and cloudos.bulk.formats: the import's pure rules and file formats."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloudos.bulk import formats
from cloudos.bulk.rows import Candidate, Known, check

KNOWN = Known(plans={"home": 1, "biz": 2}, usernames={"ali": "Ali"}, static_ips={"10.0.0.1": "Ali"},
              macs={"AA:BB:CC:00:00:01": "Ali"}, today=date(2026, 12, 2))


def one(c: Candidate, known: Known = KNOWN, plan: str | None = None) -> tuple[list[str], list[str]]:
    """(refusals, warnings) of one row checked alone."""
    got = check([c], known, default_plan=plan)
    return [f.message for f in got.refused], [f.message for f in got.warnings]


def row(**kw: str) -> Candidate:
    base = {"username": "bob", "password": "Secret-1", "plan": "home"}
    return Candidate(line=2, **{**base, **kw})  # type: ignore[arg-type]


def test_a_good_row_becomes_what_subscriber_add_stores() -> None:
    got = check([row(expires="2027-01-31", mac="aa-bb-cc-dd-ee-ff", static_ip="10.0.0.2", name="Bob",
                     cnic="35202-1234567-1")], KNOWN)
    assert got.refused == () and got.warnings == ()
    (r,) = got.good
    assert (r.plan_id, r.expires, r.mac, r.static_ip, r.name, r.cnic, r.phone) == (
        1, date(2027, 1, 31), "AA:BB:CC:DD:EE:FF", "10.0.0.2", "Bob", "35202-1234567-1", None)
    assert r.status == "active" and r.status_reason is None


def test_contact_fields_are_stored_as_subscriber_add_stores_them() -> None:
    (r,) = check([row(phone="0300-1234567", name="  Ali   Khan ", email="ali@example.pk")], KNOWN).good
    assert (r.phone, r.name, r.email) == ("+923001234567", "Ali Khan", "ali@example.pk")


@pytest.mark.parametrize("kw, reason", [
    ({"username": ""}, "no username"),
    ({"username": "a\x00b"}, "invalid username"),
    ({"username": "x" * 254}, "invalid username"),
    ({"password": ""}, "no password"),
    ({"password": "12345"}, "password must be 6 to 128 characters, not 5"),
    ({"password": "p" * 129}, "not 129"),
    ({"plan": "gold"}, "no plan named 'gold'"),
    ({"plan": ""}, "no plan (give the plan column, or --plan)"),
    ({"expires": "2027-02-30"}, "invalid date '2027-02-30'"),
    ({"expires": "9999-12-31"}, "too far in the future"),
    ({"mac": "zz:zz"}, "invalid MAC address 'zz:zz'"),
    ({"static_ip": "2001:db8::1"}, "static IP '2001:db8::1' is IPv6"),
    ({"static_ip": "127.0.0.1"}, "cannot be given to a subscriber"),
    ({"username": "ali khan"}, "invalid username 'ali khan'"),
    ({"static_ip": "10.0.0.256"}, "invalid IP address '10.0.0.256'"),
    ({"static_ip": "10.0.0.1"}, "static IP 10.0.0.1 is already used by subscriber 'Ali'"),
    ({"username": "ALI"}, "username already exists in the tenant as 'Ali'"),
    ({"name": "n" * 201}, "name is longer than 200 characters"),
    ({"phone": "042-555"}, "invalid phone number '042-555'"),
    ({"email": "not-an-address"}, "invalid email address 'not-an-address'"),
    ({"address": "a" * 501}, "address is longer than 500 characters"),
    ({"cnic": "1" * 33}, "cnic is longer than 32 characters"),
    ({"address": "line\x07bell"}, "address contains a control character"),
])
def test_each_rule_refuses_with_its_reason(kw: dict[str, str], reason: str) -> None:
    refusals, _ = one(row(**kw))
    assert len(refusals) == 1 and reason in refusals[0], refusals


def test_every_reason_of_a_row_is_given_not_only_the_first() -> None:
    (message,), _ = one(row(password="x", plan="gold", mac="nope"))
    assert message.count(";") == 2


def test_a_malformed_line_gives_only_its_own_reason() -> None:
    (message,), _ = one(Candidate(line=4, username="x", password="", malformed="3 columns where the header has 11"))
    assert message == "3 columns where the header has 11"


def test_the_default_plan_fills_an_empty_plan_only() -> None:
    got = check([row(plan=""), row(plan="biz", username="carol")], KNOWN, default_plan="home")
    assert [r.plan for r in got.good] == ["home", "biz"]


def test_later_rows_are_checked_against_earlier_ones_case_insensitively() -> None:
    got = check([Candidate(line=2, username="Zed", password="Secret-1", plan="home", static_ip="10.0.0.9",
                           mac="02:00:00:00:00:01"),
                 Candidate(line=3, username="zED", password="Secret-2", plan="home"),
                 Candidate(line=4, username="yan", password="Secret-3", plan="home", static_ip="10.0.0.9"),
                 Candidate(line=5, username="xi", password="Secret-4", plan="home", mac="020000000001")], KNOWN)
    assert [(f.line, f.message) for f in got.refused] == [
        (3, "username repeats line 2 (usernames are compared case-insensitively)"),
        (4, "static IP 10.0.0.9 repeats line 2")]
    assert [(f.line, f.message) for f in got.warnings] == [(5, "MAC 02:00:00:00:00:01 is also bound on line 2")]
    assert [r.line for r in got.good] == [2, 5]


def test_a_refused_row_reserves_nothing_for_the_rows_after_it() -> None:
    got = check([row(password="short", static_ip="10.0.0.5"),
                 Candidate(line=3, username="bob", password="Secret-9", plan="home", static_ip="10.0.0.5")], KNOWN)
    assert [f.line for f in got.refused] == [2] and [r.line for r in got.good] == [3]


def test_warnings_do_not_refuse() -> None:
    refusals, warnings = one(row(mac="AA:BB:CC:00:00:01", expires="2026-12-01"))
    assert refusals == []
    assert warnings == ["expires 2026-12-01 is in the past: imported as expired",
                        "MAC AA:BB:CC:00:00:01 is also bound to subscriber 'Ali'"]


@given(st.lists(st.text(alphabet="aAbB", min_size=1, max_size=3), max_size=30))
def test_no_two_good_rows_share_a_username_in_any_case(names: list[str]) -> None:
    got = check([Candidate(line=i + 2, username=n, password="Secret-1", plan="home") for i, n in enumerate(names)],
                Known(plans={"home": 1}, usernames={}, static_ips={}, macs={}, today=date(2026, 1, 1)))
    lowered = [r.username.lower() for r in got.good]
    assert len(lowered) == len(set(lowered)) == len({n.lower() for n in names})
    assert got.rows == len(names)


# --------------------------------------------------------------------------- formats
def test_cloudos_csv_keeps_the_password_as_typed_and_strips_the_rest() -> None:
    (c,) = formats.parse(b"username , Password,plan\n  ali ,  pw with spaces ,home \n", "cloudos").candidates
    assert (c.line, c.username, c.password, c.plan) == (2, "ali", "  pw with spaces ", "home")


def test_line_numbers_are_where_a_record_starts() -> None:
    data = b'username,password,address\n\na,Secret-1,"two\nlines"\nb,Secret-2,x\n'
    assert [c.line for c in formats.parse(data, "cloudos").candidates] == [3, 5]


def test_only_cr_and_lf_end_a_record() -> None:
    data = "username,password,name\na,Secret-1,Line\u2028Sep\x0cFF\rb,Secret-2,x\r\n".encode()
    got = formats.parse(data, "cloudos").candidates
    assert [(c.line, c.username, c.name) for c in got] == [(2, "a", "Line\u2028Sep\x0cFF"), (3, "b", "x")]


def test_the_first_bad_byte_is_reported_with_its_line() -> None:
    with pytest.raises(formats.FileError, match="line 3: not UTF-8"):
        formats.decode(b"a\nb\n\xc3(\n")
    assert formats.decode("\ufeffx".encode()) == "x"


@pytest.mark.parametrize("expiration, last_day", [
    ("2027-01-15", date(2027, 1, 14)), ("15 Jan 2027", date(2027, 1, 14)), ("Mar 01 2028", date(2028, 2, 29)),
])
def test_a_freeradius_expiration_ends_service_at_its_first_instant(expiration: str, last_day: date) -> None:
    assert formats.last_paid_day(expiration) == last_day


def test_an_expiration_that_is_no_date_is_refused() -> None:
    with pytest.raises(ValueError, match="invalid expiration"):
        formats.last_paid_day("soon")


def test_routeros_words_unquote_and_decode_escapes() -> None:
    assert formats._ros_words('add name="a b" comment="\\D8\\B9\\_x\\"" password=p\\$1') == [
        "add", "name=a b", 'comment=ع x"', "password=p$1"]
    with pytest.raises(ValueError):
        formats._ros_words('add name="open')


def test_routeros_continuations_are_joined() -> None:
    text = "/user-manager user\nadd name=a \\\n    password=b\nadd name=c password=d\n"
    assert list(formats._logical_lines(text))[1:3] == [(2, "add name=a password=b"), (4, "add name=c password=d")]


def test_user_manager_paths_inline_and_slashed() -> None:
    text = "/user-manager/user add name=a password=Secret-a group=g\n/user-manager user-profile add user=a profile=p\n"
    (c,) = formats.parse(text.encode(), "usermanager").candidates
    assert (c.username, c.plan, c.line) == ("a", "p", 1)


def test_daloradius_keeps_the_first_number_subscriber_add_takes() -> None:
    header = ",".join(formats.DALORADIUS_COLUMNS)
    line = "u,Secret-1,,,,,,,,042-35550000,03001234567,,,,,,,,,"
    (c,) = formats.parse(f"{header}\n{line}\n".encode(), "daloradius").candidates
    assert c.phone == "03001234567"
    assert c.notes == ("phone number not imported: 042-35550000 (CloudOS keeps one mobile or E.164 number)",)


def test_user_manager_default_group_is_no_plan_and_otp_is_refused() -> None:
    text = "/user-manager user\nadd name=a password=Secret-a group=default otp-secret=ABC\n"
    (c,) = formats.parse(text.encode(), "usermanager").candidates
    assert c.plan == "" and c.refusals == ("otp-secret: one-time codes appended to the password are not supported",)
