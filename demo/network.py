"""The offline demo's target network: a small CNN trained on the synthetic set.

Task: multi-label concept presence. From a 64x64 synthetic image the network
predicts, for each of the 15 concepts (8 colours, 3 textures, 4 shapes),
whether it is visible. Telling "red" from "orange", "dots" from "checkers" and
a square from a cross needs colour, texture and shape detectors, so its
hidden units acquire real, varied selectivity for dissection to find.

Training images come from the generator's training stream (same seed, disjoint
from the stored probing images), so the probing set doubles as a held-out test
set. Everything is seeded and runs on the CPU, so a seed gives the same weights.
"""
from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from torchvision import transforms

NETWORK_NAME = "demo-cnn"
INPUT_SIZE = 64


class DemoCNN(nn.Module):
    """Four conv blocks (3x3 conv, batch norm, ReLU), global max pooling, linear head.

    The first three convolutions have stride 2 instead of a pooling layer: on a
    CPU that halves the training time. The head max-pools because "is there a
    circle anywhere" is a max question: with average pooling a small shape's
    evidence was diluted by the background and shape accuracy stayed at chance.
    Layers to dissect: conv1 (16 units, 32x32), conv2 (32, 16x16), conv3 (64, 8x8), conv4 (64, 8x8).
    """

    def __init__(self, num_outputs: int = 15, widths=(16, 32, 64, 64)):
        super().__init__()
        blocks = []
        in_channels = 3
        for i, width in enumerate(widths, start=1):
            stride = 2 if i < len(widths) else 1
            layers = [
                ("conv", nn.Conv2d(in_channels, width, kernel_size=3, stride=stride, padding=1, bias=False)),
                ("bn", nn.BatchNorm2d(width)),
                ("relu", nn.ReLU(inplace=False)),
            ]
            blocks.append((f"conv{i}", nn.Sequential(OrderedDict(layers))))
            in_channels = width
        for name, block in blocks:
            self.add_module(name, block)
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.fc = nn.Linear(in_channels, num_outputs)
        self.block_names = [name for name, _ in blocks]

    def forward(self, x):
        for name in self.block_names:
            x = getattr(self, name)(x)
        return self.fc(torch.flatten(self.pool(x), 1))


def demo_preprocess():
    return transforms.Compose(
        [
            transforms.Resize((INPUT_SIZE, INPUT_SIZE), antialias=True),
            transforms.ToTensor(),
            transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
        ]
    )


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (n, h, w, 3) -> normalised float (n, 3, h, w), as demo_preprocess does for one PIL image."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div(255.0).sub(0.5).div(0.5)


@dataclass(frozen=True)
class DemoTrainingConfig:
    training_images: int = 3000
    epochs: int = 6
    batch_size: int = 64
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    # One thread: on a shared 2-core machine OpenMP's second thread mostly waits (8x slower measured).
    threads: int = 1
    # Bumped whenever the training code changes, so old weight files are not reused.
    recipe: int = 2

    def fingerprint(self, seed: int) -> str:
        from demo.synthetic import GENERATOR_VERSION

        payload = json.dumps({"seed": seed, "generator": GENERATOR_VERSION, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:10]


def train_demo_network(seed: int = 0, config: DemoTrainingConfig = DemoTrainingConfig(), show_progress=False):
    """(trained DemoCNN in eval mode, metrics dict). Deterministic for a seed on the CPU."""
    from tqdm import tqdm

    from demo.synthetic import CONCEPT_NAMES, PROBE_STREAM, TRAINING_STREAM, SyntheticConfig, generate_batch

    previous_threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        started = time.perf_counter()
        images, presence, _ = generate_batch(seed, config.training_images, SyntheticConfig(), stream=TRAINING_STREAM)
        inputs, targets = images_to_tensor(images), torch.from_numpy(presence)

        torch.manual_seed(seed)
        model = DemoCNN(num_outputs=len(CONCEPT_NAMES))
        optimiser = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
        steps_per_epoch = int(np.ceil(len(inputs) / config.batch_size))
        loss_function = nn.BCEWithLogitsLoss()
        order_generator = torch.Generator().manual_seed(seed)
        model.train()
        progress = tqdm(total=config.epochs * steps_per_epoch, desc="training demo-cnn", disable=not show_progress)
        for _ in range(config.epochs):
            order = torch.randperm(len(inputs), generator=order_generator)
            for start in range(0, len(inputs), config.batch_size):
                batch = order[start : start + config.batch_size]
                loss = loss_function(model(inputs[batch]), targets[batch])
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                progress.update(1)
                progress.set_postfix(loss=f"{loss.item():.3f}")
        progress.close()
        model.eval()
        training_seconds = time.perf_counter() - started

        test_images, test_presence, _ = generate_batch(seed, 800, SyntheticConfig(), stream=PROBE_STREAM)
        metrics = evaluate(model, images_to_tensor(test_images), torch.from_numpy(test_presence))
        metrics["training_seconds"] = round(training_seconds, 1)
        metrics["final_training_loss"] = round(float(loss.item()), 4) if config.epochs else None
        return model, metrics
    finally:
        torch.set_num_threads(previous_threads)


def evaluate(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> dict:
    """Concept-presence accuracy on held-out images: per concept, mean over concepts, all concepts right."""
    from demo.synthetic import CONCEPT_NAMES

    with torch.inference_mode():
        predicted = torch.cat([model(inputs[i : i + 256]) for i in range(0, len(inputs), 256)]) > 0
    correct = predicted == targets.bool()
    per_concept = correct.float().mean(0)
    return {
        "test_images": int(len(inputs)),
        "mean_concept_accuracy": round(float(per_concept.mean()), 4),
        "exact_match_accuracy": round(float(correct.all(1).float().mean()), 4),
        "per_concept_accuracy": {name: round(float(a), 4) for name, a in zip(CONCEPT_NAMES, per_concept)},
    }


def ensure_demo_network(seed: int = 0, config: DemoTrainingConfig | None = None, show_progress=False):
    """The `demo-cnn` Network, trained and saved as a state dict on first use. Idempotent."""
    from django.conf import settings

    from explain.models import Network
    from explain.networks import resolve_weights_path
    from demo.synthetic import CONCEPT_NAMES

    config = config or DemoTrainingConfig()
    relative = f"networks/{NETWORK_NAME}-seed{seed}-{config.fingerprint(seed)}.pt"
    network = Network.objects.filter(name=NETWORK_NAME).first()
    if network is not None and network.weights_source != relative:
        raise ValueError(
            f"network {NETWORK_NAME!r} already exists with weights {network.weights_source!r}, "
            f"not the ones for seed {seed} and this training configuration ({relative})"
        )
    path = resolve_weights_path(relative)
    metrics_path = path.with_suffix(".json")
    if not path.exists():
        model, metrics = train_demo_network(seed, config, show_progress=show_progress)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        torch.save(model.state_dict(), partial)
        partial.replace(path)
        metrics_path.write_text(json.dumps({"seed": seed, "config": asdict(config), **metrics}, indent=2))
    metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
    if network is None:
        network = Network.objects.create(
            name=NETWORK_NAME,
            architecture="demo-cnn",
            weights_source=relative,
            class_names=list(CONCEPT_NAMES),
            description=(
                f"Small CNN trained (seed {seed}) to tell which synthetic concepts an image shows. "
                f"Held-out mean concept accuracy {metrics.get('mean_concept_accuracy')}, "
                f"exact match {metrics.get('exact_match_accuracy')}, trained in {metrics.get('training_seconds')} s. "
                f"Weights: {relative} under {settings.VAR_DIR}."
            ),
        )
    return network
