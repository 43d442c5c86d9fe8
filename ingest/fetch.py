"""Downloading a statement from a URL without letting the URL reach inside the host's network.

A URL typed into `/ingest` is attacker-controlled input: without care it makes the bot
request `http://127.0.0.1:PORT/admin`, a cloud metadata address or a service on the
private network (server-side request forgery). So every hop of a fetch:

* accepts only http and https;
* resolves the host name once and refuses it when any of its addresses is loopback,
  private, link-local, multicast, reserved or otherwise not globally routable (IPv4 and
  IPv6, with IPv4-mapped IPv6 judged by the IPv4 address it carries);
* connects to exactly the addresses it checked (a pinned resolver), so a DNS answer cannot
  change between the check and the request. The URL keeps its host name, so TLS SNI,
  certificate checks and the Host header are those of the name, not of the address;
* follows redirects by hand, at most `MAX_REDIRECTS`, checking each new location the same
  way; and stops reading at the size limit.

The document id comes from the final URL's path, or from the page title when the path says
nothing ("/", ".../index.html"); the indexer makes it unique against other sources.
Nothing here imports discord: the Discord command only calls `fetch_url`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urljoin, urlsplit

from errors import StatementbotError
from ingest.models import slugify

if TYPE_CHECKING:
    from aiohttp.abc import ResolveResult

FETCH_TIMEOUT_S = 30.0
MAX_REDIRECTS = 5
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_SCHEMES = ("http", "https")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# The loader picks a statement's format from its file name's suffix; a web server says it in Content-Type.
SUFFIX_BY_CONTENT_TYPE = {
    "text/html": ".html",
    "application/xhtml+xml": ".html",
    "application/pdf": ".pdf",
    "text/plain": ".txt",
    "text/markdown": ".md",
    "text/x-markdown": ".md",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
}
_KNOWN_SUFFIXES = frozenset(SUFFIX_BY_CONTENT_TYPE.values()) | {".htm", ".markdown"}
# Path stems that name a page's role, not its content: "/2024/index.html" is about "2024".
_GENERIC_STEMS = frozenset({"index", "default", "home", "main", "page", "document", "view", "download"})

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
Policy = Callable[[str], str | None]  # an address -> why it is refused, or None


class UrlFetchError(StatementbotError):
    """A URL given to /ingest could not be downloaded."""

    hint = "Check the address, or download the file and attach it instead."


class UrlRefused(UrlFetchError):
    """A URL that points inside the host's own network (or is not http/https) is never fetched."""

    hint = "Only public http(s) addresses can be fetched; attach the file instead."


@dataclass(frozen=True)
class FetchedDocument:
    """What a fetch brings back: the bytes, a file name whose suffix tells the loader the format,
    the URL finally read (after redirects) and the document id its path suggests (None: use the title)."""

    data: bytes
    name: str
    url: str
    doc_id: str | None
    content_type: str


def address_refusal(address: str) -> str | None:
    """Why `address` (an IP literal) must not be fetched, or None when it is public."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone ("fe80::1%eth0")
    except ValueError:
        return f"{address!r} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        # ::ffff:127.0.0.1 reaches 127.0.0.1; 64:ff9b::/96 (NAT64) and 6to4 embed an IPv4 address too.
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in ipaddress.ip_network("64:ff9b::/96"):
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            reason = address_refusal(str(embedded))
            return f"{address} embeds {embedded}: {reason}" if reason else None
    for kind, flag in (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
    ):
        if flag:
            return f"{address} is a {kind} address"
    if not ip.is_global:
        return f"{address} is not a public address"
    return None


async def _system_resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def _allow_all(address: str) -> str | None:
    return None


async def resolve_checked(
    host: str, port: int, *, policy: Policy = address_refusal, resolve: Resolver = _system_resolve
) -> list[str]:
    """Resolve `host` once; every address must pass `policy` (all of them: a client may use any)."""
    try:
        addresses = list(await resolve(host, port))
    except OSError as error:
        raise UrlFetchError(f"Cannot resolve {host}: {error.strerror or error}.") from error
    if not addresses:
        raise UrlFetchError(f"{host} has no address.")
    for address in addresses:
        if reason := policy(address):
            shown = host if host == address else f"{host} resolves to {address}, which"
            raise UrlRefused(f"Refused {shown}: {reason.removeprefix(address + ' ')}.")
    return addresses


def check_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL, or UrlRefused saying what is wrong with it."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as error:
        raise UrlRefused(f"{url!r} is not a valid address: {error}.") from error
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise UrlRefused(f"{url!r} is not an http(s) address.")
    if not parts.hostname:
        raise UrlRefused(f"{url!r} has no host.")
    if parts.username or parts.password:
        # Credentials in a URL end up in logs and in the document's source.
        raise UrlRefused(f"{parts.hostname}: addresses with a user name or password are not fetched.")
    return scheme, parts.hostname, port or _DEFAULT_PORTS[scheme]


def document_id_for(url: str) -> str | None:
    """The id a URL's path suggests: its last meaningful segment, or None (then the title decides).

    "/news/joint-statement-v1.2" -> "joint-statement-v1-2"; "/2024/index.html" -> "2024";
    "/" -> None. Dots inside a segment are not taken for a file suffix unless the suffix is a
    statement format, so a version number stays part of the id.
    """
    segments = [unquote(s) for s in urlsplit(url).path.split("/") if s]
    for segment in reversed(segments):
        path = PurePosixPath(segment)
        stem = path.stem if path.suffix.lower() in _KNOWN_SUFFIXES or path.suffix.lower() == ".php" else segment
        slug = slugify(stem)
        if slug and slug not in _GENERIC_STEMS:
            return slug
    return None


def _file_name(url: str, content_type: str, doc_id: str | None) -> str:
    """A file name whose suffix is the statement's format (the loader decides by suffix)."""
    suffix = SUFFIX_BY_CONTENT_TYPE.get(content_type)
    if suffix is None:
        # A generic type (application/octet-stream): trust a known suffix in the URL, else read it as HTML.
        url_suffix = PurePosixPath(urlsplit(url).path).suffix.lower()
        suffix = url_suffix if url_suffix in _KNOWN_SUFFIXES else ".html"
    return f"{doc_id or 'document'}{suffix}"


class _PinnedResolver:
    """An aiohttp resolver that answers only with the addresses already checked for one host."""

    def __init__(self, host: str, addresses: Sequence[str]) -> None:
        self.host = host
        self.addresses = list(addresses)

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[ResolveResult]:
        if host != self.host:
            raise OSError(f"unexpected host {host!r}")  # never happens: one session per hop
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for address in self.addresses
        ]

    async def close(self) -> None:
        return None


async def fetch_url(
    url: str,
    *,
    max_bytes: int,
    allow_private: bool = False,
    timeout_s: float = FETCH_TIMEOUT_S,
    policy: Policy = address_refusal,
    resolve: Resolver = _system_resolve,
) -> FetchedDocument:
    """Download a statement (see the module docstring for what is refused); size- and time-capped.

    `allow_private` turns the address policy off, and `policy`/`resolve` replace it and the
    system resolver: only tests that serve statements on 127.0.0.1 use them.
    """
    try:
        return await asyncio.wait_for(
            _fetch(
                url,
                max_bytes=max_bytes,
                policy=_allow_all if allow_private else policy,
                resolve=resolve,
                timeout_s=timeout_s,
            ),
            timeout_s,
        )
    except TimeoutError as error:
        raise UrlFetchError(f"{_host_of(url)} did not answer within {timeout_s:g} s.") from error


async def _fetch(url: str, *, max_bytes: int, policy: Policy, resolve: Resolver, timeout_s: float) -> FetchedDocument:
    import aiohttp

    current = url.strip()
    for _hop in range(MAX_REDIRECTS + 1):
        _scheme, host, port = check_url(current)
        addresses = await resolve_checked(host, port, policy=policy, resolve=resolve)
        connector = aiohttp.TCPConnector(resolver=_PinnedResolver(host, addresses), use_dns_cache=False)  # type: ignore[arg-type]
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        try:
            # trust_env=False: a proxy from the environment would make the request, not us, and skip the check.
            async with (
                aiohttp.ClientSession(connector=connector, timeout=timeout, trust_env=False) as session,
                session.get(current, allow_redirects=False) as response,
            ):
                if response.status in _REDIRECT_STATUSES:
                    location = response.headers.get("Location")
                    if not location:
                        raise UrlFetchError(f"{host} answered HTTP {response.status} without a Location.")
                    current = urljoin(current, location)
                    continue
                if response.status != 200:
                    raise UrlFetchError(f"{host} answered HTTP {response.status}.")
                data = await _read_capped(response, max_bytes)
                content_type = response.content_type
        except (aiohttp.ClientError, OSError) as error:
            raise UrlFetchError(f"Could not download from {host}: {_describe(error)}.") from error
        doc_id = document_id_for(current)
        return FetchedDocument(
            data=data,
            name=_file_name(current, content_type, doc_id),
            url=current,
            doc_id=doc_id,
            content_type=content_type,
        )
    raise UrlFetchError(f"{url} redirects more than {MAX_REDIRECTS} times.")


async def _read_capped(response: Any, max_bytes: int) -> bytes:
    limit = f"The file is larger than the {max_bytes / (1024 * 1024):g} MB limit."
    if (response.content_length or 0) > max_bytes:
        raise UrlFetchError(limit)
    data = bytearray()
    async for chunk in response.content.iter_chunked(64 * 1024):
        data += chunk
        if len(data) > max_bytes:
            raise UrlFetchError(limit)
    return bytes(data)


def _describe(error: BaseException) -> str:
    return f"{error.__class__.__name__}: {error}" if str(error) else error.__class__.__name__


def _host_of(url: str) -> str:
    try:
        return urlsplit(url.strip()).hostname or url
    except ValueError:
        return url
