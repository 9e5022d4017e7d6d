"""A study's analysis, with the options of the analysis commands: the same services, the same numbers."""
from __future__ import annotations

import json

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from analysis import stats
from analysis.frames import metric_scores_frame, ratings_frame
from analysis.services import NoResponses, Selection, agreement_for_study, comparison_for_frame, pairwise_for_frame
from analysis.tables import render_comparison, render_frame
from explain.lookups import comma_list

from .. import serializers
from ..problems import Problem
from .common import study_for, validated


def _analysed(request, name, analyse, query=serializers.AnalysisQuerySerializer):
    """`analyse(frame, selection, **resampling)` on the study's ratings with the request's options; a refused
    selection or an empty study becomes a problem."""
    study = study_for(request, name)
    options = validated(query, request.query_params)
    selection = Selection(
        include_invalid=options["include_invalid"], exclude_flagged=options["exclude_flagged"],
        methods=comma_list(options["methods"]) or None, exclude_raters=comma_list(options["exclude_raters"]),
        include_excluded=options["include_excluded"], ignore_policy=options["ignore_policy"],
    )
    resampling = {} if query is serializers.SelectionQuerySerializer else {
        "by_layer": options.get("by") == "layer", "n_resamples": options.get("bootstrap", stats.DEFAULT_RESAMPLES),
        "seed": options.get("seed", stats.DEFAULT_SEED),
    }
    try:
        return analyse(study, ratings_frame(study), selection, **resampling)
    except NoResponses as error:
        raise Problem(422, "no-responses", str(error)) from None
    except ValueError as error:
        raise Problem(400, "invalid-request", str(error), errors=[{"field": "methods", "detail": str(error)}]) from None


def _records(json_text: str):
    # The analysis' own JSON rendering, so numbers are exactly those the commands print.
    return json.loads(json_text)


class ComparisonView(APIView):
    """Per-method mean rating (t and neuron-bootstrap CIs) and best-selection rate (Wilson CI): the rows of
    `comparison_table --format json` with the same options."""

    @extend_schema(parameters=[serializers.AnalysisQuerySerializer],
                   responses={200: serializers.ComparisonRowSerializer(many=True)})
    def get(self, request, name):
        def comparison(study, frame, selection, **resampling):
            table = comparison_for_frame(frame, selection, metric_scores=metric_scores_frame(study), **resampling)
            if table.empty:
                raise NoResponses(f"study {study.name!r} has no responses to analyse with these options")
            return table

        return Response(_records(render_comparison(_analysed(request, name, comparison), "json")))


class PairwiseView(APIView):
    """Every pair of methods on the same responses (`compare_methods --format json`)."""

    @extend_schema(parameters=[serializers.AnalysisQuerySerializer],
                   responses={200: serializers.PairwiseRowSerializer(many=True)})
    def get(self, request, name):
        table = _analysed(request, name, lambda study, frame, selection, **resampling: pairwise_for_frame(
            frame, selection, **resampling))
        return Response(_records(render_frame(table, "json")))


class AgreementView(APIView):
    """Krippendorff's alpha, best-pick agreement, per-rater summary, position bias and every rater's quality signals
    with the exclusion policy's verdict (`rater_agreement --format json`)."""

    @extend_schema(parameters=[serializers.SelectionQuerySerializer], responses={200: serializers.AgreementSerializer})
    def get(self, request, name):
        sections = _analysed(request, name, lambda study, frame, selection: agreement_for_study(study, frame, selection),
                             query=serializers.SelectionQuerySerializer)
        return Response({title: _records(render_frame(table, "json")) for title, table in sections.items()})
