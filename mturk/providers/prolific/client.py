"""A small client for Prolific's REST API (https://docs.prolific.com/api-reference), over httpx."""
import os

import httpx

from ..base import CrowdError

API_BASE_URL = "https://api.prolific.com/api/v1/"
COMPLETION_URL = "https://app.prolific.com/submissions/complete?cc={code}"


class ProlificError(CrowdError):
    def __init__(self, message, maybe_sent=False):
        super().__init__(message)
        # A transport failure leaves it unknown whether Prolific acted on the request.
        self.maybe_sent = maybe_sent


class ProlificClient:
    def __init__(self, token=None, transport=None, base_url=API_BASE_URL):
        token = token or os.environ.get("PROLIFIC_API_TOKEN", "")
        if not token:
            raise ProlificError("PROLIFIC_API_TOKEN is not set: create an API token in Prolific's settings and export it")
        self.http = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Token {token}"}, transport=transport, timeout=30
        )

    def _request(self, method, path, **kwargs):
        try:
            answer = self.http.request(method, path, **kwargs)
        except httpx.TransportError as error:
            raise ProlificError(f"Prolific {method} {path}: {error}", maybe_sent=method != "GET") from error
        if answer.status_code >= 400:
            raise ProlificError(
                f"Prolific {method} {path} answered {answer.status_code}: {answer.text[:500]}",
                maybe_sent=answer.status_code >= 500 and method != "GET",
            )
        return answer.json() if answer.content else {}

    # Studies
    def create_study(self, payload):
        return self._request("POST", "studies/", json=payload)

    def get_study(self, study_id):
        return self._request("GET", f"studies/{study_id}/")

    def list_studies(self):
        return self._request("GET", "studies/").get("results", [])

    def publish_study(self, study_id):
        return self._request("POST", f"studies/{study_id}/transition/", json={"action": "PUBLISH"})

    def study_cost(self, reward_cents, places):
        return self._request(
            "POST", "study-cost-calculator/", json={"reward": reward_cents, "total_available_places": places}
        )

    # Submissions
    def list_submissions(self, study_id, page_size=100):
        """Every submission of the study, following the `_links.next` pages."""
        page = self._request("GET", "submissions/", params={"study": study_id, "page_size": page_size})
        while True:
            yield from page.get("results", [])
            next_link = (page.get("_links") or {}).get("next") or {}
            if not next_link.get("href"):
                return
            page = self._request("GET", next_link["href"])

    def get_submission(self, submission_id):
        return self._request("GET", f"submissions/{submission_id}/")

    def transition_submission(self, submission_id, action, message=None, rejection_category=None):
        body = {"action": action}
        if message is not None:
            body["message"] = message
        if rejection_category is not None:
            body["rejection_category"] = rejection_category
        return self._request("POST", f"submissions/{submission_id}/transition/", json=body)

    # Bonuses: set up, then pay (paying is not idempotent on Prolific's side).
    def create_bonus_payments(self, study_id, csv_bonuses):
        return self._request("POST", "submissions/bonus-payments/", json={"study_id": study_id, "csv_bonuses": csv_bonuses})

    def pay_bonus_payments(self, bulk_id):
        return self._request("POST", f"bulk-bonus-payments/{bulk_id}/pay/")
