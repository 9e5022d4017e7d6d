"""python manage.py prolific <draft|publish|harvest|review|bonus|estimate|status> --study S"""
from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError

from ...models import Publication
from ...prolific import ProlificError
from ...providers.prolific import ProlificProvider, entry_url
from ...status import study_status_lines
from ._crowd import confirm_production, get_publication, get_study, ledger_errors, write_report


def money(text):
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not an amount") from None


class Command(BaseCommand):
    help = "Run a study on Prolific (API token from PROLIFIC_API_TOKEN)."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["draft", "publish", "harvest", "review", "pay", "bonus", "estimate", "status"])
        parser.add_argument("--study", required=True)
        parser.add_argument("--dry-run", action="store_true")
        parser.add_argument("--reward", type=money, help="Reward per rated neuron (default 0.08); a participant earns batch x reward.")
        parser.add_argument("--batch-size", type=int, help="Neurons a participant rates in one session (default 10).")
        parser.add_argument("--minutes", type=int, help="Estimated completion time of one batch, in minutes.")
        parser.add_argument("--invalid-policy", choices=[c.value for c in Publication.InvalidPolicy])
        parser.add_argument("--reject-message")
        parser.add_argument("--participant", help="bonus: the PROLIFIC_PID to pay.")
        parser.add_argument("--amount", type=money, help="bonus: amount in the account's currency.")
        parser.add_argument("--reason", default="")
        parser.add_argument("--yes", action="store_true", help="publish: skip the typed confirmation (scripts).")

    @ledger_errors
    def handle(self, *args, action, study, dry_run, **options):
        study = get_study(study)
        if action == "status":
            for line in study_status_lines(study):
                self.stdout.write(line)
            return
        if options["batch_size"] is not None and options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        publication = get_publication(
            study,
            Publication.Provider.PROLIFIC,
            reward=options["reward"],
            batch_size=options["batch_size"],
            estimated_minutes=options["minutes"],
            invalid_policy=options["invalid_policy"],
            reject_message=options["reject_message"],
        )
        try:
            provider = ProlificProvider(publication)
            if action == "estimate":
                for line in provider.estimate().lines():
                    self.stdout.write(line)
                return
            if action == "draft":
                study_id = provider.create_draft()
                self.stdout.write(f"Draft Prolific study {study_id}; participants enter at {entry_url(publication)}")
                self.stdout.write(f"Completion code: {publication.completion_code}")
                return
            if action == "publish":
                if dry_run:
                    self.stdout.write(f"[dry-run] would publish {study.name} on Prolific")
                    return
                if not options["yes"]:
                    estimate = provider.estimate()
                    confirm_production(self, f"publish study {study.name} on Prolific", estimate.lines(), estimate.total)
                write_report(self, provider.publish())
            elif action == "harvest":
                write_report(self, provider.harvest())
            elif action in {"review", "pay"}:
                write_report(self, provider.review(dry_run=dry_run))
            elif action == "bonus":
                if not options["participant"] or options["amount"] is None:
                    raise CommandError("bonus needs --participant PROLIFIC_PID and --amount")
                write_report(self, provider.bonus(options["participant"], options["amount"], options["reason"], dry_run=dry_run))
        except (ProlificError, ValueError) as error:
            raise CommandError(str(error)) from None
