"""Fetching a document by URL without letting a URL reach into the machine's own network.

Only http(s); the host's addresses are resolved first and loopback, link-local, private and reserved
addresses are refused unless allowed (a knowledge base is often filled from a shared list of links).
TODO(merge): vision/sources.py gets a shared safe fetcher (another branch); use it here once merged.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from dialogue.knowledge.errors import KnowledgeError

MAX_BYTES = 20 * 1024 * 1024
TIMEOUT_S = 15.0


@dataclass(frozen=True)
class Fetched:
    url: str
    content_type: str
    data: bytes


def is_url(source: str) -> bool:
    return "://" in source


def fetch(url: str, allow_private: bool = False, timeout_s: float = TIMEOUT_S) -> Fetched:
    """The body of `url`, following redirects (each hop checked), at most MAX_BYTES."""
    for _ in range(6):
        _check(url, allow_private)
        try:
            with (
                httpx.Client(timeout=timeout_s, follow_redirects=False) as client,
                client.stream("GET", url) as response,
            ):
                if response.is_redirect:
                    url = str(response.url.join(response.headers["location"]))
                    continue
                if response.status_code >= 400:
                    raise KnowledgeError(f"{url}: the server answered HTTP {response.status_code}")
                data = bytearray()
                for block in response.iter_bytes():
                    data += block
                    if len(data) > MAX_BYTES:
                        raise KnowledgeError(f"{url}: larger than {MAX_BYTES // 2**20} MB")
                return Fetched(url, response.headers.get("content-type", ""), bytes(data))
        except httpx.HTTPError as exc:
            raise KnowledgeError(f"{url}: cannot be fetched ({exc.__class__.__name__}: {exc})") from exc
    raise KnowledgeError(f"{url}: too many redirects")


def _check(url: str, allow_private: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise KnowledgeError(f"{url}: only http:// and https:// URLs can be added")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise KnowledgeError(f"{url}: the host cannot be resolved ({exc})") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global:
            raise KnowledgeError(
                f"{url}: {address} is a local or private address (allow it with --allow-private)"
            )
