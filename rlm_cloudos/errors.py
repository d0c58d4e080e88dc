"""The small exception tree shared by the module and the tools."""


class CloudOSError(Exception):
    """Base of every error CloudOS raises on purpose."""


class ConfigError(CloudOSError):
    """Settings are missing or invalid."""


class KeyRingError(CloudOSError):
    """The key ring file is missing, unreadable, too open or malformed."""


class DecryptError(CloudOSError):
    """A ciphertext names an unknown key or fails authentication."""


class BackendUnavailable(CloudOSError):
    """PostgreSQL could not answer in the bounded time."""


class StatementRefused(CloudOSError):
    """PostgreSQL answered and refused the statement: retrying the same input cannot succeed."""


class Conflict(BackendUnavailable):
    """PostgreSQL rolled the transaction back (deadlock, serialization failure): the same work may succeed again."""
