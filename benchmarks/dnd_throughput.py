"""Describe-and-Dissect throughput: units per second and the time each step takes.

    python benchmarks/dnd_throughput.py [--units 8] [--tiny] [--sd-steps N]

With a GPU and the foundation weights in the local Hugging Face / open_clip caches
it runs the real models (BLIP base, CLIP ViT-B-16, Stable Diffusion v1-4 in fp16)
on a ResNet-50 (torchvision weights if cached, else random weights: the timing is
the same). Otherwise (or with --tiny) it runs tiny random-initialised models on a
small CNN on CPU, which measures the pipeline's overhead, not the models. Without
an LLM configured (OPENAI_API_KEY or NEURONEVAL_LLM_BASE_URL) the LLM is a local
in-process server (httpx.MockTransport) that answers instantly; its time is then
only the client's.
"""
from __future__ import annotations

import argparse
import hashlib
import io
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

import numpy as np  # noqa: E402
import torch  # noqa: E402
from django.core.files.base import ContentFile  # noqa: E402
from django.core.management import call_command  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402
from torchvision import transforms  # noqa: E402

from explain import foundation  # noqa: E402
from explain.foundation import FoundationUnavailable  # noqa: E402
from explain.foundation.tiny import (ChatServer, tiny_blip_captioner, tiny_clip_embedder,  # noqa: E402
                                     tiny_text_to_image)
from explain.methods.base import MethodInput  # noqa: E402
from explain.methods.dnd import DescribeAndDissect  # noqa: E402
from explain.methods.dnd_target import TargetActivations  # noqa: E402
from explain.models import Layer, Network, ProbeDataset, ProbeImage  # noqa: E402

CONCEPTS = ["red squares", "blue circles", "green stripes", "bright textures", "dark corners", "yellow dots"]


def shapes_image(seed, size):
    rng = np.random.RandomState(seed)
    image = Image.new("RGB", (size, size), tuple(int(v) for v in rng.randint(0, 80, 3)))
    draw = ImageDraw.Draw(image)
    for _ in range(3):
        x, y, s = rng.randint(0, size * 3 // 4), rng.randint(0, size * 3 // 4), rng.randint(size // 8, size // 3)
        draw.rectangle([x, y, x + s, y + s], fill=tuple(int(v) for v in rng.randint(60, 255, 3)))
    return image


def mock_answer(body):
    digest = int(hashlib.sha256(body["messages"][-1]["content"].encode()).hexdigest(), 16)
    return CONCEPTS[digest % len(CONCEPTS)]


class MapCache:
    def __init__(self, model, preprocess, layer_name, images, image_ids, device):
        captured = []
        hook = model.get_submodule(layer_name).register_forward_hook(lambda m, i, o: captured.append(o.float().cpu()))
        with torch.no_grad():
            for start in range(0, len(images), 32):
                model(torch.stack([preprocess(im) for im in images[start:start + 32]]).to(device))
        hook.remove()
        self._maps = torch.cat(captured).numpy()
        self.layer_name, self.unit_count, self.image_ids = layer_name, self._maps.shape[1], image_ids

    def summaries(self):
        return self._maps.mean(axis=(2, 3))

    def maps(self):
        return self._maps

    def top_indices(self, k):
        return np.argsort(-self.summaries(), axis=0, kind="stable")[:k].T


class ListProbe:
    def __init__(self, images, image_ids):
        self.name, self._images, self.image_ids = "bench-shapes", images, image_ids
        self.concept_names, self.concept_categories = [], []

    def load_image(self, row):
        return self._images[row]


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
        device, image_size = torch.device("cpu"), 64
        torch.manual_seed(0)
        network_model = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(),
                                            torch.nn.Conv2d(16, 32, 3, stride=2, padding=1), torch.nn.ReLU())
        layer_name, preprocess = "3", transforms.Compose([transforms.Resize((64, 64)), transforms.ToTensor()])
    else:
        import torchvision

        mode = "real foundation models on " + torch.cuda.get_device_name(0)
        device, image_size = torch.device("cuda"), 224
        try:
            network_model = torchvision.models.resnet50(weights="IMAGENET1K_V2")
        except Exception:  # noqa: BLE001 - weights not cached offline; timing does not depend on them
            network_model = torchvision.models.resnet50()
        layer_name = "layer4"
        preprocess = transforms.Compose([transforms.Resize((224, 224)), transforms.ToTensor(),
                                         transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    network_model = network_model.to(device).eval()

    llm_configured = bool(foundation._config().get("llm_api_key") or foundation._config().get("llm_base_url"))
    if llm_configured:
        llm, llm_mode = foundation.get_llm(), f"{foundation.get_llm().model} (cache under var/)"
    else:
        llm, llm_mode = ChatServer(mock_answer).llm(cache_dir=None, max_concurrency=8), "in-process mock server"
    models["llm"] = llm

    network = Network.objects.create(name="bench-network", architecture="bench")
    layer = Layer.objects.create(network=network, name=layer_name)
    dataset = ProbeDataset.objects.create(name="bench-shapes", kind=ProbeDataset.Kind.SYNTHETIC)
    images, ids = [], []
    for index in range(args.probe_images):
        image = shapes_image(index, image_size)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        row = ProbeImage(dataset=dataset, index=index)
        row.image.save(f"bench/{index}.png", ContentFile(buffer.getvalue()), save=True)
        images.append(image)
        ids.append(row.pk)
    cache = MapCache(network_model, preprocess, layer_name, images, ids, device)
    inputs = MethodInput(network=network, layer=layer, probe=ListProbe(images, ids), activations=cache,
                         params={"target": TargetActivations(network_model, preprocess, layer_name, batch_size=64)})
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
