"""One way to log: ``key=value`` fields through radiusd.radlog, never a secret."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_UNSAFE = re.compile(r"[^\x21-\x7e]|[\"=\\]")
MAX_FIELD = 80


def sanitize(value: object) -> str:
    """A log-safe rendering: printable ASCII, escaped, quoted when needed, truncated."""
    text = str(value)
    if len(text) > MAX_FIELD:
        text = text[:MAX_FIELD] + "…"
    if text and not _UNSAFE.search(text):
        return text
    escaped = "".join(
        c if (0x20 <= ord(c) < 0x7F and c not in '"\\') else (f"\\{c}" if c in '"\\' else f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")
        for c in text
    )
    return f'"{escaped}"'


def fields(**kv: Any) -> str:
    """Format ``key=value`` pairs, skipping None."""
    return " ".join(f"{k}={sanitize(v)}" for k, v in kv.items() if v is not None)


class RadLog:
    """Writes through ``radiusd.radlog`` (or any (level, msg) callable) with fixed levels."""

    def __init__(self, radlog: Callable[[int, str], Any], levels: dict[str, int]) -> None:
        self._radlog = radlog
        self._levels = levels

    def __call__(self, level: str, **kv: Any) -> None:
        try:
            self._radlog(self._levels[level], "rlm_cloudos: " + fields(**kv))
        except Exception:  # logging must never take a request down
            pass
