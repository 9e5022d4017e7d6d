"""The shape of one HIT: its ExternalQuestion, qualifications and CreateHIT request."""
import secrets
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from django.conf import settings
from django.urls import reverse

EXTERNAL_QUESTION_NAMESPACE = (
    "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/ExternalQuestion.xsd"
)


def new_hit_token():
    """A random token for one HIT (<= 64 chars, MTurk's UniqueRequestToken limit); it names the HIT's
    task page, so it must not be derivable from anything shown (study name, neuron ids).

    It is stored on the `Hit` row before CreateHIT is sent, so a retried CreateHIT sends the same
    token again and MTurk makes no second HIT."""
    return "ne-" + secrets.token_urlsafe(32)


def task_url(hit_token, site_url=None):
    site_url = (site_url or settings.SITE_URL).rstrip("/")
    if urlsplit(site_url).scheme != "https":
        raise ValueError(
            f"MTurk only frames HTTPS pages, and NEURONEVAL_SITE_URL is {site_url!r}; set it to this site's https:// address."
        )
    return site_url + reverse("mturk:task", args=[hit_token])


def external_question_xml(url, frame_height):
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<ExternalQuestion xmlns="{EXTERNAL_QUESTION_NAMESPACE}">'
        f"<ExternalURL>{escape(url)}</ExternalURL>"
        f"<FrameHeight>{int(frame_height)}</FrameHeight>"
        "</ExternalQuestion>"
    )


def create_hit_request(publication, design, study_neuron, hit_token, max_assignments, site_url=None):
    """The CreateHIT request of one neuron, from the shared design and MTurk's own (`MTurkDesign`)."""
    return {
        "MaxAssignments": max_assignments,
        "AutoApprovalDelayInSeconds": design.auto_approval_delay_seconds,
        "LifetimeInSeconds": design.lifetime_seconds,
        "AssignmentDurationInSeconds": design.assignment_duration_seconds,
        "Reward": f"{publication.reward:.2f}",
        "Title": publication.title,
        "Keywords": design.keywords,
        "Description": publication.description,
        "Question": external_question_xml(task_url(hit_token, site_url), design.frame_height),
        # Lets a lost CreateHIT answer be found again with ListHITs.
        "RequesterAnnotation": hit_token,
        "QualificationRequirements": design.qualifications,
        "UniqueRequestToken": hit_token,
    }
