"""One command body for every crowd provider: parse, pick the publication, dispatch to the provider.

`mturk` and `prolific` are thin subclasses naming their provider and the design options it takes;
the actions they offer are the operations their provider implements (see
`mturk.providers.base.CrowdProvider`).
"""
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from evaluation.models import Study
from explain.lookups import named

from ...ledger import LedgerConflict
from ...models import DesignFrozen
from ...providers import get_provider, provider_class
from ...providers.base import CrowdError, Spending
from ...publications import open_publication
from ...review_policy import policy_review
from ...status import study_status_lines

# Command-line spellings of operations, and aliases.
OPERATION_ACTIONS = {"top_up": "topup"}
ACTION_OPERATIONS = {"topup": "top_up", "pay": "review"}


def money(text):
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not an amount") from None


def get_study(name):
    return named(Study, name, what="study", error=CommandError)


def confirm_production(command, what, spending):
    """Ask for the total to be typed back, so nobody spends money by reflex."""
    command.stdout.write(command.style.WARNING(f"PRODUCTION: this will {what} with real money."))
    for line in spending.lines:
        command.stdout.write("  " + line)
    expected = f"{spending.total:.2f}"
    typed = input(f"Type the total cost {expected} to go on: ").strip().lstrip("$")
    if typed != expected:
        raise CommandError(f"confirmation {typed!r} does not match {expected}; nothing was done")


class CrowdCommand(BaseCommand):
    provider = ""  # a Publication.Provider value
    # (flag, design field, argparse keywords) of the design options this provider takes.
    design_options: list[tuple] = []
    recipient_flag = "--worker-id"
    has_production = False

    def actions(self):
        operations = provider_class(self.provider).offered()
        actions = [OPERATION_ACTIONS.get(operation, operation) for operation in operations]
        if "review" in operations:
            actions.append("pay")
        return actions + ["status"]

    def add_arguments(self, parser):
        parser.add_argument("action", choices=self.actions())
        parser.add_argument("--study", required=True)
        if self.has_production:
            parser.add_argument("--production", action="store_true", help="Real service and real money (asks to confirm).")
        parser.add_argument("--dry-run", action="store_true", help="Print what would happen; change nothing on the provider.")
        parser.add_argument("--yes", action="store_true", help="Skip the typed cost confirmation (scripts).")
        parser.add_argument("--limit", type=int, help="publish: at most this many units now (publish in chunks).")
        for flag, field, keywords in self.design_options:
            if "choices" not in keywords:  # argparse shows the choices themselves
                keywords = {"metavar": field.upper(), **keywords}
            parser.add_argument(flag, dest=field, **keywords)
        recipient_label = provider_class(self.provider).recipient_label
        parser.add_argument(self.recipient_flag, dest="recipient", metavar=recipient_label.upper(), help=f"bonus: the {recipient_label} to pay.")
        parser.add_argument("--amount", type=money,
                            help="bonus: amount in the account's currency; review --policy: the bonus paid on each "
                                 "approved piece of work of a kept rater (see --bonus-min-score).")
        parser.add_argument("--reason", default="Thank you for your careful ratings.", help="bonus: reason shown to the worker.")
        parser.add_argument("--policy", action="store_true",
                            help="review: decide by the study's exclusion policy (reject raters it leaves out, approve "
                                 "the rest) instead of --invalid-policy; see docs/analysis.md.")
        parser.add_argument("--bonus-min-score", type=float, default=0.0,
                            help="review --policy --amount: pay the bonus only to kept raters with at least this "
                                 "combined quality score (0-1).")
        operations = provider_class(self.provider).operations
        if "notify" in operations:
            parser.add_argument("--subject", help="notify: subject line.")
            parser.add_argument("--message", help="notify: message text.")
            parser.add_argument("--worker", action="append", help="notify: a worker id (repeat); default every worker of the study.")

    def handle(self, *args, action, study, dry_run, yes, **options):
        study = get_study(study)
        if action == "status":
            for line in study_status_lines(study):
                self.stdout.write(line)
            return
        provider = None
        try:
            design = {field: options[field] for _, field, _ in self.design_options}
            publication = open_publication(study, self.provider, options.get("production", False), **design)
            provider = get_provider(publication)
            self.header(provider)
            self.run(provider, ACTION_OPERATIONS.get(action, action), dry_run, yes, options)
        except (CrowdError, DesignFrozen, LedgerConflict, ValueError) as error:
            raise CommandError(str(error)) from None
        except ValidationError as error:
            problems = [f"{field}: {' '.join(messages)}" for field, messages in error.message_dict.items()]
            raise CommandError("; ".join(problems)) from None
        except Exception as error:
            message = provider.describe_error(error) if provider is not None else None
            if message is None:
                raise
            raise CommandError(message) from None

    def header(self, provider):
        """A first line saying where the command acts (nothing by default)."""

    def run(self, provider, operation, dry_run, yes, options):
        if operation == "estimate":
            for line in provider.estimate().lines():
                self.stdout.write(line)
            if "balance" in provider.operations:
                self.stdout.write(self.balance_line(provider))
            return
        if operation == "balance":
            self.stdout.write(f"Account balance: ${provider.balance():.2f}")
            return
        arguments = self.operation_arguments(provider, operation, dry_run, options)
        if provider.spends_real_money(operation) and not dry_run and not yes:
            spending = provider.spending(operation, **arguments)
            confirm_production(self, f"{operation.replace('_', ' ')} study {provider.study.name} on {provider.label}", spending)
        policy = arguments.get("policy")
        if policy is not None and policy.bonus is not None and provider.spends_real_money("bonus") and not dry_run and not yes:
            confirm_production(self, f"pay bonuses by the exclusion policy of study {provider.study.name} on {provider.label}",
                               self.policy_bonus_spending(provider, policy))
        report = getattr(provider, operation)(**arguments)
        for line in report.lines():
            style = self.style.WARNING if line.startswith("WARNING") else (lambda text: text)
            self.stdout.write(style(line))

    @staticmethod
    def balance_line(provider):
        """The balance when it can be read; pricing a study needs no account (nor credentials)."""
        try:
            return f"Account balance: ${provider.balance():.2f}"
        except Exception as error:
            reason = provider.describe_error(error)
            if reason is None:
                raise
            return f"Account balance: not read ({reason})"

    def operation_arguments(self, provider, operation, dry_run, options):
        if operation == "draft":
            return {}
        if operation == "publish":
            return {"limit": options["limit"], "dry_run": dry_run}
        if operation == "bonus":
            if not options["recipient"] or options["amount"] is None:
                raise CommandError(f"bonus needs {self.recipient_flag} {provider.recipient_label} and --amount")
            return {"recipient": options["recipient"], "amount": options["amount"], "reason": options["reason"], "dry_run": dry_run}
        if operation == "notify":
            if not options["subject"] or not options["message"]:
                raise CommandError("notify needs --subject and --message")
            return {"subject": options["subject"], "message": options["message"], "worker_ids": options["worker"], "dry_run": dry_run}
        if operation == "review":
            return {"dry_run": dry_run, **self.review_policy(provider, options)}
        if options.get("policy"):
            raise CommandError("--policy belongs to review (and pay)")
        return {"dry_run": dry_run} if operation != "harvest" else {}

    @staticmethod
    def review_policy(provider, options) -> dict:
        if not options["policy"]:
            if options["amount"] is not None:
                raise CommandError("review pays a bonus only by the exclusion policy: add --policy, or use the bonus action")
            return {}
        return {"policy": policy_review(provider.study, options["amount"], options["bonus_min_score"], options["reason"])}

    @staticmethod
    def policy_bonus_spending(provider, policy) -> Spending:
        """The bonuses review would pay (counted on a dry run), each with its fee."""
        bonuses = [a for a in provider.review(dry_run=True, policy=policy).actions if "bonus" in a.verb]
        each = provider.spending("bonus", amount=policy.bonus).total
        return Spending([f"{len(bonuses)} bonuses of {policy.bonus:.2f} (with fees {each:.2f} each)"], each * len(bonuses))

