"""Media served by the embedded default: only images. Concept masks (.npz) and any other stored file stay private."""
from pathlib import PurePosixPath

from django.conf import settings
from django.http import Http404
from django.views.static import serve

# What rating pages and researcher pages show: probe images and generated (text-to-image) images.
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif"})


def serve_image(request, path):
    if PurePosixPath(path).suffix.lower() not in IMAGE_SUFFIXES:
        raise Http404("Not an image")
    return serve(request, path, document_root=settings.MEDIA_ROOT)
