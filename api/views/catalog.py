"""Networks, probing sets, methods, explanations and explain jobs: thin wrappers around explain's services."""
from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db.models import Count
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.response import Response

from explain.importers import ImportFileError, import_explanations
from explain.jobs import JobError, create_job, load_methods, method_params
from explain.models import Explanation, Job, Method, Network, ProbeDataset
from explain.probes import ProbeImportError, import_broden_folder, import_image_folder

from .. import filters, serializers
from ..idempotency import IDEMPOTENCY_PARAMETER, idempotent
from ..problems import Problem
from ..parsers import FormParser, MultiPartParser
from .common import ByNameViewSet, refused_as, uploaded_file_on_disk, validated, without_folder


class NetworkViewSet(ByNameViewSet):
    """Target networks and their layers; POST registers one (`add_network`)."""

    queryset = Network.objects.prefetch_related("layers")
    serializer_class = serializers.NetworkSerializer
    filterset_class = filters.NetworkFilter

    @extend_schema(request=serializers.NetworkCreateSerializer, responses={201: serializers.NetworkSerializer},
                   parameters=[IDEMPOTENCY_PARAMETER])
    def create(self, request):
        return idempotent(request, lambda: self._add(request))

    def _add(self, request):
        # Imported here, as explain.jobs does: they load torch, which every web worker would otherwise pay at start-up.
        from explain.network_services import add_network
        from explain.networks import NetworkError

        options = validated(serializers.NetworkCreateSerializer, request.data)
        weights = options["weights"].strip()
        if weights and not weights.startswith(("random:", "torchvision:")):
            weights = str(_server_path(weights, "weights", want_folder=False))
        with refused_as(NetworkError, "network-refused"):
            network = add_network(
                options["name"], options["architecture"], weights, class_names=options.get("class_names"),
                preprocessing=options.get("preprocessing"), description=options["description"],
            )
        return Response(self.get_serializer(self.get_queryset().get(pk=network.pk)).data, status=status.HTTP_201_CREATED)


class ProbeDatasetViewSet(ByNameViewSet):
    """Probing sets; a folder already on the server can be imported (`import_probes`)."""

    queryset = ProbeDataset.objects.annotate(image_count=Count("images"))
    serializer_class = serializers.ProbeDatasetSerializer
    filterset_class = filters.ProbeDatasetFilter

    @extend_schema(request=serializers.ProbeFolderImportSerializer, responses={201: serializers.ProbeDatasetSerializer},
                   parameters=[IDEMPOTENCY_PARAMETER])
    def create(self, request):
        return idempotent(request, lambda: self._import_folder(request))

    def _import_folder(self, request):
        options = validated(serializers.ProbeFolderImportSerializer, request.data)
        folder = _server_path(options["path"], "path", want_folder=True)
        with refused_as(ProbeImportError, "probe-import-refused", field="path"):
            if options["format"] == "broden":
                dataset = import_broden_folder(folder, options["name"], limit=options.get("limit"))
            else:
                dataset = import_image_folder(folder, options["name"])
        dataset = self.get_queryset().get(pk=dataset.pk)
        return Response(self.get_serializer(dataset).data, status=status.HTTP_201_CREATED)


def _server_path(given: str, field: str, want_folder: bool) -> Path:
    """A folder (or file) inside one of settings.API_SERVER_FOLDERS: the API never reads elsewhere on the server."""
    roots = [Path(root).resolve() for root in settings.API_SERVER_FOLDERS]
    candidate = Path(given)
    for root in roots:
        try:
            path = (root / candidate).resolve()
            inside = path == root or root in path.parents
            if inside and (path.is_dir() if want_folder else path.is_file()):
                return path
        except (OSError, ValueError):  # a name no file system accepts (NUL bytes, too long)
            break
    kind = "folder" if want_folder else "file"
    allowed = ", ".join(str(root) for root in roots) or "none configured"
    raise Problem(422, f"{kind}-not-allowed", f"{given!r} is not a {kind} inside the server folders the API may read "
                  f"({allowed}; set NEURONEVAL_API_SERVER_FOLDERS)", errors=[{"field": field, "detail": "not allowed"}])


class MethodViewSet(ByNameViewSet):
    """Explanation methods known to the platform (generated, imported and controls)."""

    queryset = Method.objects.all()
    serializer_class = serializers.MethodSerializer
    filterset_class = filters.MethodFilter


class ExplanationViewSet(viewsets.ReadOnlyModelViewSet):
    """Explanations, filtered by network, layer, method and unit; a file in any import format can be uploaded."""

    queryset = Explanation.objects.select_related("neuron__layer__network", "method")
    serializer_class = serializers.ExplanationSerializer
    filterset_class = filters.ExplanationFilter
    ordering = "pk"

    def get_parsers(self):
        if getattr(self, "action", None) == "create":
            return [MultiPartParser(), FormParser()]
        return super().get_parsers()

    @extend_schema(request={"multipart/form-data": serializers.ExplanationUploadSerializer},
                   responses={201: serializers.ExplanationImportResultSerializer}, parameters=[IDEMPOTENCY_PARAMETER])
    def create(self, request):
        return idempotent(request, lambda: self._import(request))

    def _import(self, request):
        options = validated(serializers.ExplanationUploadSerializer, request.data)
        with uploaded_file_on_disk(options["file"]) as path:
            try:
                result = import_explanations(
                    path, options["network"], options["method"], options["format"],
                    layer=options.get("layer") or None, architecture=options.get("architecture"),
                )
            except ImportFileError as error:
                where = {"field": "file", "detail": error.reason}
                if isinstance(error.row, int):
                    where["row"] = error.row
                elif error.row == "header":
                    where["detail"] = f"header: {error.reason}"
                raise Problem(422, "file-refused", "Nothing imported. " + without_folder(str(error), path),
                              errors=[where]) from None
            except ValueError as error:  # arguments the service refuses (format, layer, architecture)
                raise Problem(422, "import-refused", "Nothing imported. " + without_folder(str(error), path),
                              errors=[{"field": "", "detail": without_folder(str(error), path)}]) from None
        body = {"network": result.network, "method": result.method, "source_file": result.source_file,
                "per_layer": result.per_layer, "count": result.count, "replaced": result.replaced}
        return Response(serializers.ExplanationImportResultSerializer(body).data, status=status.HTTP_201_CREATED)


class JobViewSet(viewsets.ReadOnlyModelViewSet):
    """Explain jobs: submit one, then follow its status and progress."""

    queryset = Job.objects.all()
    serializer_class = serializers.JobSerializer
    filterset_class = filters.JobFilter
    ordering = "-pk"

    @extend_schema(request=serializers.JobCreateSerializer, responses={202: serializers.JobSerializer},
                   parameters=[IDEMPOTENCY_PARAMETER])
    def create(self, request):
        return idempotent(request, lambda: self._submit(request))

    def _submit(self, request):
        from explain.tasks import run_explain_task

        options = validated(serializers.JobCreateSerializer, request.data)
        problems = []
        if not Network.objects.filter(name=options["network"]).exists():
            problems.append({"field": "network", "detail": f"no network named {options['network']!r}"})
        if not ProbeDataset.objects.filter(name=options["probe"]).exists():
            problems.append({"field": "probe", "detail": f"no probing set named {options['probe']!r}"})
        try:
            methods = load_methods(options["methods"])
        except JobError as error:
            problems.append({"field": "methods", "detail": str(error)})
        else:
            # The params the run would refuse (unknown names, bad values, a control without a source): refused now,
            # with the same check the job makes before any work starts, rather than as a failed job.
            for method in methods:
                try:
                    method_params(method, options["methods"], options["method_params"])
                except JobError as error:
                    problems.append({"field": f"method_params.{method.name}", "detail": str(error)})
                    break
        if problems:
            raise Problem(422, "job-refused", "; ".join(p["detail"] for p in problems), errors=problems)
        job = create_job(
            options["network"], options["probe"], options["layers"], options["methods"], options["top_k"],
            options["summary"], method_params=options["method_params"], store_maps=options["store_maps"],
        )
        # With a broker the job waits for a GPU worker; without one (the embedded default) it runs here, now.
        result = run_explain_task.delay(job.pk)
        Job.objects.filter(pk=job.pk).update(celery_task_id=result.id or "")
        job.refresh_from_db()
        return Response(self.get_serializer(job).data, status=status.HTTP_202_ACCEPTED)
