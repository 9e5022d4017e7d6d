"""python manage.py prolific <draft|publish|harvest|review|pay|bonus|estimate|status> --study S"""
from ...models import Publication
from ._crowd import CrowdCommand, money


class Command(CrowdCommand):
    help = "Run a study on Prolific (API token from PROLIFIC_API_TOKEN)."
    provider = Publication.Provider.PROLIFIC
    recipient_flag = "--participant"
    design_options = [
        ("--reward", "reward", {"type": money, "help": "Reward per rated neuron (default 0.08); a participant earns batch x reward."}),
        ("--batch-size", "batch_size", {"type": int, "help": "Neurons a participant rates in one session (default 10)."}),
        ("--minutes", "estimated_minutes", {"type": int, "help": "Estimated completion time of one batch, in minutes."}),
        ("--invalid-policy", "invalid_policy", {"choices": Publication.InvalidPolicy.values, "help": "What review does with invalid work."}),
        ("--reject-message", "reject_message", {"help": "Message sent with a rejection."}),
    ]
