"""The page end to end in a real headless Chromium (Debian's `chromium` and `chromium-driver`): its fake
microphone plays a Piper-made question; the page must show the question as a caption, play Hark's spoken
reply (the embedded model's), and look right on a screenshot."""

from __future__ import annotations

import asyncio
import threading

import aiohttp
import numpy as np
import pytest
from audio_fixtures import silence, spoken
from dialogue_fakes import FakeBackend
from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from serve_helpers import TOKEN, running_server

from hark.config import HarkConfig
from hark.serve.client import socket_url
from voice.decode import write_wav

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
QUESTION = "What is the capital of France?"
WAIT_S = 120
"""Longest wait for the page (a generous bound on a shared machine, never a performance claim)."""


def chromium(profile, microphone) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--window-size=1000,900",
        "--autoplay-policy=no-user-gesture-required",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={microphone}%noloop",
    ):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def played_seconds(driver) -> float:
    return float(driver.find_element(By.ID, "played").get_attribute("data-seconds"))


def test_the_page_hears_a_question_and_speaks_the_answer(tmp_path, transcriber, speaker, embedded_backend):
    # the greeting plays first; the question comes once it is over
    question = np.concatenate([silence(6.0), spoken(speaker, QUESTION), silence(3.0)])
    microphone = write_wav(tmp_path / "q.wav", question)
    with running_server(embedded_backend, transcriber, speaker) as (base, _app):
        driver = chromium(tmp_path / "profile", microphone)
        try:
            driver.get(f"{base}/?token={TOKEN}")
            driver.find_element(By.ID, "start").click()
            wait = WebDriverWait(driver, WAIT_S, poll_frequency=0.2)
            wait.until(lambda d: "france" in d.find_element(By.ID, "captions").text.lower())
            heard_before_reply = played_seconds(driver)
            captions = driver.find_element(By.ID, "captions")
            wait.until(lambda d: len(captions.find_elements(By.CSS_SELECTOR, ".you ~ .hark")) > 0)
            wait.until(lambda d: played_seconds(d) > heard_before_reply + 0.5)
            latency = driver.find_element(By.ID, "latency").text
            shot = tmp_path / "page.png"
            assert driver.save_screenshot(str(shot))
            box = captions.rect
            status = driver.find_element(By.ID, "status")
            assert "refused" not in status.get_attribute("class")
        finally:
            driver.quit()
    assert "from the end of your speech" in latency
    image = np.asarray(Image.open(shot).convert("L"), dtype=np.float32)
    assert image.std() > 10, "the screenshot is blank"
    region = image[
        int(box["y"]) : int(box["y"] + box["height"]), int(box["x"]) : int(box["x"] + box["width"])
    ]
    assert region.size and (region < 100).mean() > 0.005, "no caption text is visible in the captions box"


def test_the_page_says_why_the_server_refused(tmp_path, transcriber, speaker):
    """With its one session taken by another client, the page shows the server's reason."""
    microphone = write_wav(tmp_path / "q.wav", silence(2.0))
    taken, done = threading.Event(), threading.Event()
    one = HarkConfig().replaced("serve.max_sessions", 1)
    with running_server(FakeBackend(), transcriber, speaker, one) as (base, _app):

        async def occupy():
            async with aiohttp.ClientSession() as http:
                ws = await http.ws_connect(socket_url(base), headers={"Authorization": f"Bearer {TOKEN}"})
                await ws.send_json({"type": "start", "sample_rate": 16000})
                taken.set()
                while not done.is_set():
                    await asyncio.sleep(0.1)
                await ws.close()

        holder = threading.Thread(target=asyncio.run, args=(occupy(),))
        holder.start()
        driver = chromium(tmp_path / "profile", microphone)
        try:
            assert taken.wait(30)
            driver.get(f"{base}/?token={TOKEN}")
            driver.find_element(By.ID, "start").click()
            status = driver.find_element(By.ID, "status")
            WebDriverWait(driver, WAIT_S, poll_frequency=0.2).until(lambda _d: "busy" in status.text)
            refused = status.get_attribute("class"), status.text
        finally:
            driver.quit()
            done.set()
            holder.join(30)
    assert "refused" in refused[0]
    assert "1013" in refused[1] and "try again later" in refused[1]


def test_a_camera_snapshot_is_sent_for_the_next_question(tmp_path, transcriber, speaker):
    """Chromium's fake camera stands in for a real one: the snapshot reaches the server as an image."""
    microphone = write_wav(tmp_path / "q.wav", silence(2.0))
    with running_server(FakeBackend(), transcriber, speaker) as (base, app):
        driver = chromium(tmp_path / "profile", microphone)
        try:
            driver.get(f"{base}/?token={TOKEN}")
            driver.find_element(By.ID, "start").click()
            wait = WebDriverWait(driver, WAIT_S, poll_frequency=0.2)
            camera = driver.find_element(By.ID, "camera")
            wait.until(lambda _d: camera.is_enabled())
            camera.click()
            status = driver.find_element(By.ID, "status")
            wait.until(lambda _d: "Image attached" in status.text)
            shown = driver.find_element(By.ID, "snapshot").is_displayed()
            (session,) = app.sessions.values()
            attached = session.conversation._image
        finally:
            driver.quit()
    assert shown
    assert attached is not None and attached[:2] == b"\xff\xd8"  # a JPEG
