"""Headless Chromium for the browser tests: one way to start it, and the marks every browser test carries.

Chromium and chromedriver come from Debian's packages (`.ci/run` installs them); without them the tests skip.
"""
import os
import shutil
import tempfile
import time

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
]

# Every page records the Content-Security-Policy violations it reports (registered before any of its own scripts run).
_WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__cspViolations.push(event.violatedDirective + " blocked " + (event.blockedURI || "inline") + " at " +
                              event.sourceFile + ":" + event.lineNumber);
});
"""

browser_marks = [
    pytest.mark.browser,
    pytest.mark.skipif(not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)), reason="chromium not installed"),
]


def start_chromium(width: int = 1280, height: int = 1000):
    """A fresh headless Chromium with its own profile folder; the caller quits it."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": _WATCH_CSP})
    driver.set_page_load_timeout(60)
    driver.set_window_size(width, height)
    return driver


def csp_violations(driver) -> list[str]:
    """Content-Security-Policy violations: the current page's events, and every page's console reports since the
    last call (Chromium logs each refused script, style, frame or form there)."""
    events = driver.execute_script("return window.__cspViolations || [];")
    logged = [entry["message"] for entry in driver.get_log("browser") if "Content Security Policy" in entry["message"]]
    return events + logged


# Chromium's second word for a stale element: when the page or the node is swapped while chromedriver resolves it
# (a navigation committing, poll.js replacing a section), the DevTools error below comes back as an "unknown error"
# instead of "stale element reference" (SeleniumHQ/selenium#15401; seen here on a loaded 2-core machine).
_NODE_LEFT_THE_DOCUMENT = "Node with given id does not belong to the document"


def is_stale(error: Exception) -> bool:
    """Whether `error` says the element is no longer in the page it was found in."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    if isinstance(error, StaleElementReferenceException):
        return True
    return isinstance(error, WebDriverException) and _NODE_LEFT_THE_DOCUMENT in (error.msg or "")


def wait_until(condition, timeout: float = 60, what: str = "condition"):
    """Call `condition()` until it returns something true, and return that. A condition that finds its elements itself
    may meet them while the page or a live section is being replaced: that try counts as "not yet"."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except Exception as error:
            if not is_stale(error):
                raise
            value = None
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


def has_left(element) -> bool:
    """Whether `element`'s page has been replaced (or the element removed from it)."""
    try:
        element.is_enabled()
    except Exception as error:
        if is_stale(error):
            return True
        raise
    return False


def new_page_after(driver, action, timeout: float = 60):
    """Do `action`, then wait until the browser has left the page it was on and loaded the next one."""
    from selenium.webdriver.common.by import By

    old = driver.find_element(By.TAG_NAME, "html")
    action()
    wait_until(lambda: has_left(old), timeout, what="the browser to leave the page")
    wait_until(lambda: driver.execute_script("return document.readyState") == "complete", timeout,
               what="the next page to load")


def click_when_found(driver, selector: str, timeout: float = 60):
    """Find the element at CSS `selector` and click it, finding it again when a live section replaced it between the
    two (a click that met the old node never reached the page)."""
    from selenium.webdriver.common.by import By

    def click():
        driver.find_element(By.CSS_SELECTOR, selector).click()
        return True

    wait_until(click, timeout, what=f"a click on {selector}")
