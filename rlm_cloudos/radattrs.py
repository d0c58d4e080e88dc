"""FreeRADIUS attribute tuples ⇄ typed requests, and decisions → what radiusd is handed back.

rlm_python3 hands each list as a tuple of ``(name, value)`` string pairs, with
values printed the way radiusd prints them (``Ethernet``, ``10.0.0.5``,
``0x…`` for octets). Parsers here are total: a malformed value becomes a
BadAttribute that the adapter logs and answers, never an exception.

A hook answers ``(rcode, {"reply": …, "config": …, "request": …})`` with tuples of
``(attribute, operator, value)``; ``rejected`` and ``accepted`` build them.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

import radiusd

from rlm_cloudos.policy.access import reject
from rlm_cloudos.policy.types import Decision, Reason
from rlm_cloudos.requests import ACCT_STATUSES, AccessRequest, AcctRequest, normalize_mac

__all__ = ["ACCT_STATUSES", "MAX_DELAY", "AccessRequest", "AcctRequest", "BadAttribute", "Update", "accepted",
           "delay_claimed", "normalize_mac", "parse_access", "parse_acct", "rejected", "to_dict"]

#: The Acct-Delay-Time believed by default (ModuleSettings.acct_max_delay): a day.
MAX_DELAY = 86_400

Pairs = Iterable[tuple[str, str]] | None
#: The lists a hook hands back to radiusd, by name.
Update = dict[str, tuple[tuple[str, ...], ...]]


@dataclass(frozen=True, slots=True)
class BadAttribute:
    """Why a request could not be read."""

    attribute: str
    problem: str


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def to_dict(pairs: Pairs) -> dict[str, str]:
    """First value of each attribute; tolerant of None and of odd tuple shapes."""
    out: dict[str, str] = {}
    for item in pairs or ():
        if isinstance(item, tuple) and len(item) >= 2:
            name, value = item[0], item[-1]
            if isinstance(name, str) and name not in out:
                out[name] = value if isinstance(value, str) else str(value)
    return out


@functools.lru_cache(maxsize=4096)
def _canonical_ip(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def _ip(text: str | None) -> str | None:
    return _canonical_ip(text) if text else None


def _user_name(attrs: dict[str, str]) -> str | BadAttribute:
    name = attrs.get("User-Name")
    if name is None:
        return BadAttribute("User-Name", "missing")
    if name == "":
        return BadAttribute("User-Name", "empty")
    if _CONTROL.search(name):
        return BadAttribute("User-Name", "contains control characters")
    return name


def _nas_address(attrs: dict[str, str]) -> str | BadAttribute:
    address = _ip(attrs.get("CloudOS-NAS-Address"))
    if address is None:
        return BadAttribute("CloudOS-NAS-Address", "missing: is policy cloudos_nas_address in the section?")
    return address


def parse_access(pairs: Pairs) -> AccessRequest | BadAttribute:
    """Read an Access-Request; which of PAP, CHAP or MS-CHAP it is comes from the password attribute."""
    attrs = to_dict(pairs)
    name = _user_name(attrs)
    if isinstance(name, BadAttribute):
        return name
    nas = _nas_address(attrs)
    if isinstance(nas, BadAttribute):
        return nas
    if "User-Password" in attrs:
        method = "pap"
    elif "CHAP-Password" in attrs:
        method = "chap"
    elif "MS-CHAP2-Response" in attrs:
        method = "mschapv2"
    elif "MS-CHAP-Response" in attrs:
        method = "mschap"
    else:
        return BadAttribute("User-Password", "no PAP, CHAP or MS-CHAP credentials")
    return AccessRequest(
        user_name=name,
        nas_address=nas,
        auth_method=method,
        calling_station_id=normalize_mac(attrs.get("Calling-Station-Id")),
        nas_identifier=attrs.get("NAS-Identifier"),
        nas_port_id=attrs.get("NAS-Port-Id"),
        nas_port_type=attrs.get("NAS-Port-Type"),
        framed_ip=_ip(attrs.get("Framed-IP-Address")),
    )


def _counter(attrs: dict[str, str], octets: str, gigawords: str) -> int | BadAttribute:
    try:
        low = int(attrs.get(octets, "0"))
        high = int(attrs.get(gigawords, "0"))
    except ValueError:
        return BadAttribute(octets, "not an integer")
    if not (0 <= low < 2**32 and 0 <= high < 2**32):
        return BadAttribute(octets, "out of range")
    total = (high << 32) + low
    if total >= 2**62:  # 4 EiB in one session is a broken or hostile NAS, and past what bigint sums hold
        return BadAttribute(gigawords, "out of range")
    return total


def _integer(attrs: dict[str, str], name: str) -> int | BadAttribute:
    try:
        value = int(attrs.get(name, "0"))
    except ValueError:
        return BadAttribute(name, "not an integer")
    if not 0 <= value < 2**32:
        return BadAttribute(name, "out of range")
    return value


def delay_claimed(pairs: Pairs) -> int | None:
    """The Acct-Delay-Time the NAS sent, unclamped; None when absent or unreadable. For the log line of a
    request whose delay parse_acct clamped (``req.delay == max_delay``): not on every packet's path."""
    attrs = to_dict(pairs)
    if "Acct-Delay-Time" not in attrs:
        return None
    value = _integer(attrs, "Acct-Delay-Time")
    return None if isinstance(value, BadAttribute) else value


def parse_acct(pairs: Pairs, max_delay: int = MAX_DELAY) -> AcctRequest | BadAttribute:
    """Read an Accounting-Request; octet counters fold in their Gigawords (true bytes = G × 2³² + octets),
    and an Acct-Delay-Time past ``max_delay`` becomes ``max_delay`` (the event time is the NAS's
    word: unbounded, it could date usage into any period)."""
    attrs = to_dict(pairs)
    status = attrs.get("Acct-Status-Type")
    if status not in ACCT_STATUSES:
        return BadAttribute("Acct-Status-Type", "missing" if status is None else "unknown value")
    nas = _nas_address(attrs)
    if isinstance(nas, BadAttribute):
        return nas
    on_off = status in ("Accounting-On", "Accounting-Off")
    name = attrs.get("User-Name", "")
    if not on_off:
        checked = _user_name(attrs)
        if isinstance(checked, BadAttribute):
            return checked
        if not attrs.get("Acct-Session-Id"):
            return BadAttribute("Acct-Session-Id", "missing")
    uid = attrs.get("Acct-Unique-Session-Id", "")
    if not on_off and not uid:
        return BadAttribute("Acct-Unique-Session-Id", "missing: is policy cloudos_acct_unique in preacct?")
    inp = _counter(attrs, "Acct-Input-Octets", "Acct-Input-Gigawords")
    if isinstance(inp, BadAttribute):
        return inp
    out = _counter(attrs, "Acct-Output-Octets", "Acct-Output-Gigawords")
    if isinstance(out, BadAttribute):
        return out
    session_time = _integer(attrs, "Acct-Session-Time")
    if isinstance(session_time, BadAttribute):
        return session_time
    delay = _integer(attrs, "Acct-Delay-Time")
    if isinstance(delay, BadAttribute):
        return delay
    return AcctRequest(
        status=status,
        user_name=name,
        nas_address=nas,
        acct_unique_id=uid,
        acct_session_id=attrs.get("Acct-Session-Id", ""),
        input_octets=inp,
        output_octets=out,
        session_time=session_time,
        delay=min(delay, max_delay),
        framed_ip=_ip(attrs.get("Framed-IP-Address")),
        calling_station_id=attrs.get("Calling-Station-Id"),
        nas_port_id=attrs.get("NAS-Port-Id"),
        terminate_cause=attrs.get("Acct-Terminate-Cause"),
    )


# --------------------------------------------------------------------------- decisions → radiusd
def _set(pairs: Iterable[tuple[str, str]]) -> tuple[tuple[str, str, str], ...]:
    return tuple((a, ":=", v) for a, v in pairs)


def rejected(reason: Reason, why: str | None = None, *,
             decision: Decision | None = None, tags: Iterable[tuple[str, str]] = ()) -> tuple[int, Update]:
    """REJECT with the Reply-Message of ``decision`` (or of ``reason``), control:CloudOS-Reason and
    ``tags`` (CloudOS-Decision, -Tenant … for unlang and the debug log), and a Module-Failure-Message
    saying ``why`` (the reason by default)."""
    d = decision or reject(reason)
    config = tuple(tags) or (("CloudOS-Reason", reason.value),)
    return radiusd.RLM_MODULE_REJECT, {
        "reply": _set(d.reply),
        "config": _set(config),
        "request": (("Module-Failure-Message", "+=", f"cloudos: {why or reason.value}"),),
    }


def accepted(decision: Decision, password: str, log_id: int) -> tuple[int, Update]:
    """UPDATED with the decision's reply attributes and, for pap/chap/mschap, the cleartext password
    and the id of the held auth-log row (all post_auth needs: every attribute handed back costs
    radiusd a conversion)."""
    return radiusd.RLM_MODULE_UPDATED, {
        "reply": _set(decision.reply),
        "config": (("Cleartext-Password", ":=", password), ("CloudOS-Log-Id", ":=", str(log_id))),
    }
