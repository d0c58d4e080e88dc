"""RouterOS rate-limit syntax and data sizes (policy.rates)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rlm_cloudos.policy import RateLimitError, SizeError, parse_rate_limit, parse_size
from rlm_cloudos.policy.rates import format_size, usage_size


@pytest.mark.parametrize(
    "text",
    [
        "2M/8M",  # 2M up (rx), 8M down (tx)
        "512k/2M",
        "512K/2M",
        "2M",  # same rate both ways
        "1.5M/3M",
        "1G/1G",
        "64000/128000",  # plain bits per second
        "2M/8M 4M/16M",  # with burst rate
        "2M/8M 4M/16M 1M/6M",  # with burst threshold
        "2M/8M 4M/16M 1M/6M 10/10",  # with burst time
        "2M/8M 4M/16M 1M/6M 10s/1m",
        "2M/8M 4M/16M 1M/6M 10/10 8",  # with priority
        "2M/8M 4M/16M 1M/6M 10/10 8 512k/2M",  # with limit-at (min rate)
        "64k 256k",
    ],
)
def test_accepts_routeros_rate_limits(text: str) -> None:
    assert parse_rate_limit(text) == text


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("  2M/8M  ", "2M/8M"),
        ("2M/8M   4M/16M", "2M/8M 4M/16M"),
        ("2M/8M\t4M/16M 1M/6M 10/10", "2M/8M 4M/16M 1M/6M 10/10"),
    ],
)
def test_normalises_whitespace(text: str, normalised: str) -> None:
    assert parse_rate_limit(text) == normalised


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "fast",
        "2M/8M/9M",  # three rates in one pair
        "2X/8M",  # unknown unit
        "2M/8M 4M/16M 1M/6M 10/10 9",  # priority is 1..8
        "2M/8M 4M/16M 1M/6M 10/10 0",
        "2M/8M; drop",  # injection into the NAS's configuration
        "2M/8M\ndrop",
        "2M/8M 4M/16M 1M/6M 10/10 8 512k/2M extra",  # more than six fields
        "-2M/8M",
        "2M/",
        "/8M",
        "M/M",
        "2M/8M 4M/16M 1M/6M 10x/10",  # unknown time unit
        "2" * 200,  # longer than any real rate limit
    ],
)
def test_rejects_garbage_and_names_the_input(text: str) -> None:
    with pytest.raises(RateLimitError) as excinfo:
        parse_rate_limit(text)
    assert repr(text)[:60] in str(excinfo.value)
    assert isinstance(excinfo.value, ValueError)


@pytest.mark.parametrize(
    "text",
    [
        "\uff12M/\uff18M",  # full-width digits
        "\u06f2M/\u06f8M",  # Extended Arabic-Indic (Urdu) digits, typed on a Pakistani keyboard
    ],
)
def test_rejects_non_ascii_digits(text: str) -> None:
    # \d matches every Unicode digit; RouterOS reads ASCII only, so these must be refused
    # rather than sent to the NAS as Mikrotik-Rate-Limit.
    with pytest.raises(RateLimitError):
        parse_rate_limit(text)


@given(st.text(max_size=60))
def test_parse_rate_limit_either_returns_ascii_routeros_text_or_raises_rate_limit_error(text: str) -> None:
    try:
        value = parse_rate_limit(text)
    except RateLimitError:
        return
    assert value == " ".join(value.split())
    assert set(value) <= set("0123456789.kKMG/ smh")


# -------------------------------------------------------------------------- sizes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1073741824", 1073741824),
        ("50GB", 50 * 10**9),
        ("50gb", 50 * 10**9),
        ("1.5GiB", int(1.5 * 2**30)),
        ("10 MB", 10 * 10**6),
        ("  10MB  ", 10 * 10**6),
        ("1B", 1),
        ("2KB", 2000),
        ("2KiB", 2048),
        ("3MiB", 3 * 2**20),
        ("1TB", 10**12),
        ("1TiB", 2**40),
        ("0.5KB", 500),
    ],
)
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["0", "0GB", "-1GB", "1.5", "abc", "5XB", "", "GB", "1,5GB", "1e9", "0.0001KB"])
def test_parse_size_rejects_and_names_the_input(text: str) -> None:
    with pytest.raises(SizeError) as excinfo:
        parse_size(text)
    assert repr(text) in str(excinfo.value)


@pytest.mark.parametrize(
    ("n", "text"),
    [(50 * 10**9, "50GB"), (1_500_000, "1.5MB"), (999, "999B"), (10**12, "1TB"), (2000, "2KB"), (1, "1B"),
     # Binary quotas read as they were set (issue 12: a 1.5GiB quota showed as 1610612736B).
     (3 * 2**29, "1.5GiB"), (2**40, "1TiB"), (1024, "1KiB"), (1023, "1023B"), (10**9 + 1, "1000000001B")],
)
def test_format_size_of_round_values(n: int, text: str) -> None:
    assert format_size(n) == text


@pytest.mark.parametrize(
    ("n", "text"),
    [(113_454_184_400, "113.45GB"), (107_374_183_400, "107.37GB"), (3 * 2**29, "1.61GB"), (999, "999B"),
     (1_000, "1KB"), (1_004_999, "1MB"), (1_005_000, "1.01MB"), (10**15, "1000TB")],
)
def test_usage_size_is_short_whatever_the_count(n: int, text: str) -> None:
    assert usage_size(n) == text


@given(st.integers(0, 2**63 - 1))
def test_usage_size_is_within_half_a_hundredth_of_its_unit(n: int) -> None:
    text = usage_size(n)
    assert len(text) <= 12
    if text.endswith("B") and text[-2].isdigit():
        assert int(text[:-1]) == n
    else:
        factor = {"KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}[text[-2:]]
        assert abs(Decimal(text[:-2]) * factor - n) <= Decimal(factor) / 200


@given(st.integers(1, 999), st.sampled_from([1, 10**3, 10**6, 10**9, 10**12]))
def test_format_size_round_trips_round_values(mantissa: int, unit: int) -> None:
    n = mantissa * unit
    text = format_size(n)
    assert parse_size(text) == n
    assert len(text) <= 6  # the short form, not a byte count


@given(st.integers(1, 2**63 - 1))
def test_format_size_round_trips_any_bigint_count(n: int) -> None:
    assert parse_size(format_size(n)) == n


@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal(10**6), places=2), st.sampled_from(["KB", "MB", "GB"]))
def test_parse_size_of_decimal_amounts_is_exact(amount: Decimal, unit: str) -> None:
    factor = {"KB": 10**3, "MB": 10**6, "GB": 10**9}[unit]
    value = amount * factor
    if value != value.to_integral_value():
        with pytest.raises(SizeError):
            parse_size(f"{amount}{unit}")
    else:
        assert parse_size(f"{amount}{unit}") == int(value)
