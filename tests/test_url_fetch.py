"""URL ingest: the address policy, pinned resolution, redirects checked hop by hop, ids from the final URL.

Statements are served by real HTTP servers on 127.0.0.1. The address policy is the real one
except where a test must let 127.0.0.1 through to reach its own server: there 127.0.0.1 plays
the public host and every other address (127.0.0.2 included) stays refused.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ingest.fetch import (
    MAX_REDIRECTS,
    UrlFetchError,
    UrlRefused,
    address_refusal,
    document_id_for,
    fetch_url,
    resolve_checked,
)
from vectorstore.indexing import Indexer
from vectorstore.store import ParagraphStore

STATEMENT = "Joint Statement on Fisheries\n\n1. The parties agreed on a quota.\n\n2. They will meet again in 2026.\n"
Route = tuple[int, dict[str, str], bytes]


class _Server:
    """A real HTTP server on one loopback address; routes map a path to (status, headers, body)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Route | Callable[[], Route]] = {}
        self.requests: list[tuple[str, str]] = []  # (path, Host header)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append((self.path, self.headers.get("Host", "")))
                route = server.routes.get(self.path, (404, {}, b"not found"))
                status, headers, body = route() if callable(route) else route
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return None

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.host = host
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[_Server]:
    served = _Server()
    yield served
    served.close()


@pytest.fixture
def other_loopback() -> Iterator[_Server]:
    """A second server on 127.0.0.2: the internal service a redirect tries to reach."""
    served = _Server("127.0.0.2")
    yield served
    served.close()


def _only_127_0_0_1(address: str) -> str | None:
    """The real policy, except that this test's own server (127.0.0.1) counts as public."""
    return None if address == "127.0.0.1" else address_refusal(address)


def _fetch(url: str, **kwargs: object) -> object:
    return asyncio.run(fetch_url(url, max_bytes=kwargs.pop("max_bytes", 1_000_000), **kwargs))  # type: ignore[arg-type]


# The address policy ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.5.6.7",
        "0.0.0.0",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # carrier-grade NAT
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fe80::1%eth0",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "64:ff9b::7f00:1",
        "2002:7f00:1::",
    ],
)
def test_internal_addresses_are_refused(address: str) -> None:
    """Loopback, private, link-local, multicast, reserved and IPv4-mapped addresses each get a reason."""
    assert address_refusal(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    """Globally routable addresses (IPv4-mapped included) are allowed."""
    assert address_refusal(address) is None


def test_a_name_that_resolves_to_loopback_is_refused() -> None:
    """`localhost` is checked by what it resolves to, not by its spelling."""
    with pytest.raises(UrlRefused, match="loopback"):
        asyncio.run(resolve_checked("localhost", 80))


def test_a_name_is_refused_when_any_of_its_addresses_is_internal() -> None:
    """A name with one public and one private address is refused: the client may connect to either."""

    async def resolve(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "10.0.0.7"]

    with pytest.raises(UrlRefused, match=r"10\.0\.0\.7"):
        asyncio.run(resolve_checked("mixed.example", 80, resolve=resolve))


@pytest.mark.parametrize(
    "url", ["ftp://example.org/a.txt", "file:///etc/passwd", "gopher://x/", "http://", "http://user:pw@example.org/"]
)
def test_only_plain_http_and_https_are_fetched(url: str) -> None:
    """Other schemes, URLs without a host and URLs with credentials are refused before any network use."""
    with pytest.raises(UrlRefused):
        _fetch(url)


# Fetching ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("spelling", ["127.0.0.1", "localhost", "0.0.0.0"])
def test_loopback_urls_are_refused_and_never_requested(server: _Server, spelling: str) -> None:
    """The default policy refuses the bot's own host however it is spelled; the server sees nothing."""
    server.routes["/s.txt"] = (200, {"Content-Type": "text/plain"}, STATEMENT.encode())
    with pytest.raises(UrlRefused):
        _fetch(f"http://{spelling}:{server.port}/s.txt")
    assert server.requests == []


def test_a_redirect_to_an_internal_address_is_refused(server: _Server, other_loopback: _Server) -> None:
    """Each hop is checked: a public page that redirects to 127.0.0.2 never reaches it."""
    other_loopback.routes["/admin"] = (200, {"Content-Type": "text/plain"}, b"secret")
    server.routes["/go"] = (302, {"Location": other_loopback.url("/admin")}, b"")
    with pytest.raises(UrlRefused, match=r"127\.0\.0\.2"):
        _fetch(server.url("/go"), policy=_only_127_0_0_1)
    assert [path for path, _ in server.requests] == ["/go"]
    assert other_loopback.requests == []


def test_redirects_are_followed_up_to_the_limit(server: _Server) -> None:
    """Relative and absolute redirects are followed; one hop more than the limit is an error."""
    for hop in range(MAX_REDIRECTS):
        server.routes[f"/r{hop}"] = (301 if hop % 2 else 302, {"Location": f"/r{hop + 1}"}, b"")
    server.routes[f"/r{MAX_REDIRECTS}"] = (200, {"Content-Type": "text/plain"}, STATEMENT.encode())
    fetched = _fetch(server.url("/r0"), policy=_only_127_0_0_1)
    assert fetched.url == server.url(f"/r{MAX_REDIRECTS}")  # type: ignore[attr-defined]
    assert fetched.data == STATEMENT.encode()  # type: ignore[attr-defined]
    server.routes[f"/r{MAX_REDIRECTS}"] = (302, {"Location": "/r0"}, b"")
    with pytest.raises(UrlFetchError, match="redirects more than"):
        _fetch(server.url("/r0"), policy=_only_127_0_0_1)


def test_the_connection_goes_to_the_checked_address(server: _Server) -> None:
    """The name is resolved once and the request goes to that address, with the name as Host."""
    server.routes["/s.txt"] = (200, {"Content-Type": "text/plain"}, STATEMENT.encode())
    answers = iter([["127.0.0.1"], ["10.9.9.9"]])  # a rebinding DNS server would answer differently next time
    calls: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return next(answers)

    fetched = _fetch(f"http://statements.invalid:{server.port}/s.txt", policy=_only_127_0_0_1, resolve=resolve)
    assert fetched.data == STATEMENT.encode()  # type: ignore[attr-defined]
    assert calls == ["statements.invalid"]
    assert server.requests == [("/s.txt", f"statements.invalid:{server.port}")]


def test_a_file_over_the_size_limit_is_refused(server: _Server) -> None:
    """The limit applies while reading, not after."""
    server.routes["/big.txt"] = (200, {"Content-Type": "text/plain"}, b"x" * 5000)
    with pytest.raises(UrlFetchError, match="larger than"):
        _fetch(server.url("/big.txt"), policy=_only_127_0_0_1, max_bytes=1000)


def test_http_errors_name_the_status(server: _Server) -> None:
    with pytest.raises(UrlFetchError, match="HTTP 404"):
        _fetch(server.url("/missing"), policy=_only_127_0_0_1)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://gov.example/news/joint-statement-v1.2", "joint-statement-v1-2"),
        ("https://gov.example/2024/index.html", "2024"),
        ("https://gov.example/2025/statement.pdf", "statement"),
        ("https://gov.example:8443", None),
        ("https://gov.example/", None),
    ],
)
def test_document_ids_come_from_the_final_path(url: str, expected: str | None) -> None:
    """A version number is not a file suffix; a generic page name gives way to its folder; no path → title."""
    assert document_id_for(url) == expected


def test_urls_without_a_file_suffix_get_their_format_from_the_content_type(server: _Server) -> None:
    """`http://host:PORT` and `…/statement-v1.2` are named after their Content-Type, not their dots."""
    server.routes["/"] = (200, {"Content-Type": "text/html; charset=utf-8"}, b"<title>T</title><p>1. Text.</p>")
    server.routes["/statement-v1.2"] = (200, {"Content-Type": "text/plain"}, STATEMENT.encode())
    root = _fetch(server.url(""), policy=_only_127_0_0_1)
    assert root.name == "document.html"  # type: ignore[attr-defined]
    assert root.doc_id is None  # type: ignore[attr-defined]
    versioned = _fetch(server.url("/statement-v1.2"), policy=_only_127_0_0_1)
    assert versioned.name == "statement-v1-2.txt"  # type: ignore[attr-defined]


# Ingesting what was fetched ------------------------------------------------------------------------
def _ingest(indexer: Indexer, url: str) -> tuple[str, str]:
    fetched = _fetch(url, policy=_only_127_0_0_1)
    report = indexer.ingest_bytes(fetched.data, name=fetched.name, source=fetched.url, id_hint=fetched.doc_id)  # type: ignore[attr-defined]
    assert report.ok, [f.user_message() for f in report.failed]
    (change,) = report.changes
    return change.id, change.status


def test_a_different_url_never_replaces_another_document(server: _Server, embedded_store: ParagraphStore) -> None:
    """Two index pages, two same-named files and a re-fetch: only the same URL says "updated"."""
    indexer = Indexer(embedded_store)
    second = STATEMENT.replace("2026", "2027")
    server.routes["/2024/index.html"] = (200, {"Content-Type": "text/plain"}, STATEMENT.encode())
    server.routes["/2025/index.html"] = (200, {"Content-Type": "text/plain"}, second.encode())
    server.routes["/a/statement.txt"] = (200, {"Content-Type": "text/plain"}, STATEMENT.encode())
    server.routes["/b/statement.txt"] = (200, {"Content-Type": "text/plain"}, second.encode())
    assert _ingest(indexer, server.url("/2024/index.html")) == ("2024", "added")
    assert _ingest(indexer, server.url("/2025/index.html")) == ("2025", "added")
    assert _ingest(indexer, server.url("/a/statement.txt")) == ("statement", "added")
    assert _ingest(indexer, server.url("/b/statement.txt")) == ("statement-2", "added")
    server.routes["/a/statement.txt"] = (200, {"Content-Type": "text/plain"}, second.encode())
    assert _ingest(indexer, server.url("/a/statement.txt")) == ("statement", "updated")
    assert {r.id: r.source for r in embedded_store.documents()} == {
        "2024": server.url("/2024/index.html"),
        "2025": server.url("/2025/index.html"),
        "statement": server.url("/a/statement.txt"),
        "statement-2": server.url("/b/statement.txt"),
    }


def test_a_page_without_a_path_is_named_by_its_title(server: _Server, embedded_store: ParagraphStore) -> None:
    """`http://host:PORT` ingests (no file-type error) under its title's id."""
    server.routes["/"] = (200, {"Content-Type": "text/plain"}, STATEMENT.encode())
    assert _ingest(Indexer(embedded_store), server.url("")) == ("joint-statement-on-fisheries", "added")


def test_a_file_is_not_replaced_by_a_url_nor_a_url_by_a_file(
    server: _Server, embedded_store: ParagraphStore, tmp_path: Path
) -> None:
    """A URL document counts as present: a local file with the same name gets an id of its own, never swaps in."""
    indexer = Indexer(embedded_store)
    server.routes["/statement.txt"] = (200, {"Content-Type": "text/plain"}, STATEMENT.encode())
    assert _ingest(indexer, server.url("/statement.txt")) == ("statement", "added")
    local = tmp_path / "statement.txt"
    local.write_text(STATEMENT.replace("quota", "catch limit"), encoding="utf-8")
    report = indexer.ingest_paths([local])
    assert report.ok
    (change,) = report.changes
    assert change.id != "statement"
    assert change.id.startswith("statement-")
    assert embedded_store.document("statement").source == server.url("/statement.txt")
    assert embedded_store.document(change.id).source == str(local.resolve())


def test_a_fetched_page_counts_what_its_loader_left_out(server: _Server, embedded_store: ParagraphStore) -> None:
    """A fetched statement's end marker is reported as left out, as it is for a file."""
    server.routes["/fisheries.txt"] = (200, {"Content-Type": "text/plain"}, (STATEMENT + "\n###\n").encode())
    fetched = _fetch(server.url("/fisheries.txt"), policy=_only_127_0_0_1)
    report = Indexer(embedded_store).ingest_bytes(
        fetched.data,
        name=fetched.name,  # type: ignore[attr-defined]
        source=fetched.url,  # type: ignore[attr-defined]
        id_hint=fetched.doc_id,  # type: ignore[attr-defined]
    )
    assert report.ok, [f.user_message() for f in report.failed]
    assert report.left_out == {"end markers": 1}
    assert report.changes[0].left_out == {"end markers": 1}
