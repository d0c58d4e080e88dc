"""One lifecycle for the long-lived objects (pool, Redis client, auth-log writer, feed, journal).

As psycopg_pool does it: a constructor starts no thread and opens no connection;
``open()`` does, ``close()`` undoes it, and a ``with`` block does both.
"""

from __future__ import annotations

from typing import Self


class Service:
    """Something with ``open()`` and ``close()``; a context manager over them."""

    def open(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
