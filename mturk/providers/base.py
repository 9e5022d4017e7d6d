"""One small interface for every place raters come from: local volunteers, MTurk, Prolific."""
from abc import ABC, abstractmethod
from dataclasses import dataclass, field


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
    actions: list[Action] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def add(self, verb, target, detail="", done=True):
        self.actions.append(Action(verb, target, detail, done))

    def lines(self):
        return [str(a) for a in self.actions] + [f"WARNING: {w}" for w in self.warnings]


class CrowdProvider(ABC):
    """Everything the `mturk`/`prolific` commands and the status page ask of a provider."""

    name = ""

    def __init__(self, publication):
        self.publication = publication
        self.study = publication.study

    @abstractmethod
    def publish(self, limit=None, show_progress=True) -> Report:
        """Offer the study's neurons to raters; safe to run again (publishes only what is missing)."""

    @abstractmethod
    def harvest(self) -> Report:
        """Record what the provider knows about submitted work, exactly once per assignment."""

    @abstractmethod
    def review(self, dry_run=False) -> Report:
        """Approve valid work; invalid work per the publication's policy."""

    @abstractmethod
    def estimate(self):
        """A cost.CostEstimate for the whole study."""
