"""Markdown: rendered to the text a reader sees with markdown-it-py (CommonMark).

YAML front matter (``title``, ``date``, ``source_url``) is data about the
statement, not part of it: it sets the document's title, date and source link.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from errors import UnreadableDocument
from ingest.loaders._common import HINT_TYPES, Extracted, decode_text_file

if TYPE_CHECKING:
    from markdown_it.token import Token

# Front matter opens the file with "---" and closes with "---" or "...".
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)?(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_BLANK_RUNS = re.compile(r"\n{3,}")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_HTML_TAG = re.compile(r"<[^<>]{0,2000}>")
# Keys archives use for the statement's address on the web, in order of preference.
_URL_KEYS = ("source_url", "url", "canonical_url", "source")
_DATE_KEYS = ("date", "published", "published_time")


def load_markdown(data: bytes, source: str, timeout_s: float) -> Extracted:
    """Text, title and date of a Markdown file; front matter wins over the first heading."""
    del timeout_s  # markdown-it is linear in the input
    markdown = decode_text_file(data, source)
    meta, body = split_front_matter(markdown, source)
    text, heading = markdown_to_text(body)
    if not text:
        raise UnreadableDocument(source, "has no readable text once Markdown markup is removed", hint=HINT_TYPES)
    title = _string(meta.get("title"))
    urls = [_string(meta.get(key)) for key in _URL_KEYS]
    dates = [_date(meta.get(key)) for key in _DATE_KEYS]
    url = next((found for found in urls if found), None)
    when = next((found for found in dates if found), None)
    return Extracted(text, title_hint=heading, title=title, date=when, url=url)


def split_front_matter(markdown: str, source: str) -> tuple[dict[str, Any], str]:
    """(front matter as a mapping, the Markdown after it); no front matter gives ({}, markdown)."""
    match = _FRONT_MATTER.match(markdown)
    if not match:
        return {}, markdown
    import yaml

    try:
        meta = yaml.safe_load(match.group(1) or "")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark is not None else ""
        raise UnreadableDocument(
            source,
            f"has front matter that is not valid YAML{where}",
            hint="Fix the block between the '---' lines at the top (quote values that contain ': ').",
        ) from None
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        # "---" followed by prose and another "---" is a thematic break, not front matter.
        return {}, markdown
    return meta, markdown[match.end() :]


def _string(value: object) -> str | None:
    if isinstance(value, str) and value.strip():
        return " ".join(value.split())
    return None


def _date(value: object) -> date | None:
    """A date from YAML: already a date, a datetime, or ISO text ("2022-06-01", "2022-06-01 08:00:00-04:00")."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip()).date()
        except ValueError:
            return None
    return None


def markdown_to_text(markdown: str) -> tuple[str, str | None]:
    """The text a reader sees, one paragraph per block, and the first level-1 heading.

    Headings and list items become paragraphs of their own; ordered-list
    numbers stay as written and bullets become "- ". Code keeps its content
    but loses its fences; images, comments, raw HTML tags and link targets go;
    backslash escapes ("\\###", "\\_") and entities are resolved.
    """
    from markdown_it import MarkdownIt

    parser = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    renderer = _Renderer()
    renderer.render(parser.parse(markdown))
    text = _BLANK_RUNS.sub("\n\n", "\n\n".join(renderer.blocks))
    return text.strip("\n"), renderer.title


class _Renderer:
    """Walks markdown-it's block tokens, collecting one text block per paragraph-like token."""

    def __init__(self) -> None:
        self.blocks: list[str] = []
        self.title: str | None = None
        self._prefix = ""  # list marker waiting for its item's first block
        self._lists: list[str] = []  # "ol" / "ul" for each open list
        self._row: list[str] | None = None

    def render(self, tokens: list[Token]) -> None:
        heading_level = 0
        for token in tokens:
            kind = token.type
            if kind == "heading_open":
                heading_level = int(token.tag[1:])
            elif kind == "heading_close":
                heading_level = 0
            elif kind == "inline":
                self._inline(_inline(token.children or []), heading_level)
            elif kind in ("fence", "code_block"):
                self._add(token.content.rstrip("\n"))
            elif kind == "html_block":
                self._add(_strip_html(token.content))
            else:
                self._structure(token)

    def _structure(self, token: Token) -> None:
        """Lists and table rows, which decide how the next blocks of text are marked or joined."""
        kind = token.type
        if kind in ("bullet_list_open", "ordered_list_open"):
            self._lists.append("ul" if kind == "bullet_list_open" else "ol")
        elif kind in ("bullet_list_close", "ordered_list_close"):
            self._lists.pop()
            self._prefix = ""  # an empty last item must not lend its marker to what follows
        elif kind == "list_item_open":
            # info holds the number as written ("4"), markup its delimiter ("." or ")").
            self._prefix = f"{token.info}{token.markup} " if self._lists[-1] == "ol" else "- "
        elif kind == "tr_open":
            self._row = []
        elif kind == "tr_close" and self._row is not None:
            self._add(" ".join(cell for cell in self._row if cell))
            self._row = None

    def _inline(self, text: str, heading_level: int) -> None:
        if self._row is not None:
            self._row.append(text)
            return
        if heading_level == 1 and self.title is None and text.strip():
            self.title = " ".join(text.split())
        self._add(text.strip() if heading_level else text)

    def _add(self, text: str) -> None:
        text = "\n".join(line.rstrip() for line in text.strip("\n").split("\n"))
        if not text.strip():
            return
        self.blocks.append(self._prefix + text)
        self._prefix = ""


def _inline(children: list[Token]) -> str:
    parts: list[str] = []
    for child in children:
        kind = child.type
        if kind in ("text", "code_inline"):
            parts.append(child.content)
        elif kind in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif kind == "html_inline":
            # Inline tags are markup ("<br>", "<span>"); their text comes as text tokens.
            continue
        # image: alt text is not part of the statement; link/emphasis markers carry no text.
    return "".join(parts)


def _strip_html(block: str) -> str:
    """Text inside a raw HTML block (a <figure>, a comment): tags and comments removed."""
    import html

    text = _HTML_TAG.sub("", _HTML_COMMENT.sub("", block))
    return html.unescape(text)
