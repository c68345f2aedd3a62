"""The web chat page in real headless Chromium: a whole booking, with a button click."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from chinwag.adapters.hub import create_app
from tests.adapters.conftest import RESTAURANT, memory_stores

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


@pytest.fixture
def hub_url() -> Iterator[str]:
    """The restaurant bot's hub on a free port, served from a thread with its own loop."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(create_app([RESTAURANT], stores=memory_stores))
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    host, port = runner.addresses[0][:2]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{port}/"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.run_until_complete(runner.cleanup())
        loop.close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        # `make pytest` installs them; only a machine without apt-get can lack them there
        installer = "apt-get is missing" if not shutil.which("apt-get") else "run make pytest"
        pytest.skip(f"Debian's chromium and chromium-driver are not installed ({installer})")
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


def bot_texts(driver: WebDriver) -> list[str]:
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#messages .msg.bot .text")]


def user_texts(driver: WebDriver) -> list[str]:
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#messages .msg.user .text")]


def wait_for_bot(driver: WebDriver, count: int) -> list[str]:
    """Wait until the page shows ``count`` bot messages; return all of them."""
    WebDriverWait(driver, 15).until(lambda d: len(bot_texts(d)) >= count)
    return bot_texts(driver)


def type_message(driver: WebDriver, text: str) -> None:
    box = driver.find_element(By.ID, "input")
    WebDriverWait(driver, 15).until(lambda d: d.find_element(By.ID, "send").is_enabled())
    box.send_keys(text)
    driver.find_element(By.ID, "send").click()


def test_book_a_table_in_the_browser(browser: WebDriver, hub_url: str) -> None:
    browser.get(hub_url)
    assert browser.title == "chinwag web chat"

    type_message(browser, "book a table")
    assert wait_for_bot(browser, 1)[-1] == "What cuisine?"
    type_message(browser, "mexican")
    assert wait_for_bot(browser, 2)[-1] == "For how many people?"
    type_message(browser, "4 people")
    assert wait_for_bot(browser, 3)[-1] == "Do you want to sit outside?"

    last_bot = browser.find_elements(By.CSS_SELECTOR, "#messages .msg.bot")[-1]
    buttons = last_bot.find_elements(By.CSS_SELECTOR, "button.choice")
    assert [b.text for b in buttons] == ["Yes", "No"]
    buttons[0].click()
    assert wait_for_bot(browser, 4)[-1] == "Do you have any other preferences?"
    assert user_texts(browser)[-1] == "Yes"  # the title is shown, the payload is sent
    assert all(not b.is_enabled() for b in buttons)  # a question is answered once

    type_message(browser, "no")
    assert wait_for_bot(browser, 5)[-1] == "Please give your feedback on your experience so far."
    type_message(browser, "great service")
    texts = wait_for_bot(browser, 7)
    assert texts[5] == "All done!"
    assert " - outdoor_seating: True" in texts[6]
    assert " - cuisine: mexican" in texts[6]
    assert user_texts(browser) == [
        "book a table",
        "mexican",
        "4 people",
        "Yes",
        "no",
        "great service",
    ]
    sender = browser.execute_script(
        "return localStorage.getItem('chinwag-sender:' + location.pathname)"
    )
    assert isinstance(sender, str)
    assert sender.startswith("web-")
