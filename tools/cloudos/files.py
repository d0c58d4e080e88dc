"""Files the tools write for people to keep: audit anchors, exports of personal data."""

from __future__ import annotations

import os

from cloudos.errors import CliError


def write_new(path: str, data: bytes, *, what: str) -> None:
    """Write ``data`` to a new file ``path``, created mode 0600 by open itself (not after it) and
    never over a file or a link that exists (O_EXCL). Raises CliError in one line, naming ``what``
    the file is (an anchor, an export)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise CliError(f"{what} {path} already exists: an {what} is never overwritten, give a new path") from None
    except OSError as exc:
        raise CliError(f"cannot write {what} {path}: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as f:
        f.write(data)
