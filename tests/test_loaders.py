"""Loaders turn each supported format into plain text, and every bad input into a clear error."""

from __future__ import annotations

import hashlib
import io
import os
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader, PdfWriter

from errors import UnreadableDocument
from ingest.loaders import (
    DEFAULT_MAX_BYTES,
    SUPPORTED_SUFFIXES,
    LoadedText,
    discover,
    html_to_text,
    load_bytes,
    load_path,
)
from ingest.parser import parse_statement

# --------------------------------------------------------------------------- fixtures


def _pdf_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return f"({escaped})"


def minimal_pdf(pages: list[list[str]], *, title: str | None = None) -> bytes:
    """A hand-written PDF: one Helvetica text line per entry, one page per inner list."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{' '.join(f'{4 + 2 * i} 0 R' for i in range(len(pages)))}] "
        f"/Count {len(pages)} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for index, lines in enumerate(pages):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (5 + 2 * index)
        )
        operations = ["BT", "/F1 12 Tf", "72 720 Td"]
        for number, line in enumerate(lines):
            if number:
                operations.append("0 -14 Td")
            operations.append(f"{_pdf_string(line)} Tj")
        operations.append("ET")
        stream = "\n".join(operations).encode("latin-1")
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    info = ""
    if title is not None:
        objects.append(f"<< /Title {_pdf_string(title)} >>".encode("latin-1"))
        info = f" /Info {len(objects)} 0 R"
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R{info} >>\n".encode()
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def encrypted(pdf: bytes, *, user_password: str, algorithm: str = "RC4-128") -> bytes:
    """``pdf`` encrypted with RC4 (or AES, which needs the `cryptography` package, a dependency of ours)."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm=algorithm)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def write(directory: Path, name: str, content: bytes | str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    return path


def reason_for(path: Path, **kwargs: int | float) -> UnreadableDocument:
    with pytest.raises(UnreadableDocument) as caught:
        load_path(path, **kwargs)  # type: ignore[arg-type]
    return caught.value


# --------------------------------------------------------------------------- plain text


def test_txt_is_returned_verbatim_with_unix_newlines(tmp_path: Path) -> None:
    """Plain text keeps quotes, dashes and numbering; CRLF becomes LF and the BOM goes."""
    raw = "\ufeff1. The “Council” — firmly\r\nnotes.\r\n\r\n(2) It ‘regrets’ this.\r3) Done.\n"
    path = write(tmp_path, "statement.txt", raw)

    loaded = load_path(path)

    assert loaded == LoadedText(
        text="1. The “Council” — firmly\nnotes.\n\n(2) It ‘regrets’ this.\n3) Done.\n",
        source=str(path),
        title_hint=None,
        format="txt",
        raw_hash=hashlib.sha256(raw.encode("utf-8")).hexdigest(),
    )


def test_txt_in_utf16_with_bom_is_decoded(tmp_path: Path) -> None:
    """A UTF-16 file from a Windows editor reads like its UTF-8 twin."""
    path = write(tmp_path, "statement.txt", "1. Première phrase.\r\n".encode("utf-16"))

    assert load_path(path).text == "1. Première phrase.\n"


@settings(max_examples=60, deadline=None)
@given(
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufeff"),
        min_size=1,
    ).filter(str.strip)
)
def test_any_printable_text_survives_a_txt_round_trip(text: str) -> None:
    """Whatever printable characters a user wrote come back unchanged."""
    assert load_bytes(text.encode("utf-8"), name="s.txt").text == text


# --------------------------------------------------------------------------- markdown


def test_markdown_loses_markup_but_keeps_numbering_and_text(tmp_path: Path) -> None:
    """Headings, emphasis, links, images, fences and comments go; numbers and quotes stay."""
    markdown = (
        "# Joint *Statement* on X\n"
        "\n"
        "<!-- drafting note: remove -->\n"
        'The **parties** met in [Geneva](https://example.org/geneva_(city) "map") '
        "![logo](logo.png)on 3 May.\n"
        "1. They *welcome* the “agreement” — in full.\n"
        "2. They note `snake_case` and \\*stars\\*.\n"
        "\n"
        "## Annex\n"
        "```text\n"
        "verbatim *code*\n"
        "```\n"
        "- one\n"
        "* two\n"
    )
    path = write(tmp_path, "statement.md", markdown)

    loaded = load_path(path)

    assert loaded.format == "md"
    assert loaded.title_hint == "Joint Statement on X"
    assert loaded.text == (
        "Joint Statement on X\n"
        "\n"
        "The parties met in Geneva on 3 May.\n"
        "\n"
        "1. They welcome the “agreement” — in full.\n"
        "\n"
        "2. They note snake_case and *stars*.\n"
        "\n"
        "Annex\n"
        "\n"
        "verbatim *code*\n"
        "\n"
        "- one\n"
        "\n"
        "- two"
    )


def test_silent_typesetting_characters_leave_titles_and_paragraphs(tmp_path: Path) -> None:
    """Word joiners ("Biden-\u2060Harris", as the archive's YAML titles write them), soft hyphens and zero-width
    spaces print nothing: they are dropped from the title and the text, so listings do not show them as escapes
    and BM25 reads whole words. A bidi override is not silent: it stays, for `shown` to escape."""
    from ingest.display import shown
    from ingest.parser import parse_loaded

    path = write(
        tmp_path,
        "fact-sheet.md",
        '---\ntitle: "FACT SHEET: Biden-\\u2060Harris Administration Acts\\u202e"\ndate: 2023-02-17\n---\n\n'
        "The Ad\u00administration de\u200bployed teams within hours.\n",
    )
    document = parse_loaded(load_path(path))
    assert document.title == "FACT SHEET: Biden-Harris Administration Acts\u202e"
    assert shown(document.title) == "FACT SHEET: Biden-Harris Administration Acts\\u202e"
    assert document.paragraphs[0].text == "The Administration deployed teams within hours."


def test_markdown_wrapped_line_starting_with_a_year_is_not_a_list_item() -> None:
    """Only "1." may interrupt a paragraph, so hard-wrapped prose is not split."""
    loaded = load_bytes(b"Adopted in May\n2019. The text follows.\n", name="s.markdown")

    assert loaded.text == "Adopted in May\n2019. The text follows."


def test_markdown_with_only_markup_is_rejected(tmp_path: Path) -> None:
    """A Markdown file that renders to nothing is reported, not ingested as empty."""
    error = reason_for(write(tmp_path, "logo.md", "![logo](logo.png)\n<!-- todo -->\n"))

    assert "no readable text" in error.reason


# --------------------------------------------------------------------------- html

PAGE = """<!DOCTYPE html>
<html><head>
  <meta charset="utf-8"><title> Statement of  the Council </title>
  <style>p { color: red }</style>
  <script>document.write("<p>injected</p>")</script>
</head><body>
<header><nav><a href="/">Home</a> | <a href="/news">News</a></nav></header>
<main><article>
  <h1>Statement on X</h1>
  <!-- internal: do not publish -->
  <p>The Council,&nbsp;meeting  on
     3&nbsp;May, says &ldquo;no&rdquo; &amp; more:</p>
  <ol start="4"><li>welcomes the <b>agreement</b>;</li><li><p>calls for calm.</p></li></ol>
  <ol type="a"><li>first</li><li>second</li></ol>
  <ul><li>bullet one</li><li>bullet two</li></ul>
  <p>Line one<br>Line two</p>
  <div hidden>hidden draft</div>
  <noscript>Enable JavaScript</noscript>
  <footer>Issued in Geneva</footer>
</article></main>
<aside>Related links</aside>
<form>Search <input name="q"><button>Go</button></form>
<footer>© Site 2024</footer>
<svg><title>icon</title><text>svg text</text></svg>
</body></html>
"""


def test_html_keeps_visible_text_and_numbers_list_items(tmp_path: Path) -> None:
    """Scripts, styles, navigation, comments and chrome are dropped; lists get markers; <br> is a line break."""
    loaded = load_path(write(tmp_path, "statement.html", PAGE))

    assert loaded.format == "html"
    # The page's own heading names it; <title> is only the last resort.
    assert loaded.title_hint == "Statement on X"
    assert loaded.text == (
        "Statement on X\n"
        "\n"
        "The Council,\u00a0meeting on 3\u00a0May, says “no” & more:\n"
        "\n"
        "4. welcomes the agreement;\n"
        "\n"
        "5. calls for calm.\n"
        "\n"
        "a. first\n"
        "\n"
        "b. second\n"
        "\n"
        "- bullet one\n"
        "\n"
        "- bullet two\n"
        "\n"
        "Line one\n"
        "Line two"
    )


def test_html_title_hint_falls_back_to_first_h1() -> None:
    """Without a <title>, the first heading names the document."""
    loaded = load_bytes(b"<h1>Press  release</h1><p>Text.</p>", name="page.htm")

    assert loaded.title_hint == "Press release"
    assert loaded.text == "Press release\n\nText."


def test_html_is_decoded_with_its_declared_charset() -> None:
    """A legacy page declaring windows-1252 keeps its curly quotes."""
    data = '<meta http-equiv="Content-Type" content="text/html; charset=windows-1252"><p>“Yes”</p>'

    assert load_bytes(data.encode("cp1252"), name="old.html").text == "“Yes”"


def test_html_with_only_scripts_has_no_visible_text() -> None:
    """A JavaScript-rendered shell is reported with a way out."""
    with pytest.raises(UnreadableDocument) as caught:
        load_bytes(b"<html><body><script>render()</script></body></html>", name="app.html")

    assert "no visible text" in caught.value.reason
    assert "PDF" in caught.value.hint


@settings(max_examples=150, deadline=None)
@given(st.text() | st.text(alphabet="<>!-/[]?&#;:ab =\"'\n"))
def test_html_extraction_never_crashes_on_arbitrary_markup(markup: str) -> None:
    """Any string, however broken as HTML, yields text without raising."""
    text, _title = html_to_text(markup)

    assert "\n\n\n" not in text


def test_html_with_declarations_older_pythons_reject_is_still_read() -> None:
    """Broken "<![...]>" sections are dropped like a browser does, not a crash."""
    loaded = load_bytes(b"<p>Before</p><![foo bar]><p>After</p>", name="word.html")

    assert loaded.text == "Before\n\nAfter"


def test_html_of_unterminated_tags_is_reported_not_stalled() -> None:
    """Unterminated tags made html.parser quadratic; lxml reads them in one pass and finds no text."""
    hostile = b"<a " * 100_000

    with pytest.raises(UnreadableDocument) as caught:
        load_bytes(hostile, name="hostile.html")

    assert "no visible text" in caught.value.reason


def test_markdown_full_of_unmatched_markers_is_processed_quickly() -> None:
    """Inline patterns stay linear, so stray "*", "_" or "<" cannot stall ingestion."""
    hostile = "*a _b **c __d ~~e [f](g <h " * 20_000

    loaded = load_bytes(hostile.encode(), name="hostile.md")

    assert loaded.text == hostile.rstrip()


# --------------------------------------------------------------------------- pdf


def test_pdf_text_and_title_are_extracted_page_by_page(tmp_path: Path) -> None:
    """Each page's text is kept, pages are separated by a blank line, /Title is the hint."""
    pdf = minimal_pdf(
        [["1. The Council (in session)", "welcomes the agreement."], ["2. It calls for calm."]],
        title="Council statement",
    )
    path = write(tmp_path, "statement.pdf", pdf)

    loaded = load_path(path)

    assert loaded.format == "pdf"
    assert loaded.title_hint == "Council statement"
    assert loaded.raw_hash == hashlib.sha256(pdf).hexdigest()
    assert loaded.text == ("1. The Council (in session)\nwelcomes the agreement.\n\n2. It calls for calm.")


def test_pdf_page_numbers_and_running_headers_stay_out_of_paragraphs(tmp_path: Path) -> None:
    """A paragraph that runs over a page break reads as one sentence, without "2" or the repeated header in it."""
    header = "Joint Statement on Frigates"
    pdf = minimal_pdf(
        [
            [header, "1. The Ministers welcomed the", "frigate visit and agreed to", "1"],
            [header, "deepen cooperation on radars.", "2. They will meet in 2026.", "Page 2 of 3"],
            [header, "3. They called for calm.", "Page 3 of 3"],
        ]
    )
    loaded = load_path(write(tmp_path, "frigates.pdf", pdf))
    document = parse_statement(loaded.text, source=loaded.source, title_hint=loaded.title_hint)

    # A running header is never the title: with no display type, /Title or title-like first line, the file name is.
    assert loaded.title_hint is None
    assert document.title == "frigates"
    assert [(p.label, p.text) for p in document.paragraphs] == [
        ("1", "The Ministers welcomed the frigate visit and agreed to deepen cooperation on radars."),
        ("2", "They will meet in 2026."),
        ("3", "They called for calm."),
    ]


def test_pdf_title_is_the_first_body_line_not_the_running_header(tmp_path: Path) -> None:
    """A series name repeated atop every page ("Ministry of Defence - Press Office") is furniture, not the title."""
    header = "Ministry of Defence - Press Office"
    pdf = minimal_pdf(
        [
            [header, "Statement on Frigate Cooperation", "1. The Ministers met.", "Page 1 of 2"],
            [header, "2. They will meet in 2026.", "Page 2 of 2"],
        ]
    )
    loaded = load_path(write(tmp_path, "frigates.pdf", pdf))
    document = parse_statement(loaded.text, source=loaded.source, title_hint=loaded.title_hint)

    assert document.title == "Statement on Frigate Cooperation"
    assert header not in loaded.text
    assert [(p.label, p.text) for p in document.paragraphs] == [
        ("1", "The Ministers met."),
        ("2", "They will meet in 2026."),
    ]


def test_pdf_attachment_name_may_be_a_url() -> None:
    """A Discord attachment URL with a query string is read by its file suffix."""
    url = "https://cdn.example.com/attachments/1/2/Statement.PDF?ex=abc&is=def"

    loaded = load_bytes(minimal_pdf([["Only line."]]), name=url)

    assert (loaded.text, loaded.source, loaded.title_hint) == ("Only line.", url, None)


def test_pdf_with_a_password_is_reported_as_encrypted(tmp_path: Path) -> None:
    """A PDF that needs a password says so, and how to make a copy that opens."""
    path = write(tmp_path, "locked.pdf", encrypted(minimal_pdf([["Secret."]]), user_password="pw"))

    error = reason_for(path)

    assert error.reason.startswith("needs a password to open")
    assert "save a copy without one" in error.hint
    assert str(error).startswith(str(path))


@pytest.mark.parametrize("algorithm", ["RC4-128", "AES-128", "AES-256"])
def test_pdf_restricted_only_by_an_owner_password_is_read(tmp_path: Path, algorithm: str) -> None:
    """PDFs encrypted only to limit copying or printing (RC4 or AES) open without a password and are read."""
    pdf = encrypted(minimal_pdf([["Open text."]]), user_password="", algorithm=algorithm)
    path = write(tmp_path, "restricted.pdf", pdf)

    assert load_path(path).text == "Open text."


def test_aes_pdf_that_needs_a_password_says_so(tmp_path: Path) -> None:
    """An AES-encrypted PDF with a user password is reported as needing one, not as broken."""
    path = write(tmp_path, "locked.pdf", encrypted(minimal_pdf([["Secret."]]), user_password="pw", algorithm="AES-256"))

    assert reason_for(path).reason.startswith("needs a password to open")


def test_malformed_pdf_is_reported_as_not_a_valid_pdf(tmp_path: Path) -> None:
    """A file with a PDF header but broken structure names the parser's complaint."""
    error = reason_for(write(tmp_path, "broken.pdf", b"%PDF-1.4\n1 0 obj << /Type /Cat"))

    assert error.reason.startswith("is not a valid PDF (")
    assert error.reason != "is not a valid PDF ()"


def test_file_renamed_to_pdf_is_rejected_without_a_subprocess(tmp_path: Path) -> None:
    """Bytes without a %PDF- header are not a PDF, whatever the name says."""
    error = reason_for(write(tmp_path, "notes.pdf", b"just some notes"))

    assert error.reason == "is not a valid PDF (no %PDF- header)"


def test_pdf_without_text_is_reported_as_a_probable_scan(tmp_path: Path) -> None:
    """A PDF whose pages carry no text (a scan) is refused with a hint to OCR it."""
    error = reason_for(write(tmp_path, "scan.pdf", minimal_pdf([[], []])))

    assert error.reason == "has no extractable text (scanned image?)"
    assert "OCR" in error.hint


def test_pdf_reading_past_the_time_limit_is_stopped(tmp_path: Path) -> None:
    """A PDF that takes too long is abandoned with the limit in the message."""
    path = write(tmp_path, "slow.pdf", minimal_pdf([["Text."]]))

    # No real PDF is reliably slow, but no worker can start in 1 ms either.
    error = reason_for(path, timeout_s=0.001)

    assert error.reason == "took longer than 0.001 s to read"


# --------------------------------------------------------------------------- bad input, any format


@pytest.mark.parametrize("name", ["empty.txt", "empty.md", "empty.html", "empty.pdf"])
def test_empty_file_is_rejected(tmp_path: Path, name: str) -> None:
    """A zero-byte file of any type says it is empty."""
    error = reason_for(write(tmp_path, name, b""))

    assert error.reason == "is empty"
    assert error.path == str(tmp_path / name)


def test_whitespace_only_file_is_rejected_as_empty(tmp_path: Path) -> None:
    """Spaces, tabs and newlines alone do not make a document."""
    error = reason_for(write(tmp_path, "blank.txt", " \t\r\n\n  \u3000\n"))

    assert error.reason == "is empty"


def test_non_utf8_text_names_the_offset_and_suggests_utf8(tmp_path: Path) -> None:
    """A Latin-1 file reports where decoding failed and how to fix it."""
    path = write(tmp_path, "latin1.txt", "Line one\nCafé crème\n".encode("latin-1"))

    error = reason_for(path)

    assert error.reason == "is not valid UTF-8 (byte 0xE9 at byte offset 12, line 2)"
    assert "UTF-8" in error.hint
    assert "Re-save" in error.hint


@pytest.mark.parametrize(
    "junk",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00",
        bytes(range(1, 128)) * 8,
    ],
    ids=["nul-bytes", "control-characters"],
)
def test_binary_junk_named_txt_is_rejected(tmp_path: Path, junk: bytes) -> None:
    """Binary data is called binary, not a text encoding problem."""
    error = reason_for(write(tmp_path, "image.txt", junk))

    assert error.reason == "looks like binary data, not text"


def test_oversize_file_is_rejected_with_size_and_setting(tmp_path: Path) -> None:
    """Files over the limit name both sizes and the setting that raises the limit."""
    error = reason_for(write(tmp_path, "long.txt", "x" * 3000), max_bytes=2048)

    assert error.reason == "is 3 KB, over the limit of 2 KB (STATEMENTBOT_MAX_FILE_MB)"


def test_oversize_check_uses_the_file_size_not_its_content(tmp_path: Path) -> None:
    """A 100 MB (sparse) file is refused from its size alone, in megabytes."""
    path = tmp_path / "huge.txt"
    with path.open("wb") as handle:
        handle.truncate(100 * 1024 * 1024)

    error = reason_for(path)

    assert error.reason == (
        f"is 100 MB, over the limit of {DEFAULT_MAX_BYTES // 1024 // 1024} MB (STATEMENTBOT_MAX_FILE_MB)"
    )


def test_oversize_upload_is_rejected() -> None:
    """The same limit applies to attachments."""
    with pytest.raises(UnreadableDocument, match="over the limit of 10 bytes"):
        load_bytes(b"x" * 11, name="upload.txt", max_bytes=10)


def test_nonexistent_path_is_reported(tmp_path: Path) -> None:
    """A typo in a path says the file does not exist."""
    error = reason_for(tmp_path / "missing.txt")

    assert error.reason == "does not exist"
    assert "typos" in error.hint


def test_directory_given_to_load_path_is_reported(tmp_path: Path) -> None:
    """Loading a directory as a file explains the mistake."""
    error = reason_for(tmp_path)

    assert error.reason == "is a directory, not a file"


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root and Windows ignore file modes")
def test_unreadable_file_is_reported(tmp_path: Path) -> None:
    """A file without read permission says so instead of crashing."""
    path = write(tmp_path, "secret.txt", "text")
    path.chmod(0)

    error = reason_for(path)

    assert error.reason == "cannot be read (permission denied)"


@pytest.mark.parametrize("name", ["scan.png", "README", "old.doc"])
def test_unsupported_suffix_is_reported_with_the_supported_list(tmp_path: Path, name: str) -> None:
    """Asking for an unsupported file type lists the types that work."""
    error = reason_for(write(tmp_path, name, b"whatever"))

    assert error.reason.startswith("is not a supported file type")
    assert all(suffix in error.hint for suffix in SUPPORTED_SUFFIXES)


# --------------------------------------------------------------------------- discovery


def test_discover_walks_directories_and_explains_what_it_left_out(tmp_path: Path) -> None:
    """Supported files are found recursively; hidden files, a folder's README and unsupported files are skipped
    with a reason."""
    docs = tmp_path / "docs"
    wanted = [
        write(docs, "a.txt", "a"),
        write(docs, "nested/b.md", "b"),
        write(docs, "nested/deeper/c.HTML", "c"),
        write(docs, "d.pdf", b"%PDF-"),
    ]
    write(docs, "logo.png", b"\x89PNG")
    write(docs, ".draft.txt", "hidden")
    write(docs, ".git/config.txt", "inside a hidden directory")
    write(docs, "README.md", "# Statement archive\n\nWhat this folder holds.")
    explicit_hidden = write(tmp_path, ".explicit.md", "asked for by name")
    explicit_readme = write(tmp_path, "readme.txt", "asked for by name too")

    found = discover([docs, docs / "a.txt", explicit_hidden, explicit_readme])

    assert found.files == sorted(path.resolve() for path in [*wanted, explicit_hidden, explicit_readme])
    assert found.failures == []
    assert found.skipped == [
        (docs / ".draft.txt", "hidden file"),
        (docs / "README.md", "the folder's README (give its path to ingest it)"),
        (docs / "logo.png", found.skipped[2][1]),
    ]
    assert found.skipped[2][1].startswith("unsupported file type ('.png'")


def test_discover_collects_failures_without_raising(tmp_path: Path) -> None:
    """Missing paths and explicitly named unsupported files become failures, the rest still loads."""
    good = write(tmp_path, "good.txt", "text")
    image = write(tmp_path, "scan.png", b"\x89PNG")

    found = discover([tmp_path / "missing.md", image, good])

    assert found.files == [good.resolve()]
    assert [(error.path, error.reason) for error in found.failures] == [
        (str(tmp_path / "missing.md"), "does not exist"),
        (str(image), "is not a supported file type ('.png' files are not read)"),
    ]
    assert found.skipped == []


def test_separator_lines_are_left_out_and_counted() -> None:
    """An archive's escaped rule ("\\*\\*\\*") or a typed "* * *" is no paragraph: kept, it would take ¶2 and
    shift every position label after it. The loader drops it and counts it, as it does end markers."""
    markdown = (
        "---\ntitle: Leaders' Statement\ndate: '2021-11-02'\n---\n\n"
        "The leaders met in Glasgow.\n\n\\*\\*\\*\n\nThey endorsed five principles.\n\n* * *\n\n"
        "They will meet again.\n\n\\###\n"
    )
    loaded = load_bytes(markdown.encode(), name="statement.md")
    assert "*" not in loaded.text
    # "* * *" unescaped is Markdown's own thematic break: markup, not text, so nothing to count.
    assert loaded.removed == {"end markers": 1, "separator lines": 1}
    plain = load_bytes(b"Leaders' Statement\n\nThey met.\n\n* * *\n\nThey parted.\n", name="statement.txt")
    assert (plain.text, plain.removed) == ("Leaders' Statement\n\nThey met.\n\nThey parted.", {"separator lines": 1})
    document = parse_statement(loaded.text, source="statement.md", title=loaded.title)
    assert [(p.label, p.text) for p in document.paragraphs] == [
        ("1", "The leaders met in Glasgow."),
        ("2", "They endorsed five principles."),
        ("3", "They will meet again."),
    ]
