"""Describe-and-Dissect throughput: units per second and the time each step takes.

    python benchmarks/dnd_throughput.py [--units 8] [--tiny] [--sd-steps N]

With a GPU and the foundation weights in the local Hugging Face / open_clip caches
it runs the real models (BLIP base, CLIP ViT-B-16, Stable Diffusion v1-4 in fp16)
on ResNet-50 layer4 (torchvision weights if cached, else random weights: the timing
is the same). Otherwise (or with --tiny) it runs tiny random-initialised models on
the demo CNN's conv3 on CPU, which measures the pipeline's overhead, not the models.
Probe images: the project's synthetic probing set. Without
an LLM configured (OPENAI_API_KEY or NEURONEVAL_LLM_BASE_URL) the LLM is a local
in-process server (httpx.MockTransport) that answers instantly; its time is then
only the client's.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("NEURONEVAL_VAR_DIR", tempfile.mkdtemp(prefix="dnd-bench-"))
os.environ.pop("DATABASE_URL", None)

import django  # noqa: E402

django.setup()

import torch  # noqa: E402
from django.core.management import call_command  # noqa: E402

import foundation  # noqa: E402
from explain.activations import get_activation_cache  # noqa: E402
from foundation import FoundationUnavailable  # noqa: E402
from tests.fakes.played_openai import ChatServer  # noqa: E402
from tests.fakes.tiny_models import tiny_blip_captioner, tiny_clip_embedder, tiny_text_to_image  # noqa: E402
from explain.methods.base import MethodInput  # noqa: E402
from explain.methods.dnd import DescribeAndDissect  # noqa: E402
from explain.models import Layer, Network  # noqa: E402
from explain.probes import get_probe_set  # noqa: E402
from demo.synthetic import SyntheticConfig, ensure_synthetic_probe  # noqa: E402

CONCEPTS = ["red squares", "blue circles", "green stripes", "bright textures", "dark corners", "yellow dots"]


def mock_answer(body):
    digest = int(hashlib.sha256((body["messages"][-1]["content"] + str(body.get("seed"))).encode()).hexdigest(), 16)
    return CONCEPTS[digest % len(CONCEPTS)]


def real_models(sd_steps):
    try:
        models = dict(captioner=foundation.get_captioner(), clip=foundation.get_clip(),
                      text_to_image=foundation.get_text_to_image())
    except FoundationUnavailable as error:
        return None, str(error)
    if sd_steps:
        models["text_to_image"].num_inference_steps = sd_steps
    return models, ""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=8)
    parser.add_argument("--probe-images", type=int, default=64)
    parser.add_argument("--tiny", action="store_true", help="tiny models on CPU even when a GPU is present")
    parser.add_argument("--sd-steps", type=int, default=0, help="override the Stable Diffusion step count")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)

    use_gpu = torch.cuda.is_available() and not args.tiny
    models, why_not = real_models(args.sd_steps) if use_gpu else (None, "no GPU" if not args.tiny else "--tiny")
    tmp = Path(tempfile.mkdtemp(prefix="dnd-bench-models-"))
    if models is None:
        mode = f"tiny random-initialised models on CPU ({why_not})"
        models = dict(captioner=tiny_blip_captioner(tmp), clip=tiny_clip_embedder(),
                      text_to_image=tiny_text_to_image(tmp, num_inference_steps=args.sd_steps or 2))
        network = Network.objects.create(name="demo-cnn", architecture="demo-cnn", weights_source="random:0")
        layer_name, probe_size = "conv3", 64
    else:
        mode = "real foundation models on " + torch.cuda.get_device_name(0)
        # ImageNet weights when torchvision has them cached; the timing does not depend on the weights.
        weights_cached = any(Path(torch.hub.get_dir(), "checkpoints").glob("resnet50-*.pth"))
        network = Network.objects.create(name="resnet50", architecture="resnet50",
                                         weights_source="torchvision:IMAGENET1K_V2" if weights_cached else "random:0")
        layer_name, probe_size = "layer4", 224
    llm_configured = bool(foundation._config().get("llm_api_key") or foundation._config().get("llm_base_url"))
    if llm_configured:
        llm, llm_mode = foundation.get_llm(), f"{foundation.get_llm().model} (cache under var/)"
    else:
        llm, llm_mode = ChatServer(mock_answer).llm(cache_dir=None, max_concurrency=8), "in-process mock server"
    models["llm"] = llm

    layer = Layer.objects.create(network=network, name=layer_name)
    dataset = ensure_synthetic_probe("bench-shapes", seed=0,
                                     config=SyntheticConfig(n_images=args.probe_images, size=probe_size))
    cache = get_activation_cache(network, dataset, layer_name, top_k=10)
    inputs = MethodInput(network=network, layer=layer, probe=get_probe_set(dataset), activations=cache)
    units = list(range(min(args.units, cache.unit_count)))

    method = DescribeAndDissect()
    with foundation.override(**models):
        start = time.perf_counter()
        records = method.explain(inputs, units)
        total = time.perf_counter() - start

    print(f"Describe-and-Dissect throughput: {mode}; LLM: {llm_mode}")
    print(f"units: {len(units)}  labels: {len(records)}  total: {total:.2f} s  "
          f"units/s: {len(units) / total:.3f}  s/unit: {total / len(units):.2f}")
    print(f"{'step':<22}{'seconds':>10}{'share':>9}{'s/unit':>9}")
    for step, seconds in method.timings.items():
        print(f"{step:<22}{seconds:>10.2f}{seconds / total:>9.1%}{seconds / len(units):>9.2f}")
    other = total - sum(method.timings.values())
    print(f"{'other':<22}{other:>10.2f}{other / total:>9.1%}{other / len(units):>9.2f}")
    print("reference implementation: about 39 s/unit on a V100 (models reloaded per unit)")


if __name__ == "__main__":
    main()
