"""Local volunteers: personal links from the evaluation app; nobody is paid, nothing to harvest."""
from ..cost import CostEstimate
from .base import CrowdProvider, Report


class LocalProvider(CrowdProvider):
    name = "local"

    def __init__(self, publication, rater_count=None):
        super().__init__(publication)
        self.rater_count = rater_count

    def publish(self, limit=None, show_progress=True):
        from evaluation.services import invite_raters, rater_link

        report = Report()
        count = limit or self.rater_count or self.study.raters_per_neuron
        for rater in invite_raters(self.study, count):
            report.add("invited rater", rater_link(rater))
        return report

    def harvest(self):
        # Local responses are stored by the rating page itself.
        return Report()

    def review(self, dry_run=False):
        return Report()

    def estimate(self):
        from decimal import Decimal

        assignments = self.study.study_neurons.count() * self.study.raters_per_neuron
        zero = Decimal("0.00")
        return CostEstimate(self.study.study_neurons.count(), assignments, zero, zero, zero, zero, None)
