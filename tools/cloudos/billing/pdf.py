"""An invoice or credit note as PDF: a Jinja2 template printed by WeasyPrint.

The document is the dict ``cloudos invoice show --json`` prints, so the PDF never says
anything the CLI does not. Names, addresses and references in it come from operators and
subscribers: the template escapes everything, and WeasyPrint is given a URL fetcher that
refuses every URL, so a subscriber whose address is ``<img src=http://10.0.0.1/>`` gets
that text printed and no request made. Fonts come from fontconfig (DejaVu), not from URLs.
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


def refuse(url: str, *args: Any, **kwargs: Any) -> NoReturn:
    """WeasyPrint's url_fetcher: an invoice loads nothing from anywhere."""
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
    html = weasyprint.HTML(string=render_html(doc), base_url=None, url_fetcher=refuse)
    data: bytes = html.write_pdf()
    return data
