"""Row validation for `cloudos subscriber import`: pure (no I/O, no clock).

A file's rows arrive as :class:`Candidate` values (text, already mapped from the
file's format by cloudos.bulk.formats); :func:`check` judges every one of them
against what the tenant already holds (:class:`Known`, read once) and against the
rows before it in the same file, with the rules of `cloudos subscriber add`:

* username: add's rule for a new username; unique in the tenant and in the file,
  compared case-insensitively (``Ali`` and ``ali`` are one login to a person, schema 0013);
* password: 6 to 128 characters (RADIUS PAP carries at most 128);
* plan: a plan of the tenant, by its exact name (or the ``--plan`` default);
* expires: YYYY-MM-DD, the last paid day; empty means no expiry;
* mac: any common MAC spelling; bound to another subscriber is a warning, not a refusal;
* static_ip: one IPv4 host address, not used by another subscriber of the tenant nor by another row;
* name, phone, email, address: add's validators (a phone is stored as +92…); cnic: at most
  32 characters; no control characters anywhere.

The validators are `subscriber add`'s own argparse types (cloudos.commands._common), so
both commands keep one rule each.

Every reason a row is refused is reported (not only the first), with its line number.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from cloudos.commands._common import (MIN_PASSWORD, address_text_arg, date_arg, email_arg, mac_arg, name_text_arg,
                                      new_username_arg, phone_arg, static_ip_arg)

PASSWORD_MIN = MIN_PASSWORD
PASSWORD_MAX = 128  # RFC 2865 5.2: User-Password is at most 128 octets
#: The longest plan name and CNIC, in characters (add's validators bound the other fields).
TEXT_LIMITS = {"plan": 63, "cnic": 32}
#: The contact fields and `subscriber add`'s validator of each.
_CONTACT: dict[str, Callable[[str], Any]] = {"name": name_text_arg, "phone": phone_arg, "email": email_arg,
                                             "address": address_text_arg}
#: The last paid day may not be later than this (the service end is the next midnight).
LAST_DAY = date(9998, 12, 31)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One subscriber as a file gives it, mapped to CloudOS's fields but not yet checked.
    ``notes`` are warnings and ``refusals`` reasons found while mapping the file's own format;
    ``malformed`` says why the line could not be read as a row at all."""

    line: int
    username: str
    password: str
    plan: str = ""
    expires: str = ""
    mac: str = ""
    static_ip: str = ""
    name: str = ""
    phone: str = ""
    email: str = ""
    address: str = ""
    cnic: str = ""
    suspended: str | None = None  # the status reason, when the source had the account disabled
    notes: tuple[str, ...] = ()
    refusals: tuple[str, ...] = ()
    malformed: str | None = None  # the line is not a row at all (its width): the only reason given


@dataclass(frozen=True, slots=True)
class Known:
    """What the tenant holds before the import: plan ids by name, and who has each username
    (by its lower-case form), static IP and MAC (upper case, colon separated)."""

    plans: Mapping[str, int]
    usernames: Mapping[str, str]
    static_ips: Mapping[str, str]
    macs: Mapping[str, str]
    today: date  # the tenant's local date: an expiry before it is a warning


@dataclass(frozen=True, slots=True)
class Row:
    """A row that passed: what `subscriber add` would store (clear text: sealing happens at insert)."""

    line: int
    username: str
    password: str
    plan_id: int
    plan: str
    expires: date | None
    mac: str | None
    static_ip: str | None
    name: str | None
    phone: str | None
    email: str | None
    address: str | None
    cnic: str | None
    status: str = "active"
    status_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    """A refusal or a warning about one row of the file."""

    line: int
    username: str
    message: str


@dataclass(frozen=True)
class Checked:
    """The verdict on a whole file: the good rows, one refusal per refused row, and the warnings."""

    good: tuple[Row, ...]
    refused: tuple[Finding, ...]
    warnings: tuple[Finding, ...]

    @property
    def rows(self) -> int:
        return len(self.good) + len(self.refused)


@dataclass
class _Seen:
    """The earlier rows of the file: line of each lower-cased username, static IP, MAC."""

    usernames: dict[str, int] = field(default_factory=dict)
    static_ips: dict[str, int] = field(default_factory=dict)
    macs: dict[str, int] = field(default_factory=dict)


def validate(parse: Callable[[str], Any], text: str) -> tuple[Any, str | None]:
    """Run an argparse validator of `subscriber add`: (value, None), or (None, its message)."""
    try:
        return parse(text), None
    except argparse.ArgumentTypeError as exc:
        return None, str(exc)


_CONTROL = re.compile("[\x00-\x1f\x7f]")


def _controls(text: str) -> bool:
    return _CONTROL.search(text) is not None


def _text(name: str, value: str, refusals: list[str]) -> str | None:
    """A contact field through add's validator (the value it stores), or the CNIC within its limit."""
    if not value:
        return None
    if _controls(value):
        refusals.append(f"{name} contains a control character")
        return None
    if name in _CONTACT:
        parsed, why = validate(_CONTACT[name], value)
        if why:
            refusals.append(why)
            return None
        return str(parsed) or None
    limit = TEXT_LIMITS[name]
    if len(value) > limit:
        refusals.append(f"{name} is longer than {limit} characters")
    return value


# Each check below appends what it finds to ``refusals`` and ``warnings`` and returns the value.
def _username(c: Candidate, known: Known, seen: _Seen, refusals: list[str]) -> str:
    value, why = validate(new_username_arg, c.username) if c.username else (None, "no username")
    if why:
        refusals.append(why)
        return c.username
    username = str(value)
    key = username.lower()
    if key in known.usernames:
        taken = known.usernames[key]
        refusals.append("username already exists in the tenant" + (f" as {taken!r}" if taken != username else ""))
    elif key in seen.usernames:
        refusals.append(f"username repeats line {seen.usernames[key]} (usernames are compared case-insensitively)")
    return username


def _password(c: Candidate, refusals: list[str]) -> None:
    if not c.password:
        refusals.append("no password")
    elif not PASSWORD_MIN <= len(c.password) <= PASSWORD_MAX:
        refusals.append(f"password must be {PASSWORD_MIN} to {PASSWORD_MAX} characters, not {len(c.password)}")


def _plan(name: str, known: Known, refusals: list[str]) -> int | None:
    plan_id = known.plans.get(name)
    if not name:
        refusals.append("no plan (give the plan column, or --plan)")
    elif _controls(name) or len(name) > TEXT_LIMITS["plan"]:
        refusals.append("plan is not a plan name")
    elif plan_id is None:
        refusals.append(f"no plan named {name!r} in this tenant (cloudos plan list)")
    return plan_id


def _expires(c: Candidate, known: Known, refusals: list[str], warnings: list[str]) -> date | None:
    if not c.expires:
        return None
    value, why = validate(date_arg, c.expires)
    if why:
        refusals.append(why)
        return None
    expires: date = value
    if expires > LAST_DAY:
        refusals.append(f"expires {expires} is too far in the future")
    elif expires < known.today:
        warnings.append(f"expires {expires} is in the past: imported as expired")
    return expires


def _mac(c: Candidate, known: Known, seen: _Seen, refusals: list[str], warnings: list[str]) -> str | None:
    if not c.mac:
        return None
    value, why = validate(mac_arg, c.mac)
    if why:
        refusals.append(why)
        return None
    mac = str(value)
    if mac in known.macs:
        warnings.append(f"MAC {mac} is also bound to subscriber {known.macs[mac]!r}")
    elif mac in seen.macs:
        warnings.append(f"MAC {mac} is also bound on line {seen.macs[mac]}")
    return mac


def _static_ip(c: Candidate, known: Known, seen: _Seen, refusals: list[str]) -> str | None:
    if not c.static_ip:
        return None
    value, why = validate(static_ip_arg, c.static_ip)
    if why:
        refusals.append(why)
        return None
    ip = str(value)
    if ip in known.static_ips:
        refusals.append(f"static IP {ip} is already used by subscriber {known.static_ips[ip]!r}")
    elif ip in seen.static_ips:
        refusals.append(f"static IP {ip} repeats line {seen.static_ips[ip]}")
    return ip


def check_row(c: Candidate, known: Known, seen: _Seen, default_plan: str | None) -> tuple[Row | None, list[str],
                                                                                          list[str]]:
    """(the row, or None when refused; the reasons it is refused; its warnings). Records the row's
    username, static IP and MAC in ``seen`` when it passes, so later rows are checked against it."""
    if c.malformed:
        return None, [c.malformed], []
    refusals = list(c.refusals)
    warnings = list(c.notes)
    username = _username(c, known, seen, refusals)
    _password(c, refusals)
    plan = c.plan or default_plan or ""
    plan_id = _plan(plan, known, refusals)
    expires = _expires(c, known, refusals, warnings)
    mac = _mac(c, known, seen, refusals, warnings)
    static_ip = _static_ip(c, known, seen, refusals)
    name, phone, email, address, cnic = (_text(f, v, refusals) for f, v in (
        ("name", c.name), ("phone", c.phone), ("email", c.email), ("address", c.address), ("cnic", c.cnic)))
    if refusals or plan_id is None:
        return None, refusals, warnings
    seen.usernames[username.lower()] = c.line
    if static_ip:
        seen.static_ips[static_ip] = c.line
    if mac:
        seen.macs.setdefault(mac, c.line)
    row = Row(line=c.line, username=username, password=c.password, plan_id=plan_id, plan=plan, expires=expires,
              mac=mac, static_ip=static_ip, name=name, phone=phone, email=email, address=address, cnic=cnic,
              status="suspended" if c.suspended else "active", status_reason=c.suspended)
    return row, refusals, warnings


def check(candidates: Iterable[Candidate], known: Known, *, default_plan: str | None = None) -> Checked:
    """Judge every row of a file, in order; a row is checked against the tenant and the rows before it."""
    seen = _Seen()
    good: list[Row] = []
    refused: list[Finding] = []
    warned: list[Finding] = []
    for c in candidates:
        row, refusals, warnings = check_row(c, known, seen, default_plan)
        warned += [Finding(c.line, c.username, w) for w in warnings]
        if row is None:
            refused.append(Finding(c.line, c.username, "; ".join(refusals)))
        else:
            good.append(row)
    return Checked(tuple(good), tuple(refused), tuple(warned))
