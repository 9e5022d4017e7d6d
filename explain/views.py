from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render

from explain.models import Job


@login_required
def job_detail(request, pk):
    job = get_object_or_404(Job, pk=pk)
    counts = job.explanations.values("method__name").order_by("method__name")
    from django.db.models import Count

    per_method = counts.annotate(n=Count("pk"))
    return render(request, "explain/job_detail.html", {"job": job, "per_method": per_method})
