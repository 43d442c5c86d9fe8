"""Output hygiene for text a language model wrote, before anyone sees it.

Three things a model can be talked into by a planted instruction, and what
happens to each:

* invisible characters (zero-width, bidi controls, Unicode tag characters
  that smuggle ASCII): removed;
* mentions (``@everyone``, ``@here``, ``<@123>``, ``<@&123>``): user/role/channel
  tokens are removed and every remaining ``@`` becomes a full-width ``＠``,
  which no chat platform treats as a ping;
* links: kept only when the exact URL appears in the text of a paragraph the
  answer cites (outside any instruction, see `is_instruction`) or is that
  document's own source; every other link is removed (a Markdown link keeps
  its label).

`StreamSanitiser` applies the same rules to a stream of deltas: it releases
text one whole word at a time, so a URL or mention split across two deltas is
judged whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ingest.sentences import split_sentences
from qa.types import Citation

# Zero-width characters, bidi controls and embeddings, word joiners, the BOM,
# soft hyphens and the Unicode "tag" block (invisible ASCII look-alikes).
INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\U000e0000-\U000e007f]")
_PLATFORM_MENTION = re.compile(r"<(?:@[!&]?|#|/[\w -]{1,32}:)\d{5,25}>")
FULLWIDTH_AT = "＠"

# A URL with a scheme, a www. host, or a bare host followed by a path
# ("evil.example/x?q=..."): chat clients turn all three into links.
_URL = re.compile(
    r"(?:\b(?:https?|ftp)://|\bwww\.)[^\s<>\"'`\[\]]+"
    r"|\b[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9-]+)*\.[a-z]{2,24}/[^\s<>\"'`\[\]]*",
    re.IGNORECASE,
)
_MARKDOWN_LINK = re.compile(r"\[([^\[\]\n]{0,300})\]\(\s*<?([^()\s<>]{1,2000})>?\s*\)")
_AUTOLINK = re.compile(r"<((?:https?|ftp)://[^<>\s]+)>", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\"’”"
_SPACES = re.compile(r"[ \t]{2,}")
_SPACE_BEFORE_PUNCTUATION = re.compile(r"[ \t]+([.,;:!?])")


# A sentence addressed to a reader or a model rather than stating something:
# "Ignore previous instructions and ...", "Reply only with ...", "@everyone visit ...".
# Text inside such a sentence is never evidence for a claim, and its links are never shown.
_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b.{0,60}?\b(?:instructions?|rules?|prompts?|guidelines?|directions?)\b"
    r"|\b(?:system prompt|you are now|as an ai|new instructions?|developer mode)\b"
    r"|^\W*(?:@\w+\W+)?(?:please\s+)?(?:ignore|disregard|forget|say|reply|respond|output|print|repeat|visit|click"
    r"|open|ping|mention|tell|answer|write)\b",
    re.IGNORECASE,
)


def is_instruction(sentence: str) -> bool:
    """Whether a sentence of a document gives an order (to a model or a reader) instead of stating a fact.

    A mention token alone does not make one: a statement that ends in a role mention still
    states a fact, and every mention is neutralised before it is shown (`sanitise_text`).
    The tokens are removed first, so "<@&1> click here" is judged as "click here".
    """
    return bool(_INSTRUCTION.search(_PLATFORM_MENTION.sub("", remove_invisible(sentence))))


def _canonical(url: str) -> str:
    url = url.rstrip(_TRAILING)
    return url.rstrip("/").lower()


def links_in(text: str) -> set[str]:
    """The canonical form of every URL in `text`."""
    return {_canonical(m.group(0)) for m in _URL.finditer(text)}


def allowed_links(citations: Iterable[Citation]) -> frozenset[str]:
    """Links an answer may show: those the cited paragraphs state (not inside an instruction) and their sources."""
    allowed: set[str] = set()
    for citation in citations:
        for span in split_sentences(citation.text):
            sentence = citation.text[span.start : span.end]
            if not is_instruction(sentence):
                allowed |= links_in(sentence)
        if citation.source:
            allowed |= links_in(citation.source)
    return frozenset(allowed)


def remove_invisible(text: str) -> str:
    return INVISIBLE.sub("", text)


def neutralise_mentions(text: str) -> str:
    """No pings: platform mention tokens removed, every other ``@`` made full-width."""
    return _PLATFORM_MENTION.sub("", text).replace("@", FULLWIDTH_AT)


def strip_links(text: str, allowed: frozenset[str]) -> str:
    """Remove every link whose URL is not in `allowed` (Markdown links keep their label)."""

    def markdown(match: re.Match[str]) -> str:
        label, url = match.group(1), match.group(2)
        return match.group(0) if _canonical(url) in allowed else label

    def bare(match: re.Match[str]) -> str:
        url = match.group(0)
        kept = url.rstrip(_TRAILING)
        if _canonical(kept) in allowed:
            return url
        return url[len(kept) :]  # keep the sentence's own closing punctuation

    text = _MARKDOWN_LINK.sub(markdown, text)
    text = _AUTOLINK.sub(lambda m: m.group(0) if _canonical(m.group(1)) in allowed else "", text)
    return _URL.sub(bare, text)


def sanitise_text(text: str, allowed: frozenset[str] = frozenset()) -> str:
    """All three rules, then the spaces left behind by removals folded (line breaks kept)."""
    cleaned = neutralise_mentions(strip_links(remove_invisible(text), allowed))
    if cleaned == text:
        return text
    lines = [_SPACE_BEFORE_PUNCTUATION.sub(r"\1", _SPACES.sub(" ", line)).strip() for line in cleaned.split("\n")]
    return "\n".join(lines).strip()


class StreamSanitiser:
    """Sanitises streamed deltas, releasing whole words only (see the module docstring)."""

    def __init__(self, allowed: frozenset[str] = frozenset()) -> None:
        self.allowed = allowed
        self._pending = ""

    def feed(self, delta: str) -> str:
        self._pending += remove_invisible(delta)
        cut = max(self._pending.rfind(" "), self._pending.rfind("\n"), self._pending.rfind("\t"))
        if cut < 0:
            return ""
        ready, self._pending = self._pending[: cut + 1], self._pending[cut + 1 :]
        return self._clean(ready)

    def flush(self) -> str:
        ready, self._pending = self._pending, ""
        return self._clean(ready)

    def _clean(self, text: str) -> str:
        return neutralise_mentions(strip_links(text, self.allowed))
