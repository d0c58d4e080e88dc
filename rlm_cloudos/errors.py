"""The one exception tree of rlm_cloudos, shared by the module and the tools.

Each error knows how loudly it should be logged (``level``, a RadLog level name),
as openwisp-radius's exceptions do: the place that catches it logs an expected
refusal quietly and a defect loudly without a table of its own.
"""

from __future__ import annotations

from typing import ClassVar


class CloudOSError(Exception):
    """Base of every error CloudOS raises on purpose."""

    level: ClassVar[str] = "error"


class ConfigError(CloudOSError):
    """Settings are missing or invalid."""


class KeyRingError(CloudOSError):
    """The key ring file is missing, unreadable, too open or malformed."""


class DecryptError(CloudOSError):
    """A ciphertext names an unknown key or fails authentication."""


class BackendUnavailable(CloudOSError):
    """PostgreSQL could not answer in the bounded time."""


class StatementTimedOut(BackendUnavailable):
    """PostgreSQL is alive but did not finish within the statement's bound: less work may fit."""

    level: ClassVar[str] = "warn"


class DrainerStalled(BackendUnavailable):
    """The accounting journal's drainer stopped running: records written now would wait unapplied."""


class StatementRefused(CloudOSError):
    """PostgreSQL answered and refused the statement: retrying the same input cannot succeed."""


class Conflict(BackendUnavailable):
    """PostgreSQL rolled the transaction back (deadlock, serialization failure): the same work may succeed again."""

    level: ClassVar[str] = "warn"


class InvalidValue(CloudOSError, ValueError):
    """A value given by a person or a file (a rate limit, a size) is not valid: their mistake, not ours."""

    level: ClassVar[str] = "info"
