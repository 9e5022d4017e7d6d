"""The OpenAPI schema: every operation documents the problem documents it can answer with."""
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from .problems import PROBLEM_CONTENT_TYPE


class FieldErrorSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="The field, header or file the error is about; empty for the whole request.")
    detail = serializers.CharField()
    row = serializers.IntegerField(required=False, help_text="1-based data row of an uploaded file.")


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details."""

    type = serializers.CharField(help_text="A URI reference naming the kind of problem.")
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    errors = FieldErrorSerializer(many=True)


# What any operation may answer besides its success; writes add the rest.
READ_PROBLEMS = (400, 401, 403, 404, 406, 422)
WRITE_PROBLEMS = READ_PROBLEMS + (409, 413, 415)


class ProblemAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        codes = READ_PROBLEMS if self.method in ("GET", "HEAD") else WRITE_PROBLEMS
        problem = self._get_response_for_code(
            OpenApiResponse(ProblemSerializer, description="Problem details (RFC 9457)"), "400",
            media_types=[PROBLEM_CONTENT_TYPE], direction=direction,
        )
        for code in codes:
            responses.setdefault(str(code), problem)
        return responses


