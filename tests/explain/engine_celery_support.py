"""Imported by the Celery worker of test_engine_celery.py: a test-only method the worker can run."""
from explain import methods
from explain.methods.base import ExplanationMethod, ExplanationRecord


@methods.register
class StrongestTopImageCaption(ExplanationMethod):
    """The caption of each unit's most activating probing image."""

    name = "test-top-caption"

    def explain(self, inputs, units):
        top = inputs.activations.top_indices(1)
        captions = {image.pk: image.caption for image in inputs.probe.images}
        return [ExplanationRecord(unit=u, text=captions[inputs.activations.image_ids[top[u, 0]]]) for u in units]
