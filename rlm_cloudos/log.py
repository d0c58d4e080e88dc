"""One way to log: ``key=value`` fields through radiusd.radlog, never a secret."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_UNSAFE = re.compile(r"[^\x21-\x7e]|[\"=\\]")
MAX_FIELD = 80


def _escape_char(c: str) -> str:
    n = ord(c)
    if c in '"\\':
        return "\\" + c
    if 0x20 <= n < 0x7F:
        return c
    if n < 0x100:
        return f"\\x{n:02x}"
    # Fixed widths keep escapes unambiguous: "\u1f600" could be U+1F60 then "0".
    return f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"


def escape(text: str) -> str:
    """Printable ASCII only: quotes, backslashes, control and non-ASCII characters escaped."""
    return "".join(_escape_char(c) for c in text)


def sanitize(value: object) -> str:
    """A log-safe rendering of one field: escaped, quoted when needed, truncated."""
    text = str(value)
    if len(text) > MAX_FIELD:
        text = text[:MAX_FIELD] + "…"
    if text and not _UNSAFE.search(text):
        return text
    return f'"{escape(text)}"'


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

    def lines(self, level: str, text: str) -> None:
        """Multi-line text (a traceback), one escaped log line per line, untruncated."""
        try:
            for line in text.rstrip().splitlines():
                self._radlog(self._levels[level], "rlm_cloudos: " + escape(line))
        except Exception:
            pass
