"""What the API reads and writes; validation that belongs to a service stays in the service."""
from rest_framework import serializers

from evaluation.services import rater_link
from evaluation.models import Rater, Rating, Response, Study, StudyMethod
from explain.methods import available_methods
from explain.importers import FORMATS as EXPLANATION_FORMATS, LAYER_WIDTHS
from explain.models import Explanation, Job, Layer, Method, Network, ProbeDataset

MAX_INVITES = 500
MAX_PER_LAYER = 100_000
MAX_RESAMPLES = 20_000


# ---------------------------------------------------------------- catalog


class LayerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Layer
        fields = ["name", "unit_count", "order"]


class NetworkSerializer(serializers.ModelSerializer):
    layers = LayerSerializer(many=True, read_only=True)

    class Meta:
        model = Network
        fields = ["name", "architecture", "weights_source", "class_names", "preprocessing", "description", "created_at",
                  "layers"]


class NetworkCreateSerializer(serializers.Serializer):
    """The options of `add_network`."""

    name = serializers.SlugField(max_length=100)
    architecture = serializers.CharField(max_length=100, help_text="torchvision model name, timm:NAME, or demo-cnn.")
    weights = serializers.CharField(
        max_length=1000,
        help_text="random:<seed>, torchvision:<enum member>, or a state-dict file inside API_SERVER_FOLDERS.",
    )
    class_names = serializers.JSONField(
        required=False, help_text="A list of names, or torchvision:<enum member> for that enum's metadata.",
    )
    preprocessing = serializers.DictField(required=False, help_text='e.g. {"resize": 256, "crop": 224} or {"squash": 224}.')
    description = serializers.CharField(max_length=10_000, required=False, allow_blank=True, default="")

    def validate_class_names(self, value):
        if isinstance(value, list) and all(isinstance(name, str) for name in value):
            return value
        if isinstance(value, str) and value.startswith("torchvision:"):
            return value
        raise serializers.ValidationError("a list of strings, or torchvision:<enum member>")


class ProbeDatasetSerializer(serializers.ModelSerializer):
    image_count = serializers.IntegerField(read_only=True)
    concept_count = serializers.SerializerMethodField()

    class Meta:
        model = ProbeDataset
        fields = ["name", "kind", "source", "seed", "class_names", "concept_count", "image_count", "created_at"]

    def get_concept_count(self, dataset) -> int:
        return len(dataset.concepts or [])


class ProbeFolderImportSerializer(serializers.Serializer):
    name = serializers.SlugField(max_length=100)
    path = serializers.CharField(max_length=1000, help_text="A folder on the server, inside one of API_SERVER_FOLDERS.")
    format = serializers.ChoiceField(choices=["folder", "broden"], default="folder")
    limit = serializers.IntegerField(required=False, allow_null=True, min_value=1, help_text="Broden: first N images only.")


class MethodSerializer(serializers.ModelSerializer):
    runnable = serializers.SerializerMethodField(help_text="Whether an explain job can run it here.")

    class Meta:
        model = Method
        fields = ["name", "display_name", "kind", "description", "runnable"]

    def get_runnable(self, method) -> bool:
        if "runnable" not in self.context:
            self.context["runnable"] = set(available_methods())
        return method.name in self.context["runnable"]


class ExplanationSerializer(serializers.ModelSerializer):
    network = serializers.CharField(source="neuron.layer.network.name", read_only=True)
    layer = serializers.CharField(source="neuron.layer.name", read_only=True)
    unit = serializers.IntegerField(source="neuron.unit", read_only=True)
    method = serializers.CharField(source="method.name", read_only=True)

    class Meta:
        model = Explanation
        fields = ["id", "network", "layer", "unit", "method", "rank", "text", "score", "score_name", "job",
                  "source_file", "source_row", "created_at"]


class ExplanationUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="A file in one of the import formats (as `import_explanations` reads it).")
    network = serializers.SlugField(max_length=100)
    method = serializers.SlugField(max_length=100)
    format = serializers.ChoiceField(choices=list(EXPLANATION_FORMATS))
    layer = serializers.CharField(max_length=200, required=False, allow_blank=True)
    architecture = serializers.ChoiceField(choices=sorted(LAYER_WIDTHS), required=False)


class ExplanationImportResultSerializer(serializers.Serializer):
    network = serializers.CharField()
    method = serializers.CharField()
    source_file = serializers.CharField()
    per_layer = serializers.DictField(child=serializers.IntegerField())
    count = serializers.IntegerField()
    replaced = serializers.IntegerField()


class JobSerializer(serializers.ModelSerializer):
    progress = serializers.FloatField(read_only=True)

    class Meta:
        model = Job
        fields = ["id", "kind", "params", "status", "progress", "progress_done", "progress_total", "progress_message",
                  "error", "created_at", "started_at", "finished_at"]


class JobCreateSerializer(serializers.Serializer):
    network = serializers.SlugField(max_length=100)
    probe = serializers.SlugField(max_length=100)
    layers = serializers.ListField(child=serializers.CharField(max_length=200), min_length=1, max_length=50)
    methods = serializers.ListField(child=serializers.SlugField(max_length=100), min_length=1, max_length=20)
    top_k = serializers.IntegerField(min_value=1, max_value=1000, default=10)
    summary = serializers.ChoiceField(choices=["mean", "max"], default="mean")
    method_params = serializers.DictField(child=serializers.DictField(), required=False, default=dict,
                                          help_text="{method: {param: value}}, as `explain --param METHOD.NAME=VALUE`.")
    store_maps = serializers.BooleanField(default=True)


# ---------------------------------------------------------------- studies


class StudyMethodSerializer(serializers.ModelSerializer):
    method = serializers.CharField(source="method.name")

    class Meta:
        model = StudyMethod
        fields = ["method", "order", "explanation_rank"]


class StudySerializer(serializers.ModelSerializer):
    network = serializers.CharField(source="network.name", read_only=True)
    methods = StudyMethodSerializer(source="study_methods", many=True, read_only=True)
    neuron_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Study
        fields = ["name", "title", "instructions", "network", "methods", "kind", "raters_per_neuron", "images_per_task",
                  "top_images_per_task", "random_images_per_task", "ask_best", "attention_check_every",
                  "consistency_prompt", "seed", "status", "neuron_count", "created_at"]
        read_only_fields = fields


class StudyCreateSerializer(serializers.Serializer):
    """The options of `create_study`; the service checks them against the data."""

    name = serializers.SlugField(max_length=100)
    network = serializers.SlugField(max_length=100)
    methods = serializers.ListField(child=serializers.SlugField(max_length=100), min_length=1, max_length=20)
    layers = serializers.ListField(child=serializers.CharField(max_length=200), required=False, max_length=100)
    per_layer = serializers.IntegerField(min_value=1, max_value=MAX_PER_LAYER, default=200)
    raters_per_neuron = serializers.IntegerField(min_value=1, max_value=1000, default=3)
    images_per_task = serializers.IntegerField(min_value=1, max_value=100, default=10)
    seed = serializers.IntegerField(min_value=-(2**31), max_value=2**31 - 1, default=0)
    explanation_rank = serializers.IntegerField(min_value=1, max_value=100, default=1,
                                                help_text="Which ranked explanation of every method is shown.")
    ask_best = serializers.BooleanField(default=True)
    attention_check_every = serializers.IntegerField(
        min_value=0, max_value=1000, default=0, help_text="One attention check in N tasks (0: none; N >= 2).")
    consistency_prompt = serializers.BooleanField(
        default=False, help_text="Point out a best pick rated below another description before it is stored.")
    title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    instructions = serializers.CharField(max_length=10_000, required=False, allow_blank=True, default="")
    probe = serializers.SlugField(max_length=100, required=False)
    status = serializers.ChoiceField(choices=Study.Status.choices, default=Study.Status.OPEN)
    kind = serializers.ChoiceField(choices=Study.Kind.choices, default=Study.Kind.RATING)
    top_images_per_task = serializers.IntegerField(min_value=0, max_value=100, required=False,
                                                   help_text="Labelling studies: the unit's top images per task.")
    random_images_per_task = serializers.IntegerField(min_value=0, max_value=100, required=False,
                                                      help_text="Labelling studies: random probing images per task.")


class StudyStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Study.Status.choices)


class _ProgressCountsSerializer(serializers.Serializer):
    neurons = serializers.IntegerField()
    responses = serializers.IntegerField()
    valid = serializers.IntegerField()
    target = serializers.IntegerField()


class LayerProgressSerializer(_ProgressCountsSerializer):
    layer = serializers.CharField()
    complete_neurons = serializers.IntegerField()


class StudyProgressSerializer(_ProgressCountsSerializer):
    layers = LayerProgressSerializer(many=True)
    raters = serializers.IntegerField()
    reserved = serializers.IntegerField()


class InviteCreateSerializer(serializers.Serializer):
    count = serializers.IntegerField(min_value=1, max_value=MAX_INVITES, default=1)
    label_prefix = serializers.CharField(max_length=100, default="invited")


class RaterSerializer(serializers.ModelSerializer):
    link = serializers.SerializerMethodField(help_text="The rater's personal link; send it to them.")

    class Meta:
        model = Rater
        fields = ["id", "kind", "label", "external_id", "created_at", "link"]

    def get_link(self, rater) -> str:
        return rater_link(rater)


class InvitedSerializer(serializers.Serializer):
    raters = RaterSerializer(many=True, help_text="The new raters, each with the link to send them.")


class RatingSerializer(serializers.ModelSerializer):
    method = serializers.CharField(source="item.method.name")
    text = serializers.CharField(source="item.text")

    class Meta:
        model = Rating
        fields = ["method", "text", "position", "value"]


class ResponseSerializer(serializers.ModelSerializer):
    rater = serializers.IntegerField(source="rater_id")
    layer = serializers.CharField(source="study_neuron.neuron.layer.name")
    unit = serializers.IntegerField(source="study_neuron.neuron.unit")
    best_method = serializers.CharField(source="best_item.method.name", allow_null=True, default=None)
    ratings = RatingSerializer(many=True)

    class Meta:
        model = Response
        fields = ["id", "rater", "layer", "unit", "best_method", "uninterpretable", "none_fit", "is_valid",
                  "invalid_reason", "source", "external_id", "submitted_at", "ratings"]


class RatingsImportSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="A tidy ratings CSV (as `export_ratings` writes it).")


class StudyImportSerializer(serializers.Serializer):
    name = serializers.SlugField(max_length=100, help_text="The new study's name.")
    file = serializers.FileField(help_text="Ratings in the tidy format, or the DnD paper's wide CSV.")
    format = serializers.ChoiceField(choices=["tidy", "dnd-wide"], default="tidy")
    network = serializers.SlugField(max_length=100, default="resnet50", help_text="Network name for dnd-wide files.")


class RatingsImportResultSerializer(serializers.Serializer):
    study = serializers.CharField()
    responses = serializers.IntegerField()
    ratings = serializers.IntegerField()
    created = serializers.DictField(child=serializers.IntegerField())
    validity_from_file_differs = serializers.IntegerField()


# ---------------------------------------------------------------- analysis


class SelectionQuerySerializer(serializers.Serializer):
    """Which responses an analysis uses: the selection options of the analysis commands."""

    include_invalid = serializers.BooleanField(default=False)
    exclude_flagged = serializers.BooleanField(default=False)
    methods = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000,
                                    help_text="Comma-separated methods to keep, in table order.")
    exclude_raters = serializers.CharField(required=False, allow_blank=True, default="", max_length=10_000,
                                           help_text="Comma-separated rater ids to leave out.")
    include_excluded = serializers.BooleanField(default=False, help_text="Also use responses researchers excluded.")
    ignore_policy = serializers.BooleanField(
        default=False, help_text="Use every rater: the study's exclusion policy ignored (docs/analysis.md).")


class AnalysisQuerySerializer(SelectionQuerySerializer):
    """The options of `comparison_table` and `compare_methods`."""

    by = serializers.ChoiceField(choices=["layer"], required=False, help_text="Also one block per layer.")
    bootstrap = serializers.IntegerField(min_value=1, max_value=MAX_RESAMPLES, required=False,
                                         help_text="Cluster-bootstrap resamples (default as the command's).")
    seed = serializers.IntegerField(min_value=0, max_value=2**32 - 1, required=False)


def _count():
    return serializers.IntegerField(allow_null=True)


def _number():
    return serializers.FloatField(allow_null=True, help_text="null where it cannot be computed (e.g. n < 2).")


class ComparisonRowSerializer(serializers.Serializer):
    """One row of `comparison_table --format json`; automatic-metric columns (`metric:NAME`) may follow."""

    layer = serializers.CharField(allow_null=True, help_text="null for all layers together.")
    method = serializers.CharField()
    label = serializers.CharField()
    n = _count()
    mean, sd, se, ci_low, ci_high = _number(), _number(), _number(), _number(), _number()
    boot_ci_low, boot_ci_high = _number(), _number()
    best_n, best_total = _count(), _count()
    best_rate, best_ci_low, best_ci_high = _number(), _number(), _number()
    n_valid, n_invalid = _count(), _count()
    n_excluded = serializers.IntegerField(required=False, help_text="Responses left out by exclusions (unless included).")
    n_before_policy = serializers.IntegerField(
        required=False, help_text="With an exclusion policy in force: the row's n with every rater.")
    policy = serializers.CharField(required=False, help_text="With an exclusion policy in force: what it left out.")
    invalid_reasons = serializers.CharField(allow_null=True, allow_blank=True)


class PairwiseRowSerializer(serializers.Serializer):
    """One row of `compare_methods --format json`."""

    layer = serializers.CharField(allow_null=True, help_text="null for all layers together.")
    method_a = serializers.CharField()
    method_b = serializers.CharField()
    n_responses, n_neurons = _count(), _count()
    mean_diff, diff_ci_low, diff_ci_high = _number(), _number(), _number()
    wilcoxon_statistic, p_value, p_holm = _number(), _number(), _number()
    best_n = _count()
    best_rate_diff, best_diff_ci_low, best_diff_ci_high = _number(), _number(), _number()


class AgreementSerializer(serializers.Serializer):
    krippendorff_alpha = serializers.ListField(child=serializers.DictField())
    best_agreement = serializers.ListField(child=serializers.DictField())
    raters = serializers.ListField(child=serializers.DictField())
    position_bias = serializers.ListField(child=serializers.DictField())
    rater_quality = serializers.ListField(
        child=serializers.DictField(), help_text="Each rater's quality signals and the exclusion policy's verdict.")
