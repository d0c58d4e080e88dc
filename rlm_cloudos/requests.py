"""The typed requests radiusd's packets become: neutral values that the adapter
(radattrs parses into them) and the store (which applies them) both use.

The store never imports the adapter; both import this module.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

ACCT_STATUSES = frozenset({"Start", "Stop", "Interim-Update", "Alive", "Accounting-On", "Accounting-Off"})

_MAC = re.compile(r"^([0-9A-Fa-f]{2})[:-]?([0-9A-Fa-f]{2})[:.-]?([0-9A-Fa-f]{2})[:-]?([0-9A-Fa-f]{2})[:.-]?"
                  r"([0-9A-Fa-f]{2})[:-]?([0-9A-Fa-f]{2})$")


@dataclass(frozen=True, slots=True)
class AccessRequest:
    """An Access-Request as authorize reads it: User-Name, the NAS's source address, the method."""

    user_name: str
    nas_address: str
    auth_method: str
    calling_station_id: str | None
    nas_identifier: str | None = None
    nas_port_id: str | None = None
    nas_port_type: str | None = None
    framed_ip: str | None = None


@dataclass(frozen=True, slots=True)
class AcctRequest:
    """An Accounting-Request: counters in true bytes (Gigawords folded in)."""

    status: str
    user_name: str
    nas_address: str
    acct_unique_id: str
    acct_session_id: str
    input_octets: int
    output_octets: int
    session_time: int
    delay: int
    framed_ip: str | None = None
    calling_station_id: str | None = None
    nas_port_id: str | None = None
    terminate_cause: str | None = None


def normalize_mac(text: str | None) -> str | None:
    """``AA:BB:CC:DD:EE:FF`` from any common MAC spelling, or None if it is not a MAC."""
    return _mac(text) if text else None


# Memoised: the same subscribers' MACs and the same few NAS addresses come back on
# every login, and parsing them is a measurable share of authorize's time under the GIL.
@functools.lru_cache(maxsize=65536)
def _mac(text: str) -> str | None:
    m = _MAC.match(text.strip())
    return ":".join(m.groups()).upper() if m else None
