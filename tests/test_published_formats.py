"""Documents as they are really published: every paragraph comes back exactly as published, nothing else does."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from ingest.loaders import load_bytes, load_path
from ingest.models import Document, fold_whitespace
from ingest.parser import parse_loaded
from tests import published

FURNITURE = (
    published.RUNNING_HEADER,
    "Page ",
    "Skip to content",
    "Briefing Room",
    "Statements and Releases",
    "We use cookies",
    "Share this",
    "Facebook",
    "Next Post",
    "Readout of President",
    "Privacy Policy",
    "Pennsylvania Ave",
    "gtag",
    "###",
)
HEADINGS = [heading for part in published.STATEMENT for heading in part.headings]


def parsed(path: Path) -> tuple[Document, dict[str, int]]:
    loaded = load_path(path)
    return parse_loaded(loaded), loaded.removed


def assert_every_paragraph_as_published(document: Document) -> None:
    got = [(p.label, fold_whitespace(p.text)) for p in document.paragraphs]
    assert got == [(label, fold_whitespace(text)) for label, text in published.published_paragraphs()]
    for paragraph in document.paragraphs:
        assert not any(junk in paragraph.text for junk in FURNITURE), paragraph
        assert not any(heading in paragraph.text for heading in HEADINGS), paragraph


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("published")
    published.write_all(folder)
    return folder


def test_typeset_pdf_reads_as_published_without_header_footer_or_invented_preamble(folder: Path) -> None:
    """Running header, "Page N of M" footer and mid-sentence page breaks leave no trace; title from display type."""
    document, removed = parsed(folder / "g7-leaders-statement.pdf")

    assert document.title == published.TITLE
    assert document.date == date(2022, 3, 24)
    assert_every_paragraph_as_published(document)
    # Header and footer on each page, all counted.
    assert removed["header/footer lines"] >= 6
    assert removed["header/footer lines"] % 2 == 0


def test_typeset_pdf_fixture_really_breaks_pages_mid_sentence(folder: Path) -> None:
    """The fixture is worth its name: it has 3+ pages and a page ends inside a sentence."""
    import pdfplumber

    with pdfplumber.open(folder / "g7-leaders-statement.pdf") as pdf:
        assert len(pdf.pages) >= 3
        last_body_lines = [page.extract_text_lines()[-2]["text"] for page in pdf.pages[:-1]]
    assert any(not line.rstrip().endswith(".") for line in last_body_lines)


def test_saved_web_page_keeps_only_the_statement(folder: Path) -> None:
    """Menus, breadcrumb, cookie banner, share box, "Next Post" and footer stay out; <p> and <ol> numbers stay in."""
    document, _removed = parsed(folder / "g7-leaders-statement.html")

    assert document.title == published.TITLE
    assert document.date == date(2022, 3, 24)
    assert_every_paragraph_as_published(document)


@pytest.mark.parametrize(
    ("head", "logo"),
    [
        ('<meta property="og:site_name" content="Ministry of Foreign Affairs">', ""),
        ("", '<a href="/">Ministry of Foreign Affairs</a>'),
    ],
)
def test_web_page_title_loses_the_site_name_suffix(head: str, logo: str) -> None:
    """Without og:title or <h1>, <title> is used without " | Site name" (named in metadata or by the home link)."""
    page = (
        f"<html><head><title>Joint Statement on Trade | Ministry of Foreign Affairs</title>{head}</head>"
        f"<body><header>{logo}</header><article><p>1. The ministers met in Tokyo and agreed to deepen trade ties.</p>"
        "<p>2. They will meet again next year.</p></article></body></html>"
    )

    loaded = load_bytes(page.encode(), name="trade.html")

    assert loaded.title_hint == "Joint Statement on Trade"


def test_web_page_title_keeps_a_dash_that_is_part_of_it() -> None:
    """A separator inside the title is kept when what follows is not the site's name."""
    page = "<html><head><title>UK – Japan Joint Statement</title></head><body><p>Text.</p></body></html>"

    assert load_bytes(page.encode(), name="uk.html").title_hint == "UK – Japan Joint Statement"


def test_markdown_front_matter_sets_title_date_and_source_link(folder: Path) -> None:
    """Front matter is data about the statement; escapes are undone; the end marker is dropped and counted."""
    document, removed = parsed(folder / "g7-leaders-statement.md")

    assert document.title == published.TITLE
    assert document.date == date(2022, 3, 24)
    assert document.url == "https://www.example.gov/briefing-room/2022/03/24/g7-leaders-statement/"
    assert_every_paragraph_as_published(document)
    assert removed == {"end markers": 1}


@pytest.mark.parametrize(
    ("name", "marker"),
    [
        ("t.md", "\\###"),
        ("t.md", "**\\###**"),
        ("t.md", "ENDS"),
        ("t.txt", "###"),
        ("t.txt", "# # #"),
        ("t.txt", "-30-"),
        ("t.txt", "Ends"),
    ],
)
def test_end_marker_is_neither_a_paragraph_nor_part_of_the_last(name: str, marker: str) -> None:
    """Press-release end markers close the statement; they are not text of it."""
    text = f"Title\n\nFirst paragraph.\n\nLast paragraph.\n{marker}\n"

    document = parse_loaded(load_bytes(text.encode(), name=name))

    assert [p.text for p in document.paragraphs] == ["First paragraph.", "Last paragraph."]


def test_word_automatic_numbering_becomes_the_printed_numbers(folder: Path) -> None:
    """Numbers Word generates from a numbered list style are the paragraph numbers, as printed."""
    document, _removed = parsed(folder / "g7-leaders-statement.docx")

    assert document.title == published.TITLE
    assert document.date == date(2022, 3, 24)
    assert_every_paragraph_as_published(document)


def test_plain_text_stacked_headings_are_layout_not_paragraph_text() -> None:
    """Part headings, capitals and title case between paragraphs are dropped, even after a missing full stop."""
    text = (
        "G7 Leaders' Statement\n\n24 March 2022\n\n"
        "A. TOWARD A MORE SECURE AND STABLE WORLD\n\nSituation in the Middle East\n\n"
        "1. We discussed the situation in the region.\n\n"
        "2. We support the people of the region, who deserve peace\n\n"
        "Climate Change and Energy\n\n"
        "3. We will cut emissions.\n\n"
        "II. ECONOMY\nTrade and Investment\n\n"
        "4. We will keep markets open.\n"
    )

    document = parse_loaded(load_bytes(text.encode(), name="g7.txt"))

    assert [(p.label, p.text) for p in document.paragraphs] == [
        ("1", "We discussed the situation in the region."),
        ("2", "We support the people of the region, who deserve peace"),
        ("3", "We will cut emissions."),
        ("4", "We will keep markets open."),
    ]


def test_page_break_mid_sentence_is_not_taken_for_a_heading() -> None:
    """Text that carries on after a break ("...support for" / "Ukraine in" / "defending...") stays in its paragraph."""
    text = "Title\n\n1. We reaffirm our support for\n\nUkraine in\n\ndefending its freedom.\n\n2. Next.\n"

    document = parse_loaded(load_bytes(text.encode(), name="t.txt"))

    assert document.paragraphs[0].text == "We reaffirm our support for Ukraine in defending its freedom."


def test_numbered_paragraphs_alike_on_every_page_are_never_dropped_as_furniture(tmp_path: Path) -> None:
    """Paragraphs of the same shape at the top of each page are paragraphs, not a running header."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_font("Helvetica", size=11)
    fish = ["cod", "haddock", "plaice", "sole", "hake", "turbot"]
    for number, name in enumerate(fish, start=1):
        if number % 2:
            pdf.add_page()
        # Wrapped, so each page's first line reads alike but for its numbers: "N. The parties agreed on a quota of".
        pdf.multi_cell(
            0,
            6,
            f"{number}. The parties agreed on a quota of {number * 100} tonnes for the fishing season in "
            f"the waters of the North Sea and the Skagerrak, for {name}.",
        )
        pdf.ln(4)
    path = tmp_path / "quotas.pdf"
    path.write_bytes(bytes(pdf.output()))

    document, removed = parsed(path)

    assert [p.label for p in document.paragraphs if p.label != "preamble"] == [str(n) for n in range(1, 7)]
    assert document.paragraphs[0].text.startswith("The parties agreed on a quota of 100 tonnes")
    assert removed == {}


def test_long_file_names_sharing_their_first_64_characters_get_distinct_stable_ids(tmp_path: Path) -> None:
    """A long file name never stops a statement from being ingested: ids keep a hash of the whole name."""
    stem = "2021-06-02-statement-by-nsc-spokesperson-emily-horne-on-national-security-advisor"
    first = tmp_path / f"{stem}-jake-sullivans-call.md"
    second = tmp_path / f"{stem}-jake-sullivans-meeting.md"
    for path in (first, second):
        path.write_text("---\ntitle: T\ndate: 2021-06-02\n---\n\nText.\n", encoding="utf-8")

    ids = [parse_loaded(load_path(path)).id for path in (first, second)]

    assert ids[0] != ids[1]
    assert all(len(doc_id) <= 64 for doc_id in ids)
    assert ids == [parse_loaded(load_path(path)).id for path in (first, second)]
    assert ids[0].startswith("2021-06-02-statement-by-nsc-spokesperson")


def test_markdown_front_matter_that_is_not_yaml_names_the_line(tmp_path: Path) -> None:
    """Broken front matter is reported with its line, not ingested as text."""
    from errors import UnreadableDocument

    path = tmp_path / "bad.md"
    path.write_text("---\ntitle: A: B: C\n  - x\n---\n\nText.\n", encoding="utf-8")

    with pytest.raises(UnreadableDocument) as caught:
        load_path(path)

    assert "front matter that is not valid YAML" in caught.value.reason


def test_word_multilevel_numbering_prints_each_level_as_word_does(tmp_path: Path) -> None:
    """A decimal list with lettered sub-items in brackets: "1.", "(a)", "(b)", "2.", "(a)"; bullets become "- "."""
    import docx
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls

    document = docx.Document()
    numbering = document.part.numbering_part.element
    numbering.append(
        parse_xml(
            f'<w:abstractNum {nsdecls("w")} w:abstractNumId="90">'
            '<w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="decimal"/><w:lvlText w:val="%1."/></w:lvl>'
            '<w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="lowerLetter"/><w:lvlText w:val="(%2)"/></w:lvl>'
            '<w:lvl w:ilvl="2"><w:numFmt w:val="bullet"/><w:lvlText w:val="•"/></w:lvl>'
            "</w:abstractNum>"
        )
    )
    numbering.append(parse_xml(f'<w:num {nsdecls("w")} w:numId="90"><w:abstractNumId w:val="90"/></w:num>'))
    document.add_paragraph("Statement on Fisheries")
    for level, text in [(0, "One."), (1, "Sub a."), (1, "Sub b."), (2, "Point."), (0, "Two."), (1, "Sub again.")]:
        paragraph = document.add_paragraph(text)
        paragraph._p.get_or_add_pPr().append(
            parse_xml(f'<w:numPr {nsdecls("w")}><w:ilvl w:val="{level}"/><w:numId w:val="90"/></w:numPr>')
        )
    path = tmp_path / "fisheries.docx"
    document.save(path)

    loaded = load_path(path)

    assert loaded.text == (
        "Statement on Fisheries\n\n1. One.\n\n(a) Sub a.\n\n(b) Sub b.\n\n- Point.\n\n2. Two.\n\n(a) Sub again."
    )


def test_word_lock_files_are_skipped_by_discovery(tmp_path: Path) -> None:
    """The "~$name.docx" file Word leaves beside an open document is not a statement."""
    from ingest.loaders import discover

    (tmp_path / "statement.docx").write_bytes(published.word_document())
    (tmp_path / "~$statement.docx").write_bytes(b"lock")

    found = discover([tmp_path])

    assert [path.name for path in found.files] == ["statement.docx"]
    assert [(path.name, reason) for path, reason in found.skipped] == [("~$statement.docx", "Word lock file")]
