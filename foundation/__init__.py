"""Shared foundation models: each is loaded once per process, on first use, by its public id.

Methods never load a model themselves; they call `get_captioner()`, `get_clip()`,
`get_text_to_image()`, `get_llm()` or `get_text_embedder()`. Settings come from
`settings.FOUNDATION` (environment variables, see config/settings.py). Tests hand in
tiny models with `set_*` or the `override(...)` context manager.
"""
from __future__ import annotations

import contextlib
import threading
from pathlib import Path

from .errors import FoundationUnavailable

_instances: dict[str, object] = {}
_lock = threading.RLock()

KINDS = ("captioner", "clip", "text_to_image", "llm", "text_embedder")


def _config() -> dict:
    from django.conf import settings

    return dict(getattr(settings, "FOUNDATION", {}))


def _device():
    from .device import pick_device

    return pick_device(_config().get("device", "auto"))


def _load_captioner():
    from .captioner import BlipCaptioner
    from .device import pick_dtype

    config, device = _config(), _device()
    return BlipCaptioner.from_pretrained(
        config.get("captioner", "Salesforce/blip-image-captioning-base"), device, pick_dtype(device),
        batch_size=int(config.get("captioner_batch_size", 32)),
    )


def _load_clip():
    from .vision_language import ClipEmbedder

    config = _config()
    return ClipEmbedder.from_pretrained(
        config.get("clip_model", "ViT-B-16"), config.get("clip_pretrained", "openai"), _device(),
        batch_size=int(config.get("clip_batch_size", 256)),
    )


def _load_text_to_image():
    from .device import pick_dtype
    from .text_to_image import TextToImage

    config, device = _config(), _device()
    return TextToImage.from_pretrained(
        config.get("text_to_image", "CompVis/stable-diffusion-v1-4"), device, pick_dtype(device),
        scheduler=config.get("sd_scheduler", "DPMSolverMultistepScheduler"),
        num_inference_steps=int(config.get("sd_steps", 50)),
        batch_size=int(config.get("sd_batch_size", 16)),
    )


def _load_llm():
    from django.conf import settings

    from .llm import ChatLLM

    config = _config()
    base_url = config.get("llm_base_url") or None
    api_key = config.get("llm_api_key") or None
    if api_key is None and base_url is None:
        raise FoundationUnavailable(
            "LLM is unavailable: set OPENAI_API_KEY (or NEURONEVAL_LLM_API_KEY), or NEURONEVAL_LLM_BASE_URL "
            "for a local OpenAI-compatible server (vLLM, Ollama)."
        )
    cache_dir = config.get("llm_cache_dir") or Path(settings.VAR_DIR) / "llm-cache"
    return ChatLLM.from_settings(
        model=config.get("llm_model", "gpt-4o-mini"), base_url=base_url,
        # Local servers accept any key; the SDK insists on one.
        api_key=api_key or "not-needed",
        timeout=float(config.get("llm_timeout", 60)), max_retries=int(config.get("llm_max_retries", 5)),
        cache_dir=cache_dir, max_concurrency=int(config.get("llm_concurrency", 8)),
    )


def _load_text_embedder():
    from .text_embedder import TextEmbedder

    config = _config()
    return TextEmbedder.from_pretrained(
        config.get("text_embedder", "sentence-transformers/all-mpnet-base-v2"), _device(),
        batch_size=int(config.get("text_embedder_batch_size", 64)),
    )


_LOADERS = {
    "captioner": _load_captioner,
    "clip": _load_clip,
    "text_to_image": _load_text_to_image,
    "llm": _load_llm,
    "text_embedder": _load_text_embedder,
}


def _get(kind: str):
    with _lock:
        if kind not in _instances:
            try:
                _instances[kind] = _LOADERS[kind]()
            except FoundationUnavailable:
                raise
            except (OSError, ImportError, ValueError) as error:
                # Missing weights offline surface as OSError from from_pretrained.
                raise FoundationUnavailable(f"{kind} could not be loaded: {error}") from error
        return _instances[kind]


def get_captioner():
    """BlipCaptioner: `caption(images) -> list[str]`."""
    return _get("captioner")


def get_clip():
    """ClipEmbedder: `encode_images(images)`, `encode_texts(texts)`, normalised."""
    return _get("clip")


def get_text_to_image():
    """TextToImage: `generate(prompts, seeds) -> list[PIL.Image]`."""
    return _get("text_to_image")


def get_llm():
    """ChatLLM: `chat(messages, temperature=...) -> str`, `chat_many(...)`, cached."""
    return _get("llm")


def get_text_embedder():
    """TextEmbedder: `encode(texts) -> normalised (n, d) array`."""
    return _get("text_embedder")


def _set(kind: str, instance):
    with _lock:
        if instance is None:
            _instances.pop(kind, None)
        else:
            _instances[kind] = instance


def set_captioner(instance):
    _set("captioner", instance)


def set_clip(instance):
    _set("clip", instance)


def set_text_to_image(instance):
    _set("text_to_image", instance)


def set_llm(instance):
    _set("llm", instance)


def set_text_embedder(instance):
    _set("text_embedder", instance)


def reset():
    """Forget every loaded model (the next get_* loads again)."""
    with _lock:
        _instances.clear()


@contextlib.contextmanager
def override(**instances):
    """`with override(captioner=tiny, llm=fake): ...` then restore what was there before."""
    unknown = set(instances) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown foundation kinds: {sorted(unknown)}; known: {KINDS}")
    with _lock:
        previous = {kind: _instances.get(kind) for kind in instances}
        for kind, instance in instances.items():
            _set(kind, instance)
    try:
        yield
    finally:
        with _lock:
            for kind, instance in previous.items():
                _set(kind, instance)


__all__ = [
    "FoundationUnavailable", "get_captioner", "get_clip", "get_text_to_image", "get_llm", "get_text_embedder",
    "set_captioner", "set_clip", "set_text_to_image", "set_llm", "set_text_embedder", "reset", "override",
]
