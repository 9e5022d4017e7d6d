"""The rating page in headless Chromium, at laptop and phone widths.

Set NEURONEVAL_SCREENSHOT_DIR to keep the screenshots (docs/ holds the ones taken so).
"""
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from evaluation.models import Response
from evaluation.services import create_study, invite_raters

from .conftest import METHOD_NAMES, build_explained_network

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)), reason="chromium not installed"),
]


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-')}")
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def screenshot(driver, name):
    folder = Path(os.environ.get("NEURONEVAL_SCREENSHOT_DIR") or tempfile.mkdtemp())
    folder.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    width = driver.execute_script("return window.innerWidth")
    driver.set_window_size(width if width > 500 else 390, height + 140)
    driver.save_screenshot(str(folder / name))


@pytest.mark.django_db(transaction=True)
def test_rating_page_works_on_a_laptop_and_a_phone(live_server, browser):
    from selenium.webdriver.common.by import By

    network = build_explained_network(
        units_per_layer=2, image_size=96,
        texts={"netdissect": "red (color)", "clip-dissect-annotations": "round shapes", "shuffled-control": "grass texture"},
    )
    study = create_study("browser", network=network, methods=METHOD_NAMES, per_layer=2, title="Which description fits?")
    rater = invite_raters(study, 1)[0]
    url = f"{live_server.url}/r/{rater.token}/task/"

    browser.set_window_size(1280, 900)
    browser.get(url)
    images = browser.find_elements(By.CSS_SELECTOR, ".image-grid img")
    assert len(images) == 10
    assert all(browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", img) for img in images)
    assert "1 of 4" in browser.find_element(By.CSS_SELECTOR, ".task-header").text
    screenshot(browser, "rating-page.png")

    browser.set_window_size(390, 844)
    browser.get(url)
    page_width = browser.execute_script("return document.documentElement.scrollWidth")
    assert page_width <= 390, f"page scrolls sideways on a phone ({page_width}px)"
    # Tap the answers like a phone user: every description "Agree" (4), the first one best.
    for fieldset in browser.find_elements(By.CSS_SELECTOR, "fieldset.description"):
        option = fieldset.find_elements(By.CSS_SELECTOR, ".scale-option")[3]
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", option)
        assert option.size["width"] >= 200  # one option a row on a phone: easy to tap
        option.click()
    browser.find_element(By.CSS_SELECTOR, ".best-option").click()
    screenshot(browser, "rating-page-phone.png")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    assert "2 of 4" in browser.find_element(By.CSS_SELECTOR, ".task-header").text
    stored = Response.objects.get()
    assert stored.is_valid and sorted(stored.ratings.values_list("value", flat=True)) == [4, 4, 4]
