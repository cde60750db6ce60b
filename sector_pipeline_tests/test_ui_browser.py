"""The Dagster UI and the HTML report in a real headless Chromium: `dagster dev` on a seeded instance shows our
assets and checks; the report's interactive charts answer the mouse and the keyboard.

Needs Debian's chromium + chromium-driver and the selenium package (the dev extra). Skipped where the
browser is not installed, except when SECTOR_PIPELINE_REQUIRE_BROWSER=1 (CI sets it): then it must run.
Screenshots go to test-artifacts/ in the repo root.
"""

import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

import duckdb
import pytest

from sector_pipeline.publish import PUBLISHED_DB
from sector_pipeline.report.html import collect, render_html, write_report
from sector_pipeline.report.marts import MartsReader
from sector_pipeline.settings import PROJECT_ROOT
from sector_pipeline_tests.dagster_helpers import FAST_MODEL, definitions, run_range

pytestmark = pytest.mark.slow  # whole-lineage runs (pytest -m 'not slow' skips them)

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
ARTIFACTS = PROJECT_ROOT / "test-artifacts"

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # pragma: no cover - the dev extra installs it
    webdriver = None

if not (CHROMIUM and CHROMEDRIVER and webdriver):
    if os.environ.get("SECTOR_PIPELINE_REQUIRE_BROWSER") == "1":
        raise RuntimeError("SECTOR_PIPELINE_REQUIRE_BROWSER=1 but chromium, chromedriver or selenium is missing")
    pytest.skip("headless browser test needs chromium, chromium-driver and selenium", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    home = tmp_path_factory.mktemp("dagster_home")
    env = {**os.environ, "DAGSTER_HOME": str(home), "SECTOR_PIPELINE_WAREHOUSE": str(home / "w.duckdb"),
           "SECTOR_PIPELINE_PUBLISHED": str(home / "published")}
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    # the 2024 year partition, narrowed to one week by the ingest_dates resource (README: "Backfill a range")
    dates = {"resources": {"ingest_dates": {"config": {"first_date": "2024-03-01", "last_date": "2024-03-08"}}}}
    seeded = subprocess.run(
        ["dagster", "asset", "materialize", "-m", "sector_pipeline.definitions", "--select", "*",
         "--partition", "2024", "--config-json", json.dumps(dates)],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    port = _free_port()
    server = subprocess.Popen(["dagster", "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
                              cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(url + "/server_info", timeout=2)
                break
            except OSError as exc:
                if time.time() > deadline or server.poll() is not None:
                    raise RuntimeError("dagster dev did not come up within 120 s") from exc
                time.sleep(1)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--user-data-dir={tmp_path_factory.mktemp('chrome')}", "--window-size=1600,1400"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def _text(driver) -> str:
    return driver.find_element(By.TAG_NAME, "body").text


def _wait_for(driver, *needles: str, name: str, timeout: int = 120) -> None:
    """Wait until the page shows every needle; on timeout keep a screenshot of what it showed instead."""
    try:
        WebDriverWait(driver, timeout).until(lambda d: all(n in _text(d) for n in needles))
    except Exception:
        ARTIFACTS.mkdir(exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / f"ui_{name}_timeout.png"))
        raise


def _dismiss_dialogs(driver) -> None:
    for button in driver.find_elements(By.XPATH, "//button[normalize-space()='Skip']"):
        button.click()


GROUP_PAGE = "/locations/sector_pipeline.definitions/asset-groups/{}"


@pytest.mark.parametrize("group, names", [
    ("ingest", ("prices", "macro", "universe_membership", "synthetic_regimes")),
    ("signals", ("features", "sector_rankings", "sentiment_scores", "alerts", "sector_rotation_index",
                 "relative_rotation")),
    ("marts", ("market_overview", "sector_returns", "sector_scores", "macro_indicators", "relative_rotation",
               "alerts")),
])
def test_each_stage_lists_its_assets_and_draws_its_graph(ui, browser, group, names):
    browser.get(ui + GROUP_PAGE.format(group) + "/list")
    _wait_for(browser, *names, name=f"list_{group}")
    _dismiss_dialogs(browser)
    # the lineage graph only renders the nodes inside the viewport: check one, picture the rest
    browser.get(ui + GROUP_PAGE.format(group))
    WebDriverWait(browser, 120).until(lambda d: "Partitions" in _text(d) and any(n in _text(d) for n in names))
    _dismiss_dialogs(browser)
    time.sleep(2)  # let the graph layout settle before the picture
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"ui_lineage_{group}.png"
    browser.save_screenshot(str(path))
    assert path.stat().st_size > 20_000


def test_the_validated_asset_shows_its_checks(ui, browser):
    browser.get(ui + "/assets/validated/prices?view=checks")
    _wait_for(browser, "no_quarantined_rows", name="checks")
    _dismiss_dialogs(browser)
    assert "all_tickers_present" in _text(browser)
    browser.save_screenshot(str(ARTIFACTS / "ui_checks.png"))


def test_the_schedule_is_visible(ui, browser):
    browser.get(ui + "/automation")
    _wait_for(browser, "nightly_schedule", "06:30 PM", "Monday through Friday", name="schedule")


# --- the HTML report's interactive charts, in the same headless Chromium -----------------------------------

REPORT_DATE = dt.date(2024, 3, 28)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A report of the real pipeline's published marts (ten months, the model allowed to train early)."""
    root = tmp_path_factory.mktemp("report")
    assert run_range(definitions(root / "w.duckdb"), dt.date(2023, 6, 1), REPORT_DATE, ops=FAST_MODEL).success
    published = root / "published" / PUBLISHED_DB
    with MartsReader(published) as reader:
        page = render_html(collect(reader, REPORT_DATE, database=str(published)))
    return write_report(page, root / "report.html"), published


def _mart(published, sql, params):
    with duckdb.connect(str(published), read_only=True) as conn:
        return conn.execute(sql, params).fetchall()


def test_the_report_opens_offline_with_hover_on_heatmaps_and_a_rotation_slider(report, browser):
    path, published = report
    browser.get(path.as_uri())
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#rrg-svg circle.head"))
    # nothing was fetched: every picture is inline, the script too
    fetched = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name).filter(n => !n.startsWith('data:'))")
    assert fetched == []

    # hover a heatmap cell: the tooltip shows the mart's value
    value = _mart(published, "select value from marts.sector_returns where date = ? and ticker = 'XLK' "
                             "and metric = '20D'", [REPORT_DATE])[0][0]
    cell = browser.find_element(By.CSS_SELECTOR,
                                'svg[data-heatmap="sector_returns"] rect[data-row="XLK"][data-col="20D"]')
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", cell)
    ActionChains(browser).move_to_element(cell).perform()
    tip = browser.find_element(By.ID, "tip")
    WebDriverWait(browser, 10).until(lambda d: tip.is_displayed())
    assert tip.get_attribute("textContent") == f"XLK  Technology, 20D: {value:+.1f}%"
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "report_heatmap_hover.png"))

    # the rotation graph: the latest week first, then four weeks back with the slider (keyboard)
    weekly = _mart(published, "select date, rs_ratio, rs_momentum from marts.relative_rotation where ticker = 'XLK' "
                              "and frequency = 'weekly' and date <= ? order by date", [REPORT_DATE])

    def head():
        dot = browser.find_element(By.CSS_SELECTOR, '#rrg-svg circle.head[data-ticker="XLK"]')
        return float(dot.get_attribute("data-rs-ratio")), float(dot.get_attribute("data-rs-momentum"))

    slider = browser.find_element(By.ID, "rrg-slider")
    browser.execute_script("arguments[0].scrollIntoView({block: 'start'})", slider)
    assert browser.find_element(By.ID, "rrg-date").text == weekly[-1][0].isoformat()
    assert head() == (pytest.approx(weekly[-1][1], abs=1e-3), pytest.approx(weekly[-1][2], abs=1e-3))
    slider.click()   # focus; the click may move it, so go to the end first
    slider.send_keys(Keys.END)
    for _ in range(4):
        slider.send_keys(Keys.ARROW_LEFT)
    assert browser.find_element(By.ID, "rrg-date").text == weekly[-5][0].isoformat()
    assert head() == (pytest.approx(weekly[-5][1], abs=1e-3), pytest.approx(weekly[-5][2], abs=1e-3))
    legend = browser.find_element(By.CSS_SELECTOR, '#rrg-legend li[data-ticker="XLK"]').text
    quadrant = _mart(published, "select quadrant from marts.relative_rotation where ticker = 'XLK' "
                                "and frequency = 'weekly' and date = ?", [weekly[-5][0]])[0][0]
    assert legend == f"XLK Technology ({quadrant})"
    browser.save_screenshot(str(ARTIFACTS / "report_interactive.png"))
    assert (ARTIFACTS / "report_interactive.png").stat().st_size > 20_000
