"""RouterOS rate-limit syntax and data sizes (policy.rates)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rlm_cloudos.policy import RateLimitError, SizeError, parse_rate_limit, parse_size
from rlm_cloudos.policy.rates import format_size, rate_bits, usage_size


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


# -------------------------------------------------------------------------- issue 12: units, bounds


@pytest.mark.parametrize("text", ["8m/2m", "8Mbps/2Mbps", "8mb/2mb", "10Mb/s", "1T/1T"])
def test_wrong_units_get_the_routeros_hint(text: str) -> None:
    # Issue 12: `--rate-limit 8m/2m` was refused with no word on which units RouterOS reads.
    with pytest.raises(RateLimitError) as excinfo:
        parse_rate_limit(text)
    assert "RouterOS units are k and M (and G)" in str(excinfo.value)


def test_garbage_gets_no_unit_hint() -> None:
    with pytest.raises(RateLimitError) as excinfo:
        parse_rate_limit("fast")
    assert "units" not in str(excinfo.value)


@pytest.mark.parametrize("text", ["99999999999M/1M", "1M/101G", "2M/8M 4M/200G", "2M/8M 4M/16M 1M/6M 10/10 8 512k/999G",
                                  "100000000001/1M"])
def test_absurd_rates_are_refused_with_the_bound(text: str) -> None:
    # Issue 12: 99999999999M/1M passed.
    with pytest.raises(RateLimitError) as excinfo:
        parse_rate_limit(text)
    assert "100G" in str(excinfo.value)


@pytest.mark.parametrize("text", ["100G/100G", "100000000000/1M", "2M/8M 4M/16M 1M/6M 3600/3600 8 512k/2M"])
def test_rates_up_to_the_bound_pass(text: str) -> None:
    assert parse_rate_limit(text) == text


@pytest.mark.parametrize(("value", "bits"), [("512k", 512_000), ("1.5M", 1_500_000), ("2G", 2 * 10**9), ("64000", 64000)])
def test_rate_bits(value: str, bits: int) -> None:
    assert rate_bits(value) == bits


@pytest.mark.parametrize(("text", "expected"), [("50G", 50 * 10**9), ("50g", 50 * 10**9), ("500M", 500 * 10**6),
                                                ("2K", 2000), ("1T", 10**12), ("1.5G", 1_500_000_000)])
def test_single_letter_units_are_si(text: str, expected: int) -> None:
    # Issue 12: `--quota 50G` was refused; RouterOS and NOCs write it so, meaning 50GB.
    assert parse_size(text) == expected == parse_size(text + ("B" if not text.endswith("B") else ""))


@pytest.mark.parametrize("text", [str(2**63), "9999999999999999999999GB", "10000000T"])
def test_sizes_beyond_bigint_are_refused(text: str) -> None:
    # Issue 12: a huge --quota reached PostgreSQL as "bigint out of range".
    with pytest.raises(SizeError) as excinfo:
        parse_size(text)
    assert repr(text) in str(excinfo.value) and "at most" in str(excinfo.value)


def test_parse_size_takes_a_smaller_bound() -> None:
    assert parse_size("1000TB", most=10**15) == 10**15
    with pytest.raises(SizeError, match="at most 1000TB"):
        parse_size("1001TB", most=10**15)
