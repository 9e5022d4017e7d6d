"""Prolific: the whole study as one Prolific study; each participant rates a batch of neurons."""
import hashlib
import math
import secrets
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from evaluation.models import Response

from ... import publications
from ...cost import CostEstimate
from ...ledger import NOT_SENT, recorded_call
from ...models import CrowdAssignment, Publication
from .. import register
from ..base import DECIDED, CrowdProvider, Report, Spending
from .client import ProlificClient, ProlificError
from .models import ParticipantSession, ProlificDesign

# Prolific refuses studies paying less than its minimum hourly rate ("£6 / $8 per hour",
# https://docs.prolific.com/documentation/cookbooks/longitudinal-or-multi-part-studies).
MINIMUM_HOURLY_REWARD_CENTS = 800
# Prolific's category for a failed consistency check (see "Approve or reject a submission").
REJECTION_CATEGORY = "FAILED_CHECK"
# A batch is rejected (under the reject policy) only when most of its responses are invalid:
# one inconsistent answer among ten is not a participant who ignored the task.
REJECT_WHEN_INVALID_SHARE_ABOVE = 0.5


def entry_url(publication, site_url=None):
    """Where Prolific sends participants; Prolific fills the {%...%} placeholders for each one."""
    site_url = (site_url or settings.SITE_URL).rstrip("/")
    return (
        site_url
        + reverse("prolific:start", args=[publication.pk])
        + "?PROLIFIC_PID={%PROLIFIC_PID%}&STUDY_ID={%STUDY_ID%}&SESSION_ID={%SESSION_ID%}"
    )


def places_needed(publication, design):
    study = publication.study
    return math.ceil(study.study_neurons.count() * study.raters_per_neuron / design.batch_size)


def reward_cents(publication, design):
    return int((publication.reward * design.batch_size * 100).to_integral_value())


def draft_study_payload(publication, design, site_url=None):
    return {
        "name": publication.title,
        "internal_name": f"{publication.study.name} [{publication.pk}]",
        "description": publication.description,
        "external_study_url": entry_url(publication, site_url),
        "prolific_id_option": "url_parameters",
        "completion_codes": [
            {"code": design.completion_code, "code_type": "COMPLETED", "actions": [{"action": "MANUALLY_REVIEW"}]}
        ],
        "total_available_places": places_needed(publication, design),
        "estimated_completion_time": design.estimated_minutes,
        "reward": reward_cents(publication, design),
        "device_compatibility": ["desktop", "tablet", "mobile"],
    }


@register
class ProlificProvider(CrowdProvider):
    """The whole study as one Prolific study; a participant rates `batch_size` neurons in one session."""

    name = "prolific"
    label = "Prolific"
    operations = frozenset({"draft", "publish", "harvest", "review", "bonus", "estimate"})
    design_model = ProlificDesign
    recipient_label = "PROLIFIC_PID"
    bonus_operations = frozenset({"ProlificBonusPay"})

    def make_client(self):
        return ProlificClient()

    def ensure_completion_code(self):
        design = self.design
        if not design.completion_code:
            design.completion_code = secrets.token_hex(4).upper()
            ProlificDesign.objects.filter(pk=design.pk).update(completion_code=design.completion_code)
        return design.completion_code

    def draft(self, site_url=None):
        """Create the draft study once (a repeat finds the same one); nothing is offered or paid yet."""
        study_id = self.create_draft(site_url)
        report = Report()
        report.add("drafted Prolific study", study_id, f"participants enter at {entry_url(self.publication, site_url)}")
        report.add("completion code", self.design.completion_code)
        return report

    def create_draft(self, site_url=None):
        """Create the draft study once; a repeat returns the same Prolific id."""
        design = self.design
        hourly = reward_cents(self.publication, design) * 60 / design.estimated_minutes
        if hourly < MINIMUM_HOURLY_REWARD_CENTS:
            raise ProlificError(
                f"a batch of {design.batch_size} at ${self.publication.reward} per response pays "
                f"${hourly / 100:.2f} an hour for {design.estimated_minutes} minutes; Prolific's minimum is "
                f"${MINIMUM_HOURLY_REWARD_CENTS / 100:.2f} an hour: raise the reward or the batch size, or lower the time"
            )
        self.ensure_completion_code()
        payload = draft_study_payload(self.publication, design, site_url)
        publications.freeze_design(self.publication)

        def reconcile(entry):
            for study in self.client.list_studies():
                if study.get("internal_name") == payload["internal_name"]:
                    return {"id": study["id"]}
            return NOT_SENT

        created = recorded_call(
            f"ProlificCreateStudy:{self.publication.pk}",
            "ProlificCreateStudy",
            payload,
            send=lambda: {"id": self.client.create_study(payload)["id"]},
            publication=self.publication,
            reconcile=reconcile,
        )
        ProlificDesign.objects.filter(pk=design.pk).update(prolific_study_id=created["id"])
        design.prolific_study_id = created["id"]
        return created["id"]

    def publish(self, limit=None, dry_run=False, show_progress=True, site_url=None):
        report = Report()
        if dry_run:
            report.add("publish", f"{self.study.name} on Prolific", f"{places_needed(self.publication, self.design)} places", done=False)
            return report
        study_id = self.design.prolific_study_id or self.create_draft(site_url)
        report.add("drafted Prolific study", study_id, f"{places_needed(self.publication, self.design)} places")

        def reconcile(entry):
            status = self.client.get_study(study_id).get("status", "")
            return {"status": status} if status != "UNPUBLISHED" else NOT_SENT

        # Publishing locks the study's cost from the balance: recorded like any payment.
        recorded_call(
            f"ProlificPublish:{study_id}",
            "ProlificPublish",
            {"study_id": study_id},
            send=lambda: {"status": self.client.publish_study(study_id).get("status", "")},
            publication=self.publication,
            reconcile=reconcile,
        )
        report.add("published Prolific study", study_id)
        return report

    def harvest(self):
        report = Report()
        for submission in self.client.list_submissions(self.design.prolific_study_id):
            self._record_submission(submission, report)
        return report

    @transaction.atomic
    def _record_submission(self, submission, report):
        session = ParticipantSession.objects.filter(
            publication=self.publication, session_id=submission["id"]
        ).select_related("rater").first()
        responses = (
            list(Response.objects.filter(study=self.study, rater=session.rater, source=Response.Source.PROLIFIC))
            if session
            else []
        )
        finished = submission.get("status") in {"AWAITING REVIEW", "AWAITING_REVIEW", "APPROVED", "REJECTED"}
        record, created = CrowdAssignment.objects.update_or_create(
            publication=self.publication,
            external_id=submission["id"],
            defaults={
                "worker_id": submission.get("participant_id") or submission.get("participant", ""),
                "provider_status": submission.get("status", ""),
                "accepted_at": submission.get("started_at"),
                "submitted_at": submission.get("completed_at"),
                "response_missing": finished and not responses,
            },
        )
        record.responses.add(*responses)
        if created:
            report.add("recorded submission", submission["id"], f"participant {record.worker_id}")
        if finished and not responses:
            report.warnings.append(f"submission {submission['id']} was completed on Prolific but no response reached this site")

    def review(self, dry_run=False, policy=None):
        report = Report()
        waiting = self.publication.crowd_assignments.filter(
            provider_status__in=["AWAITING REVIEW", "AWAITING_REVIEW"], decision=""
        )
        for record in waiting:
            responses = list(record.responses.select_related("rater"))
            if not responses:
                report.warnings.append(f"submission {record.external_id}: no responses stored here; decide on Prolific")
                continue
            if not self._batch_complete(record, responses):
                report.warnings.append(
                    f"submission {record.external_id}: {len(responses)} of {self.design.batch_size} tasks answered and "
                    "the batch was not finished; not approved automatically, decide on Prolific"
                )
                continue
            invalid = sum(1 for r in responses if not r.is_valid)
            detail = f"{len(responses) - invalid} of {len(responses)} responses valid"
            rater = responses[0].rater
            if policy is not None:
                reject, verdict = policy.decide(rater)
                detail = f"{detail}; {verdict}"
            else:
                reject = (
                    self.publication.invalid_policy == Publication.InvalidPolicy.REJECT
                    and invalid / len(responses) > REJECT_WHEN_INVALID_SHARE_ABOVE
                )
            action = "REJECT" if reject else "APPROVE"
            if dry_run:
                report.add(action.lower(), record.external_id, detail, done=False)
                if not reject:
                    self._policy_bonus(report, policy, rater, record.worker_id, dry_run)
                continue
            body = {"message": self.publication.reject_message, "rejection_category": REJECTION_CATEGORY} if reject else {}
            wanted = "REJECTED" if reject else "APPROVED"

            def reconcile(entry, submission_id=record.external_id, wanted=wanted):
                status = self.client.get_submission(submission_id).get("status", "")
                return {"status": status} if status == wanted else NOT_SENT

            recorded_call(
                f"Prolific{action.title()}:{record.external_id}",
                f"Prolific{action.title()}",
                {"submission_id": record.external_id, "action": action, **body},
                send=lambda sid=record.external_id, a=action, b=body: self.client.transition_submission(sid, a, **b),
                publication=self.publication,
                amount=Decimal("0") if reject else self.price_per_approval(),
                reconcile=reconcile,
            )
            CrowdAssignment.objects.filter(pk=record.pk).update(decision=action.lower(), provider_status=wanted)
            report.add(DECIDED[action.lower()], record.external_id, detail)
            if not reject:
                self._policy_bonus(report, policy, rater, record.worker_id, dry_run)
        return report

    def _batch_complete(self, record, responses):
        """The review policy: a submission is paid in full only for a whole batch, or for fewer tasks when
        the study had truly nothing left for the participant (their session was completed by the done page,
        which shows the code only then). Under the reject policy a complete batch with more than half of
        its responses invalid is rejected; anything short of a batch is left to a person."""
        if len(responses) >= self.design.batch_size:
            return True
        return ParticipantSession.objects.filter(
            publication=self.publication, session_id=record.external_id, completed_at__isnull=False
        ).exists()

    def bonus(self, recipient, amount, reason="", dry_run=False):
        """Pay one bonus to the participant `recipient` (a PROLIFIC_PID) of this study; set up, then paid once."""
        participant_id = recipient
        amount = Decimal(amount).quantize(Decimal("0.01"))
        if amount <= 0:
            raise ProlificError(f"bonus amount must be positive, got {amount}")
        if not self.publication.crowd_assignments.filter(worker_id=participant_id).exists():
            raise ProlificError(f"participant {participant_id} has no harvested submission in study {self.study.name}")
        report = Report()
        if dry_run:
            report.add("pay bonus", participant_id, f"{amount:.2f}", done=False)
            return report
        digest = hashlib.sha256(f"{participant_id}:{amount}:{reason}".encode()).hexdigest()[:32]
        csv_bonuses = f"{participant_id},{amount:.2f}\n"
        setup = recorded_call(
            f"ProlificBonusSetup:{self.publication.pk}:{digest}",
            "ProlificBonusSetup",
            {"study_id": self.design.prolific_study_id, "csv_bonuses": csv_bonuses},
            send=lambda: {"id": self.client.create_bonus_payments(self.design.prolific_study_id, csv_bonuses)["id"]},
            publication=self.publication,
            # Setting a bonus up moves no money; a lost answer is simply set up again.
            reconcile=lambda entry: NOT_SENT,
        )
        # Paying is not idempotent on Prolific and cannot be checked afterwards: a crash here is
        # left for a person (LedgerConflict), never paid again automatically.
        recorded_call(
            f"ProlificBonusPay:{setup['id']}",
            "ProlificBonusPay",
            {"bulk_bonus_id": setup["id"], "participant_id": participant_id, "amount": f"{amount:.2f}", "reason": reason},
            send=lambda: self.client.pay_bonus_payments(setup["id"]) or {"paid": True},
            publication=self.publication,
            amount=amount,
        )
        report.add("paid bonus", participant_id, f"{amount:.2f}")
        return report

    def estimate(self):
        """Prolific's own calculator prices the places; per response figures divide by the batch."""
        design = self.design
        places = places_needed(self.publication, design)
        answer = self.client.study_cost(reward_cents(self.publication, design), places)
        total = (Decimal(str(answer["total_cost"])) / 100).quantize(Decimal("0.01"))
        responses_wanted = self.study.study_neurons.count() * self.study.raters_per_neuron
        reward_total = (self.publication.reward * design.batch_size * places).quantize(Decimal("0.01"))
        fee_total = total - reward_total
        responses = Response.objects.filter(study=self.study)
        count = responses.count()
        valid_rate = responses.filter(is_valid=True).count() / count if count else None
        return CostEstimate(
            hits=places,
            assignments=places * design.batch_size,
            reward_per_assignment=self.publication.reward,
            reward_total=reward_total,
            fee_per_assignment=(fee_total / (places * design.batch_size)).quantize(Decimal("0.01"))
            if responses_wanted
            else Decimal("0"),
            fee_total=fee_total,
            valid_rate=valid_rate,
        )

    def price_per_approval(self):
        return self.publication.reward * self.design.batch_size

    def spends_real_money(self, operation):
        # Prolific has no sandbox. Publishing locks the study's cost; a bonus is paid at once;
        # approvals draw on what publishing locked.
        return operation in {"publish", "bonus"}

    def spending(self, operation, amount=None, **options):
        if operation == "bonus":
            amount = Decimal(amount or 0)
            return Spending([f"Bonus {amount:.2f}"], amount)
        return super().spending(operation)
