"""Tiny random-initialised foundation models built from configs: for tests and CPU benchmarks (no weights, no hub).

The played OpenAI-compatible servers are in tests/fakes/played_openai.py."""
from __future__ import annotations

import json
from pathlib import Path

import torch


def tiny_blip_captioner(folder: Path):
    from transformers import BertTokenizer, BlipConfig, BlipForConditionalGeneration, BlipImageProcessor, BlipProcessor

    from foundation.captioner import BlipCaptioner

    torch.manual_seed(0)
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"word{i}" for i in range(40)]
    vocab = folder / "blip_vocab.txt"
    vocab.write_text("\n".join(words))
    config = BlipConfig(
        text_config=dict(vocab_size=len(words), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=37, max_position_embeddings=64, encoder_hidden_size=32,
                         bos_token_id=2, sep_token_id=3, eos_token_id=3, pad_token_id=0),
        vision_config=dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37,
                           image_size=32, patch_size=8),
    )
    processor = BlipProcessor(image_processor=BlipImageProcessor(size={"height": 32, "width": 32}),
                              tokenizer=BertTokenizer(str(vocab)))
    return BlipCaptioner(BlipForConditionalGeneration(config), processor, batch_size=4, max_new_tokens=6, min_length=2)


def tiny_clip_embedder():
    import open_clip
    from torchvision import transforms

    from foundation.vision_language import ClipEmbedder

    torch.manual_seed(0)
    model = open_clip.CLIP(
        embed_dim=16,
        vision_cfg=dict(image_size=32, layers=1, width=32, patch_size=8, head_width=16),
        text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=1),
    )
    preprocess = transforms.Compose([transforms.Resize((32, 32)), transforms.ToTensor()])
    return ClipEmbedder(model, preprocess, open_clip.get_tokenizer("ViT-B-16"), batch_size=8, name="tiny")


def tiny_text_to_image(folder: Path, num_inference_steps: int = 2):
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from foundation.text_to_image import TextToImage

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(8, 16), layers_per_block=1, sample_size=8, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=16, attention_head_dim=2, norm_num_groups=4,
    )
    vae = AutoencoderKL(
        block_out_channels=(8,), in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",),
        up_block_types=("UpDecoderBlock2D",), latent_channels=4, norm_num_groups=4, sample_size=8,
    )
    text_encoder = CLIPTextModel(CLIPTextConfig(
        bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=16, intermediate_size=37, num_attention_heads=2,
        num_hidden_layers=1, vocab_size=100, projection_dim=16, max_position_embeddings=77,
    ))
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for index, letter in enumerate("abcdefghijklmnopqrstuvwxyz"):
        vocab[letter] = 2 + index
        vocab[f"{letter}</w>"] = 28 + index
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=77)
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False, steps_offset=1,
                              set_alpha_to_one=False)
    pipeline = StableDiffusionPipeline(unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
                                       scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                       requires_safety_checker=False)
    return TextToImage(pipeline, num_inference_steps=num_inference_steps, guidance_scale=7.5, batch_size=8,
                       height=16, width=16)
