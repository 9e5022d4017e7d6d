"""Local volunteers: personal links from the evaluation app; nobody is paid, nothing to harvest."""
from decimal import Decimal

from evaluation.services import invite_raters, rater_link

from ...cost import CostEstimate
from .. import register
from ..base import CrowdProvider, Report


@register
class LocalProvider(CrowdProvider):
    """Personal rating links; responses are stored by the rating page itself."""

    name = "local"
    label = "Local volunteers"
    operations = frozenset({"publish", "harvest", "review", "estimate"})

    def __init__(self, publication, client=None, rater_count=None):
        super().__init__(publication, client)
        self.rater_count = rater_count

    def publish(self, limit=None, dry_run=False, show_progress=True, site_url=None):
        report = Report()
        count = limit or self.rater_count or self.study.raters_per_neuron
        if dry_run:
            report.add("invite", f"{count} raters", done=False)
            return report
        for rater in invite_raters(self.study, count):
            report.add("invited rater", rater_link(rater))
        return report

    def harvest(self):
        return Report()

    def review(self, dry_run=False, policy=None):
        return Report()

    def estimate(self):
        neurons = self.study.study_neurons.count()
        zero = Decimal("0.00")
        return CostEstimate(neurons, neurons * self.study.raters_per_neuron, zero, zero, zero, zero, None)
