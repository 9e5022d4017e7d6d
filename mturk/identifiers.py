"""The ids crowd providers put in our URLs, checked before any of them reaches a query.

MTurk's AssignmentId/WorkerId/HITId and Prolific's PROLIFIC_PID/STUDY_ID/SESSION_ID are short
runs of letters and digits. Anything else (a slash, a NUL, a megabyte) is refused with a 400 that
names the parameter and never quotes the value.
"""
import re

CROWD_ID_MAX_LENGTH = 64
CROWD_ID = re.compile(rf"[A-Za-z0-9_-]{{1,{CROWD_ID_MAX_LENGTH}}}")


def bad_crowd_ids(params, names) -> str:
    """A message naming the parameters of `names` whose value is present but malformed ('' if none)."""
    bad = [name for name in names if params.get(name, "") and not CROWD_ID.fullmatch(params.get(name, ""))]
    if not bad:
        return ""
    return (
        f"{', '.join(bad)} must be 1 to {CROWD_ID_MAX_LENGTH} letters, digits, '-' or '_'; "
        "open this page from the provider's link. Nothing was stored."
    )


def worker_key(worker_id, assignment_id):
    """The rater an MTurk frame visit stands for until harvest confirms it: the worker id *and* the
    assignment, so a forged pair that reuses a real worker id cannot answer (or block) for them."""
    return f"{worker_id}:{assignment_id}"
