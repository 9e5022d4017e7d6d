"""Shared pieces of the `mturk` and `prolific` commands."""
from django.core.management.base import CommandError

from evaluation.models import Study

from ...ledger import LedgerConflict
from ...models import Publication


def get_study(name):
    try:
        return Study.objects.get(name=name)
    except Study.DoesNotExist:
        raise CommandError(f"no study named {name!r}; see the study list or create_study") from None


def get_publication(study, provider, production=False, **design):
    publication, created = Publication.objects.get_or_create(study=study, provider=provider, production=production)
    changed = {key: value for key, value in design.items() if value is not None and getattr(publication, key) != value}
    if changed:
        if publication.hits.exists() or publication.published_at:
            raise CommandError(
                f"{publication} is already published; its design ({', '.join(sorted(changed))}) can no longer change"
            )
        for key, value in changed.items():
            setattr(publication, key, value)
        publication.save()
    return publication


def confirm_production(command, what, lines, total):
    """Ask for the total to be typed back, so nobody spends money by reflex."""
    command.stdout.write(command.style.WARNING(f"PRODUCTION: this will {what} with real money."))
    for line in lines:
        command.stdout.write("  " + line)
    expected = f"{total:.2f}"
    typed = input(f"Type the total cost {expected} to go on: ").strip().lstrip("$")
    if typed != expected:
        raise CommandError(f"confirmation {typed!r} does not match {expected}; nothing was done")


def write_report(command, report):
    for line in report.lines():
        style = command.style.WARNING if line.startswith("WARNING") else (lambda text: text)
        command.stdout.write(style(line))


def ledger_errors(function):
    def wrapped(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except LedgerConflict as error:
            raise CommandError(str(error)) from None

    return wrapped
