"""`hark serve` as a command: it loads the models, prints the page's address with its token (and the
Wyoming server's, with --wyoming), serves the page, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from conftest import ROOT

pytestmark = pytest.mark.integration


def hark(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "hark.cli", *args], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True
    )


def test_serve_prints_its_addresses_serves_the_page_and_stops_on_sigterm():
    process = hark(
        "serve", "--llm", "embedded", "--port", "0", "--token", "s3cret", "--wyoming", "tcp://127.0.0.1:0"
    )
    try:
        lines = []
        for line in process.stderr:
            lines.append(line)
            if re.search(r"Wyoming \(asr, tts, handle\) on tcp://127\.0\.0\.1:\d+", line):
                break
        found = re.search(r"open (http://127\.0\.0\.1:\d+)/\?token=s3cret", "".join(lines))
        assert found, "".join(lines)
        base = found.group(1)
        with urllib.request.urlopen(f"{base}/?token=s3cret", timeout=30) as page:
            assert page.status == 200 and b"Hark" in page.read()
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/?token=wrong", timeout=30)
        assert refused.value.code == 401
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        process.kill()
        process.wait()
