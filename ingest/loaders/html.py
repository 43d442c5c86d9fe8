"""HTML: the statement's main content, found by trafilatura, without the site around it.

A page saved from a government or news site carries a skip link, menus, a
breadcrumb, a cookie banner, share buttons, "Next Post" links and a footer.
trafilatura finds the main content and leaves those out. Two things it does not
keep are added around it:

* the numbers an ``<ol>`` prints ("4.", "b.", "iv."), which are paragraph
  numbers in many statements: they are written into each item as text first;
* a title without the site's name: og:title, the first ``<h1>`` or ``<title>``,
  with a " | Site name" suffix removed.
"""

from __future__ import annotations

import codecs
import functools
import re
from collections import Counter
from datetime import date
from typing import TYPE_CHECKING, Any

from errors import UnreadableDocument
from ingest.loaders._common import (
    BINARY_SNIFF_BYTES,
    Extracted,
    binary_error,
    decode_error,
    empty_error,
    looks_binary,
    normalise_newlines,
)

if TYPE_CHECKING:
    from lxml.html import HtmlElement

_META_CHARSET = re.compile(rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
# How far into an HTML file a <meta charset> may appear (the HTML spec sniffs 1024).
_CHARSET_SNIFF_BYTES = 4096
# The HTML standard decodes these labels as windows-1252, as browsers do.
_WINDOWS_1252_ALIASES = frozenset({"ascii", "us-ascii", "iso-8859-1", "latin1", "latin-1", "iso8859-1"})
# HTML collapses ASCII whitespace only; U+00A0 (&nbsp;) must survive verbatim.
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")
_HTML_SPACE_CHARS = " \t\n\r\f"
# Separators between a page's title and its site's name: "Statement | The White House".
_TITLE_SEPARATORS = re.compile(r"\s+[|–—:·•-]{1,2}\s+")
# trafilatura turns U+00A0 into a plain space, but users quote statements back
# with theirs, so it travels through extraction as a private-use character.
_NBSP, _NBSP_STAND_IN = "\u00a0", "\ue000"
# trafilatura's output elements that are blocks of text of their own.
_BLOCKS = frozenset({"p", "head", "item", "quote", "code", "row", "cell", "lb", "list", "table"})


def load_html(data: bytes, source: str, timeout_s: float) -> Extracted:
    """Main text, title and date of a saved web page."""
    del timeout_s  # lxml parses in linear time; html.parser's quadratic cases no longer apply
    if not data.strip():
        raise empty_error(source)
    markup = decode_html(data, source)
    if looks_binary(markup):
        raise binary_error(source)
    text, title, published = extract_html(markup)
    if not text:
        raise UnreadableDocument(
            source,
            "has no visible text (only markup, scripts or navigation)",
            hint="If the page builds its text with JavaScript, save it from the browser "
            "as a PDF and ingest that instead.",
        )
    return Extracted(text, title_hint=title, date=published, removed=Counter())


_XML_INCOMPATIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def html_to_text(markup: str) -> tuple[str, str | None]:
    """The page's main text, one paragraph per block, and its title (without the site name)."""
    text, title, _published = extract_html(markup)
    return text, title


def extract_html(markup: str) -> tuple[str, str | None, date | None]:
    """(main text, title, publication date) of a page."""
    import lxml.html
    from lxml.etree import ParserError

    # C0 control characters (other than tab and line breaks) are never text in a page, and lxml
    # refuses to hold them in a tree: drop them rather than fail on a stray one.
    markup = _XML_INCOMPATIBLE.sub("", markup)
    if not markup.strip(_HTML_SPACE_CHARS):
        return "", None, None
    try:
        tree = lxml.html.document_fromstring(markup)
    except (ParserError, ValueError):
        return "", None, None
    title = _title(tree)
    _print_list_numbers(tree)
    for element in tree.iter():
        if element.text and _NBSP in element.text:
            element.text = element.text.replace(_NBSP, _NBSP_STAND_IN)
        if element.tail and _NBSP in element.tail:
            element.tail = element.tail.replace(_NBSP, _NBSP_STAND_IN)
    text, published = _main_text(tree)
    return text.replace(_NBSP_STAND_IN, _NBSP), title, published


def _collapse(text: str) -> str:
    return _HTML_SPACE.sub(" ", text).strip(_HTML_SPACE_CHARS)


def _meta(tree: HtmlElement, *names: str) -> str | None:
    for name in names:
        for element in tree.iter("meta"):
            if name in (element.get("property"), element.get("name")):
                content = _collapse(element.get("content") or "")
                if content:
                    return content
    return None


def _title(tree: HtmlElement) -> str | None:
    """og:title, else the first <h1>, else <title>; without a " | Site name" suffix."""
    candidates = [_meta(tree, "og:title", "twitter:title")]
    candidates += [_collapse(h1.text_content()) for h1 in tree.iter("h1")][:1]
    candidates += [_collapse(t.text_content()) for t in tree.iter("title")][:1]
    title = next((candidate for candidate in candidates if candidate), None)
    if title is None:
        return None
    return _without_site_name(title, _site_names(tree))


def _site_names(tree: HtmlElement) -> set[str]:
    """What the page calls its site: og:site_name, application-name, the text of its link to the home page."""
    names = {_meta(tree, "og:site_name"), _meta(tree, "application-name")}
    names |= {_collapse(a.text_content()) for a in tree.iter("a") if (a.get("href") or "").strip() == "/"}
    return {name.casefold() for name in names if name}


def _without_site_name(title: str, sites: set[str]) -> str:
    """'Statement on X | The White House' -> 'Statement on X' when the page names its site that way."""
    matches = list(_TITLE_SEPARATORS.finditer(title))
    if not matches:
        return title
    if title[matches[-1].end() :].strip().casefold() in sites:
        return title[: matches[-1].start()].strip()
    if title[: matches[0].start()].strip().casefold() in sites:
        return title[matches[0].end() :].strip()
    return title


def _ordinal(number: int, kind: str) -> str:
    """Render a list number the way a browser prints it for ``<ol type=kind>``."""
    if kind in ("a", "A") and number > 0:
        letters = ""
        while number > 0:
            number, rest = divmod(number - 1, 26)
            letters = chr(ord("a") + rest) + letters
        return letters.upper() if kind == "A" else letters
    if kind in ("i", "I") and 0 < number < 4000:
        numerals = ""
        for value, symbol in (
            (1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"),
            (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i"),
        ):  # fmt: skip
            count, number = divmod(number, value)
            numerals += symbol * count
        return numerals.upper() if kind == "I" else numerals
    return str(number)


def _int_attr(value: str | None, default: int) -> int:
    try:
        return int((value or "").strip())
    except ValueError:
        return default


def _print_list_numbers(tree: HtmlElement) -> None:
    """Write each ordered-list item's printed number into its text, as a browser shows it.

    Paragraph numbers of many statements are <ol> numbers; extractors keep the
    items but not the numbers, and citations need them.
    """
    for ol in tree.iter("ol"):
        number = _int_attr(ol.get("start"), 1)
        kind = ol.get("type") or "1"
        for item in ol:
            if not isinstance(item.tag, str) or item.tag != "li":
                continue
            number = _int_attr(item.get("value"), number)
            marker = _ordinal(number, kind) + ". "
            number += 1
            # The marker goes before the item's first text, inside a leading <p> if there is one.
            target = item
            while target.text is None or not target.text.strip(_HTML_SPACE_CHARS):
                children = [child for child in target if isinstance(child.tag, str)]
                if not children or (target.text or "").strip(_HTML_SPACE_CHARS):
                    break
                target = children[0]
            target.text = marker + (target.text or "").lstrip(_HTML_SPACE_CHARS)


def _main_text(tree: HtmlElement) -> tuple[str, date | None]:
    import trafilatura
    from lxml import etree

    result: Any = trafilatura.bare_extraction(
        tree,
        include_comments=False,
        include_tables=True,
        include_images=False,
        include_links=False,
        include_formatting=False,
        with_metadata=True,
        # Dates the page states (meta tags, <time>, its URL), not any date written in the text.
        date_extraction_params={"extensive_search": False, "original_date": True},
        config=_config(),
    )
    if result is None:
        return "", None
    body = getattr(result, "body", None)
    published = _iso_date(getattr(result, "date", None))
    if body is None:
        return "", published
    paragraphs: list[str] = []
    _walk(body, paragraphs, etree)
    return "\n\n".join(paragraphs), published


@functools.cache  # trafilatura reads its settings file for each config; ours never changes once made
def _config() -> Any:
    from trafilatura.settings import use_config

    config = use_config()
    # A short statement is still a statement: keep any main text, however brief.
    config["DEFAULT"]["MIN_OUTPUT_SIZE"] = "1"
    config["DEFAULT"]["MIN_EXTRACTED_SIZE"] = "1"
    # Its timeout uses SIGALRM, which only works in the main thread; the bot reads pages in worker threads.
    config["DEFAULT"]["EXTRACTION_TIMEOUT"] = "0"
    return config


def _iso_date(value: object) -> date | None:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _walk(element: Any, paragraphs: list[str], etree: Any) -> None:
    """One paragraph per text block of trafilatura's output tree; list items keep their markers."""
    for child in element:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag == "list":
            bullet = child.get("rend", "ul") != "ol"
            for item in child:
                text = _block_text(item, etree)
                if text:
                    paragraphs.append(("- " + text) if bullet else text)
        elif tag in ("table",):
            for row in child.iter("row"):
                cells = [_block_text(cell, etree) for cell in row.iter("cell")]
                line = " ".join(cell for cell in cells if cell)
                if line:
                    paragraphs.append(line)
        elif tag in ("div", "quote", "section") and any(
            isinstance(grand.tag, str) and grand.tag in _BLOCKS for grand in child
        ):
            _walk(child, paragraphs, etree)
        else:
            text = _block_text(child, etree)
            if text:
                paragraphs.append(text)


def _block_text(element: Any, etree: Any) -> str:
    """Text of one block with white space collapsed; a <lb/> (line break) becomes a new line."""
    parts: list[str] = []

    def visit(node: Any) -> None:
        if node.text:
            parts.append(node.text)
        for child in node:
            if child.tag == "lb":
                parts.append("\n")
            elif isinstance(child.tag, str):
                visit(child)
            if child.tail:
                parts.append(child.tail)

    visit(element)
    lines = [_collapse(line) for line in "".join(parts).split("\n")]
    return "\n".join(line for line in lines if line)


def decode_html(data: bytes, source: str) -> str:
    if data.startswith(codecs.BOM_UTF8):
        encoding, data = "utf-8", data[len(codecs.BOM_UTF8) :]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        if b"\x00" in data[:BINARY_SNIFF_BYTES]:
            raise binary_error(source)
        encoding = "utf-8"
        declared = _META_CHARSET.search(data[:_CHARSET_SNIFF_BYTES])
        if declared:
            label = declared.group(1).decode("ascii").lower()
            encoding = "cp1252" if label in _WINDOWS_1252_ALIASES else label
            try:
                codecs.lookup(encoding)
            except LookupError:
                raise UnreadableDocument(
                    source,
                    f"declares an unknown character set '{label}'",
                    hint="Fix its <meta charset> tag, or re-save it as UTF-8.",
                ) from None
    try:
        return normalise_newlines(data.decode(encoding))
    except UnicodeDecodeError as exc:
        raise decode_error(source, data, exc, encoding.upper()) from None
