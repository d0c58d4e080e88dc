"""The file formats `cloudos subscriber import` reads, each mapped to :class:`~cloudos.bulk.rows.Candidate` rows.

Pure: bytes in, candidates out (no I/O, no clock). A file that cannot be read at all
(not UTF-8, too large, no header, an unknown column) raises :class:`FileError`, one
line naming the line number where there is one; a row that cannot be mapped becomes
a candidate carrying its refusal, so the report names every bad row, not only the first.

``cloudos``
    CSV, UTF-8 (a BOM is allowed), comma separated, a header row naming the columns
    (any order, any subset that includes username and password):
    username,password,plan,expires,mac,static_ip,name,phone,email,address,cnic.
    ``expires`` is the last paid day, YYYY-MM-DD; an empty plan takes ``--plan``.

``daloradius``
    daloRADIUS 2.3's user export (Management > Users > List > CSV, or by group), written by
    app/operators/include/management/fileExport.php (usernameListGeneric / usernameListByGroup)
    with the columns mng-import-users.php reads back:
    username,password,email,firstname,lastname,framedipaddress,expiration,department,company,
    mobilephone,workphone,homephone,address,city,state,country,zip,sessiontimeout,idletimeout,
    maxdailysession. It carries no group, so every row takes ``--plan``. ``expiration`` is
    FreeRADIUS's Expiration, the instant service ends (rlm_expiration rejects when
    Expiration <= now): the last paid day is the day before. ``password`` is the value of the
    user's ``*-Password`` check attribute, or its Auth-Type when it has none: hashed passwords
    (Crypt-, MD5-, SHA-, NT-Password) and MAC/PIN accounts (Auth-Type Accept) cannot be imported.
    Older daloRADIUS (before 2.3) exported ``Id, Fullname, Username, Attribute, Auth``, one line
    per radcheck attribute, unquoted: read too, the user's Cleartext-Password giving the password.

``usermanager``
    RouterOS 7 User Manager, as ``/user-manager export show-sensitive file=…`` writes it: the
    ``add`` lines of ``/user-manager user`` (name, password, group, caller-id, attributes,
    shared-users, comment, disabled, otp-secret) and of ``/user-manager user-profile`` (user,
    profile). The plan is the user's profile (the last one listed), else its group (the built-in
    group ``default`` is no plan), else ``--plan``; caller-id is the bound MAC; the
    Framed-IP-Address attribute is the static IP; the comment is the name.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from cloudos.bulk.rows import Candidate, validate
from cloudos.commands._common import phone_arg

FORMATS = ("cloudos", "daloradius", "usermanager")
#: A file larger than this is refused before it is parsed.
MAX_BYTES = 50 * 1024 * 1024
#: A file with more subscriber rows than this is refused (split it).
MAX_ROWS = 100_000
COLUMNS = ("username", "password", "plan", "expires", "mac", "static_ip", "name", "phone", "email", "address",
           "cnic")
DALORADIUS_COLUMNS = ("username", "password", "email", "firstname", "lastname", "framedipaddress", "expiration",
                      "department", "company", "mobilephone", "workphone", "homephone", "address", "city", "state",
                      "country", "zip", "sessiontimeout", "idletimeout", "maxdailysession")
DALORADIUS_LEGACY = ("id", "fullname", "username", "attribute", "auth")
# A CSV field longer than this is a broken quote, not a value (csv's own default is 128 KiB).
_FIELD_MAX = 64 * 1024


class FileError(ValueError):
    """The file cannot be read in the format asked for; the message is one line."""


@dataclass(frozen=True)
class Parsed:
    """A file's subscriber rows, in file order."""

    format: str
    candidates: tuple[Candidate, ...]


def decode(data: bytes) -> str:
    """The file as text: UTF-8, a leading BOM dropped; FileError naming the line of the first bad byte."""
    if len(data) > MAX_BYTES:
        raise FileError(f"the file is {len(data):,} bytes: at most {MAX_BYTES:,} (50 MB) are imported at once")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise FileError(f"line {line}: not UTF-8 (save the file as UTF-8 CSV)") from None


def parse(data: bytes, fmt: str) -> Parsed:
    """The candidates of a file in format ``fmt`` (one of FORMATS); FileError when it cannot be read."""
    text = decode(data)
    if fmt == "cloudos":
        found = _cloudos(text)
    elif fmt == "daloradius":
        found = _daloradius(text)
    elif fmt == "usermanager":
        found = _usermanager(text)
    else:
        raise FileError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")
    if len(found) > MAX_ROWS:
        raise FileError(f"the file has {len(found):,} subscriber rows: at most {MAX_ROWS:,} are imported at once "
                        "(split it)")
    return Parsed(fmt, tuple(found))


# --------------------------------------------------------------------------- CSV
def _records(text: str, *, skip_initial_space: bool = False) -> Iterator[tuple[int, list[str]]]:
    """(first line number, fields) of each CSV record; blank lines are skipped.
    FileError on a malformed record (an unterminated quote) or more than MAX_ROWS records."""
    limit = csv.field_size_limit(_FIELD_MAX)
    try:
        # newline="": only CR and LF end a line (str.splitlines would split a name at U+2028 too).
        reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=skip_initial_space, strict=True)
        start = 1
        n = 0
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise FileError(f"line {start}: not CSV ({exc})") from None
            if fields:
                n += 1
                if n > MAX_ROWS + 1:
                    raise FileError(f"the file has more than {MAX_ROWS:,} subscriber rows: at most {MAX_ROWS:,} "
                                    "are imported at once (split it)")
                yield start, fields
            start = reader.line_num + 1
    finally:
        csv.field_size_limit(limit)


def _header(line: int, fields: Sequence[str], known: Sequence[str], what: str) -> list[str]:
    names = [f.strip().lower() for f in fields]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise FileError(f"line {line}: unknown column {unknown[0]!r} in the header of a {what} file "
                        f"(columns: {','.join(known)})")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise FileError(f"line {line}: column {repeated[0]!r} appears twice in the header")
    for required in ("username", "password"):
        if required not in names:
            raise FileError(f"line {line}: the header has no {required!r} column (a header row is required: "
                            f"{','.join(known)})")
    return names


def _wrong_width(line: int, fields: Sequence[str], width: int) -> Candidate:
    return Candidate(line=line, username=fields[0].strip() if fields else "", password="",
                     malformed=f"{len(fields)} columns where the header has {width}")


def _cloudos(text: str) -> list[Candidate]:
    records = _records(text)
    first = next(records, None)
    if first is None:
        raise FileError("the file is empty (a header row is required: " + ",".join(COLUMNS) + ")")
    line, fields = first
    lowered = {f.strip().lower() for f in fields}
    if {"firstname", "framedipaddress"} & lowered or {"attribute", "auth"} <= lowered:
        raise FileError(f"line {line}: this is a daloRADIUS export: --format daloradius")
    names = _header(line, fields, COLUMNS, "cloudos")
    out: list[Candidate] = []
    for line, fields in records:
        if len(fields) != len(names):
            out.append(_wrong_width(line, fields, len(names)))
            continue
        v = dict(zip(names, fields))
        t = {k: v.get(k, "").strip() for k in COLUMNS}
        out.append(Candidate(line=line, username=t["username"], password=v["password"], plan=t["plan"],
                             expires=t["expires"], mac=t["mac"], static_ip=t["static_ip"], name=t["name"],
                             phone=t["phone"], email=t["email"], address=t["address"], cnic=t["cnic"]))
    return out


# --------------------------------------------------------------------------- daloRADIUS
_CRYPT = re.compile(r"^(\$(1|2a|2b|2y|5|6|apr1)\$|\{(SHA|SSHA|MD5|SMD5|CRYPT|NT|SSHA256|SSHA512)\})", re.I)
_HEX_HASH = re.compile(r"^([0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$")
_FREERADIUS_DATE = ("%d %b %Y", "%b %d %Y")
#: Password attributes of FreeRADIUS whose value is a hash, not the password.
_HASHED_ATTRIBUTES = frozenset({"crypt-password", "md5-password", "smd5-password", "sha-password", "ssha-password",
                                "sha1-password", "ssha1-password", "sha2-password", "ssha2-224-password",
                                "ssha2-256-password", "ssha2-384-password", "ssha2-512-password",
                                "nt-password", "lm-password", "ns-mta-md5-password", "pbkdf2-password"})
_UNMAPPED = {"department": "CloudOS has no department field", "company": "CloudOS has no company field",
             "sessiontimeout": "session limits come from the plan", "idletimeout": "timeouts come from the plan",
             "maxdailysession": "session limits come from the plan"}


def last_paid_day(expiration: str) -> date:
    """The last paid day of a FreeRADIUS Expiration (YYYY-MM-DD as daloRADIUS 2.3 exports it, or
    FreeRADIUS's own "15 Jan 2027"): the day before, since service ends at its first instant.
    ValueError when it is neither."""
    text = expiration.strip()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        for fmt in _FREERADIUS_DATE:
            try:
                day = datetime.strptime(text, fmt).date()
                break
            except ValueError:
                continue
        else:
            raise ValueError(f"invalid expiration {text!r}: expected YYYY-MM-DD or '15 Jan 2027'") from None
    return day - timedelta(days=1)


def _one_phone(*numbers: str) -> tuple[str, str | None]:
    """The first of a user's numbers that `subscriber add` takes (a mobile, or E.164), and a warning
    naming the numbers left out: a landline like 042-35550000 is no reason to refuse the row."""
    given = list(dict.fromkeys(n for n in numbers if n))
    usable = [n for n in given if validate(phone_arg, n)[1] is None]
    chosen = usable[0] if usable else ""
    left = [n for n in given if n != chosen]
    return chosen, (f"phone number not imported: {', '.join(left)} (CloudOS keeps one mobile or E.164 number)"
                    if left else None)


def _password_refusal(password: str) -> str | None:
    if _CRYPT.match(password):
        return "the password is stored hashed in daloRADIUS: it cannot be recovered (only Cleartext-Password " \
               "accounts can be imported)"
    if password in ("Accept", "Reject"):
        return f"the password {password!r} is daloRADIUS's Auth-Type of a MAC or PIN account, not a password"
    return None


def _daloradius(text: str) -> list[Candidate]:
    records = _records(text, skip_initial_space=True)
    first = next(records, None)
    if first is None:
        raise FileError("the file is empty (a daloRADIUS export starts with its header row)")
    line, fields = first
    names = [f.strip().lower() for f in fields]
    if names == list(DALORADIUS_LEGACY):
        return _daloradius_legacy(records)
    names = _header(line, fields, DALORADIUS_COLUMNS, "daloRADIUS")
    out: list[Candidate] = []
    for line, fields in records:
        if len(fields) != len(names):
            out.append(_wrong_width(line, fields, len(names)))
            continue
        v = {k: "" for k in DALORADIUS_COLUMNS} | {k: x.strip() for k, x in zip(names, fields)}
        password = dict(zip(names, fields))["password"]
        refusals: list[str] = []
        notes: list[str] = []
        why = _password_refusal(password)
        if why:
            refusals.append(why)
        elif _HEX_HASH.match(password):
            notes.append("the password looks like a hash (MD5-, SHA- or NT-Password?): imported as it is")
        expires = ""
        if v["expiration"]:
            try:
                expires = last_paid_day(v["expiration"]).isoformat()
            except (ValueError, OverflowError) as exc:
                refusals.append(str(exc))
        phone, why_not = _one_phone(v["mobilephone"], v["workphone"], v["homephone"])
        if why_not:
            notes.append(why_not)
        notes += [f"{k} {v[k]!r} not imported ({why_not})" for k, why_not in _UNMAPPED.items() if v[k]]
        name = " ".join(p for p in (v["firstname"], v["lastname"]) if p)
        address = ", ".join(p for p in (v["address"], v["city"], v["state"], v["zip"], v["country"]) if p)
        out.append(Candidate(line=line, username=v["username"], password=password, expires=expires,
                             static_ip=v["framedipaddress"], name=name, phone=phone,
                             email=v["email"], address=address, notes=tuple(notes), refusals=tuple(refusals)))
    return out


def _daloradius_legacy(records: Iterator[tuple[int, list[str]]]) -> list[Candidate]:
    """daloRADIUS before 2.3: ``Id, Fullname, Username, Attribute, Auth``, a line per check attribute."""
    users: dict[str, int] = {}  # username -> its index in out
    out: list[Candidate] = []
    for line, fields in records:
        if len(fields) != len(DALORADIUS_LEGACY):
            out.append(_wrong_width(line, fields, len(DALORADIUS_LEGACY)))
            continue
        _, fullname, username, attribute, value = (f.strip() for f in fields)
        if username not in users:
            users[username] = len(out)
            out.append(Candidate(line=line, username=username, password="", name=fullname))
        c = out[users[username]]
        attr = attribute.lower()
        if attr in ("cleartext-password", "user-password"):
            c = replace(c, password=value)
        elif attr in _HASHED_ATTRIBUTES:
            c = replace(c, refusals=(*c.refusals, f"the password is stored as {attribute} in daloRADIUS (a hash): "
                                                  "it cannot be recovered"))
        elif attr == "expiration":
            try:
                c = replace(c, expires=last_paid_day(value).isoformat())
            except (ValueError, OverflowError) as exc:
                c = replace(c, refusals=(*c.refusals, str(exc)))
        elif attr == "auth-type":
            c = replace(c, refusals=(*c.refusals, f"Auth-Type {value} (a MAC or PIN account) has no password"))
        else:
            c = replace(c, notes=(*c.notes, f"attribute {attribute} not imported (line {line})"))
        out[users[username]] = c
    return out


# --------------------------------------------------------------------------- RouterOS User Manager
_ROS_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "_": " ", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}
_HEX2 = re.compile(r"[0-9A-F]{2}")
_USER_KEYS = frozenset({"name", "password", "group", "caller-id", "attributes", "shared-users", "comment", "disabled",
                        "otp-secret"})


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(first line number, line) with RouterOS's backslash-newline continuations joined."""
    start = 0
    parts: list[str] = []
    for n, raw in enumerate(text.split("\n"), 1):
        line = raw.rstrip("\r")
        if parts:
            line = line.lstrip()
        else:
            start = n
        trailing = len(line) - len(line.rstrip("\\"))
        if trailing % 2 == 1:
            parts.append(line[:-1])
            continue
        parts.append(line)
        yield start, "".join(parts)
        parts = []
    if parts:
        yield start, "".join(parts)


def _ros_words(line: str) -> list[str]:
    """The words of one RouterOS command line: ``key=value`` with quoted values unquoted and
    escapes decoded (``\\XX`` is a byte; bytes are UTF-8). ValueError on an unterminated quote or bytes
    that are not UTF-8."""
    words: list[str] = []
    i, n = 0, len(line)
    while i < n:
        if line[i].isspace():
            i += 1
            continue
        buf = bytearray()
        quoted = False
        while i < n and (quoted or not line[i].isspace()):
            ch = line[i]
            if ch == '"':
                quoted = not quoted
                i += 1
            elif ch == "\\" and i + 1 < n:
                if _HEX2.fullmatch(line, i + 1, i + 3):
                    buf.append(int(line[i + 1:i + 3], 16))
                    i += 3
                else:
                    buf += _ROS_ESCAPES.get(line[i + 1], line[i + 1]).encode()
                    i += 2
            else:
                buf += ch.encode()
                i += 1
        if quoted:
            raise ValueError("unterminated quoted value")
        words.append(buf.decode("utf-8"))
    return words


def _ros_commands(text: str) -> Iterator[tuple[int, str, dict[str, str]]]:
    """(line, menu path, properties) of each ``add`` command of the script."""
    menu = ""
    for line, content in _logical_lines(text):
        stripped = content.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            words = _ros_words(stripped)
        except (ValueError, UnicodeDecodeError) as exc:
            raise FileError(f"line {line}: not a RouterOS export line ({exc})") from None
        if words[0].startswith("/"):
            path: list[str] = []
            while words and "=" not in words[0] and words[0] not in ("add", "set", "remove"):
                path += [p for p in words.pop(0).split("/") if p]
            menu = " ".join(path)
        if words and words[0] == "add":
            props = dict(w.split("=", 1) for w in words[1:] if "=" in w)
            yield line, menu, props


def _usermanager(text: str) -> list[Candidate]:
    users: list[tuple[int, dict[str, str]]] = []
    profiles: dict[str, list[str]] = {}
    for line, menu, props in _ros_commands(text):
        if menu == "user-manager user":
            users.append((line, props))
            if len(users) > MAX_ROWS:
                raise FileError(f"the file has more than {MAX_ROWS:,} users: at most {MAX_ROWS:,} are imported "
                                "at once (split it)")
        elif menu == "user-manager user-profile" and props.get("user") and props.get("profile"):
            profiles.setdefault(props["user"], []).append(props["profile"])
    if not users and "/user-manager" not in text:
        raise FileError("no /user-manager user lines: expected the output of /user-manager export show-sensitive")
    return [_um_user(line, props, profiles.get(props.get("name", ""), [])) for line, props in users]


def _um_user(line: int, p: dict[str, str], profiles: list[str]) -> Candidate:
    refusals: list[str] = []
    notes: list[str] = []
    name = p.get("name", "")
    password = p.get("password", "")
    if "password" not in p:
        refusals.append("no password in the export (export with show-sensitive: RouterOS 7 leaves passwords out "
                        "otherwise)")
    unknown = sorted(set(p) - _USER_KEYS)
    if unknown:
        notes.append(f"not imported: {', '.join(unknown)}")
    group = p.get("group", "")
    plan = profiles[-1] if profiles else ("" if group == "default" else group)
    if len(set(profiles)) > 1:
        notes.append(f"several profiles ({', '.join(dict.fromkeys(profiles))}): the last one, {plan}, is the plan")
    mac = ""
    caller_id = p.get("caller-id", "")
    if caller_id == "bind":
        notes.append("caller-id=bind (bind to the first MAC seen) not imported: no MAC is bound")
    elif caller_id:
        mac = caller_id
    static_ip = ""
    for attr in (a for a in p.get("attributes", "").split(",") if a):
        key, _, value = attr.partition(":")
        if key == "Framed-IP-Address":
            static_ip = value
        else:
            notes.append(f"attribute {key} not imported (reply attributes come from the plan)")
    shared = p.get("shared-users", "1")
    if shared != "1":
        notes.append(f"shared-users={shared} not imported (the plan's simultaneous use applies)")
    if p.get("otp-secret"):
        refusals.append("otp-secret: one-time codes appended to the password are not supported")
    suspended = "disabled in User Manager" if p.get("disabled") in ("yes", "true") else None
    return Candidate(line=line, username=name.strip(), password=password, plan=plan, mac=mac, static_ip=static_ip,
                     name=p.get("comment", "").strip(), suspended=suspended, notes=tuple(notes),
                     refusals=tuple(refusals))
