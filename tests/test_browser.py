"""The reports as a user sees them: the index, an experiment page and the page across data sets
opened in headless Chromium (Debian's `chromium` and `chromium-driver`, driven by Selenium) at a
laptop's and a phone's width. Fails on a console error, an image that did not load, a table
missing a variant, a page wider than a 400-px window, a link to a file that does not exist, or
markup from a user's names rendered as markup. Screenshots go to the test's temporary folder.

`.ci/run` installs the browser; where it is missing locally the tests are skipped and say so
(in CI, where CI=true, they fail instead)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pandas as pd
import pytest

from harness import Dataset, Variant
from tests.conftest import TinyClassification, run_fake, run_paths

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
MARKUP = '<b class="injected">x</b>'
NAMES = ("none", f"L2 {MARKUP}", "dropout 0.2")

if not (CHROMIUM and DRIVER):
    message = ("headless Chromium is missing (Debian: apt-get install chromium chromium-driver; .ci/run installs "
               "them): the browser tests cannot run")
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message, allow_module_level=True)

webdriver = pytest.importorskip("selenium.webdriver")


def frame(seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(60, 4)), columns=["a", "b", f"col {MARKUP}", "=1+1"])
    y = pd.Series((X["a"] + 0.5 * X["b"] > 0).astype(int), name="label")
    return Dataset(f"data {MARKUP}", X, y, "classification")


class Marked(TinyClassification):
    name = "marked-one"
    description = f"A description with {MARKUP} in it"
    variants = (Variant(NAMES[0]), Variant(NAMES[1], l2=1e-3), Variant(NAMES[2], dropout=0.2, settings={"note": MARKUP}))
    epochs = 4

    def load_data(self, data_dir):
        return frame(0)


class MarkedTwo(Marked):
    name = "marked-two"

    def load_data(self, data_dir):
        return frame(1)


class MarkedThree(Marked):
    name = f"marked-three {MARKUP}"

    def load_data(self, data_dir):
        return frame(2)


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    paths = run_paths(tmp_path_factory.mktemp("browser"))
    run_fake([Marked(), MarkedTwo(), MarkedThree()], paths)
    return paths.reports


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    yield driver
    driver.quit()


def pages(reports: Path) -> dict[str, Path]:
    across = sorted((reports / "across").glob("*/index.html"))
    assert across, "no page across data sets was written"
    return {"index": reports / "index.html", "experiment": reports / "marked-one" / "index.html", "across": across[0]}


def open_page(driver, page: Path, width: int):
    driver.set_window_size(width, 1000)
    driver.get(page.as_uri())
    driver.get_log("browser")  # what an earlier page logged is not this page's


def check_page(driver, page: Path, width: int, shots: Path, label: str) -> None:
    open_page(driver, page, width)
    driver.execute_script("window.scrollTo(0, document.body.scrollHeight)")
    driver.save_screenshot(str(shots / f"{label}-{width}.png"))
    errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, f"{label} at {width}px: console errors {errors}"
    broken = driver.execute_script(
        "return Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")
    assert not broken, f"{label}: images that did not load: {broken}"
    widths = driver.execute_script("return [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1] + 1, f"{label} at {width}px: the page is {widths[0]}px wide in a {widths[1]}px window"
    for href in driver.execute_script("return Array.from(document.querySelectorAll('a[href]')).map(a => a.href)"):
        url = urlparse(href)
        if url.scheme == "file":
            assert Path(unquote(url.path)).is_file(), f"{label}: a link to {unquote(url.path)}, which does not exist"
    # markup in a user's names is text: shown literally, never an element
    assert driver.execute_script("return document.querySelectorAll('.injected').length") == 0, label
    assert MARKUP in driver.execute_script("return document.body.innerText"), label


@pytest.mark.parametrize("width", [1400, 400])
def test_pages_load_whole_and_fit_the_window(reports, browser, tmp_path, width):
    for label, page in pages(reports).items():
        check_page(browser, page, width, tmp_path, label)
    assert len(list(tmp_path.glob("*.png"))) == 3


def table_text(driver, heading: str) -> str:
    """The text of the first table after the heading that starts with `heading`."""
    return driver.execute_script(
        "const h = Array.from(document.querySelectorAll('h2, h3, summary')).find(e => e.textContent.startsWith(arguments[0]));"
        "if (!h) return null; let e = h.nextElementSibling;"
        "while (e && !e.querySelector('table') && e.tagName !== 'TABLE') e = e.nextElementSibling;"
        "return e ? e.innerText : null;", heading)


def test_every_table_that_ranks_variants_lists_all_of_them(reports, browser):
    expectations = {"experiment": ["Comparison of variants", "Paired comparison"], "across": ["Mean ranks"]}
    for label, headings in expectations.items():
        open_page(browser, pages(reports)[label], 1400)
        for heading in headings:
            text = table_text(browser, heading)
            assert text is not None, f"{label}: no table under {heading!r}"
            wanted = NAMES if heading != "Paired comparison" else NAMES[1:]
            for name in wanted:
                assert name in text, f"{label}: {name!r} missing from the table under {heading!r}"
    open_page(browser, pages(reports)["index"], 1400)
    text = browser.execute_script("return document.querySelector('table').innerText")
    for name in ("marked-one", "marked-two", "marked-three"):
        assert name in text


def test_exports_are_linked_under_every_table_and_figure(reports, browser):
    open_page(browser, pages(reports)["experiment"], 1400)
    counts = browser.execute_script(
        "return [document.querySelectorAll('table').length, document.querySelectorAll('img').length,"
        " Array.from(document.querySelectorAll('.exports a')).map(a => a.textContent)]")
    tables, images, links = counts
    assert links.count("CSV") == tables and links.count("PNG") == images == links.count("SVG")
    assert images >= 4  # scores, loss curves (two), weight histogram, weight per input
    top = browser.execute_script("return Array.from(document.querySelectorAll('a')).map(a => a.getAttribute('href'))")
    assert "summary.csv" in top and "folds.csv" in top
    svg = next((reports / "marked-one").glob("*.svg")).read_text()
    assert "<svg" in svg and "<b " not in svg  # text drawn as outlines; matplotlib's comments escape it


def test_a_click_on_a_header_sorts_the_table(reports, browser):
    open_page(browser, pages(reports)["experiment"], 1400)
    script = ("const t = document.querySelector('table.sortable'); const i = Array.from(t.tHead.rows[0].cells)"
              ".findIndex(c => c.textContent.trim() === arguments[0]); return i;")
    column = browser.execute_script(script, "stdev")
    assert column > 0
    header = browser.find_elements("css selector", "table.sortable")[0].find_elements("css selector", "th")[column]
    values = []
    for _ in range(2):
        header.click()
        values.append(browser.execute_script(
            "return Array.from(document.querySelector('table.sortable').tBodies[0].rows).map(r => r.cells[arguments[0]].textContent)",
            column))
    numbers = [[float(v.replace("−", "-")) for v in run] for run in values]
    assert numbers[0] == sorted(numbers[0]) and numbers[1] == sorted(numbers[1], reverse=True)


def test_printing_hides_navigation_and_does_not_cut_tables(reports, browser):
    for label, page in pages(reports).items():
        open_page(browser, page, 800)
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
        try:
            hidden = browser.execute_script(
                "return Array.from(document.querySelectorAll('.back, .exports')).every(e => getComputedStyle(e).display === 'none')")
            widths = browser.execute_script(
                "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        finally:
            browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
        assert hidden, f"{label}: navigation or export links print"
        assert widths[0] <= widths[1] + 1, f"{label}: printed at 800px the page is {widths[0]}px wide"
