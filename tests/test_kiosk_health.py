"""The health server under hostile clients: idle connections cost no thread each and are dropped, a client
dripping bytes is cut off at the deadline, and /healthz answers again as soon as they are gone."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import urllib.request

import pytest

from hark.kiosk.health import BUSY, HealthServer

SAFETY_S = 30.0
"""Only a guard against a hung test: nothing here asserts how long anything took."""


@pytest.fixture
def server():
    health = HealthServer(
        "127.0.0.1",
        0,
        lambda: (True, {"status": "ok"}),
        lambda: b"hark_up 1\n",
        max_connections=4,
        idle_timeout_s=0.2,
        deadline_s=1.0,
    ).start()
    yield health
    health.stop()


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    conn = socket.create_connection((host, int(port)), timeout=SAFETY_S)
    return conn


def read_all(conn: socket.socket) -> bytes:
    data = b""
    while chunk := conn.recv(4096):
        data += chunk
    return data


def get(url: str) -> tuple[int, dict]:
    with urllib.request.urlopen(url, timeout=SAFETY_S) as response:
        return response.status, json.loads(response.read())


def test_300_idle_connections_do_not_make_300_threads(server):
    before = threading.active_count()
    conns = [connect(server.url) for _ in range(300)]
    most_threads = threading.active_count()
    answers = []
    try:
        for conn in conns:  # every connection ends: refused at once, or dropped once idle too long
            answers.append(read_all(conn))
            most_threads = max(most_threads, threading.active_count())
    finally:
        for conn in conns:
            conn.close()
    assert most_threads - before <= 4  # the pool, nothing per connection
    assert set(answers) <= {BUSY, b""}  # 503 beyond the limit; within it, closed without an answer
    assert answers.count(BUSY) >= 100
    assert get(server.url + "/healthz") == (200, {"status": "ok"})


def test_a_client_dripping_header_bytes_is_cut_off_at_the_deadline(server):
    conn = connect(server.url)
    conn.sendall(b"GET /healthz HTTP/1.0\r\n")
    sent = 0
    with contextlib.suppress(OSError):
        while sent < 10_000:  # far more than the deadline allows: 0.2 s each
            conn.sendall(b"X-Drip: 1\r\n")
            sent += 1
            conn.settimeout(0.2)
            with contextlib.suppress(TimeoutError):
                if conn.recv(1) == b"":
                    break
    conn.close()
    assert sent < 10_000
    assert get(server.url + "/healthz")[0] == 200


def test_endpoints_still_answer(server):
    assert get(server.url + "/healthz") == (200, {"status": "ok"})
    with urllib.request.urlopen(server.url + "/metrics", timeout=SAFETY_S) as response:
        assert response.read() == b"hark_up 1\n"
