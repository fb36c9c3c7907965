"""Safe fetching: only http(s), only public addresses (after DNS, on every redirect), unless allowed.

The servers here are real HTTP servers on loopback addresses; each records the requests it gets, so a
refusal is proven by a server that saw nothing, not by an error message alone.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from vision.errors import FetchError
from vision.fetch import MAX_REDIRECTS, fetch_url, is_public

MB = 1024 * 1024


class Server:
    """Answers /image with bytes, /redirect?to=URL with a 302 to URL, /loop with a redirect to itself."""

    def __init__(self, host: str) -> None:
        self.paths: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args) -> None:
                pass

            def do_GET(self) -> None:
                server.paths.append(self.path)
                if self.path.startswith("/redirect?to="):
                    self.send_response(302)
                    self.send_header("Location", self.path.removeprefix("/redirect?to="))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif self.path == "/loop":
                    self.send_response(301)
                    self.send_header("Location", "/loop")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    body = b"\x89PNG fake image bytes"
                    self.send_response(200)
                    self.send_header("Content-Type", "image/png")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

        self._http = ThreadingHTTPServer((host, 0), Handler)
        threading.Thread(target=self._http.serve_forever, daemon=True).start()
        self.url = f"http://{host}:{self._http.server_address[1]}"

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()


@pytest.fixture
def servers() -> Iterator[tuple[Server, Server]]:
    """Two servers on two loopback addresses: the first stands for a public site, the second for a private
    one (Linux routes all of 127.0.0.0/8 to loopback)."""
    first, second = Server("127.0.0.1"), Server("127.0.0.2")
    yield first, second
    first.close()
    second.close()


def first_is_public(address) -> bool:
    """The address policy with 127.0.0.1 standing in for a public address."""
    return str(address) == "127.0.0.1" or is_public(address)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),
        ("224.0.0.251", False),  # multicast (mDNS)
        ("239.255.255.250", False),
        ("240.0.0.1", False),  # reserved
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped loopback
        ("::ffff:169.254.169.254", False),
    ],
)
def test_which_addresses_are_public(address, public):
    assert is_public(ipaddress.ip_address(address)) is public


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "2130706433", "0x7f000001", "127.1"])
def test_a_loopback_url_is_refused_and_receives_no_request(servers, host):
    server = servers[0]
    port = server.url.rsplit(":", 1)[1]
    with pytest.raises(
        FetchError, match=r"refused to fetch .*\(127\.0\.0\.1\); set vision\.allow_private_urls"
    ):
        fetch_url(f"http://{host}:{port}/image", MB)
    assert server.paths == []


def test_allowed_private_addresses_are_fetched(servers):
    data, content_type = fetch_url(f"{servers[0].url}/image", MB, allow_private=True)
    assert data.startswith(b"\x89PNG") and content_type == "image/png"
    assert servers[0].paths == ["/image"]


@pytest.mark.parametrize(
    "target",
    ["{private}/image", "http://169.254.169.254/latest/meta-data/", "http://[::1]:9/x", "file:///etc/passwd"],
)
def test_a_redirect_to_a_refused_url_is_not_followed(servers, target):
    public, private = servers
    target = target.format(private=private.url)
    with pytest.raises(FetchError, match=r"refused to fetch|only http:// and https://"):
        fetch_url(f"{public.url}/redirect?to={target}", MB, allowed=first_is_public)
    assert public.paths == [f"/redirect?to={target}"]
    assert private.paths == []


def test_a_redirect_to_an_allowed_url_is_followed(servers):
    public = servers[0]
    data, _ = fetch_url(f"{public.url}/redirect?to=/image", MB, allowed=first_is_public)
    assert data.startswith(b"\x89PNG")
    assert public.paths == ["/redirect?to=/image", "/image"]


def test_redirects_are_bounded(servers):
    public = servers[0]
    with pytest.raises(FetchError, match=f"more than {MAX_REDIRECTS} redirects"):
        fetch_url(f"{public.url}/loop", MB, allowed=first_is_public)
    assert len(public.paths) == MAX_REDIRECTS + 1


@pytest.mark.parametrize("url", ["ftp://example.com/x.png", "gopher://example.com/", "not a url"])
def test_only_http_and_https(url):
    with pytest.raises(FetchError, match=r"only http:// and https://|not a valid URL"):
        fetch_url(url, MB, allow_private=True)


def test_an_image_url_on_loopback_is_a_user_error_in_hark_ask(servers, capsys):
    from hark.cli import main

    code = main(["ask", "What is this?", "--image", f"{servers[0].url}/image", "--llm", "embedded"])
    assert code == 2
    assert "error: refused to fetch" in capsys.readouterr().err
    assert servers[0].paths == []
