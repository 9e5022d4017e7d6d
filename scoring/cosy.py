"""CoSy (Kopf et al., NeurIPS 2024): score an explanation by images generated from it.

Steps, as in the paper:
1. turn the explanation into prompts and generate `images_per_explanation` images with a text-to-image model;
2. record the unit's activations on those images and on control images (natural images with no link to
   the explanation: here a seeded random sample of the probing set);
3. score how well the unit tells the generated images from the control images:
   AUC (ROC AUC, generated = positive) and MAD, the mean activation difference in units of the control
   activations' standard deviation.

The maths is plain functions of activation arrays; `cosy_jobs` wires the adapters and the network in.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import roc_auc_score


@dataclass(frozen=True)
class CosyParams:
    images_per_explanation: int = 50  # the paper generates 50 images per explanation
    control_images: int = 500
    prompt_template: str = "a realistic photo of {}"  # the paper's photo-style prompt
    seed: int = 0
    summary: str = "mean"


def prompts_for(explanation: str, params: CosyParams) -> list[str]:
    return [params.prompt_template.format(explanation.strip())] * params.images_per_explanation


def cosy_auc(generated: np.ndarray, control: np.ndarray) -> float:
    """ROC AUC of the unit's activation at telling generated (positive) from control images."""
    generated, control = np.asarray(generated, dtype=np.float64), np.asarray(control, dtype=np.float64)
    if not len(generated) or not len(control):
        raise ValueError("CoSy needs at least one generated and one control image")
    labels = np.concatenate([np.ones(len(generated)), np.zeros(len(control))])
    return float(roc_auc_score(labels, np.concatenate([generated, control])))


def cosy_mad(generated: np.ndarray, control: np.ndarray) -> float:
    """(mean on generated - mean on control) / std on control; 0 when the control activations are constant
    and the means agree, +-inf never (a constant control with a different mean scores the raw difference)."""
    generated, control = np.asarray(generated, dtype=np.float64), np.asarray(control, dtype=np.float64)
    if not len(generated) or not len(control):
        raise ValueError("CoSy needs at least one generated and one control image")
    difference = generated.mean() - control.mean()
    spread = control.std()
    return float(difference / spread) if spread > 0 else float(difference)
