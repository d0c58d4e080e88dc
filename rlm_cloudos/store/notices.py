"""The cloudos_authz messages: every change authorize could see, announced in commit order.

Defined here once, with ``parse`` and ``format``. The producers are in the schema:
the ``cloudos_authz_changed()`` triggers (T, P, S, N) and ``cloudos_account()``
(A, X; it also returns the A or X text as its ``feed`` column, so the radiusd
that stored a packet applies it at once). tests/integration/test_notices.py makes
every producer emit every kind and parses what it sent.

  T <tenant id>      a tenant changed (drop its subscribers)
  P <plan id>        a plan changed (drop its subscribers)
  S <subscriber id>  a subscriber changed: password, status, expiry, plan, lockout, ...
  N <nas id>         a NAS was added, changed or removed (forget source addresses)
  X <nas id> [<event epoch>]
                     Accounting-On/Off: the NAS's sessions last heard of before the event
                     closed (schema 0007; without the time, as 0003 sent it: all of them)
  A <subscriber id> <acct unique id> <nas id> <updated epoch> <stopped 0|1>
    <period start epoch> <input> <output> <time> <MAC>
                     accounting changed a session and (unless the four counters are
                     "- - - -") the period's counters: absolute values, applied in place.
                     The MAC is the rest of the line, '' when the NAS sent none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

CHANNEL = "cloudos_authz"


def _id(text: str) -> int:
    """A row id as the triggers print it: decimal digits only."""
    if not text.isascii() or not text.isdigit():
        raise ValueError(f"not an id: {text!r}")
    return int(text)


@dataclass(frozen=True, slots=True)
class TenantChanged:
    tenant_id: int

    def format(self) -> str:
        return f"T {self.tenant_id}"


@dataclass(frozen=True, slots=True)
class PlanChanged:
    plan_id: int

    def format(self) -> str:
        return f"P {self.plan_id}"


@dataclass(frozen=True, slots=True)
class SubscriberChanged:
    subscriber_id: int

    def format(self) -> str:
        return f"S {self.subscriber_id}"


@dataclass(frozen=True, slots=True)
class NasChanged:
    nas_id: int

    def format(self) -> str:
        return f"N {self.nas_id}"


@dataclass(frozen=True, slots=True)
class NasReset:
    """Accounting-On/Off: the NAS's sessions last heard of before ``at`` are closed (all when None)."""

    nas_id: int
    at: float | None = None  # epoch seconds of the event

    def format(self) -> str:
        return f"X {self.nas_id}" if self.at is None else f"X {self.nas_id} {self.at:.6f}"


@dataclass(frozen=True, slots=True)
class Counters:
    """A period's counters after an accounting packet: absolute values."""

    period_start: int  # epoch seconds
    input_octets: int
    output_octets: int
    session_time: int


@dataclass(frozen=True, slots=True)
class SessionChanged:
    """Accounting changed a session (and, when ``counters`` is set, the period's counters)."""

    subscriber_id: int
    acct_unique_id: str
    nas_id: int
    updated: float  # epoch seconds of its last accounting
    stopped: bool
    counters: Counters | None
    mac: str  # upper case, '' when the NAS sent none

    def format(self) -> str:
        c = self.counters
        counters = "- - - -" if c is None else f"{c.period_start} {c.input_octets} {c.output_octets} {c.session_time}"
        return (f"A {self.subscriber_id} {self.acct_unique_id} {self.nas_id} {self.updated:.6f} "
                f"{int(self.stopped)} {counters} {self.mac}")


Message = TenantChanged | PlanChanged | SubscriberChanged | NasChanged | NasReset | SessionChanged

_BY_ID: dict[str, Callable[[int], Message]] = {"T": TenantChanged, "P": PlanChanged, "S": SubscriberChanged, "N": NasChanged}


def _session(rest: str) -> SessionChanged:
    parts = rest.split(" ", 9)
    if len(parts) != 10:
        raise ValueError("an A message has ten fields")
    sub, uid, nas, updated, stopped, *counters, mac = parts
    if stopped not in ("0", "1"):
        raise ValueError(f"stopped is 0 or 1, not {stopped!r}")
    if not uid:
        raise ValueError("an A message needs an acct unique id")
    if counters == ["-"] * 4:
        parsed = None
    else:
        start, inp, out, secs = (_id(v) for v in counters)
        parsed = Counters(start, inp, out, secs)
    return SessionChanged(_id(sub), uid, _id(nas), float(updated), stopped == "1", parsed, mac)


def parse(text: str) -> Message:
    """The message ``text`` carries; raises ValueError on anything else."""
    kind, _, rest = text.partition(" ")
    if kind == "A":
        return _session(rest)
    if kind == "X":
        nas, _, at = rest.partition(" ")
        return NasReset(_id(nas), float(at) if at else None)
    cls = _BY_ID.get(kind)
    if cls is None:
        raise ValueError(f"unknown cloudos_authz message kind {kind!r}")
    return cls(_id(rest))
