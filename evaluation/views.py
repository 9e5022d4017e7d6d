"""Rater pages (behind their link only) and researcher pages (behind login)."""
import itertools

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db.models import Count
from django.http import Http404, HttpResponse, HttpResponseBadRequest, HttpResponseNotAllowed, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from explain.models import Network

from . import lifecycle, services
from .rater_scores import study_rater_signals
from .csv_cells import safe_csv_writer
from .forms import StudyBuilderForm
from .labelling import ANSWER_COLUMNS, answer_rows
from .models import Assignment, CollectionStop, Rater, Response, Study, StudyItem, StudyNeuron
from .panels import render_panels
from .entry_limits import allow_new_rater, refusal_message
from .permissions import get_visible_study_or_404, studies_visible_to

# --------------------------------------------------------------------------- raters


def _rater_or_404(token):
    return get_object_or_404(Rater.objects.select_related("study"), token=token)


def not_open_page(request, study, paused_status=200):
    """What a rater sees when the study is not open: paused (come back later), not started, or closed.

    Paused is not an error for an invited rater (the link stays good, progress is kept); crowd entry points pass
    a 4xx so the crowd platform's tools and the worker see the task refused."""
    if study.status == Study.Status.PAUSED:
        return render(request, "evaluation/paused.html", {"study": study}, status=paused_status)
    return render(request, "evaluation/closed.html", {"study": study}, status=403)


def problem_page(request, message, status=400, heading="This page cannot be shown"):
    """A refused request a rater or crowd worker may see (a malformed or foreign link, a stale form), as a page."""
    return render(request, "evaluation/problem.html", {"heading": heading, "message": message}, status=status)


def _thanks_page(request, rater):
    return render(request, "evaluation/thanks.html", {"study": rater.study, "progress": services.rater_progress(rater)})


@never_cache
def rater_home(request, token):
    """Instructions (how many tasks, how long), and a button to start or resume; the thank-you page
    once nothing is left for this rater."""
    rater = _rater_or_404(token)
    study = rater.study
    if study.status != Study.Status.OPEN:
        return not_open_page(request, study)
    progress = services.rater_progress(rater)
    if progress["done"] and not services.has_task_left(rater):
        return _thanks_page(request, rater)
    seconds, recorded = services.seconds_per_task(study)
    left = max(progress["total"] - progress["done"], 0)
    return render(
        request,
        "evaluation/instructions.html",
        {
            "study": study,
            "rater_token": rater.token,
            "progress": progress,
            "tasks_left": left,
            "seconds_per_task": round(seconds),
            "minutes_left": max(round(left * seconds / 60), 1),
            "times_recorded": recorded,
        },
    )


# Task pages are never stored by the browser: Back must fetch the rater's current task again rather than
# show a submitted form (or restore its choices onto the next task).
@never_cache
def rater_task(request, token):
    """GET: the rater's current or next task. POST: store the answer, then on to the next."""
    rater = _rater_or_404(token)
    study = rater.study
    if request.method == "POST":
        return _submit(request, rater)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET", "POST"])
    if study.status != Study.Status.OPEN:
        return not_open_page(request, study)
    assignment = services.claim_next_assignment(rater)
    if assignment is None:
        progress = services.rater_progress(rater)
        wait = services.retry_in_seconds(rater)
        if wait is not None:
            return render(request, "evaluation/all_taken.html", {"study": study, "progress": progress, "minutes": -(-wait // 60)})
        return _thanks_page(request, rater)
    return _task_page(request, rater, assignment)


def _task_page(request, rater, assignment, error="", status=200, answers=None, prompt=None):
    return render(
        request,
        "evaluation/task.html",
        {
            "task": services.task_context(assignment, answers=answers, prompt=prompt),
            "rater_token": rater.token,
            "error": error,
            "disabled": False,
        },
        status=status,
    )


def _submit(request, rater):
    assignment = Assignment.objects.filter(rater=rater, token=request.POST.get("task", "")).first()
    if assignment is None:
        return render(
            request,
            "evaluation/refused.html",
            {"rater_token": rater.token, "message": "This task was not given to you; your answer was not stored."},
            status=403,
        )
    try:
        services.submit_response(assignment, request.POST, source=Response.Source.LOCAL)
    except services.ConsistencyPrompt as prompt:
        return _task_page(request, rater, assignment, answers=request.POST, prompt=prompt)
    except services.SubmissionError as error:
        if assignment.status == Assignment.Status.RESERVED:
            return _task_page(request, rater, assignment, error=str(error), status=400, answers=request.POST)
        return render(request, "evaluation/refused.html", {"rater_token": rater.token, "message": str(error)}, status=400)
    return redirect("evaluation:rater_task", token=rater.token)


def open_link(request, open_token):
    """Public volunteer link: one rater per browser, remembered in the session."""
    study = get_object_or_404(Study, open_link_token=open_token)
    if study.status != Study.Status.OPEN:
        return not_open_page(request, study)
    session_key = f"open-rater-{study.pk}"
    rater = Rater.objects.filter(study=study, token=request.session.get(session_key, "")).first()
    if rater is None:
        if not allow_new_rater(request):
            return render(request, "evaluation/limited.html", {"message": refusal_message()}, status=429)
        if not request.session.session_key:
            request.session.save()
        rater = services.get_or_create_rater(study, Rater.Kind.OPEN, f"browser-{services.new_rater_token()}")
        request.session[session_key] = rater.token
    return redirect("evaluation:rater_home", token=rater.token)


# --------------------------------------------------------------------------- researchers


@login_required
def study_list(request):
    studies = studies_visible_to(request.user).select_related("network")
    rows = [{"study": study, "progress": services.study_progress(study)} for study in studies]
    return render(request, "evaluation/study_list.html", {"rows": rows})


@login_required
def study_detail(request, name):
    study = get_visible_study_or_404(request.user, name)
    study.data_version = services.study_data_version(study)
    return render(
        request,
        "evaluation/study_detail.html",
        {
            "study": study,
            "progress_html": _progress_html(request, study),
            "methods": study.study_methods.select_related("method"),
            "transitions": [(status, lifecycle.ACTION_LABELS[status]) for status in services.allowed_transitions(study)],
            "panels": render_panels("study", request, study),
            "open_link": services.open_link(study) if study.open_link_token else "",
            "invited": [(r, services.rater_link(r)) for r in study.raters.filter(kind=Rater.Kind.INVITED)],
            "exclusions": services.active_exclusions(study).select_related("rater", "response", "created_by")[:50],
            "rater_quality_html": _rater_quality_html(study),
            "policy": _policy_summary(study),
            "collection_stop": CollectionStop.objects.filter(study=study).first(),
        },
    )


def _signals_by_rater(study) -> dict[int, dict]:
    """Rater pk -> quality signals and the policy's verdict (evaluation.rater_scores); computed once per change
    of the study's answers, exclusions or policy."""
    key = services.study_section_key("rater-signals", study)
    rows = cache.get(key)
    if rows is None:
        signals = study_rater_signals(study)
        rows = {row["rater_id"]: row for row in signals.astype(object).where(signals.notna(), None).to_dict("records")}
        cache.set(key, rows, LIVE_SECTION_SECONDS)
    return rows


def _with_signals(quality_rows: list[dict], signals: dict[int, dict]) -> list[dict]:
    return [{**row, "signals": signals.get(row["rater"].pk)} for row in quality_rows]


def _rater_quality_html(study) -> str:
    """The study page's table of every rater's quality, rendered once per change of the study's answers,
    exclusions or policy: a 10,000-response study has hundreds of raters, and rendering their rows on every
    view cost four times the rest of the page."""
    key = services.study_section_key("rater-quality", study)
    html = cache.get(key)
    if html is None:
        rows = _with_signals(services.rater_quality(study), _signals_by_rater(study))
        html = render_to_string("evaluation/_rater_quality.html", {"study": study, "rater_quality": rows})
        cache.set(key, html, LIVE_SECTION_SECONDS)
    return mark_safe(html)


def _policy_summary(study) -> dict:
    """The study's policy and what it does now: raters before/after and raters matched per rule."""
    signals = list(_signals_by_rater(study).values())
    excluded = [row for row in signals if row["excluded"]]
    rules = [part for part in (row["reasons"] for row in excluded) for part in part.split("; ")]
    return {"text": study.exclusion_policy, "raters": len(signals), "excluded": len(excluded),
            "rules": sorted({rule: rules.count(rule) for rule in rules}.items())}


RATERS_LISTED = 50
LIVE_SECTION_SECONDS = 120


def _progress_key(study) -> str:
    """Progress is computed once per change of the study's answers, and at most once a minute otherwise
    (for the hourly pace and reserved tasks), whoever is watching."""
    return services.study_section_key("progress", study, f"{timezone.now():%Y%m%d%H%M}")


def _progress_html(request, study, key=None) -> str:
    key = key or _progress_key(study)
    html = cache.get(key)
    if html is None:
        now = timezone.now()
        html = render_to_string("evaluation/_progress.html", {
            "study": study,
            "key": key,
            "computed_at": now,
            "progress": services.study_progress(study),
            "per_method": services.method_progress(study),
            "pace": services.collection_pace(study),
            "raters": study.raters.annotate(n_responses=Count("responses")).order_by("-n_responses", "pk")[:RATERS_LISTED],
            "n_raters": study.raters.count(),
        })
        cache.set(key, html, LIVE_SECTION_SECONDS)
    return mark_safe(html)


@login_required
def study_progress_fragment(request, name):
    """The study page's progress section, polled by the page so the numbers move without a reload (204: unchanged)."""
    study = get_visible_study_or_404(request.user, name)
    key = _progress_key(study)
    if request.GET.get("since") == key:
        return HttpResponse(status=204)
    return HttpResponse(_progress_html(request, study, key))


def _change_study(request, name, change, refused: str, done):
    """Apply `change` to a study the user may change; back to its page with `done(study)` or why it was refused."""
    study = get_visible_study_or_404(request.user, name, change=True)
    try:
        change(study)
    except services.StudyError as error:
        messages.error(request, f"{refused}: {error}")
    else:
        messages.success(request, done(study))
    return redirect("evaluation:study_detail", name=name)


@login_required
@require_POST
def study_status(request, name):
    return _change_study(request, name, lambda study: services.change_status(study, request.POST.get("status", "")),
                         "Status not changed", lambda study: f"The study is now {study.status}.")


@login_required
def study_builder(request):
    """Build a study in the browser with create_study: eligible neurons per layer shown before saving; saved as a draft."""
    network = Network.objects.filter(name=request.POST.get("network") or request.GET.get("network", "")).first()
    if network is None and Network.objects.count() == 1:
        network = Network.objects.first()
    creating = request.method == "POST" and request.POST.get("action") == "create"
    if creating:
        form = StudyBuilderForm(request.POST, network=network)
    else:
        # Counting eligible neurons keeps what was typed so far without judging it yet.
        typed = {key: request.POST.getlist(key) if key in ("methods", "layers") else request.POST.get(key)
                 for key in request.POST if key != "csrfmiddlewaretoken"}
        form = StudyBuilderForm(network=network, initial={"network": network, **typed})
    eligibility, eligibility_error, status = None, "", 200
    if request.method == "POST":
        eligibility, eligibility_error = _eligibility(network, request.POST)
        if creating:
            if form.is_valid():
                try:
                    study = services.create_study(**form.study_arguments(), owner=request.user)
                except services.StudyError as error:
                    form.add_error(None, str(error))
                else:
                    messages.success(request, f"Created draft study '{study.name}' with {study.study_neurons.count()} "
                                              "neurons. Preview it as a rater, then open it.")
                    return redirect("evaluation:study_detail", name=study.name)
            status = 400
    return render(request, "evaluation/study_builder.html", {
        "form": form, "network": network, "networks": Network.objects.order_by("name"),
        "eligibility": eligibility, "eligibility_error": eligibility_error,
    }, status=status)


def _eligibility(network, data):
    """Eligible neurons per layer for the methods ticked so far, or why they cannot be counted yet."""
    if network is None:
        return None, "Choose a network."
    methods = data.getlist("methods")
    ranks = {}
    for method in methods:
        try:
            ranks[method] = int(data.get(f"rank_{method}") or 1)
        except ValueError:
            return None, f"The rank of {method} must be a whole number."
    try:
        counts = services.eligible_counts(network, methods, ranks, layers=data.getlist("layers") or None)
    except services.StudyError as error:
        return None, str(error)
    return counts, ""


@login_required
def study_preview(request, name):
    """The rating page exactly as a rater sees it (disabled, nothing stored), one neuron after another."""
    study = get_visible_study_or_404(request.user, name)
    neurons = study.study_neurons.order_by("order")
    total = neurons.count()
    if total == 0:
        raise Http404("This study has no neurons.")
    try:
        index = min(max(int(request.GET.get("n", "1")), 1), total)
    except ValueError:
        index = 1
    study_neuron = neurons[index - 1]
    return render(request, "evaluation/preview.html", {
        "study": study, "task": services.preview_context(study_neuron), "disabled": True, "index": index, "total": total,
    })


@login_required
def neuron_detail(request, name, layer, unit):
    """One neuron of the study: its images, every description with its method, every response and rating."""
    study = get_visible_study_or_404(request.user, name)
    # A labelling study holds one task unit per description of the neuron: the page shows them all.
    study_neurons = StudyNeuron.objects.select_related("neuron__layer").filter(
        study=study, neuron__layer__name=layer, neuron__unit=unit
    ).order_by("order")
    study_neuron = study_neurons.first()
    if study_neuron is None:
        raise Http404("This neuron is not in the study.")
    items = list(StudyItem.objects.filter(study_neuron__in=study_neurons).select_related("method").order_by("method__name"))
    # Attention checks shown on this neuron's images are not answers about it: never in its rows or means.
    responses = list(
        Response.objects.filter(study_neuron__in=study_neurons, is_check=False).select_related("rater", "best_item__method")
        .prefetch_related("ratings__item").order_by("submitted_at")
    )
    excluded = services.excluded_response_reasons(study)
    rows = []
    for response in responses:
        by_item = {rating.item_id: rating.value for rating in response.ratings.all()}
        rows.append({"response": response, "values": [by_item.get(item.pk) for item in items],
                     "excluded": excluded.get(response.pk, ""), "target": f"response:{response.pk}"})
    for item in items:
        values = [row["values"][items.index(item)] for row in rows if row["values"][items.index(item)] is not None]
        item.mean_rating = sum(values) / len(values) if values else None
    return render(request, "evaluation/neuron_detail.html", {
        "study": study, "study_neuron": study_neuron, "items": items, "rows": rows,
        "images": study_neuron.images.select_related("image").order_by("position"),
        "panels": render_panels("neuron", request, study_neuron),
    })


@login_required
def rater_detail(request, name, rater_id):
    """One rater: their responses, invalid and flagged counts, exclusion, agreement (from the analysis panel)."""
    study = get_visible_study_or_404(request.user, name)
    rater = get_object_or_404(Rater, study=study, pk=rater_id)
    responses = list(
        rater.responses.select_related("study_neuron__neuron__layer", "best_item__method").order_by("submitted_at")
    )
    excluded = services.excluded_response_reasons(study)
    answers = [r for r in responses if not r.is_check]
    checks = [r for r in responses if r.is_check]
    seconds = sorted(r.seconds for r in responses if r.seconds is not None)
    return render(request, "evaluation/rater_detail.html", {
        "study": study, "rater": rater,
        "rows": [{"response": r, "excluded": excluded.get(r.pk, ""), "target": f"response:{r.pk}"} for r in responses],
        "rater_target": f"rater:{rater.pk}",
        # Answers and attention checks apart: a check is never counted as an answer.
        "counts": {
            "responses": len(answers),
            "invalid": sum(not r.is_valid for r in answers),
            "flagged": sum(r.uninterpretable or r.none_fit for r in answers),
            "excluded": sum(r.pk in excluded for r in answers),
            "checks": len(checks),
            "checks_passed": sum(bool(r.check_passed) for r in checks),
        },
        "median_seconds": seconds[len(seconds) // 2] if seconds else None,
        "quality": _rater_quality_rows(study, rater),
        "exclusion": services.active_exclusions(study).filter(rater=rater).first(),
        "panels": render_panels("rater", request, rater),
    })


# What the rater page shows of each signal (evaluation.quality.SIGNAL_COLUMNS), and how it is written.
SIGNAL_LABELS = {
    "quality_score": ("Combined quality score (0-1)", "score"),
    "check_pass_rate": ("Attention checks passed", "rate"),
    "invalid_rate": ("Invalid responses (best-choice rule)", "rate"),
    "flagged_rate": ("Flagged uninterpretable / none fit", "rate"),
    "straight_line_rate": ("Straight-lining (one rating for every description)", "rate"),
    "median_seconds": ("Median time on task", "seconds"),
    "time_ratio": ("Median time / the study's median time", "score"),
    "time_z": ("Robust z-score of log median time among raters", "score"),
    "agreement": ("Leave-one-out agreement (Spearman with the other raters' mean)", "score"),
    "position_preference": ("First-shown description rated highest, above chance", "rate"),
}


def _shown(value, kind: str) -> str:
    if value is None:
        return "–"
    return {"rate": f"{100 * value:.0f}%", "seconds": f"{value:.1f} s"}.get(kind, f"{value:.2f}")


def _rater_quality_rows(study, rater) -> dict:
    """This rater's signals beside the median over the study's raters, and the policy's verdict."""
    signals = _signals_by_rater(study)
    row = signals.get(rater.pk)
    if row is None:
        return {}
    medians = {}
    for column in SIGNAL_LABELS:
        values = sorted(r[column] for r in signals.values() if r[column] is not None)
        medians[column] = values[len(values) // 2] if values else None
    return {
        "rows": [{"signal": column, "label": label, "value": _shown(row[column], kind), "median": _shown(medians[column], kind)}
                 for column, (label, kind) in SIGNAL_LABELS.items()],
        "excluded": row["excluded"], "reasons": row["reasons"], "policy": study.exclusion_policy,
        "responses": row["responses"], "checks": row["checks"],
    }


@login_required
@require_POST
def study_policy(request, name):
    """Change the study's exclusion policy (rules on rater quality signals); a rule that does not parse is refused."""
    return _change_study(
        request, name, lambda study: services.set_exclusion_policy(study, request.POST.get("exclusion_policy", "")),
        "Policy not changed", lambda study: "Exclusion policy saved; the report is recomputed with it."
        if study.exclusion_policy else "Exclusion policy removed: every rater counts.",
    )


@login_required
def neuron_lookup(request, name):
    study = get_visible_study_or_404(request.user, name)
    try:
        unit = int(request.GET.get("unit", ""))
    except ValueError:
        messages.error(request, "Give the neuron's unit as a whole number.")
        return redirect("evaluation:study_detail", name=name)
    layer = request.GET.get("layer", "")
    if not study.study_neurons.filter(neuron__layer__name=layer, neuron__unit=unit).exists():
        messages.error(request, f"Neuron {layer}#{unit} is not in this study.")
        return redirect("evaluation:study_detail", name=name)
    return redirect("evaluation:neuron_detail", name=name, layer=layer, unit=unit)


@login_required
@require_POST
def study_exclusion(request, name):
    """Exclude or include one rater or one response (POST target=rater:<id>|response:<id>, action, reason)."""
    study = get_visible_study_or_404(request.user, name, change=True)
    kind, _, pk = request.POST.get("target", "").partition(":")
    model = {"rater": Rater, "response": Response}.get(kind)
    target = model.objects.filter(study=study, pk=pk).first() if model and pk.isdigit() else None
    if target is None:
        return HttpResponseBadRequest("Unknown rater or response for this study.")
    action = request.POST.get("action")
    try:
        if action == "exclude":
            services.exclude(study, **{kind: target}, reason=request.POST.get("reason", ""), by=request.user)
            messages.success(request, f"Excluded {kind} {target.pk}; the report is recomputed without it.")
        elif action == "include":
            services.include(study, **{kind: target}, by=request.user)
            messages.success(request, f"Included {kind} {target.pk} again.")
        else:
            return HttpResponseBadRequest("action must be exclude or include.")
    except services.StudyError as error:
        messages.error(request, f"Nothing changed: {error}")
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        next_url = reverse("evaluation:study_detail", args=[name])
    return redirect(next_url)


@login_required
@require_POST
def study_invite(request, name):
    study = get_visible_study_or_404(request.user, name, change=True)
    try:
        count = int(request.POST.get("count", "1"))
        raters = services.invite_raters(study, count)
    except (ValueError, services.StudyError) as error:
        messages.error(request, f"No links created: {error}")
    else:
        messages.success(request, f"Created {len(raters)} rater link(s).")
    return redirect("evaluation:study_detail", name=name)


@login_required
@require_POST
def study_open_link(request, name):
    study = get_visible_study_or_404(request.user, name, change=True)
    services.enable_open_link(study)
    return redirect("evaluation:study_detail", name=name)


class _Echo:
    """A file-like object whose write returns the line, so csv.writer can feed a streaming response."""

    def write(self, value):
        return value


@login_required
def study_responses_csv(request, name):
    """Every response, one row per rating, in the tidy ratings format `import_ratings` reads back
    (researchers only; streamed, so a large study is not held in memory)."""
    study = get_visible_study_or_404(request.user, name)
    writer = safe_csv_writer(_Echo())
    if study.kind == Study.Kind.LABELLING:
        # Labelling: one row per image answer, the columns `score_explanations --concepts people --answers` reads.
        columns, rows, suffix = ANSWER_COLUMNS, ([row[c] for c in ANSWER_COLUMNS] for row in answer_rows(study)), "labels"
    else:
        columns, rows, suffix = services.TIDY_COLUMNS, services.tidy_rating_rows(study), "ratings"
    lines = itertools.chain([writer.writerow(columns)], map(writer.writerow, rows))
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{study.name}-{suffix}.csv"'
    return response
