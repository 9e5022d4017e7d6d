"""A labelling study end to end in headless Chromium: a volunteer answers every image of every task by clicking
and with the keyboard, the study completes, and the stored answers become people's concept vectors that
`score_explanations --concepts people --study S` scores against the demo CNN's real activations."""
import numpy as np
import pytest
from django.core.management import call_command
from django.urls import reverse
from selenium.webdriver.common.by import By

from evaluation.models import Assignment, Response, StudyImage
from evaluation.services import create_study, enable_open_link
from explain.activations import get_activation_cache
from explain.jobs import ensure_layer, save_top_images
from scoring.faithfulness import METRICS, ConceptVector
from scoring.models import MetricScore
from tests.fakes.browser import csp_violations, new_page_after
from tests.scoring.conftest import add_explanations, random_demo_layer  # noqa: F401  (a fixture)

from .test_rating_page_browser import (  # noqa: F401  (browser is a fixture)
    SIZES, axe_violations, browser, header, pytestmark, screenshot,
)

LAYER, UNITS = "conv4", (0, 1)
TEXTS = {"netdissect": ["red", "a <i>blue</i> circle"], "clip-dissect-annotations": ["stripes", "green squares"]}


@pytest.fixture
def demo_layer(transactional_db, random_demo_layer):
    """The demo CNN (random weights) over a 40-image synthetic set: real activations, top images, two methods."""
    layer, probe = random_demo_layer(n_images=40)
    ensure_layer(layer.network, LAYER, unit_count=layer.unit_count, order=0)  # its neurons
    cache = get_activation_cache(layer.network, probe, LAYER)
    save_top_images(layer, probe, cache, top_k=5, summary="mean")
    add_explanations(layer, TEXTS)
    return layer.network, np.asarray(cache.summaries(), dtype=np.float64)


def answer_for(task_number, place):
    """What the volunteer clicks: a pattern that gives every description both yes and no answers."""
    return "yes" if (place + task_number) % 3 == 0 else "no"


def click_every_image(browser, task_number):
    """Click yes/no under every image; returns {place: answer} as clicked."""
    clicked = {}
    for group in browser.find_elements(By.CSS_SELECTOR, "fieldset.image-label"):
        place = int(group.find_element(By.CSS_SELECTOR, "input[type=radio]").get_attribute("name").split("-")[1])
        clicked[place] = answer_for(task_number, place)
        option = group.find_element(By.CSS_SELECTOR, f"input[value={clicked[place]}]").find_element(By.XPATH, "..")
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", option)
        option.click()
    return clicked


def answer_with_keyboard(browser, task_number):
    """Tab to the first image's answer, then Y/N for every image (each key moves on to the next image)."""
    from selenium.webdriver.common.keys import Keys

    def focused(script):
        return browser.execute_script(f"const a = document.activeElement; return {script};")

    for _ in range(60):
        browser.switch_to.active_element.send_keys(Keys.TAB)
        if focused("!!a.closest('fieldset.image-label') && a.type === 'radio'"):
            break
    places = [int(name.split("-")[1]) for name in browser.execute_script(
        "return [...document.querySelectorAll('fieldset.image-label input[value=yes]')].map(i => i.name);")]
    clicked = {}
    for place in places:
        assert focused("a.name") == f"shows-{place}"
        clicked[place] = answer_for(task_number, place)
        browser.switch_to.active_element.send_keys("y" if clicked[place] == "yes" else "n")
    return clicked


def submit_task(browser):
    button = browser.find_element(By.CSS_SELECTOR, "form.rating-form > p > button[type=submit]")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
    new_page_after(browser, button.click)


def expected_scores(study, activations, answers_by_task):
    """By hand: per description, the clicked answers as a 0/1 concept vector over the probing images it asked
    about (sorted by image index), against the unit's activations on exactly those images."""
    expected = {}
    for token, clicked in answers_by_task.items():
        study_neuron = Assignment.objects.get(token=token).study_neuron
        index_at = dict(StudyImage.objects.filter(study_neuron=study_neuron).values_list("position", "image__index"))
        answered = sorted((index_at[place], answer == "yes") for place, answer in clicked.items())
        indices = [index for index, _ in answered]
        shows = np.array([yes for _, yes in answered])
        concept = ConceptVector(values=shows.astype(np.float64), labels=shows)
        explanation = study_neuron.items.get().explanation
        for metric, function in METRICS.items():
            expected[(explanation.pk, f"{metric}@people")] = function(activations[indices, study_neuron.neuron.unit], concept)
    return expected


def test_a_volunteer_labels_a_study_whose_answers_become_metric_scores(live_server, browser, demo_layer):
    network, activations = demo_layer
    study = create_study("labelling-e2e", network=network, methods=list(TEXTS), layers=[LAYER], units={LAYER: UNITS},
                         kind="labelling", top_images_per_task=3, random_images_per_task=3, raters_per_neuron=1,
                         seed=7, title="Does the image show it?")
    enable_open_link(study)
    browser.set_window_size(*SIZES["desktop"])
    browser.get(live_server.url + reverse("evaluation:open_link", args=[study.open_link_token]))
    assert "answer yes or no" in browser.find_element(By.CSS_SELECTOR, "section.instructions").text
    violations = {"instructions": axe_violations(browser)}
    new_page_after(browser, browser.find_element(By.CSS_SELECTOR, "a.button").click)

    answers_by_task = {}
    for task_number in range(1, 5):
        size = "desktop" if task_number <= 2 else "phone"
        browser.set_window_size(*SIZES[size])
        assert f"Task {task_number} of 4" in header(browser)
        page = browser.page_source
        assert "netdissect" not in page and "clip-dissect" not in page and "random" not in page.lower()
        if task_number in (1, 3):
            violations[f"task {task_number} ({size})"] = axe_violations(browser)
        violations[f"task {task_number}: content security policy"] = csp_violations(browser)
        token = browser.find_element(By.CSS_SELECTOR, "input[name=task]").get_attribute("value")
        labeller = answer_with_keyboard if task_number == 2 else click_every_image
        answers_by_task[token] = labeller(browser, task_number)
        assert len(answers_by_task[token]) == 6
        if task_number in (1, 3):
            browser.execute_script("window.scrollTo(0, 0)")
            screenshot(browser, f"labelling-page-{size}.png")
        submit_task(browser)
    assert "Thank you" in browser.page_source
    violations["thank you"] = axe_violations(browser)
    violations["thank you: content security policy"] = csp_violations(browser)
    assert {page: found for page, found in violations.items() if found} == {}

    # The study is complete: every description answered by its K = 1 rater, every image of it answered.
    responses = Response.objects.filter(study=study)
    assert responses.count() == 4 == study.study_neurons.count()
    assert all(r.is_valid and r.image_answers.count() == 6 and r.seconds > 0 for r in responses)
    stored = {(r.assignment.token, a.study_image.position): "yes" if a.shows else "no"
              for r in responses for a in r.image_answers.select_related("study_image")}
    assert stored == {(token, place): answer for token, clicked in answers_by_task.items() for place, answer in clicked.items()}

    call_command("score_explanations", "--metric", "faithfulness", "--concepts", "people", "--study", study.name)
    expected = expected_scores(study, activations, answers_by_task)
    scores = {(s.explanation_id, s.metric): s for s in MetricScore.objects.filter(metric__endswith="@people")}
    assert set(scores) == set(expected)
    assert all(np.isfinite(scores[key].value) for key in expected if key[1] == "pearson@people")
    for key, value in expected.items():
        assert scores[key].value == pytest.approx(float(value), nan_ok=True), key
    assert {(s.details["top_images"], s.details["random_images"], s.details["images"]) for s in scores.values()} == {(3, 3, 6)}
