"""Studies: what raters are shown (frozen at creation), who rates, what they answered.

Two kinds of study share every table and the whole machinery (links, assignment, caps, crowd pages):
a rating study shows a neuron's top images with every method's description, rated 1-5 (Rating rows);
a labelling study shows one description with a mix of top and random images and asks, per image,
whether it shows the description (ImageAnswer rows). See evaluation/labelling.py.
"""
import secrets
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from explain.models import Explanation, Method, Network, Neuron, ProbeImage


def validate_exclusion_policy(text: str) -> None:
    """An exclusion policy must parse (evaluation.quality.parse_policy); the error names the rule at fault."""
    from .quality import PolicyError, parse_policy  # pandas loads only when a policy is checked, not with the models

    try:
        parse_policy(text)
    except PolicyError as error:
        raise ValidationError(str(error), code="bad_policy") from None


def new_token():
    """An unguessable URL-safe secret for links and form fields."""
    return secrets.token_urlsafe(18)


class Study(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        OPEN = "open"
        PAUSED = "paused"
        CLOSED = "closed"

    class Kind(models.TextChoices):
        RATING = "rating", "Rating (1-5 per description, best pick)"
        LABELLING = "labelling", "Labelling (does each image show the description?)"

    name = models.SlugField(max_length=100, unique=True)
    title = models.CharField(max_length=200, blank=True)
    instructions = models.TextField(blank=True)
    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="studies")
    methods = models.ManyToManyField(Method, through="StudyMethod", related_name="studies")
    raters_per_neuron = models.PositiveIntegerField(default=3)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.RATING, db_default=Kind.RATING)
    images_per_task = models.PositiveIntegerField(default=10)
    top_images_per_task = models.PositiveIntegerField(
        default=0, db_default=0, help_text="Labelling studies: how many of the unit's top images a task asks about."
    )
    random_images_per_task = models.PositiveIntegerField(
        default=0, db_default=0,
        help_text="Labelling studies: how many random probing images a task asks about (drawn with the study's seed).",
    )
    ask_best = models.BooleanField(default=True)
    attention_check_every = models.PositiveIntegerField(
        default=0,
        db_default=0,
        help_text="One attention-check task in every N tasks a rater gets, at a random place in each block of N "
        "(0 = no checks). See evaluation/checks.py for how checks are built and scored.",
    )
    consistency_prompt = models.BooleanField(
        default=False,
        db_default=False,
        help_text="Before storing an answer whose best pick is rated below another description, point it out and "
        "let the rater change or keep it (off reproduces the reference protocol).",
    )
    class Collection(models.TextChoices):
        FIXED = "fixed", "Fixed: raters per neuron on every neuron"
        ADAPTIVE = "adaptive", "Adaptive: where one more response helps most, until a target or a budget"

    collection = models.CharField(
        max_length=10, choices=Collection.choices, default=Collection.FIXED, db_default=Collection.FIXED,
        help_text="Adaptive: every neuron starts at the minimum raters, then each task goes where it narrows the "
        "reported intervals most; raters per neuron is then the cap (evaluation/adaptive.py, docs/analysis.md).",
    )
    adaptive_min_raters = models.PositiveIntegerField(
        default=2, db_default=2,
        help_text="Adaptive: raters every neuron gets before any gets more (1 or more; the start neurons get at least 2).",
    )
    adaptive_target_half_width = models.FloatField(
        null=True, blank=True,
        help_text="Adaptive: stop when every method mean and pairwise difference has a 95% CI half-width at most this.",
    )
    adaptive_budget_responses = models.PositiveIntegerField(
        null=True, blank=True, help_text="Adaptive: stop after this many counted responses."
    )
    adaptive_budget_money = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True,
        help_text="Adaptive: stop when counted responses times the cost per response reach this amount.",
    )
    cost_per_response = models.DecimalField(
        max_digits=8, decimal_places=4, default=Decimal("0.10"), db_default=Decimal("0.10"),
        help_text="What one response costs, fees included (prices the adaptive budget and the stop record).",
    )
    adaptive_draw_neurons = models.BooleanField(
        default=False, db_default=False,
        help_text="Adaptive: start with the first neurons only and draw more from the study's neurons when a new "
        "neuron narrows the intervals more per response than another rater on one already drawn.",
    )
    adaptive_start_neurons = models.PositiveIntegerField(
        default=40, db_default=40, help_text="Adaptive with drawing: neurons (in the study's order) drawn at the start."
    )
    exclusion_policy = models.TextField(
        blank=True,
        default="",
        db_default="",
        validators=[validate_exclusion_policy],
        help_text="Raters the analysis leaves out, as rules on their quality signals joined by 'or', e.g. "
        "'check_pass_rate < 0.8 or median_seconds < 5 s' (blank: keep every rater). Nothing is deleted; "
        "see docs/analysis.md for the signals.",
    )
    seed = models.IntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    open_link_token = models.CharField(
        max_length=64, unique=True, null=True, blank=True, help_text="Public volunteer link; blank = closed to the public."
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_studies",
        help_text="The researcher who created the study; blank on studies from before ownership (superusers only).",
    )
    collaborators = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="shared_studies",
        help_text="Researchers who may see and change this study besides its owner.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "studies"

    def __str__(self):
        return self.name


class StudyMethod(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="study_methods")
    method = models.ForeignKey(Method, on_delete=models.PROTECT, related_name="+")
    order = models.PositiveIntegerField(default=0, help_text="Column order in tables.")
    explanation_rank = models.PositiveIntegerField(default=1, help_text="Which of the method's ranked labels is shown.")

    class Meta:
        ordering = ["study", "order"]
        constraints = [models.UniqueConstraint(fields=["study", "method"], name="unique_method_per_study")]


class StudyNeuron(models.Model):
    """One task unit of a study: a neuron (rating studies), or a neuron with one method's description
    (labelling studies, where each description is labelled by its own K raters)."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="study_neurons")
    neuron = models.ForeignKey(Neuron, on_delete=models.PROTECT, related_name="+")
    method = models.ForeignKey(
        Method, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="Labelling studies: the method whose description this task shows; empty in rating studies.",
    )
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["study", "order"]
        constraints = [
            models.UniqueConstraint(
                fields=["study", "neuron"], condition=models.Q(method__isnull=True), name="unique_neuron_per_study"
            ),
            models.UniqueConstraint(
                fields=["study", "neuron", "method"], condition=models.Q(method__isnull=False),
                name="unique_labelled_description_per_study",
            ),
        ]

    def __str__(self):
        return f"{self.study.name}: {self.neuron}"


class StudyImage(models.Model):
    """An image as frozen into the study, at the place it is shown."""

    class Sample(models.TextChoices):
        TOP = "top", "One of the unit's top images"
        RANDOM = "random", "A random probing image"

    study_neuron = models.ForeignKey(StudyNeuron, on_delete=models.CASCADE, related_name="images")
    position = models.PositiveIntegerField()
    image = models.ForeignKey(ProbeImage, on_delete=models.PROTECT, related_name="+")
    activation = models.FloatField(null=True, blank=True)
    sample = models.CharField(
        max_length=10, choices=Sample.choices, default=Sample.TOP, db_default=Sample.TOP,
        help_text="Why the image is in the task (never shown to raters); labelling studies mix both.",
    )

    class Meta:
        ordering = ["study_neuron", "position"]
        constraints = [models.UniqueConstraint(fields=["study_neuron", "position"], name="unique_image_position")]


class StudyItem(models.Model):
    """One method's description of one study neuron, with its text frozen at study creation."""

    study_neuron = models.ForeignKey(StudyNeuron, on_delete=models.CASCADE, related_name="items")
    method = models.ForeignKey(Method, on_delete=models.PROTECT, related_name="+")
    explanation = models.ForeignKey(Explanation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    text = models.TextField()

    class Meta:
        ordering = ["study_neuron", "method"]
        constraints = [models.UniqueConstraint(fields=["study_neuron", "method"], name="unique_item_per_method")]


def rater_name(pk: int, external_id: str) -> str:
    """How tables, files and quality signals name a rater: its external id (worker, participant, imported id),
    else rater-<pk>."""
    return external_id or f"rater-{pk}"


class Rater(models.Model):
    class Kind(models.TextChoices):
        INVITED = "invited", "Invited (personal link)"
        OPEN = "open", "Open link volunteer"
        MTURK = "mturk", "MTurk worker"
        PROLIFIC = "prolific", "Prolific participant"
        IMPORTED = "imported", "Imported ratings"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="raters")
    token = models.CharField(max_length=64, unique=True, help_text="Secret in the rater's link.")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.INVITED)
    external_id = models.CharField(max_length=200, blank=True, help_text="workerId, PROLIFIC_PID or imported rater id.")
    label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["study", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["study", "kind", "external_id"],
                condition=~models.Q(external_id=""),
                name="unique_external_rater_per_study",
            )
        ]

    def __str__(self):
        return self.label or self.external_id or f"rater {self.pk}"


class Assignment(models.Model):
    """A neuron handed to a rater: reserved until submitted or expired."""

    class Status(models.TextChoices):
        RESERVED = "reserved"
        COMPLETED = "completed"
        EXPIRED = "expired"

    rater = models.ForeignKey(Rater, on_delete=models.CASCADE, related_name="assignments")
    token = models.CharField(
        max_length=64, unique=True, default=new_token, help_text="Opaque task id in the rating form; never the neuron's id."
    )
    study_neuron = models.ForeignKey(StudyNeuron, on_delete=models.CASCADE, related_name="assignments")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RESERVED)
    is_check = models.BooleanField(
        default=False, db_default=False, help_text="An attention check: the neuron's images with its own description beside decoys."
    )
    shuffle_seed = models.BigIntegerField()
    reserved_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    shown_at = models.DateTimeField(null=True, blank=True, help_text="When the task page was first shown to its rater.")
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["reserved_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["rater", "study_neuron"], condition=models.Q(is_check=False), name="one_assignment_per_rater_neuron"
            )
        ]


class Slot(models.Model):
    """A description's place on one rater's page, named by an opaque token so the page never names the method."""

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="slots")
    position = models.PositiveIntegerField()
    token = models.CharField(max_length=64, unique=True)
    item = models.ForeignKey(StudyItem, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["assignment", "position"]
        constraints = [
            models.UniqueConstraint(fields=["assignment", "position"], name="unique_slot_position"),
            models.UniqueConstraint(fields=["assignment", "item"], name="unique_slot_item"),
        ]


class Response(models.Model):
    class Source(models.TextChoices):
        LOCAL = "local"
        MTURK = "mturk"
        PROLIFIC = "prolific"
        IMPORTED = "imported"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="responses")
    rater = models.ForeignKey(Rater, on_delete=models.PROTECT, related_name="responses")
    study_neuron = models.ForeignKey(StudyNeuron, on_delete=models.PROTECT, related_name="responses")
    assignment = models.OneToOneField(Assignment, null=True, blank=True, on_delete=models.SET_NULL, related_name="response")
    best_item = models.ForeignKey(StudyItem, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    uninterpretable = models.BooleanField(default=False)
    none_fit = models.BooleanField(default=False)
    is_valid = models.BooleanField()
    invalid_reason = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.LOCAL)
    external_id = models.CharField(max_length=200, blank=True, help_text="MTurk assignmentId, Prolific submission, imported id.")
    submitted_at = models.DateTimeField()
    shown_at = models.DateTimeField(null=True, blank=True, help_text="When the task was first shown (server clock).")
    seconds = models.FloatField(
        null=True, blank=True, help_text="Time on task by the server's clock: first shown to submitted. Empty if unknown."
    )
    visible_seconds = models.FloatField(
        null=True,
        blank=True,
        help_text="Time the page was visible, as the browser reported it (Page Visibility API), clamped to 0..seconds.",
    )
    is_check = models.BooleanField(
        default=False, db_default=False, help_text="Answer to an attention check; never counted in tables."
    )
    check_passed = models.BooleanField(null=True, blank=True, help_text="Attention checks only: whether it was passed.")
    consistency_prompt = models.TextField(
        blank=True, default="", db_default="", help_text="The consistency prompt the rater was shown before this answer was stored (empty: none)."
    )
    verified = models.BooleanField(
        default=True,
        help_text="False for an answer from a crowd frame until the provider confirms that worker did that work "
        "(MTurk: harvest). Unverified answers count toward no cap and are left out of tables by default.",
    )

    class Meta:
        ordering = ["submitted_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["rater", "study_neuron"], condition=models.Q(is_check=False), name="one_response_per_rater_neuron"
            ),
            models.CheckConstraint(
                condition=models.Q(is_check=True) | models.Q(check_passed__isnull=True), name="check_result_only_on_checks"
            ),
            models.CheckConstraint(
                condition=models.Q(seconds__isnull=True) | models.Q(seconds__gte=0), name="seconds_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(visible_seconds__isnull=True) | models.Q(visible_seconds__gte=0),
                name="visible_seconds_not_negative",
            ),
        ]


class Rating(models.Model):
    response = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="ratings")
    item = models.ForeignKey(StudyItem, on_delete=models.PROTECT, related_name="ratings")
    position = models.PositiveIntegerField(null=True, blank=True, help_text="0-based place the description was shown.")
    value = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["response", "position"]
        constraints = [
            models.UniqueConstraint(fields=["response", "item"], name="one_rating_per_item"),
            models.CheckConstraint(condition=models.Q(value__gte=1, value__lte=5), name="rating_between_1_and_5"),
        ]


class ImageAnswer(models.Model):
    """A labelling answer: whether one image shows the description the task asked about."""

    response = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="image_answers")
    item = models.ForeignKey(StudyItem, on_delete=models.PROTECT, related_name="image_answers")
    study_image = models.ForeignKey(StudyImage, on_delete=models.PROTECT, related_name="answers")
    shows = models.BooleanField(help_text="The rater's answer to 'Does this image show: <description>?'.")

    class Meta:
        ordering = ["response", "study_image__position"]
        constraints = [models.UniqueConstraint(fields=["response", "study_image"], name="one_answer_per_image")]


class Exclusion(models.Model):
    """A researcher's decision to leave a rater's or one response's answers out of the analysis.

    Nothing is deleted: the responses stay stored, analysis leaves them out while
    the exclusion is active, and lifting it (include) records who and when.
    """

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="exclusions")
    rater = models.ForeignKey(Rater, null=True, blank=True, on_delete=models.CASCADE, related_name="exclusions")
    response = models.ForeignKey(Response, null=True, blank=True, on_delete=models.CASCADE, related_name="exclusions")
    reason = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lifted_at = models.DateTimeField(null=True, blank=True, help_text="Set when the rater or response was included again.")

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(rater__isnull=False, response__isnull=True)
                           | models.Q(rater__isnull=True, response__isnull=False)),
                name="exclusion_targets_rater_or_response",
            ),
            models.CheckConstraint(condition=~models.Q(reason=""), name="exclusion_has_reason"),
            models.UniqueConstraint(
                fields=["rater"], condition=models.Q(lifted_at__isnull=True, rater__isnull=False),
                name="one_active_exclusion_per_rater",
            ),
            models.UniqueConstraint(
                fields=["response"], condition=models.Q(lifted_at__isnull=True, response__isnull=False),
                name="one_active_exclusion_per_response",
            ),
        ]

    @property
    def is_active(self) -> bool:
        return self.lifted_at is None

    def __str__(self):
        target = f"rater {self.rater_id}" if self.rater_id else f"response {self.response_id}"
        return f"{self.study}: {target} ({self.reason})"


class CollectionStop(models.Model):
    """When and why an adaptive study stopped handing out tasks, with the figures it stopped on."""

    class Reason(models.TextChoices):
        TARGET = "target", "Target CI half-width reached"
        BUDGET = "budget", "Budget cap reached"
        EXHAUSTED = "exhausted", "Every neuron has its most raters"

    study = models.OneToOneField(Study, on_delete=models.CASCADE, related_name="collection_stop")
    stopped_at = models.DateTimeField()
    reason = models.CharField(max_length=10, choices=Reason.choices)
    figures = models.JSONField(
        default=dict, help_text="Responses, neurons, spend, the half-widths and the target or budget it met."
    )

    def __str__(self):
        return f"{self.study}: {self.get_reason_display()} at {self.stopped_at:%Y-%m-%d %H:%M}"
