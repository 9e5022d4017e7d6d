"""OpenAI-compatible chat servers played over httpx.MockTransport, for the real OpenAI SDK.

`ChatServer` plays the plain chat endpoint for the LLM adapter (`foundation.llm.ChatLLM`);
`PlayedServer` answers with whole response bodies, log-probabilities included, for the simulator.
"""
import json
import math

import httpx
import openai


def completion_json(text, tokens=None, model="played-model"):
    """A chat.completions response body; `tokens` is [(token, {alternative: probability})]."""
    logprobs = None
    if tokens is not None:
        assert "".join(t for t, _ in tokens) == text
        logprobs = {
            "content": [
                {
                    "token": token,
                    "logprob": math.log(max(top.get(token, 1.0), 1e-9)),
                    "bytes": list(token.encode()),
                    "top_logprobs": [
                        {"token": alt, "logprob": math.log(p), "bytes": list(alt.encode())} for alt, p in top.items()
                    ],
                }
                for token, top in tokens
            ]
        }
    return {
        "id": "chatcmpl-played",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": logprobs, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


class PlayedServer:
    """Answers each chat request with `answer(request_json) -> response body`; records requests."""

    def __init__(self, answer):
        self.answer = answer
        self.requests = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        return httpx.Response(200, json=self.answer(body))

    def client(self) -> openai.OpenAI:
        return openai.OpenAI(
            api_key="test-key",
            base_url="http://played.invalid/v1",
            max_retries=0,
            http_client=httpx.Client(transport=httpx.MockTransport(self.handle)),
        )


def asked_descriptions(body):
    """The descriptions of the last user turn, between <start> and <end>, in order."""
    content = body["messages"][-1]["content"]
    block = content.split("<start>\n", 1)[1].split("\n<end>", 1)[0]
    return [line.rsplit("\t", 1)[0] for line in block.split("\n")]


class ChatServer:
    """Plays an OpenAI-compatible chat server over httpx.MockTransport and records every request."""

    def __init__(self, answer, fail_first: int = 0):
        self.answer = answer  # callable(request_json) -> str
        self.fail_first = fail_first
        self.requests: list[dict] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        if len(self.requests) <= self.fail_first:
            return httpx.Response(503, json={"error": {"message": "overloaded"}})
        return httpx.Response(200, json={
            "id": f"chatcmpl-{len(self.requests)}", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": self.answer(body)}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        })

    def llm(self, cache_dir=None, model="test-model", max_concurrency=4, max_retries=2):
        from foundation.llm import ChatLLM

        return ChatLLM.from_settings(
            model=model, base_url="http://llm.test/v1", api_key="test-key", timeout=5, max_retries=max_retries,
            cache_dir=cache_dir, max_concurrency=max_concurrency,
            http_client=httpx.Client(transport=httpx.MockTransport(self.handler)),
        )
