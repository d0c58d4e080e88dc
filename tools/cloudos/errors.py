"""CLI errors: each becomes one line on stderr and an exit code."""


class CliError(Exception):
    """An operation failed (exit 1)."""

    exit_code = 1


class UsageError(CliError):
    """The command line is wrong (exit 2)."""

    exit_code = 2


class TamperError(CliError):
    """The audit trail or its anchor shows tampering (exit 3)."""

    exit_code = 3
