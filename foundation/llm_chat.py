"""One chat completion with the token log-probabilities, over the OpenAI SDK.

The simulator needs the top log-probabilities of the tokens it answers with (to take an
expected value over 0-10), which OpenAI and vLLM return when asked (`logprobs=True`,
`top_logprobs=k`). Endpoints that refuse the parameters (some Ollama versions) are asked again
without them, and the simulator falls back to the parsed text.
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from typing import Callable

import openai

logger = logging.getLogger(__name__)


@dataclass
class TokenLogprob:
    token: str
    logprob: float
    top: dict[str, float] = field(default_factory=dict)  # alternative token -> log-probability


@dataclass
class ChatReply:
    text: str
    tokens: list[TokenLogprob] | None  # None when the endpoint returned no log-probabilities
    model: str = ""


ChatFn = Callable[[list[dict]], ChatReply]


def reply_from_completion(completion) -> ChatReply:
    """Plain data from an SDK `ChatCompletion` (first choice)."""
    choice = completion.choices[0]
    text = choice.message.content or ""
    tokens = None
    content = getattr(choice.logprobs, "content", None) if choice.logprobs is not None else None
    if content:
        tokens = [
            TokenLogprob(
                token=item.token,
                logprob=item.logprob,
                top={alt.token: alt.logprob for alt in (item.top_logprobs or [])},
            )
            for item in content
        ]
    return ChatReply(text=text, tokens=tokens, model=getattr(completion, "model", "") or "")


def _reply_from_json(text: str) -> ChatReply:
    data = json.loads(text)
    tokens = None if data["tokens"] is None else [TokenLogprob(**t) for t in data["tokens"]]
    return ChatReply(text=data["text"], tokens=tokens, model=data.get("model", ""))


def openai_chat(
    client: openai.OpenAI,
    model: str,
    *,
    temperature: float = 0.0,
    top_logprobs: int = 20,
    max_tokens: int = 4096,
    cache=None,
) -> ChatFn:
    """A chat function bound to a client and a model, asking for log-probabilities when possible.

    `cache`: the LLM adapter's `ResponseCache` (foundation.llm); a reply with its
    log-probabilities is stored as JSON under the request, so a rerun sends nothing.
    """
    state = {"logprobs_supported": top_logprobs > 0}

    def chat(messages: list[dict]) -> ChatReply:
        kwargs = dict(model=model, messages=messages, temperature=temperature, max_tokens=max_tokens)
        cache_key = {**kwargs, "top_logprobs": top_logprobs, "kind": "chat-with-logprobs"}
        if cache is not None:
            cached = cache.get(cache_key)
            if cached is not None:
                return _reply_from_json(cached)
        reply = _ask(kwargs)
        if cache is not None:
            cache.put(cache_key, json.dumps(asdict(reply)))
        return reply

    def _ask(kwargs: dict) -> ChatReply:
        if state["logprobs_supported"]:
            try:
                return reply_from_completion(
                    client.chat.completions.create(**kwargs, logprobs=True, top_logprobs=top_logprobs)
                )
            except openai.BadRequestError as error:
                if "logprob" not in str(error).lower():
                    raise
                logger.warning("endpoint refuses log-probabilities (%s); using parsed text", error)
                state["logprobs_supported"] = False
        return reply_from_completion(client.chat.completions.create(**kwargs))

    return chat
