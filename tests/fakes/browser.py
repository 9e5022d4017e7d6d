"""Headless Chromium for the browser tests: one way to start it, and the marks every browser test carries.

Chromium and chromedriver come from Debian's packages (`.ci/run` installs them); without them the tests skip.
"""
import os
import shutil
import tempfile

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
