"""RouterOS rate-limit syntax and human data sizes, validated before they reach a NAS."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation, ROUND_HALF_UP

from rlm_cloudos.errors import InvalidValue


class RateLimitError(InvalidValue):
    """The text is not a RouterOS rate limit."""


class SizeError(InvalidValue):
    """The text is not a data size."""


_RATE = r"[0-9]+(?:\.[0-9]+)?[kKMG]?"  # ASCII digits only: RouterOS reads nothing else
_PAIR = rf"{_RATE}(?:/{_RATE})?"
_TIME = r"[0-9]+[smh]?"
# rx/tx [burst-rx/burst-tx [threshold-rx/threshold-tx [time-rx/time-tx [priority [min-rx/min-tx]]]]]
_RATE_LIMIT = re.compile(
    rf"^{_PAIR}(?: {_PAIR}(?: {_PAIR}(?: {_TIME}(?:/{_TIME})?(?: [1-8](?: {_PAIR})?)?)?)?)?$"
)


#: The fastest rate a limit may name, in bits/s. RouterOS reads a rate as bits per second with k, M
#: or G (10³, 10⁶, 10⁹); no subscriber line is faster than 100 Gbit/s (the fastest port RouterOS
#: hardware has), so anything above is a typo, not a plan.
MAX_RATE = 100 * 10**9
_RATE_UNITS = {"": 1, "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9}
_RATE_VALUE = re.compile(r"([0-9]+(?:\.[0-9]+)?)([kKMG]?)")
#: A rate written with units RouterOS does not read (8m, 2mbps, 10Mb/s): worth a hint, not just "invalid".
_WRONG_UNIT = re.compile(r"[0-9](?:[kKmMgGtT]?(?:bps|Bps|bit|b|B)|[mgtT])", re.ASCII)


def rate_bits(value: str) -> int:
    """Bits per second of one RouterOS rate (``512k`` → 512000, ``1.5M`` → 1500000)."""
    m = _RATE_VALUE.fullmatch(value)
    if m is None:
        raise RateLimitError(f"invalid rate {value!r}")
    return int(Decimal(m.group(1)) * _RATE_UNITS[m.group(2)])


def parse_rate_limit(text: str) -> str:
    """Return the normalised RouterOS ``Mikrotik-Rate-Limit`` value; raises RateLimitError (with a
    hint on RouterOS's units for ``8m/2m`` or ``8Mbps``, and the bound for a rate above MAX_RATE).

    rx is the subscriber's upload and tx their download: "8M down, 2M up" is ``2M/8M``.
    """
    value = " ".join(text.split())
    if not value or len(value) > 128 or not _RATE_LIMIT.match(value):
        hint = ("; RouterOS units are k and M (and G), e.g. 8M/2M"
                if _WRONG_UNIT.search(value) and len(value) <= 128 else "")
        raise RateLimitError(
            f"invalid rate limit {text!r}: expected RouterOS syntax like '2M/8M' "
            f"or '2M/8M 4M/16M 1M/6M 10/10 8 512k/2M'{hint}"
        )
    # Rates are the pairs (rx/tx) of every field but the burst time and the priority.
    fields = value.split(" ")
    rates = [r for i, f in enumerate(fields) if i not in (3, 4) for r in f.split("/")]
    for r in rates:
        if rate_bits(r) > MAX_RATE:
            raise RateLimitError(f"invalid rate limit {text!r}: {r} is above 100G, the fastest rate a plan may give")
    return value


_UNITS = {
    "": 1,
    "B": 1,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
    "KIB": 2**10,
    "MIB": 2**20,
    "GIB": 2**30,
    "TIB": 2**40,
}
#: K, M, G and T alone mean KB, MB, GB and TB (SI): RouterOS and most NOCs write a quota as 50G.
_UNITS.update({"K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12})
#: The most a size may be: PostgreSQL's bigint, where sizes are stored.
MAX_BIGINT = 2**63 - 1
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*$")


def parse_size(text: str, *, most: int = MAX_BIGINT) -> int:
    """Bytes in ``text`` (``1073741824``, ``50GB`` = ``50G`` = 50×10⁹, ``1.5GiB`` = 1.5×2³⁰), at most
    ``most``; raises SizeError naming the input and, for one too large, the bound."""
    m = _SIZE.match(text)
    unit = m.group(2).upper() if m else ""
    if not m or unit not in _UNITS:
        raise SizeError(f"invalid size {text!r}: expected bytes or a number with B, KB (K), MB (M), GB (G), "
                        "TB (T), KiB, MiB, GiB or TiB")
    try:
        value = Decimal(m.group(1)) * _UNITS[unit]
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only decimals
        raise SizeError(f"invalid size {text!r}") from exc
    if value != value.to_integral_value():
        raise SizeError(f"invalid size {text!r}: not a whole number of bytes")
    if value <= 0:
        raise SizeError(f"invalid size {text!r}: must be positive")
    if value > most:
        raise SizeError(f"invalid size {text!r}: at most {format_size(most)}")
    return int(value)


_SI = (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("KB", 10**3))
_IEC = (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10))


def _exact(n: int, units: tuple[tuple[str, int], ...]) -> str | None:
    """``n`` in the largest of ``units`` it reaches, if that takes at most two decimals."""
    for unit, factor in units:
        if n >= factor:
            q = Decimal(n) / factor
            return f"{q.normalize():f}{unit}" if q == q.quantize(Decimal("0.01")) else None
    return None


def format_size(n: int) -> str:
    """A byte count exactly, as short as parse_size reads it back: SI units (``50GB``), else binary
    (``1.5GiB``), else bytes. For sizes that are set (a plan's quota), where exactness matters."""
    return _exact(n, _SI) or _exact(n, _IEC) or f"{n}B"


def usage_size(n: int) -> str:
    """A byte count as a NOC reads a counter: SI units, two decimals at most (``113.45GB``), so a
    counter is readable whatever its value. Rounded: for usage, never for a size to set."""
    for unit, factor in _SI:
        if n >= factor:
            q = (Decimal(n) / factor).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            return f"{q.normalize():f}{unit}"
    return f"{n}B"
