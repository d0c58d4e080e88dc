"""One accounting journal record: the format written to disk by radiusd and read by PostgreSQL.

A record is one line, a JSON object with named keys (version 2):

  {"v":2,"lane":1234,"rcv":1794312000.123,"st":"Interim-Update","u":"ali","n":"10.0.0.1",
   "id":"5d41…","sid":"81e00005","in":1000,"out":5000,"t":300,"d":0,"ip":"100.64.0.7",
   "mac":"AA:BB:CC:DD:EE:FF","port":"ether2","cause":null}

``v`` and ``lane`` come first, at fixed places, so the drainer reads a record's lane
without decoding the line. KEYS names each AcctRequest field's key (short: every
packet is written, read back and parsed by PostgreSQL); cloudos_account_journal()
(schema 0006) reads the same keys, and tests/integration/test_accounting_sql.py holds
the two lists equal. ``rcv`` is the radiusd host's clock when the request came in:
the time a record spends in the journal is added to its Acct-Delay-Time, so the
event is dated when it happened.

Version 1 (before schema 0006) was a JSON array, ``[received, lane, status,
user_name, nas_address, acct_unique_id, acct_session_id, input_octets,
output_octets, session_time, delay, framed_ip, calling_station_id, nas_port_id,
terminate_cause]``, the order of AcctRequest's fields at the time. Journals still on
disk after an upgrade hold such lines: both ``decode`` and cloudos_account_journal()
read them.
"""

from __future__ import annotations

import json
import operator
import zlib
from typing import Any

from rlm_cloudos.requests import AcctRequest

VERSION = 2

#: The request's fields (AcctRequest's attribute names) and the short key a record names each with:
#: every packet is written, read back and parsed by PostgreSQL, so the keys are short.
KEYS = {"status": "st", "user_name": "u", "nas_address": "n", "acct_unique_id": "id", "acct_session_id": "sid",
        "input_octets": "in", "output_octets": "out", "session_time": "t", "delay": "d", "framed_ip": "ip",
        "calling_station_id": "mac", "nas_port_id": "port", "terminate_cause": "cause"}
REQUEST_KEYS = tuple(KEYS)

#: Version 1's positions after [received, lane]: the order AcctRequest had when it was written. Frozen.
V1_KEYS = ("status", "user_name", "nas_address", "acct_unique_id", "acct_session_id", "input_octets",
           "output_octets", "session_time", "delay", "framed_ip", "calling_station_id", "nas_port_id",
           "terminate_cause")

#: Records about a whole NAS (every session on it closed): applied after everything before them.
NAS_WIDE = frozenset({"Accounting-On", "Accounting-Off"})

_PREFIX = b'{"v":2,"lane":'


def lane(req: AcctRequest) -> int:
    """Which statement of a batch the record goes to (``lane % parallel``): the same for every
    record of a subscriber; -1 for a record about a whole NAS, applied after all before it."""
    if req.status in NAS_WIDE:
        return -1
    return zlib.crc32(req.user_name.encode("utf-8", "replace")) & 0xFFFF


_fields = operator.attrgetter(*REQUEST_KEYS)
_SHORT = tuple(KEYS.values())
# Called under the GIL for every accounting packet: one encoder, no circular-reference check
# (the record holds only strings, numbers and None).
_encoder = json.JSONEncoder(separators=(",", ":"), check_circular=False)


def encode(req: AcctRequest, received: float) -> bytes:
    """One journal line (version 2): one line whatever the attributes hold."""
    record: dict[str, Any] = {"v": VERSION, "lane": lane(req), "rcv": round(received, 3)}
    record.update(zip(_SHORT, _fields(req)))
    return (_encoder.encode(record) + "\n").encode()


def decode(line: bytes, now: float) -> AcctRequest:
    """The request a journal line (either version) holds, its Acct-Delay-Time grown by the time it
    spent in the journal. Raises ValueError (TypeError for a value of the wrong type)."""
    value = json.loads(line)
    if isinstance(value, list):
        if len(value) != len(V1_KEYS) + 2:
            raise ValueError("not a journal record")
        received, _lane, *fields = value
        values = dict(zip(V1_KEYS, fields))
    elif isinstance(value, dict):
        if value.get("v") != VERSION:
            raise ValueError(f"journal record version {value.get('v')!r} is not {VERSION}")
        try:
            received = value["rcv"]
            values = {field: value[key] for field, key in KEYS.items()}
        except KeyError as exc:
            raise ValueError(f"journal record without {exc}") from None
    else:
        raise ValueError("not a journal record")
    values["delay"] = int(values["delay"]) + max(0, int(now - float(received)))
    return AcctRequest(**values)


def lane_of(line: bytes) -> int:
    """encode()'s lane, read without decoding the line (-1 when it cannot be read: alone, in order)."""
    try:
        if line.startswith(_PREFIX):
            start = len(_PREFIX)
        else:  # version 1: [received,lane,…]
            start = line.index(b",") + 1
        return int(line[start:line.index(b",", start)])
    except ValueError:
        return -1


_RCV = b'"rcv":'


def received_of(line: bytes) -> float | None:
    """encode()'s ``received`` (the radiusd host's clock), read without decoding the line; None when it
    cannot be read."""
    try:
        if line.startswith(_PREFIX):
            start = line.index(_RCV, len(_PREFIX)) + len(_RCV)
        elif line.startswith(b"["):  # version 1: [received,lane,…]
            start = 1
        else:
            return None
        return float(line[start:line.index(b",", start)])
    except ValueError:
        return None
