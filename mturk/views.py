"""The crowd status page researchers see for a study (every provider it is published on)."""
from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from evaluation.permissions import get_visible_study_or_404

from .status import study_status_html


@login_required
def study_status_page(request, name):
    study = get_visible_study_or_404(request.user, name)
    return render(request, "mturk/study_status.html", {"study": study, "status_html": study_status_html(study)})
