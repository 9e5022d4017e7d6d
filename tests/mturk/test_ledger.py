"""The ledger: what a refused call, a server fault and a finished call leave behind."""
import pytest
from botocore.exceptions import ClientError

from mturk.ledger import LedgerConflict, recorded_call
from mturk.models import LedgerEntry

pytestmark = pytest.mark.crowd


def mturk_error(code, status):
    return ClientError({"Error": {"Code": code, "Message": "x"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "SendBonus")


def failing(error):
    def send():
        raise error
    return send


@pytest.mark.django_db
def test_a_refused_call_is_marked_failed_and_may_be_sent_again():
    with pytest.raises(ClientError):
        recorded_call("k", "SendBonus", {"a": 1}, failing(mturk_error("RequestError", 400)))
    assert LedgerEntry.objects.get().state == LedgerEntry.State.FAILED

    assert recorded_call("k", "SendBonus", {"a": 1}, lambda: {"paid": True}) == {"paid": True}
    assert LedgerEntry.objects.get().state == LedgerEntry.State.DONE


@pytest.mark.django_db
def test_a_server_fault_leaves_the_call_unsettled_and_it_is_not_sent_blindly():
    with pytest.raises(ClientError):
        recorded_call("k", "SendBonus", {"a": 1}, failing(mturk_error("ServiceFault", 500)))
    assert LedgerEntry.objects.get().state == LedgerEntry.State.PENDING

    sent = []
    with pytest.raises(LedgerConflict, match="SendBonus k was started"):
        recorded_call("k", "SendBonus", {"a": 1}, lambda: sent.append(1))
    assert sent == []


@pytest.mark.django_db
def test_a_finished_call_returns_its_recorded_result_without_sending():
    recorded_call("k", "ApproveAssignment", {}, lambda: {"AssignmentStatus": "Approved"}, amount="0.10")
    sent = []
    result = recorded_call("k", "ApproveAssignment", {}, lambda: sent.append(1))
    assert result == {"AssignmentStatus": "Approved"} and sent == []
    assert str(LedgerEntry.objects.get().amount) == "0.10"
