"""The rlm_python3 adapter (module.py) against the radiusd double and a fake runtime.

The hooks are called the way rlm_python3 calls them with ``pass_all_vps_dict =
yes``: one dict of attribute-pair tuples. The database and the auth log are
fakes; the key ring is real.
"""

from __future__ import annotations

import base64
import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import pytest
import radiusd
from freezegun import freeze_time
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rlm_cloudos import module
from rlm_cloudos.config import ModuleSettings
from rlm_cloudos.crypto import KeyRing
from rlm_cloudos.errors import BackendUnavailable, StatementRefused
from rlm_cloudos.policy import Plan, Subscriber, SubscriberStatus, Tenant, WalledGarden, expires_at_for_date
from rlm_cloudos.policy.types import REPLY_MESSAGES, Reason
from rlm_cloudos.radattrs import Update
from rlm_cloudos.requests import AcctRequest
from rlm_cloudos.store.authz import AuthzCache, AuthzFeed
from rlm_cloudos.store.clients import LogLimiter, NegativeCache
from rlm_cloudos.store.journal import AccountingJournal
from rlm_cloudos.store.journal_files import backlog
from rlm_cloudos.store.journal_record import decode
from rlm_cloudos.store.auth_log import AuthLogEntry, AuthLogWriter
from rlm_cloudos.store.pg import AcctResult, Database, NasRecord
from rlm_cloudos.store.live import Live
from rlm_cloudos.store.rows import AccessContext
from tests.unit.attributes import CONTROL_ATTRIBUTES, REQUEST_ATTRIBUTES

UTC = timezone.utc
PASSWORD = "Pa55-w0rd!subscriber"
NAS_SECRET = "nas-Shared-Secret-8472"
DB_PASSWORD = "db-Pa55word-3391"

T = TypeVar("T")

TENANT = Tenant(id=7, slug="isp1", interim_interval=300)
GARDEN = WalledGarden(address_list="cloudos-expired", rate_limit="256k/256k")
PLAN = Plan(id=10, name="home-8M", rate_limit="2M/8M", address_list="home", ip_pool="pool-home")
SUB = Subscriber(id=42, username="ali", status=SubscriberStatus.ACTIVE, plan=PLAN)

PAP_REQUEST = (
    ("User-Name", "ali"),
    ("User-Password", PASSWORD),
    ("NAS-Port-Type", "Ethernet"),
    ("NAS-Port-Id", "ether2"),
    ("Calling-Station-Id", "aa-bb-cc-dd-ee-ff"),
    ("CloudOS-NAS-Address", "127.0.0.1"),
)

ACCT_REQUEST = (
    ("Acct-Status-Type", "Interim-Update"),
    ("User-Name", "ali"),
    ("Acct-Session-Id", "81e00005"),
    ("Acct-Unique-Session-Id", "5d41402abc4b2a76b9719d911017c592"),
    ("Acct-Input-Octets", "5"),
    ("Acct-Input-Gigawords", "1"),
    ("Acct-Output-Octets", "2000"),
    ("Acct-Session-Time", "300"),
    ("CloudOS-NAS-Address", "127.0.0.1"),
)


# ----------------------------------------------------------------------------- fakes


@dataclass
class FakeDb(Database):
    """Answers the three hot-path calls with canned values, or raises what it is given (a Database,
    so mypy holds its methods to the real signatures; its own fields replace the pool)."""

    context: AccessContext | None | BaseException = None
    nas: NasRecord | None | BaseException = None
    acct: AcctResult | BaseException = AcctResult("ok", 7, 42, 5, 2000, 300)
    calls: list[tuple[str, Any]] = field(default_factory=list)
    closed: bool = False

    def close(self) -> None:
        self.closed = True

    @staticmethod
    def _answer(value: T | BaseException) -> T:
        if isinstance(value, BaseException):
            raise value
        return value

    def access_context(self, nas_address: str, username: str, now: datetime) -> AccessContext | None:
        self.calls.append(("access_context", (nas_address, username)))
        return self._answer(self.context)

    def lookup_nas(self, nas_address: str) -> NasRecord | None:
        self.calls.append(("lookup_nas", nas_address))
        return self._answer(self.nas)

    def account(self, req: AcctRequest) -> AcctResult:
        self.calls.append(("account", req))
        return self._answer(self.acct)

    def account_journal(self, lines: list[bytes], now: float) -> list[tuple[int, str, str | None]]:
        rows = []
        for n, line in enumerate(lines, 1):
            res = self.account(decode(line, now))
            if res.result != "ok" or res.feed:
                rows.append((n, res.result, res.feed))
        return rows

    def journal_status(self, node: str, caught_up: float, now: float) -> None:
        pass  # how far the journal is applied: not what these tests look at

    def journal_closed(self, node: str) -> None:
        pass


@dataclass
class FakeAuthLog(AuthLogWriter):
    """Records what the hooks log (an AuthLogWriter, so its methods keep the real signatures)."""

    entries: list[AuthLogEntry] = field(default_factory=list)
    #: Accepts authorize held back (AuthLogWriter.hold), by CloudOS-Log-Id.
    held: dict[int, AuthLogEntry] = field(default_factory=dict)
    #: Accepts already written (their hold ran out).
    written: dict[int, AuthLogEntry] = field(default_factory=dict)
    fail: BaseException | None = None
    closed: bool = False

    def close(self, timeout: float = 3.0) -> None:
        self.closed = True

    def add(self, entry: AuthLogEntry) -> None:
        if self.fail is not None:
            raise self.fail
        self.entries.append(entry)

    def hold(self, entry: AuthLogEntry) -> int:
        if self.fail is not None:
            raise self.fail
        self.held[len(self.held) + 1000] = entry
        return len(self.held) + 999

    def refuse(self, log_id: int, reason: str) -> tuple[AuthLogEntry, bool] | None:
        if self.fail is not None:
            raise self.fail
        entry = self.held.pop(log_id, None)
        late = entry is None
        if entry is None:
            entry = self.written.pop(log_id, None)
            if entry is None:
                return None
        self.entries.append(entry._replace(outcome="reject", reason=reason, walled_garden=False))
        return entry, late


class FakeRuntime(module.Runtime):
    """The module's own Runtime (so it keeps up with its fields) over a fake database and auth log."""

    db: FakeDb
    auth_log: FakeAuthLog

    def context(
        self, sub: Subscriber | None = SUB, tenant: Tenant = TENANT, password: str | None = PASSWORD
    ) -> AccessContext:
        """An AccessContext as the store builds it, with the password sealed under this ring."""
        sealed = (None if sub is None or password is None
                  else self.keyring.seal_password(password, tenant.id, sub.username))
        return AccessContext(nas_id=3, nas_name="gw-lahore-1", tenant=tenant, subscriber=sub, password_enc=sealed)


def make_runtime(keyring_path: Path, keyring: KeyRing | None = None) -> FakeRuntime:
    """A runtime over a real key ring at ``keyring_path`` (created unless given) and fresh fakes."""
    keyring = keyring or KeyRing.create(keyring_path)
    rt = FakeRuntime(
        settings=ModuleSettings(
            database_url=f"postgresql://cloudos:{DB_PASSWORD}@127.0.0.1:5432/cloudos", keyring=str(keyring_path)
        ),
        keyring=keyring,
        db=FakeDb(),
        auth_log=FakeAuthLog(),
        live=Live("", lambda *a, **k: None),  # no Redis: every call is neutral
    )
    rt.db.context = rt.context()
    rt.db.nas = NasRecord(3, "gw-lahore-1", "isp1", keyring.encrypt(NAS_SECRET, "nas.secret"))
    return rt


@contextlib.contextmanager
def installed(rt: Any) -> Iterator[Any]:
    """Make ``rt`` the module's runtime and start a clean radiusd log; restore both afterwards."""
    saved_runtime, saved_config = module._runtime, radiusd.config
    saved_messages = list(radiusd.messages)
    module._runtime = rt
    radiusd.messages.clear()
    try:
        yield rt
    finally:
        module._runtime = saved_runtime
        radiusd.config = saved_config
        radiusd.messages[:] = saved_messages


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[FakeRuntime]:
    with installed(make_runtime(tmp_path / "keyring.json")) as runtime:
        yield runtime


# --------------------------------------------------------------------------- helpers


def call(request: Any = PAP_REQUEST, config: Any = (), reply: Any = ()) -> dict[str, Any]:
    """The argument rlm_python3 passes with pass_all_vps_dict = yes."""
    return {"request": request, "reply": reply, "config": config, "session-state": ()}


def with_attr(pairs: tuple[tuple[str, str], ...], name: str, value: str | None) -> tuple[tuple[str, str], ...]:
    kept = tuple(p for p in pairs if p[0] != name)
    return kept if value is None else kept + ((name, value),)


def assert_rlm_python3_shape(result: Any) -> None:
    """What rlm_python3's do_python_single accepts: an int, or (int, dict of tuples of string tuples)."""
    if type(result) is int:
        assert 0 <= result < radiusd.RLM_MODULE_NUMCODES
        return
    assert type(result) is tuple and len(result) == 2, result
    rcode, update = updated(result)
    assert type(rcode) is int and 0 <= rcode < radiusd.RLM_MODULE_NUMCODES
    assert type(update) is dict
    assert set(update) <= {"request", "reply", "config", "session-state"}
    for pairs in update.values():
        assert type(pairs) is tuple
        for pair in pairs:
            assert type(pair) is tuple and len(pair) in (2, 3), pair
            assert all(type(x) is str for x in pair), pair
            if len(pair) == 3:
                assert pair[1] in (":=", "=", "+=", "-=", "==", "!=", "^=")


def updated(result: module.Result) -> tuple[int, Update]:
    """A hook's ``(rcode, update)`` answer; fails the test when it answered a bare rcode."""
    assert isinstance(result, tuple), result
    return result


def triples(update: dict[str, Any], section: str) -> dict[str, str]:
    """Attribute → value of one section of an update dict (each attribute at most once)."""
    pairs = update.get(section, ())
    names = [p[0] for p in pairs]
    assert len(names) == len(set(names)), pairs
    return {p[0]: p[-1] for p in pairs}


def messages(level: int | None = None) -> list[str]:
    return [m for lvl, m in radiusd.messages if level is None or lvl == level]


def non_debug() -> list[tuple[int, str]]:
    return [(lvl, m) for lvl, m in radiusd.messages if lvl < radiusd.L_DBG]


def as_request_config(update: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The control list radiusd would hold after applying an authorize update (operators dropped)."""
    return tuple((a, v) for a, _, v in update.get("config", ()))


def assert_no_secret_logged(rt: FakeRuntime) -> None:
    secrets = [PASSWORD, NAS_SECRET, DB_PASSWORD]
    for key in rt.keyring.keys.values():
        secrets += [base64.b64encode(key).decode(), key.hex()]
    for _, msg in radiusd.messages:
        for secret in secrets:
            assert secret not in msg, msg


# ------------------------------------------------------------------------- authorize


def test_authorize_accept_hands_the_password_to_pap(rt: FakeRuntime) -> None:
    result = module.authorize(call())
    assert_rlm_python3_shape(result)
    rcode, update = updated(result)
    assert rcode == radiusd.RLM_MODULE_UPDATED
    assert rt.db.calls == [("access_context", ("127.0.0.1", "ali"))]
    assert triples(update, "config") == {
        "Cleartext-Password": PASSWORD,
        "CloudOS-Log-Id": "1000",
    }
    reply = triples(update, "reply")
    assert reply["Mikrotik-Rate-Limit"] == "2M/8M"
    assert reply["Mikrotik-Address-List"] == "home"
    assert reply["Framed-Pool"] == "pool-home"
    assert 300 <= int(reply["Acct-Interim-Interval"]) <= 330
    assert "Reply-Message" not in reply and "Session-Timeout" not in reply
    assert all(op == ":=" for _, op, _ in update["reply"] + update["config"])
    assert_no_secret_logged(rt)


def test_authorize_also_takes_the_bare_request_tuple(rt: FakeRuntime) -> None:
    # Without pass_all_vps_dict rlm_python3 passes the request list alone.
    rcode, update = updated(module.authorize(PAP_REQUEST))
    assert rcode == radiusd.RLM_MODULE_UPDATED
    assert triples(update, "config")["Cleartext-Password"] == PASSWORD


@pytest.mark.parametrize(
    "credential",
    [("CHAP-Password", "0x01" + "ab" * 16), ("MS-CHAP2-Response", "0x" + "cd" * 50)],
)
def test_authorize_accept_for_chap_and_mschapv2(rt: FakeRuntime, credential: tuple[str, str]) -> None:
    request = with_attr(PAP_REQUEST, "User-Password", None) + (credential,)
    rcode, update = updated(module.authorize(call(request)))
    assert rcode == radiusd.RLM_MODULE_UPDATED
    assert triples(update, "config")["Cleartext-Password"] == PASSWORD


def test_authorize_walled_garden_accept(rt: FakeRuntime) -> None:
    rt.db.context = rt.context(
        replace(SUB, status=SubscriberStatus.SUSPENDED), tenant=replace(TENANT, walled_garden=GARDEN)
    )
    rcode, update = updated(module.authorize(call()))
    assert rcode == radiusd.RLM_MODULE_UPDATED
    assert triples(update, "config")["Cleartext-Password"] == PASSWORD
    (held,) = rt.auth_log.held.values()
    assert (held.outcome, held.reason, held.walled_garden) == ("accept", "suspended", True)
    reply = triples(update, "reply")
    assert (reply["Mikrotik-Rate-Limit"], reply["Mikrotik-Address-List"]) == ("256k/256k", "cloudos-expired")


def test_authorize_session_timeout_follows_the_clock(rt: FakeRuntime) -> None:
    # module._now() is the one place that reads the clock.
    expires = expires_at_for_date(date(2026, 11, 30), "Asia/Karachi")
    rt.db.context = rt.context(replace(SUB, expires_at=expires))
    with freeze_time("2026-11-30 18:59:59"):
        rcode, update = updated(module.authorize(call()))
    assert rcode == radiusd.RLM_MODULE_UPDATED
    assert triples(update, "reply")["Session-Timeout"] == "1"
    with freeze_time("2026-11-30 19:00:00"):
        rcode, update = updated(module.authorize(call()))
    assert rcode == radiusd.RLM_MODULE_REJECT
    assert triples(update, "config")["CloudOS-Reason"] == "expired"


PAST = datetime(2020, 1, 1, tzinfo=UTC)

DECISION_REJECTS = [
    pytest.param(None, TENANT, Reason.UNKNOWN_USER, id="unknown_user"),
    pytest.param(replace(SUB, status=SubscriberStatus.TERMINATED), TENANT, Reason.TERMINATED, id="terminated"),
    pytest.param(replace(SUB, plan=None), TENANT, Reason.NO_PLAN, id="no_plan"),
    pytest.param(replace(SUB, status=SubscriberStatus.SUSPENDED), TENANT, Reason.SUSPENDED, id="suspended"),
    pytest.param(replace(SUB, expires_at=PAST), TENANT, Reason.EXPIRED, id="expired"),
    pytest.param(replace(SUB, mac="11:22:33:44:55:66"), TENANT, Reason.MAC_MISMATCH, id="mac_mismatch"),
    pytest.param(
        replace(SUB, expires_at=PAST, mac="11:22:33:44:55:66"),
        replace(TENANT, walled_garden=GARDEN),
        Reason.MAC_MISMATCH,
        id="mac_mismatch_in_walled_garden",
    ),
]


@pytest.mark.parametrize(("sub", "tenant", "reason"), DECISION_REJECTS)
def test_authorize_policy_rejects(rt: FakeRuntime, sub: Subscriber | None, tenant: Tenant, reason: Reason) -> None:
    rt.db.context = rt.context(sub, tenant)
    result = module.authorize(call())
    assert_rlm_python3_shape(result)
    rcode, update = updated(result)
    assert rcode == radiusd.RLM_MODULE_REJECT
    assert update["reply"] == (("Reply-Message", ":=", REPLY_MESSAGES[reason]),)
    config = triples(update, "config")
    assert config["CloudOS-Decision"] == "reject"
    assert config["CloudOS-Reason"] == reason.value
    assert config["CloudOS-Tenant-Id"] == "7"
    assert "Cleartext-Password" not in config
    assert ("CloudOS-Subscriber-Id" in config) == (sub is not None)
    assert update["request"] == (("Module-Failure-Message", "+=", f"cloudos: {reason.value}"),)
    # One auth-level line that says why.
    lines = messages(radiusd.L_AUTH)
    assert len(lines) == 1 and f"reason={reason.value}" in lines[0] and "user=ali" in lines[0]
    assert_no_secret_logged(rt)


@pytest.mark.parametrize(
    ("request_pairs", "why"),
    [
        pytest.param(with_attr(PAP_REQUEST, "User-Name", None), "User-Name missing", id="no-user-name"),
        pytest.param(with_attr(PAP_REQUEST, "User-Name", "ali\nx"), "User-Name contains control", id="ctl-user"),
        pytest.param(with_attr(PAP_REQUEST, "CloudOS-NAS-Address", None), "CloudOS-NAS-Address", id="no-nas-addr"),
        pytest.param(with_attr(PAP_REQUEST, "User-Password", None), "User-Password", id="no-credentials"),
        pytest.param(None, "User-Name missing", id="no-request"),
    ],
)
def test_authorize_bad_request(rt: FakeRuntime, request_pairs: Any, why: str) -> None:
    rcode, update = updated(module.authorize(call(request_pairs)))
    assert rcode == radiusd.RLM_MODULE_REJECT
    assert update["reply"] == (("Reply-Message", ":=", "malformed request"),)
    assert update["config"] == (("CloudOS-Reason", ":=", "bad_request"),)
    (mfm,) = update["request"]
    assert mfm[:2] == ("Module-Failure-Message", "+=") and mfm[2].startswith(f"cloudos: {why}")
    assert rt.db.calls == []  # nothing to ask the database
    assert any("reason=bad_request" in m for m in messages(radiusd.L_AUTH))


def test_authorize_unknown_nas(rt: FakeRuntime) -> None:
    rt.db.context = None
    rcode, update = updated(module.authorize(call()))
    assert rcode == radiusd.RLM_MODULE_REJECT
    assert update["reply"] == (("Reply-Message", ":=", "unknown NAS"),)
    assert update["config"] == (("CloudOS-Reason", ":=", "unknown_nas"),)
    assert update["request"] == (("Module-Failure-Message", "+=", "cloudos: unknown_nas"),)


def test_authorize_backend_unavailable(rt: FakeRuntime) -> None:
    rt.db.context = BackendUnavailable("no PostgreSQL connection within the connect timeout")
    result = module.authorize(call())
    assert_rlm_python3_shape(result)
    rcode, update = updated(result)
    assert rcode == radiusd.RLM_MODULE_REJECT
    assert update["reply"] == (("Reply-Message", ":=", "service temporarily unavailable"),)
    assert update["config"] == (("CloudOS-Reason", ":=", "backend_unavailable"),)
    errors = messages(radiusd.L_ERR)
    assert len(errors) == 1
    assert "hook=authorize" in errors[0] and "user=ali" in errors[0]
    assert "reason=backend_unavailable" in errors[0] and "connect timeout" in errors[0]
    assert_no_secret_logged(rt)


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError(f"connection to postgresql://cloudos:{DB_PASSWORD}@10.0.0.5/cloudos failed"),
        KeyError("tenant"),
        ZeroDivisionError(),
        AssertionError(),
    ],
)
def test_authorize_guard_turns_any_exception_into_internal_error(rt: FakeRuntime, error: Exception) -> None:
    rt.db.context = error
    result = module.authorize(call())  # never raises
    assert_rlm_python3_shape(result)
    rcode, update = updated(result)
    assert rcode == radiusd.RLM_MODULE_REJECT
    assert update["reply"] == (("Reply-Message", ":=", "service temporarily unavailable"),)
    assert update["config"] == (("CloudOS-Reason", ":=", "internal_error"),)
    lines = non_debug()
    assert len(lines) == 1, lines
    level, line = lines[0]
    assert level == radiusd.L_ERR
    assert f"error={type(error).__name__}" in line
    assert "hook=authorize" in line and "user=ali" in line
    # A foreign exception's text (which may hold a DSN) stays out of the error line.
    assert DB_PASSWORD not in line and "detail=" not in line


def test_guard_debug_traceback_shows_where_it_failed(rt: FakeRuntime) -> None:
    # STYLE.md: the traceback at debug level, whole: it must name the frame that
    # raised and the exception, not be cut to one field's length.
    rt.db.context = RuntimeError("boom")
    module.authorize(call())
    debug = "\n".join(messages(radiusd.L_DBG))
    assert "access_context" in debug and "RuntimeError" in debug


def test_authorize_undecryptable_password_is_an_internal_error(rt: FakeRuntime) -> None:
    other = KeyRing(active="k0", keys={"k0": b"\x07" * 32})
    rt.db.context = replace(rt.context(), password_enc=other.seal_password(PASSWORD, TENANT.id, SUB.username))
    rcode, update = updated(module.authorize(call()))
    assert rcode == radiusd.RLM_MODULE_REJECT
    assert triples(update, "config") == {"CloudOS-Reason": "internal_error"}
    errors = messages(radiusd.L_ERR)
    assert len(errors) == 1 and "undecryptable_password" in errors[0] and "'k0'" in errors[0]
    assert_no_secret_logged(rt)


def test_authorize_accepted_subscriber_without_a_password_is_an_internal_error(rt: FakeRuntime) -> None:
    rt.db.context = rt.context(password=None)
    rcode, update = updated(module.authorize(call()))  # never raises
    assert rcode == radiusd.RLM_MODULE_REJECT
    assert triples(update, "config")["CloudOS-Reason"] == "internal_error"
    assert "Cleartext-Password" not in triples(update, "config")


def test_authorize_password_sealed_for_another_subscriber_is_refused(rt: FakeRuntime) -> None:
    for sealed in (rt.keyring.seal_password(PASSWORD, TENANT.id, SUB.username + "x"),
                   rt.keyring.seal_password(PASSWORD, TENANT.id + 1, SUB.username),
                   rt.keyring.encrypt(PASSWORD, "subscriber.password")):  # the unbound c1 format
        rt.db.context = replace(rt.context(), password_enc=sealed)
        rcode, update = updated(module.authorize(call()))
        assert rcode == radiusd.RLM_MODULE_REJECT
        assert triples(update, "config") == {"CloudOS-Reason": "internal_error"}
    assert_no_secret_logged(rt)


def test_authorize_password_sealed_for_another_purpose_is_refused(rt: FakeRuntime) -> None:
    rt.db.context = replace(rt.context(), password_enc=rt.keyring.encrypt(PASSWORD, "nas.secret"))
    rcode, update = updated(module.authorize(call()))
    assert rcode == radiusd.RLM_MODULE_REJECT
    assert "Cleartext-Password" not in triples(update, "config")


# ------------------------------------------------------------------------- post_auth


def tags(reason: str, decision: str = "accept", subscriber: str | None = "42") -> tuple[tuple[str, str], ...]:
    base = (
        ("CloudOS-Decision", decision),
        ("CloudOS-Reason", reason),
        ("CloudOS-Tenant", "isp1"),
        ("CloudOS-Tenant-Id", "7"),
        ("CloudOS-NAS-Id", "3"),
    )
    return base + ((("CloudOS-Subscriber-Id", subscriber),) if subscriber else ())


def test_post_auth_reject_after_accept_is_a_wrong_password(rt: FakeRuntime) -> None:
    with freeze_time("2026-11-30 12:00:00"):
        _, update = updated(module.authorize(call()))
        config = (*as_request_config(update), ("Post-Auth-Type", "Reject"))
        result = module.post_auth(call(config=config))
    assert_rlm_python3_shape(result)
    rcode, update = updated(result)
    assert rcode == radiusd.RLM_MODULE_UPDATED
    assert update["reply"] == (("Reply-Message", ":=", "wrong password"),)
    assert update["request"] == (("Module-Failure-Message", "+=", "cloudos: wrong_password"),)
    assert rt.auth_log.entries == [
        AuthLogEntry(
            at=datetime(2026, 11, 30, 12, 0, tzinfo=UTC),
            tenant_id=7,
            nas_id=3,
            subscriber_id=42,
            username="ali",
            outcome="reject",
            reason="wrong_password",
            auth_method="pap",
            calling_station_id="AA:BB:CC:DD:EE:FF",
            nas_port_id="ether2",
            nas_port_type="Ethernet",
            framed_ip=None,
            walled_garden=False,
        )
    ]
    lines = messages(radiusd.L_AUTH)
    assert len(lines) == 1 and "reason=wrong_password" in lines[0] and "method=pap" in lines[0]
    assert_no_secret_logged(rt)


def test_authorize_accept_holds_an_accept_entry_and_post_auth_is_not_needed(rt: FakeRuntime) -> None:
    _, update = updated(module.authorize(call()))
    log_id = int(triples(update, "config")["CloudOS-Log-Id"])
    entry = rt.auth_log.held[log_id]
    assert (entry.outcome, entry.reason, entry.walled_garden) == ("accept", "ok", False)
    assert (entry.tenant_id, entry.nas_id, entry.subscriber_id, entry.username) == (7, 3, 42, "ali")
    assert (entry.auth_method, entry.calling_station_id, entry.nas_port_id) == ("pap", "AA:BB:CC:DD:EE:FF", "ether2")
    assert entry.at.tzinfo is not None and abs(entry.at - datetime.now(UTC)) < timedelta(minutes=1)
    assert rt.auth_log.entries == []
    # Post-Auth-Type accept: raddb does not call post_auth, and if it did, nothing changes.
    assert module.post_auth(call(config=as_request_config(update))) == radiusd.RLM_MODULE_NOOP
    assert rt.auth_log.entries == [] and rt.auth_log.held == {log_id: entry}


def test_authorize_walled_garden_accept_is_held_as_such(rt: FakeRuntime) -> None:
    rt.db.context = rt.context(replace(SUB, expires_at=PAST), replace(TENANT, walled_garden=GARDEN))
    _, update = updated(module.authorize(call()))
    (entry,) = rt.auth_log.held.values()
    assert (entry.outcome, entry.reason, entry.walled_garden) == ("accept", "expired", True)


def test_post_auth_turns_the_held_accept_into_a_wrong_password(rt: FakeRuntime) -> None:
    _, update = updated(module.authorize(call()))
    config = (*as_request_config(update), ("Post-Auth-Type", "Reject"))
    rcode, reply = updated(module.post_auth(call(config=config)))
    assert rcode == radiusd.RLM_MODULE_UPDATED and reply["reply"] == (("Reply-Message", ":=", "wrong password"),)
    (entry,) = rt.auth_log.entries
    assert (entry.outcome, entry.reason, entry.username) == ("reject", "wrong_password", "ali")
    assert rt.auth_log.held == {}


def test_post_auth_after_the_hold_ran_out_still_logs_the_reject(rt: FakeRuntime) -> None:
    _, update = updated(module.authorize(call()))
    rt.auth_log.written.update(rt.auth_log.held)  # the writer's hold ran out: written as an accept
    rt.auth_log.held.clear()
    module.post_auth(call(config=(*as_request_config(update), ("Post-Auth-Type", "Reject"))))
    (entry,) = rt.auth_log.entries
    assert (entry.outcome, entry.reason) == ("reject", "wrong_password")
    assert any("event=late_refusal" in m for _, m in non_debug())


def test_authorize_logs_its_own_reject_and_post_auth_leaves_it(rt: FakeRuntime) -> None:
    rt.db.context = rt.context(replace(SUB, mac="11:22:33:44:55:66"))
    _, update = updated(module.authorize(call()))
    (entry,) = rt.auth_log.entries
    assert (entry.outcome, entry.reason, entry.walled_garden) == ("reject", "mac_mismatch", False)
    config = (*as_request_config(update), ("Post-Auth-Type", "Reject"))
    assert module.post_auth(call(config=config)) == radiusd.RLM_MODULE_NOOP
    assert len(rt.auth_log.entries) == 1 and rt.auth_log.held == {}


@pytest.mark.parametrize(
    ("sub", "tenant", "reason", "let_in"),
    [
        pytest.param(replace(SUB, expires_at=PAST), TENANT, "expired", False, id="expired-no-garden"),
        pytest.param(replace(SUB, status=SubscriberStatus.SUSPENDED), TENANT, "suspended", False, id="suspended"),
        pytest.param(replace(SUB, expires_at=PAST), replace(TENANT, walled_garden=GARDEN), "expired", True,
                     id="expired-in-garden"),
        pytest.param(SUB, TENANT, "ok", True, id="active"),
        pytest.param(None, TENANT, "unknown_user", False, id="unknown-user"),
    ],
)
def test_authorize_then_post_auth_reject_chain(
    rt: FakeRuntime, sub: Subscriber | None, tenant: Tenant, reason: str, let_in: bool
) -> None:
    """What radiusd does: authorize's control update, then (password refused or
    authorize rejected) Post-Auth-Type := Reject and post_auth in that section."""
    rt.db.context = rt.context(sub, tenant)
    _, update = updated(module.authorize(call()))
    password_checked = "Cleartext-Password" in triples(update, "config")
    assert password_checked == let_in
    config = (*as_request_config(update), ("Post-Auth-Type", "Reject"))
    result = module.post_auth(call(config=config))
    (entry,) = rt.auth_log.entries
    assert entry.outcome == "reject" and rt.auth_log.held == {}
    if password_checked:
        # pap refused the password of someone authorize let in (or into the garden).
        assert entry.reason == "wrong_password"
        assert updated(result)[1]["reply"] == (("Reply-Message", ":=", "wrong password"),)
    else:
        # authorize's own reject: its reason and its Reply-Message stand.
        assert entry.reason == reason
        assert result == radiusd.RLM_MODULE_NOOP


def test_post_auth_without_tenant_writes_no_entry(rt: FakeRuntime) -> None:
    # unknown NAS / backend down / bad request: authorize's log line is the record.
    config = (("CloudOS-Reason", "unknown_nas"), ("Post-Auth-Type", "Reject"))
    assert module.post_auth(call(config=config)) == radiusd.RLM_MODULE_NOOP
    assert module.post_auth(call(config=())) == radiusd.RLM_MODULE_NOOP
    assert module.post_auth(PAP_REQUEST) == radiusd.RLM_MODULE_NOOP  # not a dict: no control list
    assert rt.auth_log.entries == []


def test_post_auth_guard_when_the_auth_log_fails(rt: FakeRuntime) -> None:
    rt.auth_log.fail = RuntimeError("queue closed")
    result = module.post_auth(call(config=(*tags("ok"), ("CloudOS-Log-Id", "1000"), ("Post-Auth-Type", "Reject"))))
    assert result == radiusd.RLM_MODULE_NOOP
    (line,) = [m for _, m in non_debug()]
    assert "hook=post_auth" in line and "error=RuntimeError" in line


# ------------------------------------------------------------------------ accounting


def test_accounting_ok(rt: FakeRuntime) -> None:
    assert module.accounting(call(ACCT_REQUEST)) == radiusd.RLM_MODULE_OK
    ((name, req),) = rt.db.calls
    assert name == "account"
    assert isinstance(req, AcctRequest)
    assert (req.status, req.user_name, req.nas_address) == ("Interim-Update", "ali", "127.0.0.1")
    assert (req.input_octets, req.output_octets, req.session_time) == (2**32 + 5, 2000, 300)
    assert non_debug() == []


@pytest.mark.parametrize(("delay", "stored", "clamped"), [
    (2**32 - 1, 86_400, True), (40 * 86_400, 86_400, True), (86_400, 86_400, False), (300, 300, False)])
def test_accounting_delay_past_a_day_is_clamped_and_logged_once(rt: FakeRuntime, delay: int, stored: int,
                                                                 clamped: bool) -> None:
    # Acct-Delay-Time is the NAS's word on when the event happened: unbounded, usage could be
    # booked into any period (2^32-1 s is 1890).
    assert module.accounting(call((*ACCT_REQUEST, ("Acct-Delay-Time", str(delay))))) == radiusd.RLM_MODULE_OK
    ((_, req),) = rt.db.calls
    assert req.delay == stored
    lines = [m for _, m in non_debug()]
    if clamped:
        (line,) = lines
        for needle in ("hook=accounting", "event=acct_delay_clamped", "nas=127.0.0.1", "user=ali",
                       "session=81e00005", f"delay={delay}", "used=86400"):
            assert needle in line, (needle, line)
    else:
        assert lines == []


def test_accounting_on_is_stored(rt: FakeRuntime) -> None:
    pairs = (("Acct-Status-Type", "Accounting-On"), ("CloudOS-NAS-Address", "127.0.0.1"))
    rt.db.acct = AcctResult("ok", 7, None, 0, 0, 0)
    assert module.accounting(call(pairs)) == radiusd.RLM_MODULE_OK
    assert rt.db.calls[0][1].status == "Accounting-On"


def test_accounting_backend_unavailable_fails_so_the_nas_retransmits(rt: FakeRuntime) -> None:
    rt.db.acct = BackendUnavailable("PostgreSQL: OperationalError: server closed the connection")
    assert module.accounting(call(ACCT_REQUEST)) == radiusd.RLM_MODULE_FAIL
    (line,) = messages(radiusd.L_ERR)
    assert "hook=accounting" in line and "reason=backend_unavailable" in line and "session=81e00005" in line
    assert_no_secret_logged(rt)


def test_accounting_refused_by_the_database_is_acknowledged_and_logged_whole(rt: FakeRuntime) -> None:
    # Spooled and replayed, a record PostgreSQL refuses would fail forever and hold up
    # every record behind it: it is acknowledged, and the log line keeps what it said.
    rt.db.acct = StatementRefused("PostgreSQL refused it: NumericValueOutOfRange: bigint out of range")
    assert module.accounting(call(ACCT_REQUEST)) == radiusd.RLM_MODULE_OK
    (line,) = messages(radiusd.L_ERR)
    for field in ("hook=accounting", "event=refused", "user=ali", "session=81e00005", "status=", "input=",
                  "output=", "NumericValueOutOfRange"):
        assert field in line, field


def test_accounting_unexpected_error_fails_rather_than_acknowledging(rt: FakeRuntime) -> None:
    rt.db.acct = RuntimeError("boom")
    assert module.accounting(call(ACCT_REQUEST)) == radiusd.RLM_MODULE_FAIL
    (line,) = [m for _, m in non_debug()]
    assert "hook=accounting" in line and "error=RuntimeError" in line and "user=ali" in line


@pytest.mark.parametrize(
    "pairs",
    [
        pytest.param(with_attr(ACCT_REQUEST, "Acct-Status-Type", None), id="no-status"),
        pytest.param(with_attr(ACCT_REQUEST, "Acct-Status-Type", "Bogus"), id="bad-status"),
        pytest.param(with_attr(ACCT_REQUEST, "Acct-Input-Octets", "-5"), id="negative-octets"),
        pytest.param(with_attr(ACCT_REQUEST, "Acct-Session-Id", None), id="no-session"),
        pytest.param(None, id="empty"),
    ],
)
def test_accounting_malformed_is_acknowledged_and_logged(rt: FakeRuntime, pairs: Any) -> None:
    assert module.accounting(call(pairs)) == radiusd.RLM_MODULE_OK
    assert rt.db.calls == []
    (line,) = messages(radiusd.L_WARN)
    assert "hook=accounting" in line and "event=malformed" in line and "attribute=" in line
    assert non_debug() == [(radiusd.L_WARN, line)]


def test_accounting_result_other_than_ok_is_acknowledged_with_a_warning(rt: FakeRuntime) -> None:
    rt.db.acct = AcctResult("unknown_subscriber", 7, None, 0, 0, 0)
    assert module.accounting(call(ACCT_REQUEST)) == radiusd.RLM_MODULE_OK
    (line,) = messages(radiusd.L_WARN)
    assert "event=unknown_subscriber" in line and "session=81e00005" in line


def test_accounting_with_a_journal_answers_once_written_and_applies_after(rt: FakeRuntime, tmp_path: Path) -> None:
    rt.journal = rt.accounting.journal = AccountingJournal(tmp_path, rt.db, module.log)
    rt.journal.open()
    try:
        rt.db.acct = AcctResult("unknown_subscriber", 7, None, 0, 0, 0)
        assert module.accounting(call(ACCT_REQUEST)) == radiusd.RLM_MODULE_OK
        deadline = time.monotonic() + 5
        while backlog(tmp_path):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        ((name, req),) = rt.db.calls
        assert (name, req.acct_session_id, req.input_octets) == ("account", "81e00005", 2**32 + 5)
        # What the drainer got back is handled as the hook would have: logged.
        (line,) = messages(radiusd.L_WARN)
        assert "event=unknown_subscriber" in line and "session=81e00005" in line
    finally:
        rt.journal.close()


def test_accounting_fails_when_the_journal_cannot_be_written(rt: FakeRuntime, tmp_path: Path) -> None:
    # FAIL: the accounting section then tries the detail spool, and failing that the NAS
    # gets no answer and retransmits.
    rt.journal = rt.accounting.journal = AccountingJournal(tmp_path, rt.db, module.log)
    rt.journal.open()
    rt.journal.close()
    assert module.accounting(call(ACCT_REQUEST)) == radiusd.RLM_MODULE_FAIL
    (line,) = messages(radiusd.L_ERR)
    assert "hook=accounting" in line and "event=journal_write_failed" in line and "session=81e00005" in line
    assert rt.db.calls == []


# --------------------------------------------------------------------- lookup_client


def test_lookup_client_returns_the_freeradius_client(rt: FakeRuntime) -> None:
    result = module.lookup_client(call((("CloudOS-NAS-Address", "127.0.0.1"),)))
    assert_rlm_python3_shape(result)
    rcode, update = updated(result)
    assert rcode == radiusd.RLM_MODULE_OK
    assert set(update) == {"config"}
    assert triples(update, "config") == {
        "FreeRADIUS-Client-IP-Address": "127.0.0.1",
        "FreeRADIUS-Client-Secret": NAS_SECRET,
        "FreeRADIUS-Client-Shortname": "isp1/gw-lahore-1",
        "FreeRADIUS-Client-NAS-Type": "other",
        "FreeRADIUS-Client-Require-MA": "yes",
    }
    assert rt.db.calls == [("lookup_nas", "127.0.0.1")]
    assert_no_secret_logged(rt)


def test_lookup_client_ipv6(rt: FakeRuntime) -> None:
    _, update = updated(module.lookup_client(call((("CloudOS-NAS-Address", "2001:db8::1"),))))
    config = triples(update, "config")
    assert config["FreeRADIUS-Client-IPv6-Address"] == "2001:db8::1"
    assert "FreeRADIUS-Client-IP-Address" not in config


def test_lookup_client_unknown_address(rt: FakeRuntime) -> None:
    rt.db.nas = None
    assert module.lookup_client(call((("CloudOS-NAS-Address", "192.0.2.99"),))) == radiusd.RLM_MODULE_NOTFOUND
    (line,) = messages(radiusd.L_AUTH)
    assert "unknown_nas" in line and "192.0.2.99" in line


def test_lookup_client_backend_unavailable_fails(rt: FakeRuntime) -> None:
    rt.db.nas = BackendUnavailable("no PostgreSQL connection within the connect timeout")
    assert module.lookup_client(call((("CloudOS-NAS-Address", "127.0.0.1"),))) == radiusd.RLM_MODULE_FAIL
    assert_no_secret_logged(rt)


def test_lookup_client_serves_the_last_known_nas_while_postgresql_is_down(rt: FakeRuntime) -> None:
    request = call((("CloudOS-NAS-Address", "127.0.0.1"),))
    first = module.lookup_client(request)
    rt.db.nas = BackendUnavailable("no PostgreSQL connection within the connect timeout")
    assert module.lookup_client(request) == first
    errors = messages(radiusd.L_ERR)
    assert len(errors) == 1 and "served_from=last_known" in errors[0] and "reason=backend_unavailable" in errors[0]
    # Another address was never seen: nothing to serve.
    assert module.lookup_client(call((("CloudOS-NAS-Address", "127.0.0.9"),))) == radiusd.RLM_MODULE_FAIL
    assert_no_secret_logged(rt)


def test_lookup_client_forgets_a_nas_that_was_removed(rt: FakeRuntime) -> None:
    request = call((("CloudOS-NAS-Address", "127.0.0.1"),))
    assert updated(module.lookup_client(request))[0] == radiusd.RLM_MODULE_OK
    rt.db.nas = None  # removed from the database
    assert module.lookup_client(request) == radiusd.RLM_MODULE_NOTFOUND
    rt.db.nas = BackendUnavailable("down")
    # Not served as the last known NAS: PostgreSQL said it is gone, and that answer is remembered.
    assert module.lookup_client(request) == radiusd.RLM_MODULE_NOTFOUND
    rt.unknown.forget_all()
    assert module.lookup_client(request) == radiusd.RLM_MODULE_FAIL


def test_lookup_client_remembers_an_unknown_address_and_logs_it_once(rt: FakeRuntime) -> None:
    rt.db.nas = None
    for _ in range(50):
        assert module.lookup_client(call((("CloudOS-NAS-Address", "192.0.2.99"),))) == radiusd.RLM_MODULE_NOTFOUND
    assert rt.db.calls == [("lookup_nas", "192.0.2.99")]  # one lookup, then the negative cache
    (line,) = messages(radiusd.L_AUTH)
    assert "event=unknown_nas" in line and "address=192.0.2.99" in line
    # A second address has its own lookup and its own line.
    module.lookup_client(call((("CloudOS-NAS-Address", "192.0.2.100"),)))
    assert rt.db.calls[-1] == ("lookup_nas", "192.0.2.100") and len(messages(radiusd.L_AUTH)) == 2
    # At detach, a count of the lines held back.
    module.detach(None)
    (summary,) = messages(radiusd.L_WARN)
    assert "event=unknown_nas_suppressed lines=49 addresses=1" in summary


def test_lookup_client_summarises_held_back_lines_after_the_interval(rt: FakeRuntime) -> None:
    rt.db.nas = None
    rt.unknown_log = LogLimiter(0.05)
    rt.unknown = NegativeCache(0.05)
    for _ in range(5):
        module.lookup_client(call((("CloudOS-NAS-Address", "192.0.2.99"),)))
    time.sleep(0.06)
    module.lookup_client(call((("CloudOS-NAS-Address", "192.0.2.99"),)))
    (summary,) = messages(radiusd.L_WARN)
    assert "event=unknown_nas_suppressed lines=4 addresses=1" in summary
    assert len(messages(radiusd.L_AUTH)) == 2  # the first, and the first of the next interval
    assert rt.db.calls.count(("lookup_nas", "192.0.2.99")) == 2  # the negative answer expired too


def test_lookup_client_asks_again_once_a_nas_is_announced(tmp_path: Path) -> None:
    """The cloudos_authz feed's N message (a NAS added with the CLI) drops the negative answers."""
    base = make_runtime(tmp_path / "keyring.json")
    authz = AuthzCache(10)
    rt = FakeRuntime(settings=base.settings, keyring=base.keyring, db=base.db, auth_log=base.auth_log,
                     live=base.live, authz=authz)
    with installed(rt):
        request = call((("CloudOS-NAS-Address", "127.0.0.5"),))
        nas = rt.db.nas
        rt.db.nas = None
        assert module.lookup_client(request) == radiusd.RLM_MODULE_NOTFOUND
        assert module.lookup_client(request) == radiusd.RLM_MODULE_NOTFOUND
        assert rt.db.calls == [("lookup_nas", "127.0.0.5")]
        rt.db.nas = nas  # cloudos nas add ...
        authz.apply("N 3")  # ... and its trigger's announcement
        assert updated(module.lookup_client(request))[0] == radiusd.RLM_MODULE_OK
        assert rt.db.calls == [("lookup_nas", "127.0.0.5")] * 2


def test_lookup_client_answers_a_nas_it_has_read_from_memory_until_a_change_is_announced(tmp_path: Path) -> None:
    """FreeRADIUS runs the lookup in its network thread: a client whose lifetime ran out is renewed
    without a round trip while the feed has announced no NAS change, so a silent PostgreSQL stalls
    nothing; an N message, or a reconnected feed (which may have missed one), reads it again."""
    base = make_runtime(tmp_path / "keyring.json")
    authz = AuthzCache(10)
    rt = FakeRuntime(settings=base.settings, keyring=base.keyring, db=base.db, auth_log=base.auth_log,
                     live=base.live, authz=authz)
    with installed(rt):
        authz.connected()
        request = call((("CloudOS-NAS-Address", "127.0.0.1"),))
        first = module.lookup_client(request)
        assert updated(first)[0] == radiusd.RLM_MODULE_OK
        rt.db.nas = BackendUnavailable("a statement on a silent connection")  # would have been waited on
        for _ in range(3):
            assert module.lookup_client(request) == first
        assert rt.db.calls == [("lookup_nas", "127.0.0.1")]
        assert messages(radiusd.L_ERR) == []
        authz.lost()  # the feed is lost: what was read stands until it is back
        assert module.lookup_client(request) == first and len(rt.db.calls) == 1
        # A NAS change (cloudos nas set rotates the secret): read again, and the new secret served.
        rt.db.nas = NasRecord(3, "gw-lahore-1", "isp1", base.keyring.encrypt("rotated-secret-1", "nas.secret"))
        authz.connected()
        assert triples(updated(module.lookup_client(request))[1], "config")["FreeRADIUS-Client-Secret"] == \
            "rotated-secret-1"
        authz.apply("N 3")
        rt.db.nas = None  # cloudos nas remove
        assert module.lookup_client(request) == radiusd.RLM_MODULE_NOTFOUND
        assert rt.db.calls == [("lookup_nas", "127.0.0.1")] * 3


def test_lookup_client_refuses_addresses_outside_the_client_networks_without_a_lookup(tmp_path: Path) -> None:
    base = make_runtime(tmp_path / "keyring.json")
    settings = base.settings.model_copy(update={"client_networks": "10.0.0.0/8, 2001:db8::/32"})
    rt = FakeRuntime(settings=settings, keyring=base.keyring, db=base.db, auth_log=base.auth_log, live=base.live)
    with installed(rt):
        for address in ("192.0.2.1", "192.0.2.1", "2001:db9::1", ""):
            assert module.lookup_client(call((("CloudOS-NAS-Address", address),))) == radiusd.RLM_MODULE_NOTFOUND
        assert rt.db.calls == []
        lines = messages(radiusd.L_AUTH)
        assert len(lines) == 3 and all("reason=outside_client_networks" in ln for ln in lines)
        assert updated(module.lookup_client(call((("CloudOS-NAS-Address", "10.1.2.3"),))))[0] == radiusd.RLM_MODULE_OK
        assert rt.db.calls == [("lookup_nas", "10.1.2.3")]


def test_lookup_client_undecryptable_secret_fails_without_leaking(rt: FakeRuntime) -> None:
    rt.db.nas = NasRecord(3, "gw", "isp1", rt.keyring.encrypt(NAS_SECRET, "subscriber.password"))
    assert module.lookup_client(call((("CloudOS-NAS-Address", "127.0.0.1"),))) == radiusd.RLM_MODULE_FAIL
    (line,) = messages(radiusd.L_ERR)
    assert "error=DecryptError" in line
    assert_no_secret_logged(rt)


# ----------------------------------------------------------------- instantiate / detach


def test_instantiate_with_a_runtime_logs_no_secret(rt: FakeRuntime) -> None:
    assert module.instantiate(None) == 0
    (line,) = messages(radiusd.L_INFO)
    assert "keys=1" in line and "active_key=k1" in line
    assert_no_secret_logged(rt)


def test_instantiate_fails_on_a_missing_key_ring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ModuleSettings.model_fields:
        monkeypatch.delenv("CLOUDOS_" + name.upper(), raising=False)
    with installed(None):
        radiusd.config = {
            "database_url": f"postgresql://cloudos:{DB_PASSWORD}@127.0.0.1:1/cloudos",
            "keyring": str(tmp_path / "missing.json"),
        }
        assert module.instantiate(None) == -1
        assert module._runtime is None
        (line,) = messages(radiusd.L_ERR)
        assert "KeyRingError" in line and "missing.json" in line
        assert DB_PASSWORD not in line


def test_instantiate_fails_on_missing_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ModuleSettings.model_fields:
        monkeypatch.delenv("CLOUDOS_" + name.upper(), raising=False)
    with installed(None):
        radiusd.config = {}
        assert module.instantiate(None) == -1
        (line,) = messages(radiusd.L_ERR)
        assert "ConfigError" in line and "database_url" in line and "keyring" in line


def test_a_start_that_fails_half_way_closes_what_it_opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The journal directory cannot be used: the pools (authorize's and the drainer's), the auth-log
    writer and the feed opened before it are closed again, and instantiate refuses to start."""
    for name in ModuleSettings.model_fields:
        monkeypatch.delenv("CLOUDOS_" + name.upper(), raising=False)
    KeyRing.create(tmp_path / "keyring.json")
    opened: list[Any] = []
    closed: list[Any] = []
    for cls in (Database, AuthLogWriter, AuthzFeed, Live):
        for method, seen in (("open", opened), ("close", closed)):
            def track(self: Any, *a: Any, _real: Any = getattr(cls, method), _seen: list[Any] = seen,
                      **k: Any) -> None:
                _seen.append(self)
                _real(self, *a, **k)
            monkeypatch.setattr(cls, method, track)

    def no_journal(*a: Any, **k: Any) -> None:
        raise PermissionError("[Errno 13] Permission denied: '/var/lib/cloudos-radius/spool'")

    monkeypatch.setattr(module, "open_journal", no_journal)
    with installed(None):
        radiusd.config = {
            "database_url": f"postgresql://cloudos:{DB_PASSWORD}@127.0.0.1:1/cloudos",
            "keyring": str(tmp_path / "keyring.json"),
            "acct_journal": str(tmp_path / "journal"),
            "connect_timeout": "1",
        }
        assert module.instantiate(None) == -1
        assert module._runtime is None
        (line,) = messages(radiusd.L_ERR)
        assert "PermissionError" in line
    assert sorted(type(o).__name__ for o in opened) == ["AuthLogWriter", "AuthzFeed", "Database", "Database", "Live"]
    assert {id(o) for o in opened} <= {id(o) for o in closed}


def test_detach_closes_the_runtime(rt: FakeRuntime) -> None:
    assert module.detach(None) == radiusd.RLM_MODULE_OK
    assert rt.db.closed and rt.auth_log.closed and module._runtime is None
    assert module.detach(None) == radiusd.RLM_MODULE_OK  # idempotent


# ------------------------------------------------------------------------ properties

names = st.sampled_from([*REQUEST_ATTRIBUTES, *CONTROL_ATTRIBUTES]) | st.text(max_size=12)
values = st.sampled_from(
    ["ali", "127.0.0.1", "::1", "Reject", "accept", "ok", "7", "x", "", "-1", "Start", "Accounting-On", PASSWORD]
) | st.text(max_size=30)
pair_lists = st.one_of(
    st.none(),
    st.lists(st.one_of(st.tuples(names, values), st.tuples(names), st.tuples(names, st.just(":="), values),
                       st.integers(), st.none()), max_size=10).map(tuple),
)
arguments = st.one_of(
    pair_lists,
    st.fixed_dictionaries({"request": pair_lists, "config": pair_lists, "reply": pair_lists}),
    st.dictionaries(st.text(max_size=8), pair_lists, max_size=3),
)
db_behaviour = st.sampled_from(["normal", "unknown_nas", "backend", "crash"])


@pytest.fixture(scope="module")
def shared_keyring(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, KeyRing]:
    path = tmp_path_factory.mktemp("ring") / "keyring.json"
    return path, KeyRing.create(path)


def _secret_values(p: Any) -> set[str]:
    """Values the caller itself put in attributes other than the password ones (those may be logged)."""
    lists = [p.get(k) for k in ("request", "config")] if isinstance(p, dict) else [p]
    out: set[str] = set()
    for pairs in lists:
        for item in pairs or ():
            if isinstance(item, tuple) and len(item) >= 2 and item[0] not in ("User-Password", "Cleartext-Password"):
                out.add(str(item[-1]))
    return out


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(p=arguments, behaviour=db_behaviour)
def test_hooks_never_raise_and_always_answer_in_shape(
    shared_keyring: tuple[Path, KeyRing], p: Any, behaviour: str
) -> None:
    rt = make_runtime(*shared_keyring)
    if behaviour == "unknown_nas":
        rt.db.context, rt.db.nas = None, None
    elif behaviour == "backend":
        rt.db.context = rt.db.nas = rt.db.acct = BackendUnavailable("down")
    elif behaviour == "crash":
        rt.db.context = rt.db.nas = rt.db.acct = RuntimeError("boom")
    with installed(rt):
        auth = module.authorize(p)
        post = module.post_auth(p)
        acct = module.accounting(p)
        client = module.lookup_client(p)
        for result in (auth, post, acct, client):
            assert_rlm_python3_shape(result)
        assert type(auth) is tuple and auth[0] in (radiusd.RLM_MODULE_UPDATED, radiusd.RLM_MODULE_REJECT)
        if auth[0] == radiusd.RLM_MODULE_REJECT:
            assert [a for a, _, _ in auth[1]["reply"]] == ["Reply-Message"]
        assert acct in (radiusd.RLM_MODULE_OK, radiusd.RLM_MODULE_FAIL)
        echoed = _secret_values(p)
        for _, msg in radiusd.messages:
            assert NAS_SECRET not in msg
            # The stored password reaches the log only if the caller wrote it into a logged attribute.
            if PASSWORD in msg:
                assert any(PASSWORD in v for v in echoed), msg


def test_no_secret_in_any_log_line_across_every_path(rt: FakeRuntime) -> None:
    accept_ctx = rt.db.context
    assert isinstance(accept_ctx, AccessContext)
    garden = replace(TENANT, walled_garden=GARDEN)
    for ctx in (
        accept_ctx,
        rt.context(replace(SUB, status=SubscriberStatus.SUSPENDED), garden),
        rt.context(replace(SUB, mac="11:22:33:44:55:66")),
        rt.context(None),
        None,
        BackendUnavailable("down"),
        RuntimeError("boom"),
        replace(accept_ctx, password_enc=b"c1\x02k1" + b"\x00" * 40),
    ):
        rt.db.context = ctx
        module.authorize(call())
        module.authorize(call(with_attr(PAP_REQUEST, "User-Name", None)))
    for config in (tags("ok"), (*tags("ok"), ("Post-Auth-Type", "Reject")), tags("expired")):
        module.post_auth(call(config=(("Cleartext-Password", PASSWORD), *config)))
    for acct in (AcctResult("ok", 7, 42, 1, 1, 1), AcctResult("stale", 7, 42, 0, 0, 0), BackendUnavailable("down")):
        rt.db.acct = acct
        module.accounting(call(ACCT_REQUEST))
    module.accounting(call(with_attr(ACCT_REQUEST, "Acct-Status-Type", "Bogus")))
    module.lookup_client(call((("CloudOS-NAS-Address", "127.0.0.1"),)))
    rt.db.nas = None
    module.lookup_client(call((("CloudOS-NAS-Address", "127.0.0.2"),)))
    module.instantiate(None)
    assert len(non_debug()) >= 10  # the paths above did log
    assert_no_secret_logged(rt)


def test_post_auth_for_an_unknown_log_id_still_refuses_and_says_so(rt: FakeRuntime) -> None:
    config = (("CloudOS-Log-Id", "4242"), ("Post-Auth-Type", "Reject"))
    rcode, update = updated(module.post_auth(call(config=config)))
    assert rcode == radiusd.RLM_MODULE_UPDATED and update["reply"] == (("Reply-Message", ":=", "wrong password"),)
    assert rt.auth_log.entries == []
    (line,) = [m for _, m in non_debug()]
    assert "event=auth_log_row_unknown" in line and "log_id=4242" in line
