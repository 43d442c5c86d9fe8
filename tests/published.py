"""One statement as it is really published: typeset PDF, saved web page, Markdown with front matter, Word.

Each builder renders the same published text (:data:`STATEMENT`) the way the
format's publishers do, furniture and all, so a test can compare every
paragraph a loader recovers with the text as published:

* :func:`typeset_pdf` (fpdf2): title in display type, running header "G7 Germany
  2022" and footer "Page N of M" on every page, part headings, page breaks that
  fall mid-sentence;
* :func:`saved_web_page`: a government site's page with skip link, menu,
  breadcrumb, cookie banner, share box, "Next Post" link, scripts and footer;
  paragraphs 1-6 carry printed numbers in ``<p>``, 7 on are an ``<ol start=7>``;
* :func:`markdown_with_front_matter`: an archive's file (YAML front matter,
  escaped markup, "\\###" end marker);
* :func:`word_document` (python-docx): paragraphs numbered by Word's automatic
  list numbering, so no number is in the text.

Run as a script to write all four into a folder: ``python -m tests.published OUT``.
"""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass
from pathlib import Path

TITLE = "G7 Leaders' Statement"
DATE_LINE = "24 March 2022"
RUNNING_HEADER = "G7 Germany 2022"
SITE = "The White House"


@dataclass(frozen=True)
class Part:
    headings: tuple[str, ...]  # stacked headings set above the paragraphs that follow
    paragraphs: tuple[str, ...]


_SENTENCES = (
    "We, the Leaders of the G7, met in Brussels today at the invitation of the German G7 Presidency "
    "to reaffirm our support for the government and people of Ukraine.",
    "We condemn the massive and unprovoked military aggression against the independent and sovereign "
    "state of Ukraine, and we call on the Russian government to withdraw its forces without delay.",
    "We will continue to work with our partners to impose severe consequences on those responsible, "
    "including through the full and timely implementation of the measures we have already adopted.",
    "We welcome the work of the international financial institutions to provide rapid support, and we "
    "stand ready to mobilise further funding for the people of Ukraine in the weeks to come.",
    "We are determined to protect the integrity of the global financial system and will close the "
    "remaining loopholes through which sanctioned individuals could move their assets abroad.",
    "We task our Foreign and Finance Ministers in a focused initiative to monitor the full "
    "implementation of sanctions and to coordinate responses to evasion and backfilling.",
    "We call on all countries to refrain from providing military or other assistance that would help "
    "continue the aggression, and we will remain vigilant regarding any such assistance.",
    "We will consult closely with partners in the region on the consequences for energy and food "
    "security, and we will work to reduce our reliance on Russian energy as quickly as possible.",
)


_OPENERS = (
    "Today,", "At the same time,", "Above all,", "In this spirit,", "Moreover,", "For this reason,",
    "In addition,", "Likewise,", "Furthermore,", "Finally,", "In closing,",
)  # fmt: skip


def _paragraph(number: int, length: int) -> str:
    """A paragraph of ``length`` sentences, varied by ``number`` so no two paragraphs are alike."""
    picked = [_SENTENCES[(number * 3 + offset) % len(_SENTENCES)] for offset in range(length)]
    first = picked[0][0].lower() + picked[0][1:]
    return " ".join([_OPENERS[number - 1], first, *picked[1:]])


STATEMENT: tuple[Part, ...] = (
    Part(
        ("A. TOWARD A MORE SECURE AND STABLE WORLD", "Situation in Ukraine"),
        tuple(_paragraph(n, 3 + n % 3) for n in range(1, 5)),
    ),
    Part(("Situation in the Middle East",), tuple(_paragraph(n, 3 + n % 2) for n in range(5, 8))),
    Part(("B. ENERGY AND FOOD SECURITY",), tuple(_paragraph(n, 4 + n % 2) for n in range(8, 12))),
)


def published_paragraphs() -> list[tuple[str, str]]:
    """(printed number, text) of every numbered paragraph, as published."""
    texts = [text for part in STATEMENT for text in part.paragraphs]
    return [(str(number), text) for number, text in enumerate(texts, start=1)]


# --------------------------------------------------------------------------- PDF


def typeset_pdf() -> bytes:
    """The statement as a typeset A4 PDF with running header and footer."""
    from fpdf import FPDF

    class StatementPDF(FPDF):
        def header(self) -> None:
            self.set_font("Helvetica", size=9)
            self.cell(0, 8, RUNNING_HEADER, align="R")
            self.ln(14)

        def footer(self) -> None:
            self.set_y(-15)
            self.set_font("Helvetica", size=9)
            self.cell(0, 10, f"Page {self.page_no()} of {{nb}}", align="C")

    pdf = StatementPDF(format="A4")
    pdf.set_margins(25, 20, 25)
    pdf.set_auto_page_break(auto=True, margin=22)
    pdf.add_page()
    pdf.set_font("Helvetica", style="B", size=17)
    pdf.multi_cell(0, 9, TITLE)
    pdf.ln(2)
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 6, DATE_LINE)
    pdf.ln(6)
    number = 0
    for part in STATEMENT:
        for heading in part.headings:
            pdf.set_font("Helvetica", style="B", size=11)
            pdf.multi_cell(0, 6, heading)
            pdf.ln(3)
        pdf.set_font("Helvetica", size=11)
        for text in part.paragraphs:
            number += 1
            pdf.multi_cell(0, 6, f"{number}. {text}")
            pdf.ln(4)
    return bytes(pdf.output())


# --------------------------------------------------------------------------- web page


def saved_web_page() -> str:
    """The statement as saved from a government site, with all the site around it."""
    from html import escape

    body: list[str] = []
    number = 0
    for part in STATEMENT:
        body.extend(f"<h2>{escape(heading)}</h2>" for heading in part.headings)
        items: list[str] = []
        for text in part.paragraphs:
            number += 1
            if number <= 6:
                body.append(f"<p>{number}. {escape(text)}</p>")
            else:
                items.append(f"<li>{escape(text)}</li>")
        if items:
            start = number - len(items) + 1
            body.append(f'<ol start="{start}">' + "".join(items) + "</ol>")
    content = "\n".join(body)
    return f"""<!DOCTYPE html>
<html lang="en-US"><head>
<meta charset="UTF-8">
<title>{escape(TITLE)} | {SITE}</title>
<meta property="og:title" content="{escape(TITLE)}">
<meta property="og:site_name" content="{SITE}">
<meta property="article:published_time" content="2022-03-24T12:01:09+00:00">
<script>window.dataLayer = window.dataLayer || []; gtag("config", "G-XXXX");</script>
<style>.cookie-banner {{ position: fixed; }}</style>
</head><body class="post-template">
<a class="skip-link screen-reader-text" href="#content">Skip to content</a>
<header class="site-header"><div class="logo"><a href="/">{SITE}</a></div>
<nav class="main-menu" aria-label="Main menu"><ul>
<li><a href="/administration/">Administration</a></li><li><a href="/priorities/">Priorities</a></li>
<li><a href="/briefing-room/">Briefing Room</a></li><li><a href="/espanol/">Español</a></li></ul></nav>
</header>
<div class="cookie-banner" role="dialog"><p>We use cookies to understand how you use our site and to
improve your experience. By continuing to use our site, you accept our use of cookies.</p>
<button>Accept</button></div>
<main id="content"><article class="post">
<div class="breadcrumb"><a href="/briefing-room/">Briefing Room</a> <span>&rsaquo;</span>
<a href="/briefing-room/statements-releases/">Statements and Releases</a></div>
<header class="page-header"><h1 class="page-title">{escape(TITLE)}</h1>
<div class="meta"><time datetime="2022-03-24">March 24, 2022</time> &bull;
<a href="/briefing-room/statements-releases/">Statements and Releases</a></div></header>
<section class="body-content">
{content}
<p>###</p>
</section>
<div class="share-box"><span>Share this:</span> <a href="https://facebook.com/share">Facebook</a>
<a href="https://twitter.com/share">Twitter</a> <a href="mailto:?subject=G7">Email</a></div>
<nav class="post-navigation" aria-label="Posts"><div class="nav-next">
<a href="/briefing-room/2022/03/24/readout/">Next Post <span>Readout of President Biden's Meeting with
European Leaders</span></a></div></nav>
</article></main>
<footer class="site-footer"><nav><ul><li><a href="/privacy/">Privacy Policy</a></li>
<li><a href="/copyright/">Copyright Policy</a></li><li><a href="/accessibility/">Accessibility Statement</a></li>
</ul></nav><p>{SITE} 1600 Pennsylvania Ave NW Washington, DC 20500</p></footer>
<script src="/wp-content/themes/wh/app.js"></script>
</body></html>
"""


# --------------------------------------------------------------------------- Markdown


def markdown_with_front_matter() -> str:
    """The statement as an archive keeps it: front matter, escaped markup, an end marker."""
    lines = [
        "---",
        "date: '2022-03-24'",
        "published_time: 2022-03-24 08:00:00-04:00",
        "source_url: https://www.example.gov/briefing-room/2022/03/24/g7-leaders-statement/",
        f'title: "{TITLE}"',
        "---",
        " ",
    ]
    number = 0
    for part in STATEMENT:
        lines.extend(f"## {heading}\n" for heading in part.headings)
        for text in part.paragraphs:
            number += 1
            # Archives escape what would otherwise be markup, and wrap lines at 72 columns.
            escaped = text.replace("_", "\\_")
            wrapped = _wrap(f"{number}\\. {escaped}", 72)
            lines.append(wrapped + "\n")
    lines.append("\\###")
    return "\n".join(lines) + "\n"


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))


# --------------------------------------------------------------------------- Word


def word_document() -> bytes:
    """The statement as a .docx whose paragraph numbers come from Word's automatic numbering."""
    import docx

    document = docx.Document()
    document.core_properties.title = TITLE
    document.add_paragraph(TITLE, style="Title")
    document.add_paragraph(DATE_LINE)
    for part in STATEMENT:
        for heading in part.headings:
            document.add_paragraph(heading, style="Heading 2")
        for text in part.paragraphs:
            # "List Number" carries a decimal list numbering ("%1.") in Word's default template.
            document.add_paragraph(text, style="List Number")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def write_all(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "g7-leaders-statement.pdf": typeset_pdf(),
        "g7-leaders-statement.html": saved_web_page().encode(),
        "g7-leaders-statement.md": markdown_with_front_matter().encode(),
        "g7-leaders-statement.docx": word_document(),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return [folder / name for name in files]


if __name__ == "__main__":
    for path in write_all(Path(sys.argv[1] if len(sys.argv) > 1 else "published")):
        print(path)
