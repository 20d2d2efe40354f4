"""The customer 360 app, started as `make app` would and driven in headless Chromium.

Debian's chromium and chromedriver (apt, installed by .ci/run when missing) through selenium;
no browser is downloaded. The app reads the built 10,000-person world, choosing its file as
`make app` does.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb
import pytest

from dagster_project.app.database import APP_DB_ENV, app_database_path
from dagster_project.settings import PROJECT_ROOT, get_settings

STARTUP_TIMEOUT_S = 90
PAGE_TIMEOUT_S = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the app exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().decode().strip() == "ok":
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"the app did not answer within {STARTUP_TIMEOUT_S} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def app_db(built_world) -> Path:
    """The file the app picks for the built world (its restricted serving copy once published, else
    the warehouse): the test reads its expectations from the same file."""
    os.environ.pop(APP_DB_ENV, None)
    path = app_database_path()
    assert path in {built_world.warehouse, getattr(get_settings(), "serving_restricted_path", None)}
    return path


@pytest.fixture(scope="module")
def app_url(app_db, tmp_path_factory):
    """The app on a free localhost port, reading the built world; always stopped afterwards."""
    port = _free_port()
    log = tmp_path_factory.mktemp("app") / "streamlit.log"
    env = {**os.environ, APP_DB_ENV: str(app_db)}
    command = [sys.executable, "-m", "streamlit", "run", str(PROJECT_ROOT / "dagster_project" / "app" / "main.py"),
               "--server.headless", "true", "--server.address", "127.0.0.1", "--server.port", str(port),
               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none", "--client.toolbarMode", "viewer"]
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, log)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)


@pytest.fixture(scope="module")
def browser():
    """Headless Debian chromium through Debian's chromedriver (Selenium Manager stays offline)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium")
    chromedriver = shutil.which("chromedriver")
    assert chromium and chromedriver, "install Debian's browser: apt-get install -y chromium chromium-driver"
    os.environ["SE_OFFLINE"] = "true"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1500,3000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    driver.set_page_load_timeout(PAGE_TIMEOUT_S)
    driver.set_script_timeout(PAGE_TIMEOUT_S)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def caller(app_db) -> dict:
    """An active customer with a unique name, an email, products and the most open complaints."""
    con = duckdb.connect(str(app_db), read_only=True)
    try:
        frame = con.execute("""
            select c.party_id, c.full_name, c.email, c.phone, c.active_products, c.open_complaints,
                   c.customer_since, c.interactions_total
            from marts.customer_360 as c
            where c.customer_status = 'active' and c.email is not null and c.phone like '+234%'
              and c.active_products is not null and c.interactions_total between 1 and 500
              and (select count(*) from marts.dim_customer as d where d.full_name = c.full_name) = 1
            order by c.open_complaints desc, c.interactions_total desc, c.party_id
            limit 1
        """).df()
        statuses = dict(con.execute("""
            select customer_status, count(*) from marts.dim_customer where party_type <> 'unidentified' group by 1
        """).fetchall())
        tables = {row[0] for row in con.execute(
            "select table_schema || '.' || table_name from information_schema.tables").fetchall()}
    finally:
        con.close()
    assert len(frame) == 1
    return {**frame.iloc[0].to_dict(), "statuses": statuses, "tables": tables}


def _body(driver) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.TAG_NAME, "body").text


def _wait_for_text(driver, *texts: str) -> str:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, PAGE_TIMEOUT_S).until(lambda d: all(text in _body(d) for text in texts),
                                                f"page never showed all of {texts}")
    return _body(driver)


def _search_and_open(driver, url: str, text: str, party_id: str) -> str:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)  # the default page, Customer 360
    wait = WebDriverWait(driver, PAGE_TIMEOUT_S)
    box = wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, "input[aria-label^='Search a customer']")))
    box.send_keys(text, Keys.ENTER)
    wait.until(EC.element_to_be_clickable((By.XPATH, f"//button[contains(., '{party_id}')]"))).click()
    return _wait_for_text(driver, f"Party {party_id}", "Timeline across channels and departments", "touchpoint(s)")


def test_search_by_name_and_open_the_customer(app_url, browser, caller, tmp_path):
    page = _search_and_open(browser, app_url, caller["full_name"], caller["party_id"])
    complaints = int(caller["open_complaints"])
    expected = [
        caller["email"], caller["phone"], caller["active_products"].split(",")[0],
        f"Customer since {caller['customer_since'].year}",
        {0: "no open complaints", 1: "1 open complaint"}.get(complaints, f"{complaints} open complaints"),
        f"{caller['interactions_total']} of {caller['interactions_total']} touchpoint(s)",
    ]
    missing = [text for text in expected if text not in page]
    assert not missing, f"not on the page: {missing}"
    if "analytics.customer_clv" not in caller["tables"]:
        assert "not computed yet" in page
    time.sleep(1)  # let the charts draw before the picture
    shot = tmp_path / "customer_360.png"
    assert browser.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
    print(f"screenshot: {shot}")


def test_search_by_phone_as_the_caller_says_it(app_url, browser, caller):
    national = "0" + caller["phone"][len("+234"):]  # the sample world's numbers are Nigerian
    spoken = f"{national[:4]} {national[4:7]} {national[7:]}"
    page = _search_and_open(browser, app_url, spoken, caller["party_id"])
    assert f"for phone {caller['phone']}" in page and caller["email"] in page


def test_segments_and_clv_page(app_url, browser, caller, tmp_path):
    browser.get(f"{app_url}/segments")
    statuses = " · ".join(f"{status}: {count:,}" for status, count in
                          sorted(caller["statuses"].items(), key=lambda item: (-item[1], item[0])))
    page = _wait_for_text(browser, "Segments and CLV", "Parties by customer status", "Customer lifetime value")
    assert statuses in page
    if "analytics.customer_segments" in caller["tables"]:
        assert "Lifecycle stage" in page
    else:
        assert "Segments: not computed yet" in page
    if "analytics.customer_clv" in caller["tables"]:
        assert "Most valuable customers" in page
    else:
        assert "CLV: not computed yet" in page
    shot = tmp_path / "segments.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 20_000
