"""The API docs (Swagger UI, served from this site) render in headless Chromium under the content security policy."""
import time

import pytest

from tests.fakes.browser import browser_marks, csp_violations, start_chromium

pytestmark = browser_marks


@pytest.mark.django_db(transaction=True)
def test_swagger_ui_lists_the_operations_with_nothing_refused(live_server):
    from selenium.webdriver.common.by import By

    browser = start_chromium()
    try:
        browser.get(f"{live_server.url}/api/docs/")
        deadline = time.monotonic() + 60
        operations = []
        while time.monotonic() < deadline and not operations:
            operations = browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
            time.sleep(0.5)
        paths = {operation.text.replace("\u200b", "") for operation in operations}
        assert "/api/v1/studies/{name}/comparison/" in paths
        assert csp_violations(browser) == []
    finally:
        browser.quit()
