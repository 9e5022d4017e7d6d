"""python manage.py mturk <publish|harvest|review|pay|bonus|notify|topup|expire|delete|estimate|balance|status> --study S"""
from ...models import Publication
from ._crowd import CrowdCommand, money


class Command(CrowdCommand):
    help = "Run a study on Amazon Mechanical Turk (sandbox unless --production)."
    provider = Publication.Provider.MTURK
    has_production = True
    recipient_flag = "--assignment"
    design_options = [
        ("--reward", "reward", {"type": money, "help": "Reward per assignment in dollars (default 0.08)."}),
        ("--invalid-policy", "invalid_policy", {"choices": Publication.InvalidPolicy.values, "help": "What review does with invalid work."}),
        ("--reject-message", "reject_message", {"help": "Message sent with a rejection."}),
        ("--frame-height", "frame_height", {"type": int, "help": "Height of the worker frame in pixels (0: MTurk sizes it)."}),
    ]

    def header(self, provider):
        endpoint = "PRODUCTION" if provider.publication.production else "sandbox"
        self.stdout.write(f"MTurk {endpoint}: study {provider.study.name}")
