"""python manage.py mturk <publish|harvest|review|pay|bonus|notify|topup|expire|delete|estimate|status> --study S"""
from decimal import Decimal, InvalidOperation

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from django.core.management.base import BaseCommand, CommandError

from ...cost import mturk_assignment_fee, mturk_bonus_fee
from ...models import Publication
from ...providers.mturk import MTurkError, MTurkProvider
from ...status import study_status_lines
from ._crowd import confirm_production, get_publication, get_study, ledger_errors, write_report

MONEY_MOVING = {"publish", "review", "pay", "bonus", "topup"}


def money(text):
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not an amount in dollars") from None
    return value


class Command(BaseCommand):
    help = "Run a study on Amazon Mechanical Turk (sandbox unless --production)."

    def add_arguments(self, parser):
        parser.add_argument(
            "action",
            choices=["publish", "harvest", "review", "pay", "bonus", "notify", "topup", "expire", "delete", "estimate", "status"],
        )
        parser.add_argument("--study", required=True)
        parser.add_argument("--production", action="store_true", help="Real MTurk and real money (asks to confirm).")
        parser.add_argument("--dry-run", action="store_true", help="Print what would happen; call nothing that changes MTurk.")
        parser.add_argument("--limit", type=int, help="publish: at most this many HITs now (publish in chunks).")
        parser.add_argument("--reward", type=money, help="Reward per assignment in dollars (default 0.08).")
        parser.add_argument("--invalid-policy", choices=[c.value for c in Publication.InvalidPolicy])
        parser.add_argument("--reject-message")
        parser.add_argument("--frame-height", type=int)
        parser.add_argument("--assignment", help="bonus: the AssignmentId to pay a bonus for.")
        parser.add_argument("--amount", type=money, help="bonus: amount in dollars.")
        parser.add_argument("--reason", default="Thank you for your careful ratings.", help="bonus: reason shown to the worker.")
        parser.add_argument("--subject", help="notify: subject line.")
        parser.add_argument("--message", help="notify: message text.")
        parser.add_argument("--worker", action="append", help="notify: a WorkerId (repeat); default every worker of the study.")

    @ledger_errors
    def handle(self, *args, action, study, production, dry_run, **options):
        study = get_study(study)
        if action == "status":
            for line in study_status_lines(study):
                self.stdout.write(line)
            return
        publication = get_publication(
            study,
            Publication.Provider.MTURK,
            production,
            reward=options["reward"],
            invalid_policy=options["invalid_policy"],
            reject_message=options["reject_message"],
            frame_height=options["frame_height"],
        )
        endpoint = "PRODUCTION" if production else "sandbox"
        self.stdout.write(f"MTurk {endpoint}: study {study.name}")
        try:
            provider = MTurkProvider(publication)
            if action == "estimate":
                return self.estimate(provider)
            if production and action in MONEY_MOVING and not dry_run:
                lines, total = self.production_cost(provider, action, options)
                confirm_production(self, f"{action} study {study.name} on MTurk", lines, total)
            write_report(self, self.run_action(provider, action, dry_run, options))
        except (MTurkError, ValueError) as error:
            raise CommandError(str(error)) from None
        except NoCredentialsError:
            raise CommandError(
                "no AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE "
                "(they are read from the standard AWS chain and never stored here)"
            ) from None
        except ClientError as error:
            details = error.response.get("Error", {})
            raise CommandError(f"MTurk refused {error.operation_name}: {details.get('Code')}: {details.get('Message')}") from None
        except BotoCoreError as error:
            raise CommandError(f"could not reach MTurk: {error}") from None

    def run_action(self, provider, action, dry_run, options):
        if action == "publish":
            if dry_run:
                return self.publish_preview(provider, options["limit"])
            return provider.publish(limit=options["limit"])
        if action == "harvest":
            return provider.harvest()
        if action in {"review", "pay"}:
            return provider.review(dry_run=dry_run)
        if action == "bonus":
            if not options["assignment"] or options["amount"] is None:
                raise CommandError("bonus needs --assignment ASSIGNMENT_ID and --amount DOLLARS")
            return provider.bonus(options["assignment"], options["amount"], options["reason"], dry_run=dry_run)
        if action == "notify":
            if not options["subject"] or not options["message"]:
                raise CommandError("notify needs --subject and --message")
            return provider.notify(options["subject"], options["message"], options["worker"], dry_run=dry_run)
        if action == "topup":
            return provider.top_up(dry_run=dry_run)
        if action == "expire":
            return provider.expire(dry_run=dry_run)
        if action == "delete":
            return provider.delete(dry_run=dry_run)
        raise CommandError(f"unknown action {action}")

    def publish_preview(self, provider, limit):
        from ...providers.base import Report

        report = Report()
        published = set(provider.publication.hits.filter(status="published").values_list("study_neuron_id", flat=True))
        waiting = [sn for sn in provider.study.study_neurons.order_by("order", "pk") if sn.pk not in published]
        for study_neuron in waiting[:limit] if limit else waiting:
            report.add(
                "create HIT for",
                str(study_neuron.neuron),
                f"{provider.study.raters_per_neuron} assignments at ${provider.publication.reward:.2f}",
                done=False,
            )
        return report

    def production_cost(self, provider, action, options):
        """What this action can spend at most, for the typed confirmation."""
        publication = provider.publication
        per_assignment = publication.reward + mturk_assignment_fee(publication.reward, provider.study.raters_per_neuron)
        if action == "publish":
            estimate = provider.estimate()
            return estimate.lines(), estimate.total
        if action in {"review", "pay"}:
            waiting = publication.crowd_assignments.filter(provider_status="Submitted", decision="").count()
            total = per_assignment * waiting
            return [f"Up to {waiting} approvals at ${per_assignment:.2f} (reward and fee): ${total:.2f}"], total
        if action == "bonus":
            amount = options["amount"] or Decimal("0")
            total = amount + mturk_bonus_fee(amount)
            return [f"Bonus ${amount:.2f} plus fee: ${total:.2f}"], total
        preview = provider.top_up(dry_run=True)
        extra = sum(int(a.detail.lstrip("+")) for a in preview.actions)
        total = per_assignment * extra
        return [f"{extra} more assignments at ${per_assignment:.2f}: up to ${total:.2f}"], total

    def estimate(self, provider):
        for line in provider.estimate().lines():
            self.stdout.write(line)
        self.stdout.write(f"Account balance: ${provider.account_balance():.2f}")
