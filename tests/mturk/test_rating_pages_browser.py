"""The crowd workers' rating pages (MTurk frame, Prolific session) in headless Chromium: axe-core clean at desktop
and phone widths (task, preview, refused answer, hand-back, not available, already rated, completion code), the
worker's choices kept when an answer is refused, and time on task (with the browser's visible time) recorded."""
import pytest

from evaluation.models import Response

from tests.evaluation.test_rating_page_browser import (  # noqa: F401  (browser is a fixture)
    SIZES,
    axe_violations,
    browser,
    checked_values,
    click_answers,
    pytestmark,
    submit,
)

from tests.fakes.browser import csp_violations
from tests.mturk.providers.prolific.conftest import drafted

FRAME = {"assignmentId": "3ASSIGNMENT0000000000000000001", "workerId": "WORKERA",
         "turkSubmitTo": "https://workersandbox.mturk.com"}


@pytest.fixture
def hit(transactional_db, crowd_study):
    from mturk.models import Hit, Publication
    from mturk.publications import open_publication

    publication = open_publication(crowd_study, Publication.Provider.MTURK)
    return Hit.objects.create(
        publication=publication, study_neuron=publication.study.study_neurons.order_by("order").first(),
        request_token="ne-hit0", hit_id="3NEURONHIT00000000000000000000", max_assignments=3, status=Hit.Status.PUBLISHED,
    )


def query(params):
    return "&".join(f"{key}={value}" for key, value in params.items())


def test_mturk_preview_and_task_pages_are_clean_under_axe(live_server, browser, hit):
    from selenium.webdriver.common.by import By

    url = f"{live_server.url}/mturk/task/{hit.request_token}/"
    found = {}
    for size, dimensions in SIZES.items():
        browser.set_window_size(*dimensions)
        browser.get(f"{url}?assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE&hitId={hit.hit_id}")
        found[f"preview ({size})"] = axe_violations(browser)
        browser.get(f"{url}?{query({**FRAME, 'hitId': hit.hit_id})}")
        found[f"task ({size})"] = axe_violations(browser)
    browser.execute_script("document.querySelectorAll('[required]').forEach(e => e.removeAttribute('required'))")
    click_answers(browser, [5], best=0)
    chosen = checked_values(browser)
    submit(browser)
    assert "description 2 has no rating" in browser.find_element(By.CSS_SELECTOR, ".error").text
    assert checked_values(browser) == chosen
    found["task, answer refused (phone)"] = axe_violations(browser)
    assert csp_violations(browser) == []

    # The answer stored, the page hands the HIT back to MTurk at once: hold that hand-off (this test has no
    # MTurk to go to) to check the page it leaves from.
    held = browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {
        "source": "HTMLFormElement.prototype.submit = function () { window.__handedBack = this.action; };"})
    click_answers(browser, [4, 2, 1], best=0)
    submit(browser)
    browser.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": held["identifier"]})
    assert browser.execute_script("return window.__handedBack") == "https://workersandbox.mturk.com/mturk/externalSubmit"
    found["answer stored, handing back (phone)"] = axe_violations(browser)
    response = Response.objects.get()
    assert response.source == "mturk" and response.seconds > 0
    assert response.visible_seconds is not None and 0 < response.visible_seconds <= response.seconds

    # MTurk confirms the answer; the same worker opens another HIT of the same neuron.
    from mturk.models import Hit, Publication
    from mturk.providers.mturk.provider import MTurkProvider

    MTurkProvider(hit.publication)._confirm_response(hit, FRAME["assignmentId"], FRAME["workerId"])
    production = Publication.objects.create(study=hit.publication.study, provider="mturk", production=True)
    second = Hit.objects.create(publication=production, study_neuron=hit.study_neuron, request_token="ne-prod0",
                                hit_id="3NEURONPRODHIT0000000000000000", max_assignments=3, status=Hit.Status.PUBLISHED)
    other_assignment = {**FRAME, "assignmentId": "3ASSIGNMENT0000000000000000002", "hitId": second.hit_id}
    browser.get(f"{live_server.url}/mturk/task/{second.request_token}/?{query(other_assignment)}")
    assert "already rated" in browser.page_source
    found["already rated (phone)"] = axe_violations(browser)
    browser.get(f"{live_server.url}/mturk/task/{second.request_token}/?assignmentId=3ASSIGNMENT0000000000000000003")
    assert "must be opened from the MTurk HIT" in browser.find_element("css selector", "p.error").text
    found["opened outside MTurk (phone)"] = axe_violations(browser)
    Hit.objects.filter(pk=second.pk).update(status=Hit.Status.EXPIRED)
    browser.get(f"{live_server.url}/mturk/task/{second.request_token}/?{query(other_assignment)}")
    assert "no longer available" in browser.page_source
    found["HIT not available (phone)"] = axe_violations(browser)

    assert {page: violations for page, violations in found.items() if violations} == {}
    assert csp_violations(browser) == []


@pytest.fixture
def prolific_publication(transactional_db, crowd_study):
    from decimal import Decimal

    from mturk.models import ProlificDesign, Publication

    publication = Publication.objects.create(
        study=crowd_study, provider=Publication.Provider.PROLIFIC, reward=Decimal("0.50"), title="Rate descriptions",
        description="Rate how well short descriptions fit sets of images.",
    )
    ProlificDesign.objects.create(publication=publication, batch_size=2, estimated_minutes=5, completion_code="C0DE1234")
    return drafted(publication)


def test_prolific_task_page_is_clean_under_axe(live_server, browser, prolific_publication):
    browser.get(f"{live_server.url}/prolific/{prolific_publication.pk}/start/?PROLIFIC_PID=PIDA&STUDY_ID=STUDY1")
    assert "the link lacks SESSION_ID" in browser.find_element("css selector", "p.error").text
    found = {"link from Prolific incomplete": axe_violations(browser)}
    browser.get(
        f"{live_server.url}/prolific/{prolific_publication.pk}/start/?PROLIFIC_PID=PIDA&STUDY_ID=STUDY1&SESSION_ID=SUB1"
    )
    for size, dimensions in SIZES.items():
        browser.set_window_size(*dimensions)
        browser.refresh()
        assert "1 of 2" in browser.find_element("css selector", ".task-header").text
        found[f"task ({size})"] = axe_violations(browser)
    for _ in range(2):  # the batch of two
        click_answers(browser, [5, 3, 1], best=0)
        submit(browser)
    assert "C0DE1234" in browser.find_element("css selector", ".completion-code").text
    found["completion code (phone)"] = axe_violations(browser)
    responses = Response.objects.filter(source="prolific")
    assert responses.count() == 2
    assert all(r.seconds > 0 and r.visible_seconds is not None and 0 < r.visible_seconds <= r.seconds for r in responses)

    assert {page: violations for page, violations in found.items() if violations} == {}
    assert csp_violations(browser) == []
