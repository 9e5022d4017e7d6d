"""Crowd review by the study's exclusion policy: the rule the analysis applies decides who is paid.

`review --policy` rejects the work of raters the policy leaves out (naming the rules they matched),
approves everyone else's, and with `--amount` pays that bonus on the approved work of kept raters
whose combined quality score is at least `--bonus-min-score`. Signals and policy come from
evaluation.quality, so the review and the tables judge raters the same way.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from evaluation.models import Rater, Study
from evaluation.quality import PolicyOutcome
from evaluation.rater_scores import rater_label, study_policy_outcome

from .providers.base import CrowdError


@dataclass
class PolicyReview:
    outcome: PolicyOutcome
    bonus: Decimal | None = None
    bonus_min_score: float = 0.0
    bonus_reason: str = ""
    _rows: dict = field(init=False, repr=False)

    def __post_init__(self):
        scores = dict(zip(self.outcome.signals["rater"], self.outcome.signals["quality_score"]))
        self._rows = {
            row.rater: {"excluded": bool(row.excluded), "reasons": row.reasons,
                        "score": None if scores[row.rater] != scores[row.rater] else float(scores[row.rater])}
            for row in self.outcome.raters.itertuples(index=False)
        }

    def _row(self, rater: Rater) -> dict:
        # A rater with no answer the policy could judge (e.g. all unverified) is neither left out nor scored.
        return self._rows.get(rater_label(rater), {"excluded": False, "reasons": "", "score": None})

    def decide(self, rater: Rater) -> tuple[bool, str]:
        """(reject?, why) for work by `rater`."""
        row = self._row(rater)
        if row["excluded"]:
            return True, f"exclusion policy: {row['reasons']}"
        score = "not measured" if row["score"] is None else f"{row['score']:.2f}"
        return False, f"kept by the exclusion policy (quality score {score})"

    def bonus_for(self, rater: Rater) -> Decimal | None:
        """The bonus this rater's approved work earns, or None."""
        if self.bonus is None:
            return None
        row = self._row(rater)
        if row["excluded"] or row["score"] is None or row["score"] < self.bonus_min_score:
            return None
        return self.bonus


def policy_review(study: Study, bonus=None, bonus_min_score: float = 0.0, bonus_reason: str = "") -> PolicyReview:
    """The study's exclusion policy judged on its verified answers now; refused when the study has none."""
    if not study.exclusion_policy:
        raise CrowdError(f"study {study.name} has no exclusion policy; set one on the study page (or drop --policy)")
    if bonus is not None and Decimal(bonus) <= 0:
        raise CrowdError(f"bonus amount must be positive, got {bonus}")
    return PolicyReview(study_policy_outcome(study), None if bonus is None else Decimal(bonus), bonus_min_score, bonus_reason)
