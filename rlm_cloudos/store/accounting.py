"""Where an Accounting-Request goes: the journal when this radiusd holds one, else PostgreSQL.

The journal is the normal path: the request is durable once on this host's disk and
the drainer applies it (store.journal). A radiusd whose journal directory is held by
another process (``freeradius -C`` beside a running one, a second instance on the
same volume) writes each request straight to PostgreSQL instead, slower and as safe.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rlm_cloudos.errors import StatementRefused
from rlm_cloudos.requests import AcctRequest
from rlm_cloudos.store.authz import AuthzCache
from rlm_cloudos.store.journal import AccountingJournal, log_refused, log_result
from rlm_cloudos.store.pg import Database


class AccountingWriter:
    """Stores accounting durably before the NAS is answered; see the module docstring."""

    def __init__(self, db: Database, journal: AccountingJournal | None, cache: AuthzCache | None,
                 log: Callable[..., Any]) -> None:
        self.db = db
        self.journal = journal
        self._cache = cache
        self._log = log

    def store(self, req: AcctRequest) -> None:
        """Make ``req`` durable: journaled, committed, or refused by PostgreSQL for its data (logged
        whole: retried, it would fail the same way for ever). Raises OSError (the journal cannot be
        written) or BackendUnavailable (no journal, and PostgreSQL cannot take it now): then the NAS
        must not be answered."""
        if self.journal is not None:
            self.journal.append(req)
            return
        try:
            res = self.db.account(req)
        except StatementRefused as exc:
            log_refused(self._log, req, exc)
            return
        if res.feed and self._cache is not None:
            # This radiusd's next login sees the new counters at once, not when the notification comes round.
            self._cache.apply(res.feed)
        if res.result != "ok":
            log_result(self._log, req, res.result)
