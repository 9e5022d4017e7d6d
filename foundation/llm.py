"""LLM: OpenAI-compatible chat completions (OpenAI, vLLM, Ollama...) with a persistent response cache.

Retries with exponential backoff and the request timeout are the OpenAI SDK's
own (`max_retries`, `timeout`); this module adds the concurrency limit and the
cache, so a rerun of a job costs no request at all.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence


class ResponseCache:
    """One JSON file per request under `root`, named by the hash of the request.

    Files (not a table) so that any number of worker processes share it with no
    locking: a write goes to a temporary file and is renamed into place.
    """

    def __init__(self, root: Path | str):
        self.root = Path(root)

    @staticmethod
    def key(request: dict) -> str:
        canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, request: dict) -> str | None:
        path = self._path(self.key(request))
        try:
            return json.loads(path.read_text(encoding="utf-8"))["response"]
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            return None

    def put(self, request: dict, response: str) -> None:
        path = self._path(self.key(request))
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump({"request": request, "response": response}, out, ensure_ascii=False)
        os.replace(temporary, path)


class ChatLLM:
    """`chat(messages, temperature=..., **sampling) -> str`; `chat_many(conversations, ...)` runs them concurrently."""

    def __init__(self, client, model: str, cache: ResponseCache | None = None, max_concurrency: int = 8):
        self.client = client
        self.model = model
        self.cache = cache
        self.max_concurrency = max(1, int(max_concurrency))
        self._slots = threading.BoundedSemaphore(self.max_concurrency)
        self.requests_sent = 0
        self.cache_hits = 0
        self._count_lock = threading.Lock()

    @classmethod
    def from_settings(cls, model: str, base_url: str | None, api_key: str | None, timeout: float, max_retries: int,
                      cache_dir: Path | str | None, max_concurrency: int, http_client=None):
        from openai import OpenAI

        client = OpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=max_retries,
                        http_client=http_client)
        cache = ResponseCache(cache_dir) if cache_dir else None
        return cls(client, model, cache=cache, max_concurrency=max_concurrency)

    def chat(self, messages: Sequence[dict], temperature: float = 0.0, **sampling) -> str:
        request = {"model": self.model, "messages": [dict(m) for m in messages], "temperature": temperature, **sampling}
        if self.cache is not None:
            cached = self.cache.get(request)
            if cached is not None:
                with self._count_lock:
                    self.cache_hits += 1
                return cached
        with self._slots:
            completion = self.client.chat.completions.create(**request)
        with self._count_lock:
            self.requests_sent += 1
        text = (completion.choices[0].message.content or "").strip()
        if self.cache is not None:
            self.cache.put(request, text)
        return text

    def chat_many(self, conversations: Sequence[Sequence[dict]], temperature: float = 0.0,
                  seeds: Sequence[int] | None = None, **sampling) -> list[str]:
        """Answers in the order of `conversations`, at most `max_concurrency` requests in flight.

        `seeds`, one per conversation, is sent as the request's `seed` sampling parameter.
        """
        if not conversations:
            return []
        if seeds is not None and len(seeds) != len(conversations):
            raise ValueError(f"{len(conversations)} conversations but {len(seeds)} seeds")

        def ask(index):
            extra = {"seed": int(seeds[index])} if seeds is not None else {}
            return self.chat(conversations[index], temperature=temperature, **sampling, **extra)

        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(conversations))) as pool:
            return list(pool.map(ask, range(len(conversations))))
