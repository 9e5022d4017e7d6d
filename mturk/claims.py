"""Signed claims that stand in for the CSRF token on crowd pages (MTurk's frame, Prolific's session).

A crowd page may be framed by a third-party site, where the browser does not send this site's
(SameSite=Lax) CSRF cookie. The form carries instead a signed claim naming the reserved assignment
and the provider's id of the work; a forged post cannot name an assignment it was not given.
"""
from django.core import signing

CLAIM_SALT = "mturk.claim"


def sign_claim(assignment, external_id):
    return signing.dumps({"assignment": assignment.pk, "external_id": external_id}, salt=CLAIM_SALT)


def read_claim(value, max_age):
    try:
        return signing.loads(value or "", salt=CLAIM_SALT, max_age=max_age)
    except signing.BadSignature:
        return None
