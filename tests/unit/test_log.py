"""key=value log fields (log.sanitize, log.fields, log.RadLog): safe to grep, impossible to forge."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rlm_cloudos.log import MAX_FIELD, RadLog, fields, sanitize


def parse_line(line: str) -> dict[str, str]:
    """Read back a ``fields()`` line: bare values, or quoted ones with \\" \\\\ \\xNN \\uNNNN \\UNNNNNNNN escapes."""
    out: dict[str, str] = {}
    pos = 0
    token = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)=(?:"((?:[^"\\]|\\.)*)"|([^\s"=\\]+))(?: |$)')
    while pos < len(line):
        m = token.match(line, pos)
        assert m, f"unparseable at {pos}: {line!r}"
        key, quoted, bare = m.groups()
        assert key not in out
        out[key] = bare if quoted is None else unescape(quoted)
        pos = m.end()
    return out


def unescape(text: str) -> str:
    return re.sub(
        r"\\(x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8}|.)",
        lambda m: chr(int(m.group(1)[1:], 16)) if len(m.group(1)) > 1 else m.group(1),
        text,
    )


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        ("ali", "ali"),
        ("ali@isp1", "ali@isp1"),
        ("AA:BB:CC:DD:EE:FF", "AA:BB:CC:DD:EE:FF"),
        (42, "42"),
        ("a b", '"a b"'),
        ("a=b", '"a=b"'),
        ('say "hi"', r'"say \"hi\""'),
        ("back\\slash", r'"back\\slash"'),
        ("", '""'),
    ],
)
def test_sanitize_quotes_and_escapes(value: object, rendered: str) -> None:
    assert sanitize(value) == rendered


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        ("ali\nhook=authorize reason=ok", r'"ali\x0ahook=authorize reason=ok"'),
        ("a\rb", r'"a\x0db"'),
        ("a\x00b", r'"a\x00b"'),
        ("\x1b[31mred", r'"\x1b[31mred"'),
        ("\x7f", r'"\x7f"'),
        ("\x85", r'"\x85"'),  # C1 NEL, a line break to some log viewers
        ("علی", r'"\u0639\u0644\u06cc"'),
        ("café", r'"caf\xe9"'),
        ("\u2028", r'"\u2028"'),  # Unicode line separator
    ],
)
def test_sanitize_escapes_control_and_non_ascii(value: str, rendered: str) -> None:
    assert sanitize(value) == rendered


def test_long_values_are_truncated() -> None:
    out = sanitize("x" * 500)
    assert out == '"' + "x" * MAX_FIELD + '\\u2026"'
    assert sanitize("x" * MAX_FIELD) == "x" * MAX_FIELD  # exactly the limit is kept whole


def test_truncation_happens_before_escaping_so_lines_stay_bounded() -> None:
    out = sanitize("\n" * 1000)
    assert len(out) <= 2 + 6 * (MAX_FIELD + 1)


def test_astral_characters_are_escaped_unambiguously() -> None:
    # Fixed-width escapes: "😀" (U+1F600) and "ὠ0" (U+1F60 then "0") must not log
    # alike, or a User-Name could be made to read as another.
    assert sanitize("\U0001f600") != sanitize("\u1f600")


def test_fields_skips_none_and_keeps_order() -> None:
    line = fields(hook="authorize", tenant="isp1", user="ali", reason="expired", mac=None, detail=None)
    assert line == "hook=authorize tenant=isp1 user=ali reason=expired"


def test_fields_keeps_falsy_values_other_than_none() -> None:
    assert fields(a=0, b="", c=False) == 'a=0 b="" c=False'


def test_fields_of_a_forged_user_name_still_parse_as_one_field() -> None:
    line = fields(hook="authorize", user='ali reason=ok" tenant="other', reason="wrong_password")
    assert parse_line(line) == {
        "hook": "authorize",
        "user": 'ali reason=ok" tenant="other',
        "reason": "wrong_password",
    }


@given(st.text(alphabet=st.characters(max_codepoint=0xFFFF, exclude_categories=["Cs"]), max_size=MAX_FIELD))
def test_sanitize_round_trips_and_is_printable_ascii(value: str) -> None:
    out = sanitize(value)
    assert all(0x20 <= ord(c) < 0x7F for c in out)
    if not out.startswith('"'):
        assert out and not re.search(r'[\s="\\]', out)
    assert parse_line(f"v={out}") == {"v": value}


@given(st.dictionaries(st.from_regex(r"[a-z_]{1,10}", fullmatch=True), st.one_of(st.none(), st.text(), st.integers())))
def test_fields_lines_parse_back_into_their_fields(kv: dict[str, object]) -> None:
    parsed = parse_line(fields(**kv))
    assert set(parsed) == {k for k, v in kv.items() if v is not None}
    for k, v in parsed.items():
        assert len(v) <= MAX_FIELD + 1
        original = str(kv[k])
        if len(original) <= MAX_FIELD:
            assert v == original


# --------------------------------------------------------------------------- RadLog


def test_radlog_writes_one_prefixed_line_at_the_mapped_level() -> None:
    seen: list[tuple[int, str]] = []
    log = RadLog(lambda level, msg: seen.append((level, msg)), {"info": 3, "error": 4})
    log("error", hook="authorize", user="ali", error="RuntimeError")
    assert seen == [(4, "rlm_cloudos: hook=authorize user=ali error=RuntimeError")]


def test_radlog_never_raises() -> None:
    def broken(level: int, msg: str) -> None:
        raise OSError("log socket closed")

    log = RadLog(broken, {"info": 3})
    log("info", hook="x")  # the sink fails
    RadLog(lambda level, msg: None, {})("info", hook="x")  # the level is unknown
