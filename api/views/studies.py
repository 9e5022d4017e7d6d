"""Studies, their raters, responses and ratings: thin wrappers around evaluation's and analysis's services."""
from __future__ import annotations

import itertools
import re

from django.db.models import Count
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from analysis.dnd_wide import read_dnd_wide
from analysis.ratings_io import RatingsImportError, import_ratings_frame, read_ratings_csv
from evaluation.csv_cells import safe_csv_writer
from evaluation.models import Rater, Study
from evaluation.models import Response as RatingResponse
from evaluation.ratings_table import TIDY_COLUMNS, tidy_rating_rows
from evaluation.services import StudyError, change_status, create_study, invite_raters, study_progress

from .. import filters, serializers
from ..idempotency import IDEMPOTENCY_PARAMETER, idempotent
from ..problems import Problem
from ..parsers import FormParser, MultiPartParser
from .common import refused_as, study_for, uploaded_file_on_disk, validated, visible_studies, without_folder

ROW_IN_MESSAGE = re.compile(r", row (\d+): ")


def _with_counts(queryset):
    return queryset.select_related("network").prefetch_related("study_methods__method").annotate(
        neuron_count=Count("study_neurons", distinct=True)
    )


class StudyListView(generics.ListAPIView):
    """The studies you may see; create one with the same validation as `create_study`."""

    serializer_class = serializers.StudySerializer
    filterset_class = filters.StudyFilter
    ordering = "-pk"

    def get_queryset(self):
        return _with_counts(visible_studies(self.request))

    @extend_schema(request=serializers.StudyCreateSerializer, responses={201: serializers.StudySerializer},
                   parameters=[IDEMPOTENCY_PARAMETER])
    def post(self, request):
        return idempotent(request, lambda: self._create(request))

    def _create(self, request):
        options = validated(serializers.StudyCreateSerializer, request.data)
        with refused_as(StudyError, "study-refused"):
            study = create_study(
                options["name"], network=options["network"], methods=options["methods"], layers=options.get("layers"),
                per_layer=options["per_layer"], raters_per_neuron=options["raters_per_neuron"],
                images_per_task=options["images_per_task"], seed=options["seed"],
                explanation_rank=options["explanation_rank"], ask_best=options["ask_best"], title=options["title"],
                instructions=options["instructions"], probe=options.get("probe"), status=options["status"],
                owner=request.user, kind=options["kind"], top_images_per_task=options.get("top_images_per_task"),
                random_images_per_task=options.get("random_images_per_task"),
                attention_check_every=options["attention_check_every"], consistency_prompt=options["consistency_prompt"],
            )
        study = _with_counts(Study.objects.filter(pk=study.pk)).get()
        return Response(serializers.StudySerializer(study).data, status=status.HTTP_201_CREATED)


class StudyDetailView(APIView):
    """One study; PATCH moves it along its life cycle (draft -> open <-> paused -> closed), as the study page does."""

    serializer_class = serializers.StudySerializer

    def get(self, request, name):
        study = study_for(request, name)
        return Response(serializers.StudySerializer(_with_counts(Study.objects.filter(pk=study.pk)).get()).data)

    @extend_schema(request=serializers.StudyStatusSerializer, responses={200: serializers.StudySerializer})
    def patch(self, request, name):
        study = study_for(request, name, change=True)
        with refused_as(StudyError, "status-refused", field="status"):
            change_status(study, validated(serializers.StudyStatusSerializer, request.data)["status"])
        return Response(serializers.StudySerializer(_with_counts(Study.objects.filter(pk=study.pk)).get()).data)


class StudyProgressView(APIView):
    """Responses so far against the target, per layer (what the study page shows)."""

    @extend_schema(responses={200: serializers.StudyProgressSerializer})
    def get(self, request, name):
        return Response(serializers.StudyProgressSerializer(study_progress(study_for(request, name))).data)


class _StudyRowsView(generics.ListAPIView):
    """A list of one study's rows (`rows_of(study)`), for users who may see the study."""

    def rows_of(self, study):
        raise NotImplementedError

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator lists no rows
            return self.serializer_class.Meta.model.objects.none()
        return self.rows_of(study_for(self.request, self.kwargs["name"]))


class InviteView(_StudyRowsView):
    """The study's raters with their links; POST creates personal rater links (`invite_raters`)."""

    serializer_class = serializers.RaterSerializer
    filterset_class = filters.RaterFilter
    ordering = "pk"

    def rows_of(self, study):
        return Rater.objects.filter(study=study)

    @extend_schema(request=serializers.InviteCreateSerializer, responses={201: serializers.InvitedSerializer},
                   parameters=[IDEMPOTENCY_PARAMETER])
    def post(self, request, name):
        return idempotent(request, lambda: self._invite(request, name))

    def _invite(self, request, name):
        study = study_for(request, name, change=True)
        options = validated(serializers.InviteCreateSerializer, request.data)
        with refused_as(StudyError, "invite-refused", field="count"):
            raters = invite_raters(study, options["count"], label_prefix=options["label_prefix"])
        return Response(serializers.InvitedSerializer({"raters": raters}).data, status=status.HTTP_201_CREATED)


class ResponseListView(_StudyRowsView):
    """Stored responses of the study, each with its ratings (method named: researchers may see it); attention checks
    are left out, as in every table and the tidy export (a rater's pass rate is on the study page)."""

    serializer_class = serializers.ResponseSerializer
    filterset_class = filters.ResponseFilter
    ordering = "pk"

    def rows_of(self, study):
        return RatingResponse.objects.filter(study=study, is_check=False).select_related(
            "study_neuron__neuron__layer", "best_item__method"
        ).prefetch_related("ratings__item__method")


class _Echo:
    def write(self, value):
        return value


class RatingsView(APIView):
    """The tidy ratings export (streamed, row by row, as `export_ratings` writes it), and the tidy import
    (as `import_ratings`)."""

    def get_parsers(self):
        if self.request is not None and self.request.method == "POST":
            return [MultiPartParser(), FormParser()]
        return super().get_parsers()

    @extend_schema(responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="Tidy ratings CSV")})
    def get(self, request, name):
        study = study_for(request, name)
        writer = safe_csv_writer(_Echo())
        rows = (writer.writerow(row) for row in itertools.chain([TIDY_COLUMNS], tidy_rating_rows(study)))
        response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{study.name}-ratings.csv"'
        return response

    @extend_schema(request={"multipart/form-data": serializers.RatingsImportSerializer},
                   responses={201: serializers.RatingsImportResultSerializer}, parameters=[IDEMPOTENCY_PARAMETER])
    def post(self, request, name):
        return idempotent(request, lambda: self._import(request, name))

    def _import(self, request, name):
        study = study_for(request, name, change=True)
        options = validated(serializers.RatingsImportSerializer, request.data)
        with uploaded_file_on_disk(options["file"]) as path:
            try:
                result = import_ratings_frame(read_ratings_csv(path), study.name, source=path.name)
            except RatingsImportError as error:
                raise _refused_file(error, path) from None
        return _import_result(result)


def _refused_file(error: RatingsImportError, path) -> Problem:
    message = without_folder(str(error), path)
    errors = []
    for line in message.splitlines():
        row = ROW_IN_MESSAGE.search(line)
        errors.append({"field": "file", "detail": line, **({"row": int(row.group(1))} if row else {})})
    return Problem(422, "file-refused", "Nothing imported.\n" + message, errors=errors)


def _import_result(result) -> Response:
    body = {"study": result.study.name, "responses": result.responses, "ratings": result.ratings,
            "created": result.created, "validity_from_file_differs": result.validity_from_file_differs}
    return Response(serializers.RatingsImportResultSerializer(body).data, status=status.HTTP_201_CREATED)


class StudyImportView(APIView):
    """A new study made from a ratings file (as `import_ratings --create`): network, layers, neurons, methods
    and raters it names are created; all or nothing."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request={"multipart/form-data": serializers.StudyImportSerializer},
                   responses={201: serializers.RatingsImportResultSerializer}, parameters=[IDEMPOTENCY_PARAMETER])
    def post(self, request):
        return idempotent(request, lambda: self._import(request))

    def _import(self, request):
        options = validated(serializers.StudyImportSerializer, request.data)
        if Study.objects.filter(name=options["name"]).exists():
            raise Problem(409, "study-exists", f"a study named {options['name']!r} already exists",
                          errors=[{"field": "name", "detail": "already exists"}])
        with uploaded_file_on_disk(options["file"]) as path:
            try:
                if options["format"] == "dnd-wide":
                    raw = read_dnd_wide(path, network=options["network"])
                else:
                    raw = read_ratings_csv(path)
                result = import_ratings_frame(raw, options["name"], create=True, source=path.name, owner=request.user)
            except RatingsImportError as error:
                raise _refused_file(error, path) from None
        return _import_result(result)
