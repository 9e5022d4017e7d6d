"""Amazon Mechanical Turk: one HIT per study neuron, harvested, reviewed and paid through boto3."""
import hashlib
import re
from collections import Counter
from datetime import datetime, timezone as dt_timezone
from decimal import Decimal

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from django.db import transaction
from tqdm import tqdm

from evaluation.models import Assignment, Rater, Response
from evaluation.services import get_or_create_rater

from ... import publications
from ...identifiers import worker_key
from ...ledger import NOT_SENT, recorded_call
from ...models import CrowdAssignment
from ...status import normalised_status
from .. import register
from ..base import DECIDED, MONEY_MOVING, CrowdError, CrowdProvider, Report, Spending
from .client import mturk_client
from .fees import estimate_mturk_cost, mturk_assignment_fee, mturk_bonus_fee
from .hits import create_hit_request, new_hit_token
from .models import Hit, HitAssignment, MTurkDesign
from .storage import ImageStorageError, check_images_reachable_for


# UpdateExpirationForHIT with a time in the past expires a HIT at once (MTurk API reference).
EXPIRED_IN_THE_PAST = datetime(2015, 1, 1, tzinfo=dt_timezone.utc)
NOTIFY_WORKERS_LIMIT = 100  # NotifyWorkers accepts at most 100 WorkerIds per call.
HARVESTED_STATUSES = ["Submitted", "Approved", "Rejected"]


class MTurkError(CrowdError):
    """A problem with MTurk a person must act on."""


def _is_duplicate_token_error(error):
    # MTurk answers a repeated UniqueRequestToken with a RequestError/ServiceFault whose message
    # names the existing HIT (AWS.MechanicalTurk.HitAlreadyExists), not with the HIT itself.
    code = error.response.get("Error", {}).get("Code", "")
    message = error.response.get("Error", {}).get("Message", "")
    return code in {"RequestError", "ServiceFault"} and (
        "UniqueRequestToken" in message or "HitAlreadyExists" in message or "already exists" in message
    )


def _hit_fields(hit):
    return {"HITId": hit["HITId"], "HITTypeId": hit.get("HITTypeId", ""), "Expiration": hit.get("Expiration")}


@register
class MTurkProvider(CrowdProvider):
    """One HIT per study neuron with `raters_per_neuron` assignments; the sandbox unless `production`."""

    name = "mturk"
    label = "MTurk"
    operations = frozenset(
        {"publish", "harvest", "review", "bonus", "notify", "top_up", "expire", "delete", "balance", "estimate"}
    )
    design_model = MTurkDesign
    recipient_label = "AssignmentId"

    def make_client(self):
        return mturk_client(production=self.publication.production)

    def describe_error(self, error):
        if isinstance(error, NoCredentialsError):
            return (
                "no AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE "
                "(they are read from the standard AWS chain and never stored here)"
            )
        if isinstance(error, ClientError):
            details = error.response.get("Error", {})
            return f"MTurk refused {error.operation_name}: {details.get('Code')}: {details.get('Message')}"
        if isinstance(error, BotoCoreError):
            return f"could not reach MTurk: {error}"
        return None

    # ---- publish -------------------------------------------------------------------------------

    def _unpublished_neurons(self, limit):
        published = set(self.publication.hits.filter(status=Hit.Status.PUBLISHED).values_list("study_neuron_id", flat=True))
        missing = [sn for sn in self.study.study_neurons.order_by("order", "pk") if sn.pk not in published]
        return missing[:limit] if limit is not None else missing

    def publish(self, limit=None, dry_run=False, show_progress=True, site_url=None):
        report = Report()
        missing = self._unpublished_neurons(limit)
        if dry_run:
            for study_neuron in missing:
                report.add(
                    "create HIT for", str(study_neuron.neuron),
                    f"{self.study.raters_per_neuron} assignments at ${self.publication.reward:.2f}", done=False,
                )
            return report
        try:
            check_images_reachable_for(self.design)
        except ImageStorageError as error:
            raise MTurkError(str(error)) from None
        if missing:
            publications.freeze_design(self.publication)
        for study_neuron in tqdm(missing, desc="Publishing HITs", unit="HIT", disable=not show_progress):
            hit, _ = Hit.objects.get_or_create(
                publication=self.publication,
                study_neuron=study_neuron,
                defaults={"request_token": new_hit_token, "max_assignments": self.study.raters_per_neuron},
            )
            token = hit.request_token
            request = create_hit_request(self.publication, self.design, study_neuron, token, hit.max_assignments, site_url)
            created = recorded_call(
                f"CreateHIT:{token}",
                "CreateHIT",
                request,
                send=lambda: self._create_hit(request, token),
                publication=self.publication,
                reconcile=lambda entry: self._find_hit_by_annotation(token) or NOT_SENT,
            )
            Hit.objects.filter(pk=hit.pk).update(
                hit_id=created["HITId"],
                hit_type_id=created["HITTypeId"],
                expires_at=created["Expiration"],
                status=Hit.Status.PUBLISHED,
            )
            report.add("published HIT", created["HITId"], f"neuron {study_neuron.neuron}")
        return report

    def _create_hit(self, request, token):
        try:
            return _hit_fields(self.client.create_hit(**request)["HIT"])
        except ClientError as error:
            if not _is_duplicate_token_error(error):
                raise
            message = error.response["Error"].get("Message", "")
            named = re.search(r"\b([0-9A-Z]{30})\b", message)
            if named:
                return _hit_fields(self.client.get_hit(HITId=named.group(1))["HIT"])
            found = self._find_hit_by_annotation(token)
            if found:
                return found
            raise MTurkError(
                f"MTurk says a HIT with request token {token} already exists but it cannot be found; "
                "check the requester site before publishing again."
            ) from error

    def _find_hit_by_annotation(self, token):
        for page in self.client.get_paginator("list_hits").paginate():
            for hit in page.get("HITs", []):
                if hit.get("RequesterAnnotation") == token:
                    return _hit_fields(hit)
        return None

    # ---- harvest -------------------------------------------------------------------------------

    def harvest(self):
        report = Report()
        for hit in self.publication.hits.filter(status__in=[Hit.Status.PUBLISHED, Hit.Status.EXPIRED]):
            details = self.client.get_hit(HITId=hit.hit_id)["HIT"]
            Hit.objects.filter(pk=hit.pk).update(
                assignments_available=details.get("NumberOfAssignmentsAvailable"),
                assignments_pending=details.get("NumberOfAssignmentsPending"),
                assignments_completed=details.get("NumberOfAssignmentsCompleted"),
                max_assignments=details.get("MaxAssignments", hit.max_assignments),
            )
            pages = self.client.get_paginator("list_assignments_for_hit").paginate(
                HITId=hit.hit_id, AssignmentStatuses=HARVESTED_STATUSES
            )
            for page in pages:
                for assignment in page.get("Assignments", []):
                    self._record_assignment(hit, assignment, report)
        return report

    @transaction.atomic
    def _record_assignment(self, hit, assignment, report):
        assignment_id, worker_id = assignment["AssignmentId"], assignment["WorkerId"]
        response = self._confirm_response(hit, assignment_id, worker_id)
        record, created = CrowdAssignment.objects.update_or_create(
            publication=self.publication,
            external_id=assignment_id,
            defaults={
                "worker_id": worker_id,
                "provider_status": assignment["AssignmentStatus"],
                "accepted_at": assignment.get("AcceptTime"),
                "submitted_at": assignment.get("SubmitTime"),
                "response_missing": response is None,
            },
        )
        HitAssignment.objects.update_or_create(assignment=record, defaults={"hit": hit})
        if response is not None:
            record.responses.add(response)
        if created:
            report.add("recorded assignment", assignment_id, f"worker {worker_id}")
        if response is None:
            report.warnings.append(
                f"assignment {assignment_id} (worker {worker_id}, HIT {hit.hit_id}) was submitted on "
                "MTurk but its response never reached this site"
            )

    def _confirm_response(self, hit, assignment_id, worker_id):
        """The response MTurk's assignment stands for, verified: the one stored from the frame under
        this very (worker, assignment) on this HIT's neuron. It moves to the worker's own rater (one
        per worker, as for every other provider) and from now on counts. Answers stored under the
        same assignment id with another worker id are forgeries and stay unverified."""
        candidates = Response.objects.filter(
            study=self.study, source=Response.Source.MTURK, external_id=assignment_id, study_neuron=hit.study_neuron
        ).select_related("rater", "assignment")
        verified = candidates.filter(verified=True, rater__external_id__in=[worker_id, worker_key(worker_id, assignment_id)]).first()
        if verified is not None:
            return verified
        response = candidates.filter(verified=False, rater__external_id=worker_key(worker_id, assignment_id)).first()
        if response is None:
            return None
        frame_rater = response.rater
        worker = get_or_create_rater(self.study, Rater.Kind.MTURK, worker_id)
        if Response.objects.filter(rater=worker, study_neuron=response.study_neuron).exists():
            return None  # MTurk gives a worker one assignment per HIT; a second one here is not that worker's
        Assignment.objects.filter(rater=frame_rater).update(rater=worker)
        Response.objects.filter(pk=response.pk).update(rater=worker, verified=True)
        frame_rater.delete()
        response.refresh_from_db()
        return response

    # ---- review and pay ------------------------------------------------------------------------

    def review(self, dry_run=False, policy=None):
        report = Report()
        fee = mturk_assignment_fee(self.publication.reward, self.study.raters_per_neuron)
        waiting = self.publication.crowd_assignments.filter(provider_status="Submitted", decision="")
        for record in waiting:
            response = record.responses.select_related("rater").first()
            if response is None:
                report.warnings.append(
                    f"assignment {record.external_id}: no response stored here; decide by hand on the requester site"
                )
                continue
            if policy is not None:
                reject, detail = policy.decide(response.rater)
            else:
                reject = not response.is_valid and self.publication.invalid_policy == self.publication.InvalidPolicy.REJECT
                detail = "valid" if response.is_valid else f"invalid ({response.invalid_reason})"
            verb = "reject" if reject else "approve"
            if dry_run:
                report.add(verb, record.external_id, detail, done=False)
            elif reject:
                self._reject(record)
            else:
                self._approve(record, amount=self.publication.reward + fee)
            if not dry_run:
                report.add(DECIDED[verb], record.external_id, detail)
            if not reject:
                self._policy_bonus(report, policy, response.rater, record.external_id, dry_run)
        return report

    def _settled_status(self, assignment_id, wanted):
        def reconcile(entry):
            status = self.client.get_assignment(AssignmentId=assignment_id)["Assignment"]["AssignmentStatus"]
            return {"AssignmentStatus": status} if status == wanted else NOT_SENT

        return reconcile

    def _approve(self, record, amount):
        recorded_call(
            f"ApproveAssignment:{record.external_id}",
            "ApproveAssignment",
            {"AssignmentId": record.external_id},
            send=lambda: (self.client.approve_assignment(AssignmentId=record.external_id), {"AssignmentStatus": "Approved"})[1],
            publication=self.publication,
            amount=amount,
            reconcile=self._settled_status(record.external_id, "Approved"),
        )
        CrowdAssignment.objects.filter(pk=record.pk).update(decision="approve", provider_status="Approved")

    def _reject(self, record):
        params = {"AssignmentId": record.external_id, "RequesterFeedback": self.publication.reject_message}
        recorded_call(
            f"RejectAssignment:{record.external_id}",
            "RejectAssignment",
            params,
            send=lambda: (self.client.reject_assignment(**params), {"AssignmentStatus": "Rejected"})[1],
            publication=self.publication,
            amount=Decimal("0"),
            reconcile=self._settled_status(record.external_id, "Rejected"),
        )
        CrowdAssignment.objects.filter(pk=record.pk).update(decision="reject", provider_status="Rejected")

    def bonus(self, recipient, amount, reason="", dry_run=False):
        """Pay one bonus for the assignment `recipient` (an AssignmentId); the same (assignment,
        amount, reason) is never paid twice."""
        assignment_id = recipient
        record = self.publication.crowd_assignments.filter(external_id=assignment_id).first()
        if record is None:
            raise MTurkError(f"assignment {assignment_id} is not harvested for study {self.study.name}; run harvest first")
        amount = Decimal(amount).quantize(Decimal("0.01"))
        if amount <= 0:
            raise MTurkError(f"bonus amount must be positive, got {amount}")
        token = "bonus-" + hashlib.sha256(f"{assignment_id}:{amount}:{reason}".encode()).hexdigest()[:48]
        params = {
            "WorkerId": record.worker_id,
            "BonusAmount": f"{amount:.2f}",
            "AssignmentId": assignment_id,
            "Reason": reason,
            "UniqueRequestToken": token,
        }
        report = Report()
        if dry_run:
            report.add("send bonus", assignment_id, f"${amount:.2f} to {record.worker_id}", done=False)
            return report

        def reconcile(entry):
            for page in self.client.get_paginator("list_bonus_payments").paginate(AssignmentId=assignment_id):
                for payment in page.get("BonusPayments", []):
                    if Decimal(payment["BonusAmount"]) == amount and payment.get("Reason") == reason:
                        return {"paid": True}
            return NOT_SENT

        recorded_call(
            f"SendBonus:{token}",
            "SendBonus",
            params,
            send=lambda: (self.client.send_bonus(**params), {"paid": True})[1],
            publication=self.publication,
            amount=amount + mturk_bonus_fee(amount),
            reconcile=reconcile,
        )
        report.add("sent bonus", assignment_id, f"${amount:.2f} to {record.worker_id}")
        return report

    # ---- workers and HIT life cycle -----------------------------------------------------------

    def notify(self, subject, message, worker_ids=None, dry_run=False):
        report = Report()
        if worker_ids is None:
            worker_ids = sorted(set(self.publication.crowd_assignments.values_list("worker_id", flat=True)))
        for start in range(0, len(worker_ids), NOTIFY_WORKERS_LIMIT):
            chunk = list(worker_ids[start : start + NOTIFY_WORKERS_LIMIT])
            if not dry_run:
                answer = self.client.notify_workers(Subject=subject, MessageText=message, WorkerIds=chunk)
                for failure in answer.get("NotifyWorkersFailureStatuses", []):
                    report.warnings.append(f"worker {failure['WorkerId']}: {failure['NotifyWorkersFailureMessage']}")
            report.add("notify", f"{len(chunk)} workers", subject, done=not dry_run)
        return report

    def top_up(self, dry_run=False):
        """Ask for more assignments on HITs whose neuron has fewer valid responses than wanted."""
        report = Report()
        wanted = self.study.raters_per_neuron
        for hit in self.publication.hits.filter(status=Hit.Status.PUBLISHED):
            valid = Response.objects.filter(
                study=self.study, study_neuron=hit.study_neuron, is_valid=True
            ).count()
            harvested = CrowdAssignment.objects.filter(mturk_hit__hit=hit).count()
            outstanding = max(0, hit.max_assignments - harvested)
            extra = wanted - valid - outstanding
            if extra <= 0:
                continue
            if hit.max_assignments < 10 <= hit.max_assignments + extra:
                report.warnings.append(
                    f"HIT {hit.hit_id}: MTurk cannot extend a HIT created with fewer than 10 assignments to 10 or more"
                )
                continue
            # The HIT's size before the call is part of the token: a retry after a crash repeats it,
            # a later top-up of the grown HIT gets a new one.
            token = f"topup-{hit.request_token[3:43]}-{hit.max_assignments}"
            params = {"HITId": hit.hit_id, "NumberOfAdditionalAssignments": extra, "UniqueRequestToken": token}
            if dry_run:
                report.add("add assignments to", hit.hit_id, f"+{extra}", done=False)
                continue
            fee = mturk_assignment_fee(self.publication.reward, hit.max_assignments + extra)
            recorded_call(
                f"CreateAdditionalAssignmentsForHIT:{token}",
                "CreateAdditionalAssignmentsForHIT",
                params,
                send=lambda: (self.client.create_additional_assignments_for_hit(**params), {"added": extra})[1],
                publication=self.publication,
                # Reserved, not yet paid: counted in spend only once the assignments are approved.
                amount=None,
                reconcile=lambda entry: self._reconcile_top_up(hit, extra),
            )
            Hit.objects.filter(pk=hit.pk).update(max_assignments=hit.max_assignments + extra)
            report.add("added assignments to", hit.hit_id, f"+{extra} (up to ${(self.publication.reward + fee) * extra:.2f})")
        return report

    def _reconcile_top_up(self, hit, extra):
        maximum = self.client.get_hit(HITId=hit.hit_id)["HIT"]["MaxAssignments"]
        return {"added": extra} if maximum >= hit.max_assignments + extra else NOT_SENT

    def expire(self, dry_run=False):
        report = Report()
        for hit in self.publication.hits.filter(status=Hit.Status.PUBLISHED):
            if not dry_run:
                self.client.update_expiration_for_hit(HITId=hit.hit_id, ExpireAt=EXPIRED_IN_THE_PAST)
                Hit.objects.filter(pk=hit.pk).update(status=Hit.Status.EXPIRED, expires_at=EXPIRED_IN_THE_PAST)
            report.add("expire", hit.hit_id, done=not dry_run)
        return report

    def delete(self, dry_run=False):
        """Delete expired HITs whose every assignment is approved or rejected (MTurk refuses others)."""
        report = Report()
        for hit in self.publication.hits.filter(status=Hit.Status.EXPIRED):
            if CrowdAssignment.objects.filter(mturk_hit__hit=hit, provider_status="Submitted").exists():
                report.warnings.append(f"HIT {hit.hit_id} still has submitted assignments to review")
                continue
            if dry_run:
                report.add("delete", hit.hit_id, done=False)
                continue
            try:
                self.client.delete_hit(HITId=hit.hit_id)
            except ClientError as error:
                report.warnings.append(f"HIT {hit.hit_id}: {error.response['Error'].get('Message', error)}")
                continue
            Hit.objects.filter(pk=hit.pk).update(status=Hit.Status.DELETED)
            report.add("deleted", hit.hit_id)
        return report

    # ---- money ---------------------------------------------------------------------------------

    def estimate(self):
        responses = Response.objects.filter(study=self.study)
        total = responses.count()
        valid_rate = responses.filter(is_valid=True).count() / total if total else None
        return estimate_mturk_cost(
            self.study.study_neurons.count(), self.study.raters_per_neuron, self.publication.reward, valid_rate
        )

    def balance(self):
        return Decimal(self.client.get_account_balance()["AvailableBalance"])

    def price_per_approval(self):
        return self.publication.reward + mturk_assignment_fee(self.publication.reward, self.study.raters_per_neuron)

    def spends_real_money(self, operation):
        return self.publication.production and operation in MONEY_MOVING

    def spending(self, operation, amount=None, **options):
        if operation == "publish":
            return super().spending(operation)
        per_assignment = self.price_per_approval()
        if operation == "review":
            waiting = self.publication.crowd_assignments.filter(provider_status="Submitted", decision="").count()
            total = per_assignment * waiting
            return Spending([f"Up to {waiting} approvals at ${per_assignment:.2f} (reward and fee): ${total:.2f}"], total)
        if operation == "bonus":
            amount = Decimal(amount or 0)
            total = amount + mturk_bonus_fee(amount)
            return Spending([f"Bonus ${amount:.2f} plus fee: ${total:.2f}"], total)
        if operation == "top_up":
            preview = self.top_up(dry_run=True)
            extra = sum(int(action.detail.lstrip("+")) for action in preview.actions)
            total = per_assignment * extra
            return Spending([f"{extra} more assignments at ${per_assignment:.2f}: up to ${total:.2f}"], total)
        raise self._unsupported(operation)

    bonus_operations = frozenset({"SendBonus"})

    def status_details(self):
        counts_by_hit = {}
        links = HitAssignment.objects.filter(hit__publication=self.publication).values_list("hit_id", "assignment__provider_status")
        for hit_pk, status in links:
            counts_by_hit.setdefault(hit_pk, Counter())[normalised_status(status)] += 1
        hits = []
        for hit in self.publication.hits.select_related("study_neuron__neuron__layer"):
            counts = counts_by_hit.get(hit.pk, Counter())
            hits.append({
                "hit": hit,
                "neuron": str(hit.study_neuron.neuron),
                "available": hit.assignments_available,
                "pending": hit.assignments_pending,
                "submitted": counts["SUBMITTED"],
                "approved": counts["APPROVED"],
                "rejected": counts["REJECTED"],
            })
        return {"hits": hits, "published_hits": sum(1 for row in hits if row["hit"].status == Hit.Status.PUBLISHED)}

    def status_lines(self, status):
        lines = [f"  HITs published: {status['published_hits']} of {len(status['hits'])}"]
        for row in status["hits"]:
            lines.append(
                f"  {row['hit'].hit_id or '(creating)'} {row['neuron']}: available {row['available']}, "
                f"pending {row['pending']}, submitted {row['submitted']}, approved {row['approved']}, "
                f"rejected {row['rejected']}"
            )
        return lines
