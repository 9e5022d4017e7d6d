"""The API docs (Swagger UI, served from this site) render in headless Chromium under the content security policy."""
import pytest

from tests.fakes.browser import browser_marks, csp_violations, new_page_after, start_chromium, wait_until

pytestmark = browser_marks


@pytest.mark.django_db(transaction=True)
def test_swagger_ui_lists_the_operations_with_nothing_refused(live_server):
    browser = start_chromium()
    try:
        browser.get(f"{live_server.url}/api/docs/")
        # Read in one step once Swagger UI has rendered them: React may re-render a node between a find and a read.
        operations = wait_until(lambda: browser.execute_script(
            "return [...document.querySelectorAll('.opblock-summary-path')].map(path => path.innerText);"),
            what="Swagger UI's operations")
        paths = {operation.replace("\u200b", "") for operation in operations}
        assert "/api/v1/studies/{name}/comparison/" in paths
        assert csp_violations(browser) == []
    finally:
        browser.quit()


@pytest.mark.django_db(transaction=True)
def test_the_browsable_api_renders_with_nothing_refused(live_server, researcher, toy_study):
    """DRF's pages lay out their toolbar and forms with style attributes: allowed there, and nothing else refused."""
    from selenium.webdriver.common.by import By

    user, _ = researcher
    browser = start_chromium()
    try:
        browser.get(f"{live_server.url}/accounts/login/")
        browser.find_element(By.NAME, "username").send_keys(user.username)
        browser.find_element(By.NAME, "password").send_keys("pw-" + user.username)
        new_page_after(browser, browser.find_element(By.CSS_SELECTOR, "form button, form input[type=submit]").click)
        assert "/accounts/login/" not in browser.current_url, "the login was refused"
        for path in ("/api/v1/studies/", "/api/v1/studies/toy-study/", "/api/v1/explanations/"):
            browser.get(f"{live_server.url}{path}")
            assert "toy-study" in browser.find_element(By.CSS_SELECTOR, ".response-info").text or path.endswith(
                "explanations/"), path
            assert csp_violations(browser) == [], path
        filters_button = browser.find_element(By.CSS_SELECTOR, 'button[data-target="#filtersModal"]')
        assert filters_button.value_of_css_property("float") == "right"  # its style attribute took effect
    finally:
        browser.quit()
