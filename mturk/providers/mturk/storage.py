"""Can MTurk workers load the task images for as long as the HIT lives?"""
from django.conf import settings


class ImageStorageError(Exception):
    pass


def check_images_reachable_for(design):
    """With S3 and presigned URLs, a link signed when the page is rendered must outlive the time a
    worker may keep the page open; with the site's own storage, the site must be public over HTTPS."""
    storage = settings.STORAGES["default"]
    if storage["BACKEND"] != "storages.backends.s3.S3Storage":
        return
    options = storage.get("OPTIONS", {})
    if not options.get("bucket_name"):
        raise ImageStorageError("NEURONEVAL_MEDIA_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME")
    if options.get("querystring_auth", True):
        needed = design.assignment_duration_seconds
        # The page may be rendered at preview and then kept open through the whole HIT lifetime.
        needed = max(needed, design.lifetime_seconds)
        expire = options.get("querystring_expire", 3600)
        if expire < needed:
            raise ImageStorageError(
                f"presigned image URLs expire after {expire} s but the HIT lives {needed} s: "
                f"set AWS_QUERYSTRING_EXPIRE to at least {needed} (S3 allows up to 604800 s) or shorten the HIT"
            )
