"""The rater pages in headless Chromium, at desktop (1280 px) and phone (390 px) widths.

Accessibility is checked with axe-core, loaded from node_modules (`npm ci` installs the pinned version of
package.json). Set NEURONEVAL_SCREENSHOT_DIR to keep the screenshots (docs/ holds the ones taken so).
"""
import os
from pathlib import Path

import pandas as pd
import pytest

from analysis.ratings_io import export_ratings
from evaluation.models import Rater, Response, Study
from evaluation.services import create_study, invite_raters

from tests.fakes.browser import browser_marks, csp_violations, new_page_after, start_chromium

from .conftest import METHOD_NAMES, build_explained_network

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
SIZES = {"desktop": (1280, 900), "phone": (390, 844)}
TEXTS = {"netdissect": "red (color)", "clip-dissect-annotations": "round <b>shapes</b>", "shuffled-control": "grass texture"}

pytestmark = browser_marks


@pytest.fixture
def browser():
    driver = start_chromium()
    yield driver
    driver.quit()


@pytest.fixture
def study(transactional_db):
    network = build_explained_network(units_per_layer=2, image_size=96, texts=TEXTS)
    return create_study("browser", network=network, methods=METHOD_NAMES, per_layer=2, title="Which description fits?")


def task_url(live_server, rater):
    return f"{live_server.url}/r/{rater.token}/task/"


def header(browser):
    from selenium.webdriver.common.by import By

    return browser.find_element(By.CSS_SELECTOR, ".task-header").text


def checked_values(browser):
    """{radio or checkbox name: value} of everything ticked on the page."""
    return browser.execute_script(
        "const out = {}; document.querySelectorAll('input:checked').forEach(i => { out[i.name] = i.value; }); return out;"
    )


def click_answers(browser, values, best):
    from selenium.webdriver.common.by import By

    for fieldset, value in zip(browser.find_elements(By.CSS_SELECTOR, "fieldset.description"), values):
        option = fieldset.find_elements(By.CSS_SELECTOR, ".scale-option")[value - 1]
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", option)
        option.click()
    if best is not None:
        option = browser.find_elements(By.CSS_SELECTOR, ".best-option")[best]
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", option)
        option.click()


def submit(browser):
    from selenium.webdriver.common.by import By

    button = browser.find_element(By.CSS_SELECTOR, "form.rating-form > p > button[type=submit]")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
    new_page_after(browser, button.click)


def axe_violations(browser):
    """axe-core's violations on the current page, as 'rule: nodes' lines (empty when clean)."""
    if not AXE.exists():
        pytest.skip("axe-core is not installed: run `npm ci` in the repository root")
    browser.execute_script(AXE.read_text())
    browser.set_script_timeout(60)
    violations = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations), e => done([{id: 'axe-error', "
        "help: String(e), nodes: []}]));"
    )
    return [
        f"{v['id']}: {v['help']} ({', '.join(n['target'][0] if n['target'] else '?' for n in v['nodes'][:3])})"
        for v in violations
    ]


def screenshot(browser, name):
    if not os.environ.get("NEURONEVAL_SCREENSHOT_DIR"):
        return
    folder = Path(os.environ["NEURONEVAL_SCREENSHOT_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(folder / name))


@pytest.mark.parametrize("size", SIZES)
def test_keyboard_only_rating_of_a_task(live_server, browser, study, size):
    from selenium.webdriver.common.keys import Keys

    rater = invite_raters(study, 1)[0]
    browser.set_window_size(*SIZES[size])
    browser.get(task_url(live_server, rater))
    assert "Task 1 of 4" in header(browser)

    def active(script):
        return browser.execute_script(f"const a = document.activeElement; return {script};")

    for _ in range(40):  # Tab past the images (each one a button that enlarges it) to the first description
        browser.switch_to.active_element.send_keys(Keys.TAB)
        if active("!!a.closest('fieldset.description')"):
            break
    assert active("a.closest('fieldset.description').querySelector('legend').id") == "description-1"
    outline = "getComputedStyle(a.closest('label')).outlineStyle + ' ' + getComputedStyle(a.closest('label')).outlineWidth"
    assert active(outline) == "solid 3px", "the focused rating option shows no focus ring"
    for key in "425":  # each number rates the focused description and moves on to the next one
        browser.switch_to.active_element.send_keys(key)
    assert active("!!a.closest('fieldset.best')")
    browser.switch_to.active_element.send_keys("3")  # best: description 3, the one rated 5
    assert active(outline) == "solid 3px", "the focused best-description option shows no focus ring"
    for _ in range(5):
        browser.switch_to.active_element.send_keys(Keys.TAB)
        if active("a.type === 'submit'"):
            break
    screenshot(browser, f"rating-page-keyboard-{size}.png")
    new_page_after(browser, lambda: browser.switch_to.active_element.send_keys(Keys.ENTER))

    assert "Task 2 of 4" in header(browser)
    response = Response.objects.get()
    ratings = dict(response.ratings.values_list("position", "value"))
    assert ratings == {0: 4, 1: 2, 2: 5}
    assert response.best_item.ratings.get(response=response).position == 2 and response.is_valid
    assert response.seconds > 0 and response.visible_seconds is not None and response.visible_seconds <= response.seconds
    # All of it (rating.js: number keys, focus moves, visible time) ran under the site's content security policy.
    assert csp_violations(browser) == []


@pytest.mark.parametrize("size", SIZES)
def test_back_after_submit_neither_resubmits_nor_shows_stale_choices(live_server, browser, study, size):
    rater = invite_raters(study, 1)[0]
    browser.set_window_size(*SIZES[size])
    browser.get(task_url(live_server, rater))
    first_task = browser.execute_script("return document.querySelector('input[name=task]').value")
    click_answers(browser, [5, 4, 3], best=0)
    submit(browser)
    assert "Task 2 of 4" in header(browser)

    new_page_after(browser, browser.back)

    assert "Task 2 of 4" in header(browser)
    assert browser.execute_script("return document.querySelector('input[name=task]').value") != first_task
    assert checked_values(browser) == {}
    new_page_after(browser, browser.refresh)
    new_page_after(browser, browser.forward)
    assert Response.objects.count() == 1 and "Task 2 of 4" in header(browser)
    assert csp_violations(browser) == []


@pytest.mark.parametrize("size", SIZES)
def test_a_refused_answer_keeps_every_choice(live_server, browser, study, size):
    rater = invite_raters(study, 1)[0]
    browser.set_window_size(*SIZES[size])
    browser.get(task_url(live_server, rater))
    # Bypass the browser's own check, as a stale or tampered page would: description 2 stays unrated.
    browser.execute_script("document.querySelectorAll('[required]').forEach(e => e.removeAttribute('required'))")
    click_answers(browser, [5], best=0)
    from selenium.webdriver.common.by import By

    browser.find_element(By.CSS_SELECTOR, "input[name=none_fit]").click()
    browser.find_elements(By.CSS_SELECTOR, "fieldset.description")[2].find_elements(By.CSS_SELECTOR, ".scale-option")[1].click()
    chosen = checked_values(browser)

    submit(browser)

    assert "description 2 has no rating" in browser.find_element(By.CSS_SELECTOR, ".error").text
    assert checked_values(browser) == chosen and len(chosen) == 4
    assert Response.objects.count() == 0
    assert csp_violations(browser) == []


@pytest.mark.parametrize("size", SIZES)
def test_consistency_prompt_lets_the_rater_change_the_best_pick(live_server, browser, study, size):
    from selenium.webdriver.common.by import By

    Study.objects.filter(pk=study.pk).update(consistency_prompt=True)
    rater = invite_raters(study, 1)[0]
    browser.set_window_size(*SIZES[size])
    browser.get(task_url(live_server, rater))
    click_answers(browser, [2, 5, 3], best=0)

    submit(browser)

    prompt = browser.find_element(By.CSS_SELECTOR, ".consistency-prompt").text
    assert "You picked description 1 as the best, but rated description 2 higher (5 against 2)" in prompt
    assert Response.objects.count() == 0 and len(checked_values(browser)) == 4
    assert axe_violations(browser) == []
    click_answers(browser, [], best=1)
    submit(browser)

    assert "Task 2 of 4" in header(browser)
    response = Response.objects.get()
    assert response.is_valid and response.consistency_prompt.startswith("You picked description 1")
    assert csp_violations(browser) == []


def test_every_rater_page_is_clean_under_axe_and_the_task_page_fits_a_phone(live_server, browser, study, tmp_path):
    from selenium.webdriver.common.by import By

    rater = invite_raters(study, 1)[0]
    home = f"{live_server.url}/r/{rater.token}/"
    pages = {}
    for size, (width, height) in SIZES.items():
        browser.set_window_size(width, height)
        browser.get(home)
        pages[f"instructions ({size})"] = axe_violations(browser)
        browser.get(task_url(live_server, rater))
        pages[f"task ({size})"] = axe_violations(browser)
        images = browser.find_elements(By.CSS_SELECTOR, ".image-grid img")
        assert len(images) == 10
        assert all(browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", i) == 96 for i in images)
        # Escaped: the markup in a description shows as text, never as markup.
        assert "round <b>shapes</b>" in [q.text for q in browser.find_elements(By.CSS_SELECTOR, "q.description-text")]
    # Phone: no sideways scrolling, the image strip stays in view while rating, one row of 1-5 per description.
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 390
    last = browser.find_elements(By.CSS_SELECTOR, "fieldset.description")[-1]
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", last)
    strip = browser.execute_script(
        "const r = document.querySelector('.task-images').getBoundingClientRect(); return [r.top, r.bottom];"
    )
    assert strip[0] >= -1 and strip[1] <= 130, f"image strip not in view while rating: {strip}"
    tops = {option.rect["y"] for option in last.find_elements(By.CSS_SELECTOR, ".scale-option")}
    assert len(tops) == 1, "the 1-5 scale wraps onto more than one row"
    assert last.rect["height"] <= 140
    browser.find_elements(By.CSS_SELECTOR, ".image-cell")[3].click()  # tap to enlarge
    viewer = browser.find_element(By.CSS_SELECTOR, "dialog.image-viewer")
    assert viewer.get_attribute("open") is not None and viewer.find_element(By.TAG_NAME, "img").rect["width"] >= 300
    pages["task, image enlarged (phone)"] = axe_violations(browser)
    viewer.click()
    browser.execute_script("window.scrollTo(0, 0)")
    click_answers(browser, [4, 4, 4], best=0)
    screenshot(browser, "rating-page-phone.png")

    browser.set_window_size(*SIZES["desktop"])
    browser.execute_script("window.scrollTo(0, 0)")
    screenshot(browser, "rating-page.png")
    browser.execute_script("document.querySelectorAll('[required]').forEach(e => e.removeAttribute('required'))")
    browser.find_elements(By.CSS_SELECTOR, "input[type=radio]")[0].click()
    browser.execute_script("document.querySelectorAll('fieldset.description input').forEach((e, i) => { if (i > 4) e.checked = false; })")
    submit(browser)
    pages["task, answer refused (desktop)"] = axe_violations(browser)
    for _ in range(4):
        browser.get(task_url(live_server, rater))
        click_answers(browser, [4, 4, 4], best=0)
        submit(browser)
    assert "Thank you" in browser.page_source
    pages["thank you"] = axe_violations(browser)
    # The study, rated through the pages, exports a positive time on task for every response.
    export_ratings(study, tmp_path / "ratings.csv")
    exported = pd.read_csv(tmp_path / "ratings.csv")
    assert exported["response_id"].nunique() == 4 and len(exported) == 12
    assert (exported["seconds"] > 0).all() and exported["visible_seconds"].between(0, exported["seconds"]).all()
    browser.get(home)
    assert "Thank you" in browser.page_source and "Continue" not in browser.page_source
    assert csp_violations(browser) == []  # instructions, task, image viewer, refused answer, thank-you page
    browser.get(f"{live_server.url}/r/{invite_raters(study, 1)[0].token}/task/")
    browser.execute_script("document.querySelector('input[name=task]').value = 'not-yours'; document.querySelector('form.rating-form').noValidate = true;")
    submit(browser)
    pages["answer refused, foreign task"] = axe_violations(browser)
    Study.objects.filter(pk=study.pk).update(status=Study.Status.CLOSED)
    browser.get(home)
    pages["study closed"] = axe_violations(browser)
    Study.objects.filter(pk=study.pk).update(status=Study.Status.PAUSED)
    browser.get(home)
    pages["study paused"] = axe_violations(browser)

    assert {page: found for page, found in pages.items() if found} == {}
    assert Rater.objects.count() == 2


def test_the_come_back_later_too_many_sessions_and_not_found_pages_are_clean_under_axe(live_server, browser, study, settings):
    from selenium.webdriver.common.by import By

    from evaluation.services import claim_next_assignment, enable_open_link

    Study.objects.filter(pk=study.pk).update(raters_per_neuron=1)
    for other in invite_raters(study, 4):  # every neuron reserved by someone else
        assert claim_next_assignment(other) is not None
    rater = invite_raters(study, 1)[0]
    settings.NEW_RATERS_PER_CLIENT = 1
    enable_open_link(study)
    study.refresh_from_db()
    open_link = f"{live_server.url}/join/{study.open_link_token}/"
    browser.get(open_link)  # this address's one new rater
    pages = {}
    for size, dimensions in SIZES.items():
        browser.set_window_size(*dimensions)
        browser.get(task_url(live_server, rater))
        assert "Please come back later" in browser.page_source
        pages[f"all tasks taken ({size})"] = axe_violations(browser)
        browser.delete_all_cookies()  # a new browser session from the same address
        browser.get(open_link)
        assert "Too many new rating sessions" in browser.page_source
        pages[f"too many sessions ({size})"] = axe_violations(browser)
        browser.get(f"{live_server.url}/r/{rater.token[:-3]}/")  # a link cut short
        assert "Not found" in browser.find_element(By.TAG_NAME, "h1").text
        pages[f"rater link not found ({size})"] = axe_violations(browser)

    assert {page: found for page, found in pages.items() if found} == {}
    assert csp_violations(browser) == []


def test_a_form_without_its_cookie_is_refused_with_a_page_that_says_why(live_server, browser, study):
    from selenium.webdriver.common.by import By

    rater = invite_raters(study, 1)[0]
    browser.get(task_url(live_server, rater))
    click_answers(browser, [4, 3, 2], best=0)
    browser.delete_cookie("csrftoken")  # cookies blocked or cleared while the page was open

    submit(browser)

    assert "cookie" in browser.find_element(By.CSS_SELECTOR, "p.error").text and Response.objects.count() == 0
    assert axe_violations(browser) == [] and csp_violations(browser) == []
