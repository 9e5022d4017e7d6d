"""The researcher's workspace: builder, life cycle, preview, live progress, drill-down, exclusions, permissions."""
import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from evaluation.adaptive import Stop
from evaluation.collection import record_stop
from evaluation.models import Exclusion, Rater, Response, Study
from evaluation import services
from evaluation.services import AdaptivePlan, create_study, invite_raters

from .conftest import METHOD_NAMES
from .test_researcher_pages import play

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def owner(db):
    return User.objects.create_user("owner", password="pw-for-tests")


@pytest.fixture
def browser(owner):
    client = Client()
    client.force_login(owner)
    return client


@pytest.fixture
def owned_study(explained_network, owner):
    return create_study("owned", network=explained_network, methods=METHOD_NAMES, per_layer=3, owner=owner)


def builder_data(**overrides):
    data = {"network": "tiny-cnn", "methods": ["netdissect", "shuffled-control"], "layers": ["layer1"],
            "selection": "random", "per_layer": "4", "seed": "1", "raters_per_neuron": "2", "images_per_task": "5",
            "ask_best": "on", "name": "built", "title": "Built in the browser", "instructions": "Rate <b>carefully</b>",
            "action": "create"}
    data.update(overrides)
    return data


def test_builder_counts_eligible_neurons_before_saving(browser, explained_network):
    page = browser.post(reverse("evaluation:study_builder"), builder_data(action="check", layers=[]))
    assert page.status_code == 200 and not Study.objects.exists()
    html = page.content.decode()
    assert "<tr><td>layer1</td><td>6</td></tr>" in html and "<tr><td>layer2</td><td>6</td></tr>" in html
    # A rank nobody wrote: nothing eligible, and the page says so before anything is saved.
    none = browser.post(reverse("evaluation:study_builder"), builder_data(action="check", rank_netdissect="2")).content.decode()
    assert "<tr><td>layer1</td><td>0</td></tr>" in none


def test_builder_creates_a_draft_owned_by_the_researcher(browser, owner, explained_network):
    response = browser.post(reverse("evaluation:study_builder"), builder_data())
    assert response.status_code == 302 and response["Location"] == reverse("evaluation:study_detail", args=["built"])
    study = Study.objects.get(name="built")
    assert study.status == Study.Status.DRAFT and study.owner == owner
    assert study.study_neurons.count() == 4 and study.raters_per_neuron == 2 and study.images_per_task == 5
    assert list(study.study_methods.values_list("method__name", flat=True)) == ["netdissect", "shuffled-control"]
    assert (study.title, study.instructions, study.ask_best) == ("Built in the browser", "Rate <b>carefully</b>", True)
    data = builder_data(name="no-best", rank_netdissect="1")
    del data["ask_best"]  # an unticked box is not sent
    assert browser.post(reverse("evaluation:study_builder"), data).status_code == 302
    assert not Study.objects.get(name="no-best").ask_best


def test_builder_takes_a_pasted_list_of_units(browser, explained_network):
    response = browser.post(reverse("evaluation:study_builder"),
                            builder_data(selection="list", layers=[], unit_list="layer2: 5, 1\nlayer1: 0"))
    assert response.status_code == 302
    study = Study.objects.get(name="built")
    units = set(study.study_neurons.values_list("neuron__layer__name", "neuron__unit"))
    assert units == {("layer2", 5), ("layer2", 1), ("layer1", 0)}


@pytest.mark.parametrize("overrides,message", [
    ({"rank_netdissect": "2"}, "has no neuron with top images"),
    ({"selection": "list", "unit_list": "layer1: 99"}, "unit(s) 99 are not eligible"),
    ({"selection": "list", "unit_list": "layer1 0"}, "line 1: write"),
    ({"methods": ["netdissect"]}, "choose 2 to 8 methods"),
    ({"name": "new"}, "taken by a page of the site"),
])
def test_builder_refuses_a_study_it_cannot_fill_and_saves_nothing(browser, explained_network, overrides, message):
    response = browser.post(reverse("evaluation:study_builder"), builder_data(**overrides))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Study.objects.exists()


def test_life_cycle_draft_open_paused_closed(browser, explained_network, owner):
    study = create_study("cycle", network=explained_network, methods=METHOD_NAMES, per_layer=1, owner=owner,
                         status=Study.Status.DRAFT)
    rater = invite_raters(study, 1)[0]
    task_url = reverse("evaluation:rater_task", args=[rater.token])
    assert Client().get(task_url).status_code == 403  # a draft takes no raters

    def move(status):
        browser.post(reverse("evaluation:study_status", args=["cycle"]), {"status": status})
        study.refresh_from_db()
        return study.status

    def buttons():
        page = browser.get(reverse("evaluation:study_detail", args=["cycle"])).content.decode()
        return re.findall(r'<button type="submit" name="to" value="(\w+)">', page)

    assert buttons() == ["open", "closed"]

    assert move("paused") == "draft"  # a draft cannot be paused
    assert move("open") == "open"
    assert Client().get(task_url).status_code == 200
    assert buttons() == ["paused", "closed"]
    services.enable_open_link(study)
    join = reverse("evaluation:open_link", args=[study.open_link_token])
    assert move("paused") == "paused"
    assert buttons() == ["open", "closed"]
    assert "This study is paused" in Client().get(join).content.decode()  # volunteers are told so too
    paused = Client().get(reverse("evaluation:rater_home", args=[rater.token]))
    assert paused.status_code == 200 and "This study is paused" in paused.content.decode()
    assert "come back later" in paused.content.decode() and "It has closed" not in paused.content.decode()
    assert "This study is paused" in Client().get(task_url).content.decode()
    assert move("open") == "open"
    assert move("closed") == "closed"
    assert move("open") == "closed"  # closed is final
    assert buttons() == []
    assert "It has closed" in Client().get(task_url).content.decode()


def test_preview_shows_the_rating_page_without_method_names_and_escaped(browser, explained_network, owner):
    from explain.models import Explanation

    Explanation.objects.filter(method__name="netdissect").update(text="<script>alert('x')</script> stripes")
    Explanation.objects.exclude(method__name="netdissect").update(text="a plain description")
    study = create_study("previewed", network=explained_network, methods=METHOD_NAMES, per_layer=1, owner=owner,
                         status=Study.Status.DRAFT)
    page = browser.get(reverse("evaluation:study_preview", args=["previewed"]) + "?n=2").content.decode()
    assert "Neuron 2 of 2" in page and "nothing can be submitted" in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; stripes" in page and "<script>alert" not in page
    body = page.split('<div class="rating-task"')[1]
    for method in METHOD_NAMES:
        assert method not in body
    assert body.count(" disabled") >= 5 * 3
    assert not study.raters.exists() and not Response.objects.exists()


def test_progress_fragment_moves_with_new_responses(browser, owned_study):
    rater = invite_raters(owned_study, 1)[0]
    url = reverse("evaluation:study_progress", args=["owned"])
    before = browser.get(url).content.decode()
    assert before.startswith('<div id="study-progress" data-poll-url="') and "<strong>0 / 0</strong>" in before
    play(rater)
    assert "<strong>1 / 1</strong>" in browser.get(url).content.decode()


def test_study_and_rater_pages_show_time_on_task_when_it_was_recorded(browser, owned_study):
    rater = invite_raters(owned_study, 1)[0]
    play(rater)
    play(rater)
    play(rater)
    study_url = reverse("evaluation:study_detail", args=["owned"])
    rater_url = reverse("evaluation:rater_detail", args=["owned", rater.pk])
    for seconds, response in zip((12.0, 30.0, 41.0), Response.objects.order_by("pk")):
        Response.objects.filter(pk=response.pk).update(seconds=seconds)  # as the rating page records them
    assert "Median time on task: <strong>30 s</strong>" in browser.get(study_url).content.decode()
    assert "median time on task <strong>30 s</strong>" in browser.get(rater_url).content.decode()
    Response.objects.update(seconds=None)  # answers imported without times
    Response.objects.filter(pk=Response.objects.first().pk).delete()  # a change of the data: sections recomputed
    assert "time on task" not in browser.get(study_url).content.decode().split("Pace:")[1].split("</p>")[0]
    assert "median time on task" not in browser.get(rater_url).content.decode()


def test_neuron_and_rater_pages_show_answers_with_methods(browser, owned_study):
    first, second = invite_raters(owned_study, 2)
    play(first, values=(5, 3, 1))
    play(second, values=(2, 4, 4), best_index=0)  # invalid
    response = Response.objects.filter(rater=first).get()
    neuron = response.study_neuron.neuron
    page = browser.get(reverse("evaluation:neuron_detail", args=["owned", neuron.layer.name, neuron.unit])).content.decode()
    for item in response.study_neuron.items.select_related("method"):
        assert f"<td>{item.method.name}</td><td>{item.text}</td>" in page
    assert reverse("evaluation:rater_detail", args=["owned", first.pk]) in page
    rater_page = browser.get(reverse("evaluation:rater_detail", args=["owned", second.pk])).content.decode()
    assert re.search(r"Responses <strong>1</strong> · invalid <strong>1</strong>", rater_page)
    assert "invalid: the description picked as best was rated 2, below the highest rating 4" in rater_page
    assert "Agreement with the other raters" in rater_page  # the analysis panel


def test_exclude_and_include_a_rater_from_the_rater_page(browser, owner, owned_study):
    rater = invite_raters(owned_study, 1)[0]
    play(rater)
    url = reverse("evaluation:study_exclusion", args=["owned"])
    page_url = reverse("evaluation:rater_detail", args=["owned", rater.pk])
    done = browser.post(url, {"target": f"rater:{rater.pk}", "action": "exclude", "reason": "answered at random",
                              "next": page_url})
    assert done.status_code == 302 and done["Location"] == page_url
    exclusion = Exclusion.objects.get()
    assert exclusion.rater == rater and exclusion.created_by == owner and exclusion.reason == "answered at random"
    assert "Excluded from the analysis: answered at random" in browser.get(page_url).content.decode()
    browser.post(url, {"target": f"rater:{rater.pk}", "action": "include", "next": "https://evil.example/"})
    exclusion.refresh_from_db()
    assert exclusion.lifted_by == owner
    assert Response.objects.count() == 1


def test_exclude_and_include_one_response_from_the_neuron_page(browser, owner, owned_study):
    from evaluation.services import excluded_response_reasons

    first, second = invite_raters(owned_study, 2)
    play(first)
    response = Response.objects.get(rater=first)
    neuron = response.study_neuron.neuron
    page_url = reverse("evaluation:neuron_detail", args=["owned", neuron.layer.name, neuron.unit])
    assert f'name="target" value="response:{response.pk}"' in browser.get(page_url).content.decode()
    done = browser.post(reverse("evaluation:study_exclusion", args=["owned"]),
                        {"target": f"response:{response.pk}", "action": "exclude", "reason": "clicked through",
                         "next": page_url})
    assert done.status_code == 302 and done["Location"] == page_url
    assert "excluded (response excluded: clicked through)" in browser.get(page_url).content.decode()
    assert excluded_response_reasons(owned_study) == {response.pk: "response excluded: clicked through"}
    browser.post(reverse("evaluation:study_exclusion", args=["owned"]),
                 {"target": f"response:{response.pk}", "action": "include", "next": page_url})
    assert excluded_response_reasons(owned_study) == {}
    exclusion = Exclusion.objects.get()  # kept as data, lifted, never deleted
    assert exclusion.reason == "clicked through" and exclusion.lifted_by == owner and Response.objects.count() == 1


def test_exclusion_requests_that_name_nothing_of_this_study_are_refused(browser, owned_study, explained_network):
    other = create_study("other", network=explained_network, methods=METHOD_NAMES, per_layer=1)
    stranger = invite_raters(other, 1)[0]
    url = reverse("evaluation:study_exclusion", args=["owned"])
    assert browser.post(url, {"target": f"rater:{stranger.pk}", "action": "exclude", "reason": "x"}).status_code == 400
    assert browser.post(url, {"target": "study:1", "action": "exclude", "reason": "x"}).status_code == 400
    rater = invite_raters(owned_study, 1)[0]
    assert browser.post(url, {"target": f"rater:{rater.pk}", "action": "drop"}).status_code == 400
    browser.post(url, {"target": f"rater:{rater.pk}", "action": "exclude", "reason": "  "})
    assert not Exclusion.objects.exists()


WORKSPACE_PAGES = [
    ("evaluation:study_progress", "GET", lambda s, r, n: [s.name]),
    ("evaluation:study_preview", "GET", lambda s, r, n: [s.name]),
    ("evaluation:neuron_detail", "GET", lambda s, r, n: [s.name, n.layer.name, n.unit]),
    ("evaluation:rater_detail", "GET", lambda s, r, n: [s.name, r.pk]),
    ("evaluation:neuron_lookup", "GET", lambda s, r, n: [s.name]),
    ("evaluation:study_status", "POST", lambda s, r, n: [s.name]),
    ("evaluation:study_exclusion", "POST", lambda s, r, n: [s.name]),
    ("evaluation:study_policy", "POST", lambda s, r, n: [s.name]),
]


@pytest.mark.parametrize("name,method,args", WORKSPACE_PAGES)
def test_another_researchers_workspace_pages_are_404_and_change_nothing(owned_study, name, method, args):
    rater = invite_raters(owned_study, 1)[0]
    play(rater)
    neuron = owned_study.study_neurons.first().neuron
    intruder = Client()
    intruder.force_login(User.objects.create_user("intruder", password="pw-for-tests"))
    url = reverse(name, args=args(owned_study, rater, neuron))
    data = {"status": "closed", "target": f"rater:{rater.pk}", "action": "exclude", "reason": "mine now",
            "layer": neuron.layer.name, "unit": neuron.unit, "exclusion_policy": "invalid_rate > 0"}
    response = intruder.get(url, data) if method == "GET" else intruder.post(url, data)
    assert response.status_code == 404
    owned_study.refresh_from_db()
    assert owned_study.status == Study.Status.OPEN and not Exclusion.objects.exists()
    assert owned_study.exclusion_policy == ""


def test_the_study_page_says_how_an_adaptive_study_collects_and_why_it_stopped(browser, explained_network, owner):
    study = create_study("adaptive-page", network=explained_network, methods=METHOD_NAMES, per_layer=3, owner=owner,
                         adaptive=AdaptivePlan(min_raters=2, target_half_width=0.1, budget_responses=50))
    page = browser.get(reverse("evaluation:study_detail", args=[study.name])).content.decode()
    assert "Adaptive collection: 2 raters a neuron first, at most 3" in page and "Still collecting." in page
    record_stop(study, Stop("target", {"responses": 40, "largest_half_width": 0.098, "binding_quantity": "diff:a-b"}))
    page = browser.get(reverse("evaluation:study_detail", args=[study.name])).content.decode()
    assert "target ci half-width reached" in page
    assert "40 responses, $4.00, largest half-width 0.098 on diff:a-b" in page


def test_builder_creates_a_labelling_study_with_one_method_and_its_image_counts(browser, explained_network):
    page = browser.get(reverse("evaluation:study_builder")).content.decode()
    assert 'name="kind"' in page and 'name="top_images_per_task"' in page
    response = browser.post(reverse("evaluation:study_builder"), builder_data(
        kind="labelling", methods=["netdissect"], top_images_per_task="3", random_images_per_task="2"))
    assert response.status_code == 302
    study = Study.objects.get(name="built")
    assert (study.kind, study.top_images_per_task, study.random_images_per_task, study.images_per_task) == (
        "labelling", 3, 2, 5)
    refused = browser.post(reverse("evaluation:study_builder"), builder_data(name="rated", random_images_per_task="2"))
    assert refused.status_code == 400 and "top and random images are for labelling studies" in refused.content.decode()
