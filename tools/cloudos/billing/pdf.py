"""An invoice or credit note as PDF: a Jinja2 template printed by WeasyPrint.

The document is the dict ``cloudos invoice show --json`` prints, so the PDF never says
anything the CLI does not. Names, addresses and references in it come from operators and
subscribers: the template escapes everything, and WeasyPrint is given a URL fetcher that
refuses every URL (should a value ever reach the page unescaped, the resource is skipped
and nothing is requested), so a subscriber whose address is ``<img src=http://10.0.0.1/>``
gets that text printed and no request made. Fonts come from fontconfig (DejaVu, Noto Naskh
Arabic), not from URLs.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, NoReturn

import jinja2
import weasyprint

from cloudos.show import rupees

HERE = Path(__file__).parent

PROVINCES = {"punjab": "Punjab", "sindh": "Sindh", "kp": "Khyber Pakhtunkhwa", "balochistan": "Balochistan",
             "ict": "Islamabad Capital Territory"}


class FetchRefused(Exception):
    pass


class Refuse(weasyprint.URLFetcher):  # type: ignore[misc]  # WeasyPrint ships no types
    """WeasyPrint's URL fetcher for invoices: it loads nothing from anywhere. WeasyPrint skips the
    resource (logging why) and goes on with the page."""

    def fetch(self, url: str, headers: Any = None) -> NoReturn:
        raise FetchRefused(f"an invoice fetches no URL ({url[:80]!r})")


def long_date(text: str | None) -> str:
    """``2026-12-02`` as an invoice prints it, ``2 December 2026``."""
    if not text:
        return ""
    d = date.fromisoformat(text)
    return f"{d.day} {d:%B %Y}"


_env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE), autoescape=True, undefined=jinja2.StrictUndefined,
                          trim_blocks=True, lstrip_blocks=True)
_env.filters["rupees"] = rupees
_env.filters["long_date"] = long_date
_env.filters["province"] = lambda p: PROVINCES.get(p or "", p or "")


def render_html(doc: dict[str, Any]) -> str:
    return _env.get_template("invoice.html").render(doc=doc, css=(HERE / "invoice.css").read_text())


def render_pdf(doc: dict[str, Any]) -> bytes:
    html = weasyprint.HTML(string=render_html(doc), base_url=None, url_fetcher=Refuse())
    data: bytes = html.write_pdf()
    return data
