from evaluation.models import Rater
from evaluation.services import claim_assignment_for_neuron, get_or_create_rater, submit_response


def answer_as_worker(study_neuron, worker_id, external_id, valid=True, kind=Rater.Kind.MTURK, source="mturk"):
    """Store a worker's response through the evaluation services; invalid = best pick rated lowest."""
    rater = get_or_create_rater(study_neuron.study, kind, worker_id)
    assignment = claim_assignment_for_neuron(rater, study_neuron)
    slots = list(assignment.slots.order_by("position"))
    data = {f"rating-{slot.token}": str(5 - i) for i, slot in enumerate(slots)}
    data["best"] = slots[0].token if valid else slots[-1].token
    return submit_response(assignment, data, source=source, external_id=external_id)
