"""cloudos gateway set | list | remove: a tenant's JazzCash and EasyPaisa settings (issue 15, item 2).

The secrets arrive as one JSON object on standard input (never argv), are checked against
what the gateway needs, and are stored sealed under the key ring, bound to the tenant and
the gateway. Nothing prints them: `gateway list` names which are set, masked. The base URL
is the only address the payment service will send that gateway's requests to (issue 15):
https, or http to a loopback address (a test double on this host).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
from typing import Any
from urllib.parse import urlsplit

from cloudos.commands._common import Subparsers, _wrap, leaf, tenant_opt
from cloudos.context import Ctx, table
from cloudos.errors import CliError, UsageError
from cloudos.store import gateways as store
from rlm_cloudos.errors import DecryptError

#: The secrets each gateway needs (../shared/reference/billing-pk.md §1 and §2).
SECRETS = {
    "jazzcash": ("password", "integrity_salt"),
    "easypaisa": ("store_id", "hash_key", "username", "password", "account_number"),
}
#: What the key ring seals the secrets for (with tenant id and gateway as the row).
PURPOSE = "gateway.credentials"
#: The most standard input may hold: a JSON object of a few secrets is far smaller.
STDIN_MAX = 16 * 1024
SECRET_MAX = 256
MASK = "********"


def _merchant_id(text: str) -> str:
    if not 1 <= len(text) <= 64 or not all(c.isascii() and (c.isalnum() or c in "_-") for c in text):
        raise ValueError("1 to 64 of A-Z a-z 0-9 _ -")
    return text


def _base_url(text: str) -> str:
    """``scheme://host[:port]``, no path, user, query or fragment; https, or http to loopback."""
    parts = urlsplit(text)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.username is not None \
            or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("a base URL: https://HOST[:PORT], nothing after the host")
    try:
        parts.port
    except ValueError:
        raise ValueError("the port is not a number from 1 to 65535") from None
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise ValueError("http only to a loopback address (a test double); a gateway is reached by https")
    return f"{parts.scheme}://{parts.netloc}"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_credentials(gateway: str) -> dict[str, str]:
    """The gateway's secrets: one JSON object on standard input, with exactly the keys it needs."""
    if sys.stdin is None or sys.stdin.isatty():
        raise UsageError("the credentials are read from standard input as a JSON object (not a terminal)")
    raw = sys.stdin.read(STDIN_MAX + 1)
    if len(raw) > STDIN_MAX:
        raise UsageError(f"the credentials on standard input are larger than {STDIN_MAX // 1024} KiB")
    try:
        data = json.loads(raw)
    except ValueError:
        raise UsageError("the credentials on standard input are not JSON") from None
    need = SECRETS[gateway]
    if not isinstance(data, dict):
        raise UsageError(f"the credentials must be a JSON object with {', '.join(need)}")
    missing, unknown = [k for k in need if k not in data], sorted(set(data) - set(need))
    if missing or unknown:
        said = ([f"missing {', '.join(missing)}"] if missing else []) + (
            [f"unknown {', '.join(unknown)}"] if unknown else [])
        raise UsageError(f"{gateway} credentials: {'; '.join(said)} (it needs exactly {', '.join(need)})")
    for key in need:
        value = data[key]
        if not isinstance(value, str) or not 1 <= len(value) <= SECRET_MAX or any(ord(c) < 32 for c in value):
            raise UsageError(f"{gateway} credentials: {key} must be text of 1 to {SECRET_MAX} printable characters")
    if gateway == "easypaisa" and len(data["hash_key"]) not in (16, 24, 32):
        raise UsageError("easypaisa credentials: hash_key is an AES key of 16, 24 or 32 characters")
    return {k: data[k] for k in need}


def _view(ctx: Ctx, r: Any) -> dict[str, Any]:
    secrets: dict[str, str] | str = "masked"  # a login that may not read them
    if r.credentials_enc is not None:
        try:
            names = json.loads(ctx.keyring.open(r.credentials_enc, PURPOSE, str(r.tenant_id), r.gateway))
            secrets = {k: MASK for k in names}
        except DecryptError:
            secrets = "(undecryptable)"
    return {"tenant": r.tenant, "gateway": r.gateway, "merchant_id": r.merchant_id, "base_url": r.base_url,
            "credentials": secrets, "updated_at": r.updated_at, "updated_by": r.updated_by}


def set_(ctx: Ctx, args: argparse.Namespace) -> None:
    if not args.credentials_stdin:
        raise UsageError("the credentials are read from standard input: add --credentials-stdin")
    secrets = read_credentials(args.gateway)
    with ctx.tx() as conn:
        tenant = ctx.tenant(conn, args.tenant)
        old = store.get(conn, tenant.id, args.gateway)
        sealed = ctx.keyring.seal(json.dumps(secrets, sort_keys=True), PURPOSE, str(tenant.id), args.gateway)
        store.put(conn, tenant.id, args.gateway, args.merchant_id, args.base_url, sealed)
        audited = {"merchant_id": args.merchant_id, "base_url": args.base_url, "credentials_enc": sealed}
        ctx.audit(conn, action="gateway.set", target=f"gateway:{tenant.name}/{args.gateway}", tenant_id=tenant.id,
                  before=None if old is None else {"merchant_id": old.merchant_id, "base_url": old.base_url,
                                                   "credentials_enc": old.credentials_enc},
                  after=audited)
    ctx.emit({"tenant": tenant.name, "gateway": args.gateway, "merchant_id": args.merchant_id,
              "base_url": args.base_url, "added": old is None},
             f"{args.gateway} {'set' if old is None else 'replaced'} for tenant {tenant.name}: merchant "
             f"{args.merchant_id} at {args.base_url} (credentials sealed)")


def list_(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.read() as conn:
        tenant = ctx.tenant(conn, args.tenant) if args.tenant else None
        rows = [_view(ctx, r) for r in store.listing(conn, tenant.id if tenant else None)]
    shown = [{**r, "credentials": ", ".join(r["credentials"]) if isinstance(r["credentials"], dict)
              else r["credentials"]} for r in rows]
    ctx.emit(rows, table(shown, ["tenant", "gateway", "merchant_id", "base_url", "credentials", "updated_at"]))


def remove(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.tx() as conn:
        tenant = ctx.tenant(conn, args.tenant)
        old = store.get(conn, tenant.id, args.gateway)
        if old is None:
            raise CliError(f"tenant {tenant.name} has no {args.gateway} settings")
        store.remove(conn, tenant.id, args.gateway)
        ctx.audit(conn, action="gateway.remove", target=f"gateway:{tenant.name}/{args.gateway}", tenant_id=tenant.id,
                  before={"merchant_id": old.merchant_id, "base_url": old.base_url,
                          "credentials_enc": old.credentials_enc}, after=None)
    ctx.emit({"tenant": tenant.name, "gateway": args.gateway, "removed": True},
             f"{args.gateway} removed from tenant {tenant.name}")


def register(sub: Subparsers) -> None:
    g = sub.add_parser("gateway", help="payment gateways per tenant: JazzCash and EasyPaisa merchant settings")
    s = g.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = leaf(s, "set", "set (or replace) a tenant's gateway: merchant id, base URL, secrets from standard input", set_)
    p.add_argument("gateway", choices=tuple(SECRETS), metavar="GATEWAY", help="jazzcash or easypaisa")
    tenant_opt(p)
    p.add_argument("--merchant-id", required=True, type=_wrap(_merchant_id, "merchant id"), metavar="ID",
                   help="the merchant id the gateway gave the tenant (1 to 64 of A-Z a-z 0-9 _ -)")
    p.add_argument("--base-url", required=True, type=_wrap(_base_url, "base URL"), metavar="URL",
                   help="e.g. https://sandbox.jazzcash.com.pk or https://easypaystg.easypaisa.com.pk: the only "
                        "address the payment service sends this gateway's requests to")
    p.add_argument("--credentials-stdin", action="store_true",
                   help='read the secrets as one JSON object: jazzcash {"password", "integrity_salt"}; easypaisa '
                        '{"store_id", "hash_key", "username", "password", "account_number"}')
    p = leaf(s, "list", "the gateways configured, secrets masked", list_)
    tenant_opt(p)
    p = leaf(s, "remove", "remove a tenant's gateway settings", remove)
    p.add_argument("gateway", choices=tuple(SECRETS), metavar="GATEWAY")
    tenant_opt(p)
