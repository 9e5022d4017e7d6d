"""The researcher's workspace end to end in headless Chromium, on the offline demo's data (synthetic probing set,
demo CNN, the demo's three methods, at a small size): build, preview, open, watch two tasks arrive without a reload,
exclude a rater, download the LaTeX table and compile it."""
import shutil
import subprocess
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model

from evaluation.models import Exclusion, Response, Study
from evaluation.services import eligible_counts

from tests.fakes.browser import (
    browser_marks, click_when_found, csp_violations, is_stale, new_page_after, start_chromium, wait_until,
)

pytestmark = browser_marks


def build_demo_data():
    """What `manage.py demo` builds before its study, with its own functions at a small size: the synthetic probing
    set, the demo CNN trained on it, its two deepest layers explained by the demo's methods (about 10 s)."""
    from demo.management.commands.demo import DEMO_METHODS, Command
    from demo.network import DemoTrainingConfig, ensure_demo_network
    from demo.synthetic import SyntheticConfig, ensure_synthetic_probe
    from explain.jobs import run_explain_job

    probe = ensure_synthetic_probe("synthetic", seed=0, config=SyntheticConfig(n_images=60))
    network = ensure_demo_network(seed=0, config=DemoTrainingConfig(training_images=96, epochs=1, batch_size=32))
    layers = Command.default_layers(network)
    job = run_explain_job(network.name, probe.name, layers, DEMO_METHODS, top_k=10, show_progress=False)
    assert job.status == job.Status.SUCCEEDED, job.error
    return network, DEMO_METHODS


@pytest.fixture
def two_browsers():
    researcher, rater = start_chromium(), start_chromium()
    yield researcher, rater
    researcher.quit()
    rater.quit()


def shown(driver, selector):
    """The text of the first element matching `selector` on the current page, "" while there is none (or while it is
    being replaced: the page navigating, poll.js swapping a live section)."""
    from selenium.webdriver.common.by import By

    try:
        elements = driver.find_elements(By.CSS_SELECTOR, selector)
        return elements[0].text if elements else ""
    except Exception as error:
        if is_stale(error):
            return ""
        raise


def fetch_text(driver, url):
    """GET `url` from inside the page, with the browser's own session (what a click on the link downloads)."""
    return driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0], {credentials: 'same-origin'}).then(r => r.text().then(t => done([r.status, t])));", url)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_build_preview_open_watch_exclude_and_download(live_server, two_browsers, settings, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select  # noqa: F401

    settings.ANALYSIS_REPORT_RESAMPLES = 200
    settings.ANALYSIS_REPORT_THROTTLE_SECONDS = 1
    settings.VAR_DIR = tmp_path / "var"  # the demo CNN's weights and recorded activations
    network, methods = build_demo_data()
    get_user_model().objects.create_user("ada", password="a-long-test-password")
    researcher, rater = two_browsers
    find = researcher.find_element

    # Log in like a researcher.
    researcher.get(f"{live_server.url}/accounts/login/")
    find(By.NAME, "username").send_keys("ada")
    find(By.NAME, "password").send_keys("a-long-test-password")
    find(By.CSS_SELECTOR, "form button, form input[type=submit]").click()
    wait_until(lambda: "/studies/" in researcher.current_url, what="login")

    # Build: tick the methods, count eligible neurons, then create the draft.
    find(By.LINK_TEXT, "New study").click()
    for name in methods:
        find(By.CSS_SELECTOR, f"input[name=methods][value='{name}']").click()
    find(By.CSS_SELECTOR, "button[value=check]").click()
    counts = wait_until(lambda: [row.text for row in researcher.find_elements(By.CSS_SELECTOR, "table.eligibility tbody tr")],
                        what="eligible counts")
    assert not researcher.find_elements(By.CSS_SELECTOR, ".errorlist")  # counting is not saving: no form errors yet
    eligible = eligible_counts(network, methods)
    assert counts == [f"{layer.layer} {layer.eligible}" for layer in eligible] and len(counts) == 2
    assert all(layer.eligible >= 2 for layer in eligible) and not Study.objects.exists()
    for field, value in (("per_layer", "2"), ("raters_per_neuron", "2")):
        find(By.NAME, field).clear()
        find(By.NAME, field).send_keys(value)
    find(By.NAME, "name").send_keys("browser-built")
    find(By.NAME, "title").send_keys("Which description fits?")
    find(By.CSS_SELECTOR, "button[value=create]").click()
    wait_until(lambda: researcher.current_url.endswith("/studies/browser-built/"), what="study page")
    study = Study.objects.get(name="browser-built")
    assert study.status == "draft" and study.study_neurons.count() == 4
    assert shown(researcher, ".study-status") == "draft"

    # Preview as a rater: the real form, disabled, blind, escaped.
    find(By.LINK_TEXT, "Preview as a rater").click()
    wait_until(lambda: shown(researcher, ".preview-banner"), what="preview")
    task = find(By.CSS_SELECTOR, ".rating-task")
    assert len(task.find_elements(By.CSS_SELECTOR, ".image-grid img")) == 10
    texts = {q.text for q in task.find_elements(By.CSS_SELECTOR, "q.description-text")}
    first = study.study_neurons.order_by("order").first()
    assert texts == {item.text for item in first.items.all()}  # the frozen descriptions, shown as text
    assert not any(name in task.get_attribute("innerHTML") for name in methods)
    assert all(not radio.is_enabled() for radio in task.find_elements(By.CSS_SELECTOR, "input[type=radio]"))
    researcher.back()
    wait_until(lambda: shown(researcher, ".study-status") == "draft", what="back on the study page")

    # Open it and share a volunteer link.
    find(By.CSS_SELECTOR, "button[value=open]").click()
    wait_until(lambda: shown(researcher, ".study-status") == "open", what="study opened")
    find(By.XPATH, "//button[contains(., 'Enable an open volunteer link')]").click()
    link = wait_until(lambda: shown(researcher, "code.open-link"), what="volunteer link")
    researcher.execute_script("window.notReloaded = true;")
    wait_until(lambda: "0 / 0" in shown(researcher, "#study-progress"), what="the empty progress section")

    # A volunteer rates two tasks in a second browser session, then a second volunteer one task.
    assert link.startswith("http") and "/join/" in link
    join = live_server.url + urlsplit(link).path  # links name the configured public address

    def rate(tasks):
        rater.get(join)
        new_page_after(rater, rater.find_element(By.LINK_TEXT, "Start").click)
        for task_number in range(1, tasks + 1):
            assert f"{task_number} of 4" in shown(rater, ".task-header")
            assert not any(name in rater.page_source for name in methods)
            for fieldset in rater.find_elements(By.CSS_SELECTOR, "fieldset.description"):
                fieldset.find_elements(By.CSS_SELECTOR, ".scale-option")[3].click()
            rater.find_element(By.CSS_SELECTOR, ".best-option").click()
            # The answer's page loaded before anything else happens (the next volunteer's cookies cleared, say).
            new_page_after(rater, rater.find_element(By.CSS_SELECTOR, "button[type=submit]").click)

    rate(2)
    wait_until(lambda: Response.objects.filter(study=study).count() == 2, what="two stored responses")
    wait_until(lambda: "Valid / total responses: 2 / 2" in shown(researcher, "#study-progress"), what="progress to move")
    rater.delete_all_cookies()  # a new browser session: a new volunteer
    rate(1)
    wait_until(lambda: Response.objects.filter(study=study).count() == 3, what="third response")

    # The researcher's page moves by itself.
    wait_until(lambda: "Valid / total responses: 3 / 3" in shown(researcher, "#study-progress"), what="progress to move")
    assert researcher.execute_script("return window.notReloaded === true")
    wait_until(lambda: "from 3 responses" in shown(researcher, "#study-results"), what="report of 3 responses")

    # Exclude the first volunteer (the busiest rater, listed first) from their rater page.
    # poll.js may replace the progress section between finding the link and clicking it.
    new_page_after(researcher, lambda: click_when_found(researcher, "#study-progress table.raters a"))
    find(By.CSS_SELECTOR, ".rater-exclusion input[name=reason]").send_keys("rated everything 4")
    find(By.CSS_SELECTOR, ".rater-exclusion button[value=exclude]").click()
    wait_until(lambda: "Excluded from the analysis: rated everything 4" in shown(researcher, ".rater-exclusion"),
               what="exclusion shown")
    assert Exclusion.objects.filter(study=study, lifted_at__isnull=True).count() == 1

    # Download the LaTeX table from the study page's link once the report includes the exclusion.
    find(By.LINK_TEXT, study.name).click()
    wait_until(lambda: "2 responses (rater excluded: rated everything 4 (2))" in shown(researcher, "#study-results"),
               what="report recomputed without the excluded rater")
    # Read in one step: poll.js may swap the results panel between a find and a read.
    href = researcher.execute_script(
        "const link = document.querySelector(\"#study-results a[href$='comparison.latex']\"); return link && link.href;")
    assert href, "no LaTeX link in the results panel"
    status, latex = fetch_text(researcher, href)
    assert status == 200 and r"\begin{tabular}" in latex
    assert "Excluded by the researchers and left out of every figure: 2 responses" in latex
    # Builder, preview, live study page (poll.js), rater pages: nothing was refused by the content security policy.
    assert csp_violations(researcher) == [] and csp_violations(rater) == []
    if not shutil.which("pdflatex"):
        pytest.skip("pdflatex not installed (Debian texlive-latex-base): the LaTeX table was downloaded, not compiled")
    (tmp_path / "table.tex").write_text("\n".join([
        r"\documentclass{article}", r"\usepackage{booktabs}", r"\begin{document}", latex, r"\end{document}"]))
    compiled = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "table.tex"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)
    assert compiled.returncode == 0, compiled.stdout[-2000:]
    assert (tmp_path / "table.pdf").stat().st_size > 1000
