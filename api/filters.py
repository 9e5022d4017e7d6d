"""Query filters of the list operations."""
import django_filters

from evaluation.models import Rater, Response, Study
from explain.models import Explanation, Job, Method, Network, ProbeDataset


class NetworkFilter(django_filters.FilterSet):
    architecture = django_filters.CharFilter()

    class Meta:
        model = Network
        fields = ["architecture"]


class ProbeDatasetFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=ProbeDataset.Kind.choices)

    class Meta:
        model = ProbeDataset
        fields = ["kind"]


class MethodFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=Method.Kind.choices)

    class Meta:
        model = Method
        fields = ["kind"]


class ExplanationFilter(django_filters.FilterSet):
    network = django_filters.CharFilter(field_name="neuron__layer__network__name", max_length=100)
    layer = django_filters.CharFilter(field_name="neuron__layer__name", max_length=200)
    method = django_filters.CharFilter(field_name="method__name", max_length=100)
    unit = django_filters.NumberFilter(field_name="neuron__unit", min_value=0, max_value=2**31 - 1)
    rank = django_filters.NumberFilter(min_value=0, max_value=2**31 - 1)

    class Meta:
        model = Explanation
        fields = ["network", "layer", "method", "unit", "rank"]


class JobFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Job.Status.choices)
    kind = django_filters.CharFilter(max_length=50)

    class Meta:
        model = Job
        fields = ["status", "kind"]


class StudyFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Study.Status.choices)
    network = django_filters.CharFilter(field_name="network__name", max_length=100)

    class Meta:
        model = Study
        fields = ["status", "network"]


class ResponseFilter(django_filters.FilterSet):
    layer = django_filters.CharFilter(field_name="study_neuron__neuron__layer__name", max_length=200)
    unit = django_filters.NumberFilter(field_name="study_neuron__neuron__unit", min_value=0, max_value=2**31 - 1)
    rater = django_filters.NumberFilter(field_name="rater_id", min_value=1, max_value=2**63 - 1)
    is_valid = django_filters.BooleanFilter()
    source = django_filters.ChoiceFilter(choices=Response.Source.choices)

    class Meta:
        model = Response
        fields = ["layer", "unit", "rater", "is_valid", "source"]


class RaterFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=Rater.Kind.choices)

    class Meta:
        model = Rater
        fields = ["kind"]
