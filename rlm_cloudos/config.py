"""Settings of the module, read from the ``config { }`` section of the python3 instance."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from rlm_cloudos.errors import ConfigError
from rlm_cloudos.policy.clients import parse_networks


class ModuleSettings(BaseModel):
    """What rlm_cloudos needs; every value may also come from CLOUDOS_* environment variables."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    database_url: str = Field(min_length=1)
    redis_url: str = ""
    keyring: str = Field(min_length=1)
    connect_timeout: int = Field(default=2, ge=1, le=30)
    statement_timeout_ms: int = Field(default=2000, ge=100, le=60000)
    pool_size: int = Field(default=4, ge=1, le=64)
    #: Directory of the accounting journal (rlm_cloudos.store.journal): the NAS is answered once a
    #: record is there, and a thread applies it to PostgreSQL. Empty: each request waits for its
    #: own PostgreSQL commit.
    acct_journal: str = ""
    #: Most journal records applied at once.
    acct_batch: int = Field(default=500, ge=1, le=5000)
    #: Statements (and connections) those records are split over, by subscriber.
    acct_parallel: int = Field(default=2, ge=1, le=8)
    #: Most Acct-Delay-Time believed, in seconds. RFC 2866 allows 2^32-1 (an event dated in 1890,
    #: booked into a period long closed: a quota dodged); a larger one is clamped to this and logged
    #: (event=acct_delay_clamped). The time a record then waits in the journal comes on top.
    acct_max_delay: int = Field(default=86_400, ge=0, le=2**32 - 1)
    #: Subscribers authorize keeps in memory (rlm_cloudos.store.authz); 0 turns the cache off.
    authz_cache_size: int = Field(default=200_000, ge=0, le=10_000_000)
    #: Seconds a source address that no NAS covers is remembered as such: no PostgreSQL lookup
    #: and at most one log line per address per interval (rlm_cloudos.store.clients). A NAS added
    #: with the CLI is admitted at once all the same (the feed's N message), or within this
    #: interval while the feed is down.
    unknown_client_seconds: int = Field(default=60, ge=1, le=3600)
    #: Networks that may be RADIUS clients at all (CIDR, comma-separated): a packet from any other
    #: address is dropped before any lookup. Empty: every address may be.
    client_networks: str = ""

    @field_validator("client_networks")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_networks(value)  # a ValueError names the bad one
        return value

    @classmethod
    def load(cls, section: Mapping[str, str] | None) -> ModuleSettings:
        """Merge the radiusd config section over the environment; raises ConfigError naming the bad keys."""
        merged: dict[str, str] = {}
        for key in cls.model_fields:
            env = os.environ.get("CLOUDOS_" + key.upper())
            if env:
                merged[key] = env
        for key, value in (section or {}).items():
            if isinstance(value, str) and value != "":
                merged[key] = value
        try:
            return cls.model_validate(merged)
        except ValidationError as exc:
            bad = ", ".join(".".join(str(p) for p in e["loc"]) + ": " + e["msg"] for e in exc.errors())
            raise ConfigError(f"rlm_cloudos configuration: {bad}") from None
