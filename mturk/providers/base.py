"""The one interface every place raters come from implements: local volunteers, MTurk, Prolific.

The `mturk` and `prolific` management commands, the status page and the services speak only this
interface. A provider implements the operations its service has and leaves the others to raise
`UnsupportedOperation`; `operations` lists what it implements, so a command offers exactly those.

Money: every call that moves money or creates paid work goes through `mturk.ledger.recorded_call`
(recorded before it is sent, reconciled after a crash, never sent twice). Errors a person must act
on are `CrowdError`s and reach the user as a one-line message, never a stack trace.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from decimal import Decimal

# Every operation a provider may offer, in the order commands list them.
OPERATIONS = (
    "draft", "publish", "harvest", "review", "bonus", "notify", "top_up", "expire", "delete", "balance", "estimate",
)
# Operations that can spend money: a production run asks for their cost to be typed back.
MONEY_MOVING = frozenset({"publish", "review", "bonus", "top_up"})


# How a report names a review decision once it is done.
DECIDED = {"approve": "approved", "reject": "rejected"}


class CrowdError(Exception):
    """A problem a person must act on (shown by the commands without a stack trace)."""


class UnsupportedOperation(CrowdError):
    """The provider's service has no such operation (e.g. Prolific has no HIT to expire)."""


@dataclass
class Action:
    """One thing a provider did, or would do under --dry-run, described for a person."""

    verb: str
    target: str
    detail: str = ""
    done: bool = True

    def __str__(self):
        prefix = "" if self.done else "[dry-run] would "
        return f"{prefix}{self.verb} {self.target}" + (f": {self.detail}" if self.detail else "")


@dataclass
class Report:
    """What an operation did (`actions`) and what a person should look at (`warnings`)."""

    actions: list[Action] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def add(self, verb, target, detail="", done=True):
        self.actions.append(Action(verb, target, detail, done))

    def lines(self):
        return [str(a) for a in self.actions] + [f"WARNING: {w}" for w in self.warnings]


@dataclass
class Spending:
    """The most an operation can spend, itemised, for the typed production confirmation."""

    lines: list[str]
    total: Decimal


class CrowdProvider(ABC):
    """One crowd provider acting for one `Publication`.

    Subclasses set `name` (a `Publication.Provider` value), `label`, `operations` (the subset of
    `OPERATIONS` they implement) and `design_model` (their `ProviderDesign` subclass, or None), and
    register with `mturk.providers.register`. The API client is made on first use, so pricing,
    dry runs and the status page need no credentials.
    """

    name = ""
    label = ""
    operations: frozenset[str] = frozenset()
    design_model = None
    # What the ids of this provider's work and workers are called, for messages and command help.
    recipient_label = "worker id"

    def __init__(self, publication, client=None):
        self.publication = publication
        self.study = publication.study
        self._client = client

    # ---- the provider's API client and settings -----------------------------------------------

    def make_client(self):
        """A client for the provider's API (credentials from the environment)."""
        raise UnsupportedOperation(f"{self.label} has no API")

    @property
    def client(self):
        if self._client is None:
            self._client = self.make_client()
        return self._client

    @property
    def design(self):
        """This publication's row of `design_model` (made with its defaults on first use)."""
        if self.design_model is None:
            return None
        if not hasattr(self, "_design"):
            self._design, _ = self.design_model.objects.get_or_create(publication=self.publication)
        return self._design

    def describe_error(self, error: Exception) -> str | None:
        """A one-line message for an error of this provider's client (missing credentials, a refused
        call, no network), or None for errors that are bugs and should show their stack trace."""
        return None

    def _unsupported(self, operation):
        return UnsupportedOperation(f"{self.label} has no '{operation}' operation (it offers: {', '.join(self.offered())})")

    @classmethod
    def offered(cls):
        return [operation for operation in OPERATIONS if operation in cls.operations]

    # ---- the operations -----------------------------------------------------------------------

    def draft(self) -> Report:
        """Send the design to the provider without offering it to anyone yet (freezes the design)."""
        raise self._unsupported("draft")

    @abstractmethod
    def publish(self, limit=None, dry_run=False, show_progress=True, site_url=None) -> Report:
        """Offer the study's neurons to raters; safe to run again (publishes only what is missing).
        Freezes the publication's design before the first call that sends it."""

    @abstractmethod
    def harvest(self) -> Report:
        """Record what the provider knows about submitted work, exactly once per piece of work."""

    @abstractmethod
    def review(self, dry_run=False, policy=None) -> Report:
        """Approve valid work; invalid work per the publication's `invalid_policy`. With `policy`
        (mturk.review_policy.PolicyReview) the study's exclusion policy decides instead: work of raters
        it leaves out is rejected, the rest approved, and its bonus paid on approved work of careful raters."""

    def _policy_bonus(self, report: Report, policy, rater, recipient, dry_run: bool) -> None:
        """Pay (or under dry-run, show) the bonus `policy` grants `rater`'s approved work, to `recipient`."""
        amount = policy.bonus_for(rater) if policy is not None else None
        if amount is not None:
            report.actions.extend(self.bonus(recipient, amount, policy.bonus_reason, dry_run=dry_run).actions)

    def bonus(self, recipient, amount, reason="", dry_run=False) -> Report:
        """Pay one bonus to `recipient` (see `recipient_label`); the same bonus is never paid twice."""
        raise self._unsupported("bonus")

    def notify(self, subject, message, worker_ids=None, dry_run=False) -> Report:
        """Message workers of this publication (default: every worker it harvested)."""
        raise self._unsupported("notify")

    def top_up(self, dry_run=False) -> Report:
        """Ask for more work where a neuron has fewer valid responses than the study wants."""
        raise self._unsupported("top_up")

    def expire(self, dry_run=False) -> Report:
        """Stop offering the work now."""
        raise self._unsupported("expire")

    def delete(self, dry_run=False) -> Report:
        """Remove finished, fully reviewed work from the provider."""
        raise self._unsupported("delete")

    def balance(self) -> Decimal:
        """The account's available balance on the provider."""
        raise self._unsupported("balance")

    @abstractmethod
    def estimate(self):
        """A `mturk.cost.CostEstimate` for the whole study."""

    def spends_real_money(self, operation) -> bool:
        """Whether `operation` on this publication moves real money (then a command asks to confirm)."""
        return False

    def spending(self, operation, **options) -> Spending:
        """The most `operation` (one of `MONEY_MOVING`) can spend now, for the typed confirmation."""
        estimate = self.estimate()
        return Spending(estimate.lines(), estimate.total)

    # ---- what the status page shows ---------------------------------------------------------

    # Ledger operations that pay a bonus (counted in the spend shown on the status page).
    bonus_operations: frozenset[str] = frozenset()

    def price_per_approval(self) -> Decimal:
        """What one approved piece of work costs (reward and fee)."""
        return Decimal("0")

    def status_details(self) -> dict:
        """Extra provider-specific entries of `mturk.status.publication_status` (e.g. MTurk's HIT rows)."""
        return {}

    def status_lines(self, status) -> list[str]:
        """Provider-specific lines of the `status` command, from `mturk.status.publication_status`."""
        return [f"  {key.lower()}: {value}" for key, value in sorted(status["totals"].items())]
