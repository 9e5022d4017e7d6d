"""Text-to-image: a diffusers Stable Diffusion pipeline, batched, one seeded generator per image."""
from __future__ import annotations

from typing import Sequence

import torch
from tqdm.auto import tqdm


def make_scheduler(name: str, config):
    """A diffusers scheduler class by name (e.g. DPMSolverMultistepScheduler), built from the pipeline's config."""
    import diffusers

    scheduler_class = getattr(diffusers, name, None)
    if scheduler_class is None or not hasattr(scheduler_class, "from_config"):
        raise ValueError(f"unknown diffusers scheduler {name!r}")
    return scheduler_class.from_config(config)


class TextToImage:
    """`generate(prompts, seeds) -> list[PIL.Image]`: image i comes from prompts[i] with seeds[i].

    Each image has its own generator, so an image depends only on its prompt and
    seed, never on what else shares its batch.
    """

    def __init__(self, pipeline, device: torch.device | str = "cpu", num_inference_steps: int = 50,
                 guidance_scale: float = 7.5, batch_size: int = 16, height: int | None = None,
                 width: int | None = None, model_id: str = ""):
        self.device = torch.device(device)
        self.pipeline = pipeline.to(self.device)
        self.pipeline.set_progress_bar_config(disable=True)
        self.num_inference_steps = num_inference_steps
        self.guidance_scale = guidance_scale
        self.batch_size = batch_size
        self.height = height
        self.width = width
        self.model_id = model_id

    @classmethod
    def from_pretrained(cls, model_id: str, device: torch.device, dtype: torch.dtype, scheduler: str = "",
                        num_inference_steps: int = 50, batch_size: int = 16):
        from diffusers import StableDiffusionPipeline

        pipeline = StableDiffusionPipeline.from_pretrained(model_id, torch_dtype=dtype, safety_checker=None,
                                                           requires_safety_checker=False)
        if scheduler:
            pipeline.scheduler = make_scheduler(scheduler, pipeline.scheduler.config)
        return cls(pipeline, device=device, num_inference_steps=num_inference_steps, batch_size=batch_size,
                   model_id=model_id)

    def set_scheduler(self, name: str):
        self.pipeline.scheduler = make_scheduler(name, self.pipeline.scheduler.config)

    @torch.inference_mode()
    def generate(self, prompts: Sequence[str], seeds: Sequence[int], num_inference_steps: int | None = None) -> list:
        if len(prompts) != len(seeds):
            raise ValueError(f"{len(prompts)} prompts but {len(seeds)} seeds")
        generator_device = "cpu" if self.device.type == "mps" else self.device
        images = []
        starts = range(0, len(prompts), self.batch_size)
        for start in tqdm(starts, desc="Stable Diffusion batches", disable=len(starts) < 4):
            batch_prompts = list(prompts[start:start + self.batch_size])
            generators = [torch.Generator(device=generator_device).manual_seed(int(seed))
                          for seed in seeds[start:start + self.batch_size]]
            output = self.pipeline(
                batch_prompts, generator=generators, num_inference_steps=num_inference_steps or self.num_inference_steps,
                guidance_scale=self.guidance_scale, height=self.height, width=self.width, output_type="pil",
            )
            images.extend(output.images)
        return images
