"""Parser helpers and validators shared by the command groups."""

from __future__ import annotations

import argparse
import calendar
import ipaddress
import re
from collections.abc import Callable
from datetime import date
from typing import Any, TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import Row

from cloudos.errors import UsageError
from rlm_cloudos.policy.rates import RateLimitError, SizeError, parse_rate_limit, parse_size
from rlm_cloudos.requests import normalize_mac

Func = Callable[..., None]
#: What each command group's register() receives.
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"  # not subscriptable at run time


def leaf(sub: Subparsers, name: str, help: str, func: Func) -> argparse.ArgumentParser:
    """A subcommand with --json and a handler."""
    p = sub.add_parser(name, help=help, description=help)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=func)
    return p


def tenant_opt(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tenant", metavar="T", help="tenant name (may be omitted when exactly one tenant exists)")


def as_dict(row: Row[Any] | None) -> dict[str, Any] | None:
    return None if row is None else dict(row._mapping)


# --------------------------------------------------------------------------- validators (argparse types)
def _wrap(fn: Callable[[str], Any], what: str) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            return fn(text)
        except (ValueError, RateLimitError, SizeError) as exc:
            raise argparse.ArgumentTypeError(str(exc) or f"invalid {what}: {text!r}") from None

    parse.__name__ = what
    return parse


def _timezone(text: str) -> str:
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {text!r} (e.g. Asia/Karachi)") from None
    return text


def _network(text: str) -> str:
    try:
        return str(ipaddress.ip_network(text, strict=True))
    except ValueError as exc:
        raise ValueError(f"invalid address {text!r}: {exc}") from None


def _ip(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ValueError(f"invalid IP address {text!r}") from None


def _mac(text: str) -> str:
    mac = normalize_mac(text)
    if mac is None:
        raise ValueError(f"invalid MAC address {text!r} (e.g. AA:BB:CC:DD:EE:FF)")
    return mac


_DATE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})$")


def _date(text: str) -> date:
    m = _DATE.match(text)
    if not m:
        raise ValueError(f"invalid date {text!r}: expected YYYY-MM-DD")
    year, month, day = (int(g) for g in m.groups())
    if not 1 <= month <= 12:
        raise ValueError(f"invalid date {text!r}: there is no month {month}")
    if year < 1:
        raise ValueError(f"invalid date {text!r}: there is no year 0")
    last = calendar.monthrange(year, month)[1]
    if not 1 <= day <= last:
        raise ValueError(f"invalid date {text!r}: {calendar.month_name[month]} {year} has {last} days")
    return date(year, month, day)


_PERIOD = re.compile(r"^(monthly|[1-9][0-9]{0,3}d)$")


def _period(text: str) -> str:
    if not _PERIOD.match(text):
        raise ValueError(f"invalid period {text!r}: 'monthly' or a number of days like '30d'")
    return text


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


def _name(text: str) -> str:
    if not _NAME.match(text):
        raise ValueError(f"invalid name {text!r}: letters, digits, '.', '_' or '-', at most 63, starting alphanumeric")
    return text


def _username(text: str) -> str:
    if not 1 <= len(text.encode()) <= 253 or any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise ValueError(f"invalid username {text!r}: 1 to 253 bytes, no control characters")
    return text


#: The rule for a new username (README: "Usernames"): what a subscriber can type on a router's
#: PPPoE or Hotspot login and a NOC can read back over the phone. Unique per tenant whatever the
#: case (schema 0013); a login matches the stored case exactly.
USERNAME_RULE = "1 to 64 characters: letters, digits and . _ - @ +, starting with a letter or digit"
_NEW_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$")


def _new_username(text: str) -> str:
    if not _NEW_USERNAME.match(text):
        raise ValueError(f"invalid username {text!r}: {USERNAME_RULE}")
    return text


#: Shortest subscriber password accepted (README: "Usernames and passwords").
MIN_PASSWORD = 6


def check_password(password: str) -> str:
    """A new subscriber password; raises UsageError (read_secret already bounds it to 128)."""
    if len(password) < MIN_PASSWORD:
        raise UsageError(f"the password must be at least {MIN_PASSWORD} characters")
    return password


def _static_ip(text: str) -> str:
    """A subscriber's Framed-IP-Address: one IPv4 host address a NAS can route to a subscriber."""
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        raise ValueError(f"invalid IP address {text!r}") from None
    if ip.version != 4:
        raise ValueError(f"static IP {text!r} is IPv6: Framed-IP-Address carries IPv4 only (give an IPv4 address, "
                         "or use the plan's pool)")
    if ip.is_unspecified or ip.is_loopback or ip.is_multicast or ip.is_link_local or ip.is_reserved \
            or ip == ipaddress.IPv4Address("255.255.255.255"):
        raise ValueError(f"static IP {text!r} cannot be given to a subscriber "
                         "(unspecified, loopback, link-local, multicast or reserved)")
    return str(ip)


_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")


def _email(text: str) -> str:
    if len(text) > 254 or not _EMAIL.match(text):
        raise ValueError(f"invalid email address {text!r}")
    return text


def _phone(text: str) -> str:
    """A phone number in E.164 (+923001234567); a Pakistani 03001234567 is written so."""
    digits = re.sub(r"[\s().-]", "", text)
    if re.fullmatch(r"03[0-9]{9}", digits):
        digits = "+92" + digits[1:]
    elif re.fullmatch(r"923[0-9]{9}", digits):
        digits = "+" + digits
    if not re.fullmatch(r"\+[1-9][0-9]{6,14}", digits):
        raise ValueError(f"invalid phone number {text!r}: e.g. 03001234567 or +923001234567")
    return digits


def printable(limit: int) -> Callable[[str], str]:
    """A one-line text of 1 to ``limit`` printable characters, each run of whitespace made one space
    (a data request's note, a holiday's name, where a consent was given)."""
    def parse(text: str) -> str:
        value = " ".join(text.split())
        if not 1 <= len(value) <= limit or any(ord(c) < 32 for c in value):
            raise ValueError(f"1 to {limit} printable characters")
        return value
    return parse


def _text(limit: int, what: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = " ".join(text.split())
        if len(value) > limit:
            raise ValueError(f"{what} is longer than {limit} characters")
        return value

    return parse


def _price(text: str) -> str:
    if not re.match(r"^\d{1,10}(\.\d{1,2})?$", text):
        raise ValueError(f"invalid amount {text!r}: e.g. 2500 or 2499.99")
    return text


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise ValueError(f"invalid number {text!r}") from None
    if not 1 <= n <= INT4_MAX:
        raise ValueError(f"{n} is out of range: a whole number from 1 to {INT4_MAX}")
    return n


def _port(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise ValueError(f"invalid port {text!r}: a UDP port from 1 to 65535") from None
    if not 1 <= n <= 65535:
        raise ValueError(f"{n} is out of range: a UDP port from 1 to 65535")
    return n


#: PostgreSQL's integer: the most any integer column holds.
INT4_MAX = 2**31 - 1
#: The largest quota (or other set size) the CLI takes: 1000TB, more than a 1 Gbit/s line moves in
#: three months; anything larger is a typo (and beyond it lies bigint's end, 9.2 EB).
MAX_QUOTA = 10**15
#: RADIUS carries at most 253 bytes in an attribute (RFC 2865 section 5); a vendor-specific one such
#: as Mikrotik-Address-List leaves 247 (6 bytes of Vendor-Id, type and length, RFC 2865 section 5.26).
RADIUS_MAX = 253
VSA_MAX = 247


def int_arg(lo: int, hi: int, unit: str = "") -> Callable[[str], int]:
    """An argparse type: a whole number from ``lo`` to ``hi`` (the column's CHECK or its type's range),
    the range and ``unit`` stated in the error."""
    what = f"a whole number from {lo} to {hi}" + (f" ({unit})" if unit else "")

    def parse(text: str) -> int:
        try:
            n = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid number {text!r}: {what}") from None
        if not lo <= n <= hi:
            raise argparse.ArgumentTypeError(f"{n} is out of range: {what}")
        return n

    parse.__name__ = "number"
    return parse


def _routeros_name(what: str, most: int, attribute: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        size = len(text.encode())
        if not text or text != text.strip() or any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
            raise argparse.ArgumentTypeError(
                f"invalid {what} {text[:40]!r}: printable text, no leading or trailing spaces")
        if size > most:
            raise argparse.ArgumentTypeError(
                f"{what} is {size} bytes: at most {most}, what RADIUS carries in {attribute}")
        return text

    parse.__name__ = what
    return parse


#: A RouterOS firewall address-list name as Mikrotik-Address-List carries it (a VSA: 247 bytes).
address_list_arg = _routeros_name("address-list name", VSA_MAX, "Mikrotik-Address-List")
#: A RouterOS IP pool name as Framed-Pool carries it (253 bytes).
pool_arg = _routeros_name("IP pool name", RADIUS_MAX, "Framed-Pool")


def _quota(text: str) -> int:
    return parse_size(text, most=MAX_QUOTA)


timezone_arg = _wrap(_timezone, "time zone")
network_arg = _wrap(_network, "address")
ip_arg = _wrap(_ip, "IP address")
mac_arg = _wrap(_mac, "MAC address")
date_arg = _wrap(_date, "date")
period_arg = _wrap(_period, "period")
name_arg = _wrap(_name, "name")
username_arg = _wrap(_username, "username")
new_username_arg = _wrap(_new_username, "username")
static_ip_arg = _wrap(_static_ip, "static IP")
email_arg = _wrap(_email, "email address")
phone_arg = _wrap(_phone, "phone number")
name_text_arg = _wrap(_text(200, "a name"), "name")
address_text_arg = _wrap(_text(500, "an address"), "address")
price_arg = _wrap(_price, "amount")
positive_arg = _wrap(_positive, "number")
port_arg = _wrap(_port, "port")
rate_arg = _wrap(parse_rate_limit, "rate limit")
size_arg = _wrap(_quota, "size")


def require(cond: bool, message: str) -> None:
    if not cond:
        raise UsageError(message)

