"""Fetching a URL someone else chose, safely: http(s) only, public addresses only, size and time bounded.

A URL in a question ("what is in http://169.254.169.254/latest/meta-data?") must not make Hark a proxy into
the machine or its network. So every hop is checked before any byte is sent: the scheme, then every address
the host name resolves to (loopback, private, link-local, shared, multicast, reserved and unspecified
addresses are refused), and the connection goes to the address that was checked, not to a second lookup
(a DNS answer cannot change between check and use). Redirects are followed here, one checked hop at a time.
Proxies from the environment are ignored: through a proxy, the address checked would not be the one reached.

`fetch_url` is shared: images (`vision.sources`) and any other feature that downloads user-given URLs.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx

from vision.errors import FetchError, over_limit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
AddressPolicy = Callable[[IPAddress], bool]

URL_TIMEOUT_S = 15.0
"""Connect/read timeout for each network step, and the deadline for the whole download."""
MAX_REDIRECTS = 5
SCHEMES = ("http", "https")


def is_public(address: IPAddress) -> bool:
    """Whether an address is on the public internet (an IPv4 address mapped into IPv6 is judged as IPv4)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not (address.is_multicast or address.is_reserved or address.is_unspecified)


def any_address(_address: IPAddress) -> bool:
    return True


@dataclass(frozen=True)
class _Hop:
    """One checked request: the URL as given, and the same URL pointed at the address that was checked."""

    url: httpx.URL
    pinned: httpx.URL


def _resolve(url: str, allowed: AddressPolicy, allow_hint: bool) -> _Hop:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise FetchError(f"{url} is not a valid URL ({exc})") from exc
    if parsed.scheme not in SCHEMES or not parsed.host:
        raise FetchError(f"{url}: only http:// and https:// URLs are fetched")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parsed.host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"could not fetch {url}: cannot resolve {parsed.host}") from exc
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    refused = [a for a in addresses if not allowed(a)]
    if refused or not addresses:
        hint = "; set vision.allow_private_urls to allow it" if allow_hint else ""
        shown = ", ".join(sorted({str(a) for a in refused})) or "no address"
        raise FetchError(
            f"refused to fetch {url}: {parsed.host} is (or resolves to) a local, private or reserved "
            f"address ({shown}){hint}"
        )
    return _Hop(parsed, parsed.copy_with(host=str(addresses[0])))


def fetch_url(
    url: str,
    max_bytes: int,
    allow_private: bool = False,
    timeout_s: float = URL_TIMEOUT_S,
    allowed: AddressPolicy | None = None,
) -> tuple[bytes, str]:
    """The body and Content-Type of `url`, refusing more than `max_bytes` (announced or actual), anything
    slower than `timeout_s` per step or overall, and non-public addresses unless `allow_private`.

    `allowed` replaces the address policy (`is_public`, or `any_address` with `allow_private`).
    """
    policy = allowed or (any_address if allow_private else is_public)
    deadline = time.monotonic() + timeout_s
    try:
        with httpx.Client(timeout=timeout_s, follow_redirects=False, trust_env=False) as client:
            for _ in range(MAX_REDIRECTS + 1):
                hop = _resolve(url, policy, allow_hint=allowed is None)
                redirect = _get(client, hop, url, max_bytes, deadline, timeout_s)
                if isinstance(redirect, str):
                    url = redirect
                    continue
                return redirect
    except httpx.HTTPError as exc:
        raise FetchError(f"could not fetch {url}: {exc or type(exc).__name__}") from exc
    raise FetchError(f"could not fetch {url}: more than {MAX_REDIRECTS} redirects")


def _get(
    client: httpx.Client, hop: _Hop, url: str, max_bytes: int, deadline: float, timeout_s: float
) -> tuple[bytes, str] | str:
    """The body and its type, or the next URL when the answer is a redirect."""
    request = client.build_request(
        "GET",
        hop.pinned,
        headers={"Host": hop.url.netloc.decode("ascii"), "Accept": "image/*, */*;q=0.5"},
        extensions={"sni_hostname": hop.url.host},
    )
    response = client.send(request, stream=True)
    try:
        if response.is_redirect and "location" in response.headers:
            return urljoin(url, response.headers["location"])
        if response.status_code >= 400:
            raise FetchError(f"{url} answered HTTP {response.status_code} {response.reason_phrase}")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise FetchError(over_limit(url, max_bytes, int(declared), "downloads"))
        data = bytearray()
        for chunk in response.iter_bytes():
            data += chunk
            if len(data) > max_bytes:
                raise FetchError(over_limit(url, max_bytes, None, "downloads"))
            if time.monotonic() > deadline:
                raise FetchError(f"{url} took longer than {timeout_s:g}s to download")
        return bytes(data), response.headers.get("content-type", "")
    finally:
        response.close()
