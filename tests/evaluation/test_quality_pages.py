"""Rater quality in the workspace: scores on the rater and study pages, the exclusion policy as a study setting."""
import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.urls import reverse

from evaluation.models import Rater, Study
from evaluation.rater_scores import study_rater_signals
from evaluation.services import StudyError, create_study, invite_raters, set_exclusion_policy

from .conftest import METHOD_NAMES
from .test_researcher_pages import play
from .test_workspace_pages import browser, builder_data, owned_study, owner  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


@pytest.fixture
def rated(owned_study):
    """Two raters who vary their ratings and one who gives every description a 3, three tasks each."""
    careful, other, straight = invite_raters(owned_study, 3)
    for _ in range(3):
        play(careful, values=(5, 3, 1))
        play(other, values=(4, 2, 1))
        play(straight, values=(3, 3, 3))
    return owned_study, careful, straight


def test_study_rater_signals_reads_the_study_as_the_pure_functions_expect(rated):
    study, careful, straight = rated
    set_exclusion_policy(study, "straight_line_rate >= 50%")
    signals = study_rater_signals(study).set_index("rater_id")
    assert signals.loc[straight.pk, "straight_line_rate"] == 1.0 and signals.loc[straight.pk, "responses"] == 3
    assert signals.loc[careful.pk, "straight_line_rate"] == 0.0
    assert signals.loc[straight.pk, "excluded"] and signals.loc[straight.pk, "reasons"] == "straight_line_rate >= 0.5"
    assert not signals.loc[careful.pk, "excluded"]
    assert signals["median_seconds"].notna().all()  # time on task recorded by the rating page


def test_rater_page_shows_the_signals_and_the_policy_verdict(browser, rated):
    study, careful, straight = rated
    page = lambda rater: browser.get(reverse("evaluation:rater_detail", args=[study.name, rater.pk])).content.decode()
    before = page(straight)
    assert "The study has no exclusion policy: every rater counts." in before
    assert '<tr class="signal-straight_line_rate"><th>Straight-lining (one rating for every description)</th><td>100%</td>' in before
    assert 'class="signal-quality_score"' in before and 'class="signal-agreement"' in before
    assert browser.post(reverse("evaluation:study_policy", args=[study.name]),
                        {"exclusion_policy": "straight_line_rate >= 0.5"}).status_code == 302
    assert "<strong>Left out by the study's exclusion policy</strong> (straight_line_rate &gt;= 0.5)" in page(straight)
    assert "Kept by the study's exclusion policy" in page(careful)
    assert '<tr class="signal-straight_line_rate"><th>Straight-lining (one rating for every description)</th><td>0%</td>' in page(careful)


def test_study_page_lists_scores_and_what_the_policy_leaves_out(browser, rated):
    study, careful, straight = rated
    set_exclusion_policy(study, "straight_line_rate >= 0.5 or check_pass_rate < 0.8")
    html = browser.get(reverse("evaluation:study_detail", args=[study.name])).content.decode()
    assert "Now: 1 of 3 raters left out (straight_line_rate &gt;= 0.5: 1)." in html
    assert html.count('<td class="policy-verdict">kept</td>') == 2
    assert '<td class="policy-verdict">left out: straight_line_rate &gt;= 0.5</td>' in html
    assert 'value="straight_line_rate &gt;= 0.5 or check_pass_rate &lt; 0.8"' in html


def test_study_pages_rater_table_follows_new_answers_exclusions_and_policy(browser, rated):
    """The table is rendered once per change of the study's data and kept; a change shows on the next view."""
    study, careful, straight = rated
    url = reverse("evaluation:study_detail", args=[study.name])
    row = lambda html, rater: html.split('class="data rater-quality"')[1].split(f'/raters/{rater.pk}/">')[1].split("</tr>")[0]
    first = browser.get(url).content.decode()
    assert "<td>3</td>" in row(first, careful) and row(first, straight).endswith('<td class="policy-verdict">kept</td>')
    table = lambda html: html.split('class="data rater-quality"')[1].split("</table>")[0]
    assert table(browser.get(url).content.decode()) == table(first)  # nothing changed: the same table
    browser.post(reverse("evaluation:study_policy", args=[study.name]), {"exclusion_policy": "straight_line_rate >= 0.5"})
    assert "left out: straight_line_rate &gt;= 0.5" in row(browser.get(url).content.decode(), straight)
    play(careful, values=(5, 3, 1))
    assert "<td>4</td>" in row(browser.get(url).content.decode(), careful)


def test_a_bad_policy_is_refused_with_the_rule_named_and_the_old_one_kept(browser, rated):
    study, _, _ = rated
    set_exclusion_policy(study, "invalid_rate > 0.5")
    response = browser.post(reverse("evaluation:study_policy", args=[study.name]),
                            {"exclusion_policy": "invalid_rate > 0.5 or median tme < 5 s"})
    assert response.status_code == 302
    message = [str(m) for m in get_messages(response.wsgi_request)][0]
    assert message.startswith('Policy not changed: exclusion policy: rule 2 "median tme < 5 s": unknown signal "median_tme"')
    study.refresh_from_db()
    assert study.exclusion_policy == "invalid_rate > 0.5"


def test_only_people_who_may_change_the_study_set_its_policy(rated, django_user_model):
    from django.test import Client

    study, _, _ = rated
    stranger = Client()
    stranger.force_login(django_user_model.objects.create_user("stranger", password="pw-for-tests"))
    assert stranger.post(reverse("evaluation:study_policy", args=[study.name]), {"exclusion_policy": "responses < 9"}).status_code == 404
    study.refresh_from_db()
    assert study.exclusion_policy == ""


def test_builder_takes_a_policy_and_refuses_a_bad_one(browser, explained_network):
    bad = browser.post(reverse("evaluation:study_builder"), builder_data(exclusion_policy="check_pass_rate < 80"))
    assert bad.status_code == 400 and not Study.objects.exists()
    assert "check_pass_rate lies between 0 and 1; write e.g. 0.8 or 80%" in bad.content.decode()
    good = browser.post(reverse("evaluation:study_builder"), builder_data(exclusion_policy=" check_pass_rate < 80% "))
    assert good.status_code == 302 and Study.objects.get().exclusion_policy == "check_pass_rate < 80%"


def test_create_study_and_the_admin_validate_the_policy(explained_network):
    with pytest.raises(StudyError, match='rule 1 "speed < 3": unknown signal "speed"'):
        create_study("p", network=explained_network, methods=METHOD_NAMES, per_layer=1, exclusion_policy="speed < 3")
    study = create_study("p", network=explained_network, methods=METHOD_NAMES, per_layer=1, exclusion_policy="agreement < 0")
    study.exclusion_policy = "agreement < 0 or"
    with pytest.raises(ValidationError, match="an empty rule"):
        study.full_clean()
    assert Rater.objects.count() == 0


def admin_form_data(page) -> dict:
    """What the admin's change form would post back unchanged (fields and inline management forms)."""
    form = page.context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    for inline in page.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        data.update({f"{inline.formset.prefix}-{name}": management[name].value() for name in management.fields})
    return data


def test_the_admin_edits_the_policy_and_names_the_bad_rule(owned_study, django_user_model):
    from django.test import Client

    admin = Client()
    admin.force_login(django_user_model.objects.create_superuser("admin", "a@example.org", "pw-for-tests"))
    url = reverse("admin:evaluation_study_change", args=[owned_study.pk])
    data = admin_form_data(admin.get(url))
    refused = admin.post(url, {**data, "exclusion_policy": "check_pass_rate < 0.8 or time < 5 s"})
    assert refused.status_code == 200
    assert 'rule 2 &quot;time &lt; 5 s&quot;: unknown signal &quot;time&quot;' in refused.content.decode()
    owned_study.refresh_from_db()
    assert owned_study.exclusion_policy == ""
    assert admin.post(url, {**data, "exclusion_policy": "check_pass_rate < 0.8"}).status_code == 302
    owned_study.refresh_from_db()
    assert owned_study.exclusion_policy == "check_pass_rate < 0.8"
