"""A local stand-in of the OpenAI HTTP API that answers every call with known token usage.

Real HTTP on 127.0.0.1 (Starlette under uvicorn, in a thread), so the real ``openai``
client and every instrumentation around it run unchanged: Chat Completions and Responses,
each plain and streamed (server-sent events). The usage numbers are the ground truth the
interop tests compare the KPI engine's counters with.
"""

from __future__ import annotations

import base64
import json
import struct
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from support.net import free_port

__all__ = (
    "EMBEDDING_INPUT",
    "EMBEDDING_MODEL",
    "MODEL",
    "USAGE",
    "KnownUsage",
    "RunningStandIn",
    "StandIn",
    "running_standin",
)


@dataclass(frozen=True)
class KnownUsage:
    """Token usage of every answer (``input`` includes the cached part, as OpenAI reports)."""

    input: int
    cached: int
    output: int
    reasoning: int


USAGE = KnownUsage(input=1_200, cached=200, output=150, reasoning=40)
"""What each call costs: 1,200 input tokens of which 200 cached, 150 output of which 40
reasoning (reasoning is part of output: it must not be counted on top)."""

MODEL = "gpt-4o-mini-2024-07-18"
"""The model every answer names (a dated OpenAI model the price table knows)."""

EMBEDDING_MODEL = "text-embedding-3-small"
EMBEDDING_INPUT = 512
"""Input tokens of every embeddings call (embeddings have no output tokens)."""

REPLY = "Draft reply: the invoice was corrected."
_CREATED = 1_700_000_000


def _chat_usage() -> dict[str, Any]:
    return {
        "prompt_tokens": USAGE.input,
        "completion_tokens": USAGE.output,
        "total_tokens": USAGE.input + USAGE.output,
        "prompt_tokens_details": {"cached_tokens": USAGE.cached, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": USAGE.reasoning,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _responses_usage() -> dict[str, Any]:
    return {
        "input_tokens": USAGE.input,
        "input_tokens_details": {"cached_tokens": USAGE.cached},
        "output_tokens": USAGE.output,
        "output_tokens_details": {"reasoning_tokens": USAGE.reasoning},
        "total_tokens": USAGE.input + USAGE.output,
    }


def _sse(events: list[tuple[str | None, dict[str, Any]]], done: bool) -> Response:
    async def body() -> AsyncIterator[bytes]:
        for name, data in events:
            head = f"event: {name}\n" if name else ""
            yield f"{head}data: {json.dumps(data)}\n\n".encode()
        if done:
            yield b"data: [DONE]\n\n"

    return StreamingResponse(body(), media_type="text/event-stream")


class StandIn:
    """The ASGI app and what it has served (``calls`` counts answered model calls)."""

    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/responses", self._responses, methods=["POST"]),
                Route("/v1/embeddings", self._embeddings, methods=["POST"]),
                Route("/healthz", self._health, methods=["GET"]),
            ]
        )

    def _count(self) -> None:
        with self._lock:
            self.calls += 1

    async def _health(self, request: Request) -> Response:
        return Response("ok")

    async def _chat(self, request: Request) -> Response:
        body = await request.json()
        self._count()
        base = {"id": "chatcmpl-standin", "created": _CREATED, "model": MODEL}
        if not body.get("stream"):
            return JSONResponse(
                {
                    **base,
                    "object": "chat.completion",
                    "system_fingerprint": "fp_standin",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": REPLY, "refusal": None},
                            "finish_reason": "stop",
                            "logprobs": None,
                        }
                    ],
                    "usage": _chat_usage(),
                }
            )
        chunk = {**base, "object": "chat.completion.chunk", "system_fingerprint": "fp_standin"}
        events: list[tuple[str | None, dict[str, Any]]] = [
            (None, {**chunk, "choices": [{"index": 0, "delta": {"role": "assistant"}}]}),
            (None, {**chunk, "choices": [{"index": 0, "delta": {"content": REPLY}}]}),
            (None, {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
        ]
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append((None, {**chunk, "choices": [], "usage": _chat_usage()}))
        return _sse(events, done=True)

    async def _embeddings(self, request: Request) -> Response:
        body = await request.json()
        self._count()
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        vector: list[float] | str = [0.25, -0.5, 0.125]
        if body.get("encoding_format") == "base64":
            vector = base64.b64encode(struct.pack("<3f", *vector)).decode()
        return JSONResponse(
            {
                "object": "list",
                "model": EMBEDDING_MODEL,
                "data": [
                    {"object": "embedding", "index": i, "embedding": vector}
                    for i in range(len(inputs))
                ],
                "usage": {"prompt_tokens": EMBEDDING_INPUT, "total_tokens": EMBEDDING_INPUT},
            }
        )

    async def _responses(self, request: Request) -> Response:
        body = await request.json()
        self._count()
        message = {
            "type": "message",
            "id": "msg_standin",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": REPLY, "annotations": []}],
        }
        response = {
            "id": "resp_standin",
            "object": "response",
            "created_at": _CREATED,
            "status": "completed",
            "model": MODEL,
            "output": [message],
            "usage": _responses_usage(),
            "error": None,
            "incomplete_details": None,
            "instructions": body.get("instructions"),
            "metadata": {},
            "parallel_tool_calls": True,
            "temperature": 1.0,
            "tool_choice": "auto",
            "tools": [],
            "top_p": 1.0,
            "text": {"format": {"type": "text"}},
        }
        if not body.get("stream"):
            return JSONResponse(response)
        started = {**response, "status": "in_progress", "output": [], "usage": None}
        part = {"type": "output_text", "text": "", "annotations": []}
        events: list[tuple[str | None, dict[str, Any]]] = [
            ("response.created", {"type": "response.created", "response": started}),
            ("response.in_progress", {"type": "response.in_progress", "response": started}),
            (
                "response.output_item.added",
                {
                    "type": "response.output_item.added",
                    "output_index": 0,
                    "item": {**message, "status": "in_progress", "content": []},
                },
            ),
            (
                "response.content_part.added",
                {
                    "type": "response.content_part.added",
                    "item_id": message["id"],
                    "output_index": 0,
                    "content_index": 0,
                    "part": part,
                },
            ),
            (
                "response.output_text.delta",
                {
                    "type": "response.output_text.delta",
                    "item_id": message["id"],
                    "output_index": 0,
                    "content_index": 0,
                    "delta": REPLY,
                },
            ),
            (
                "response.output_text.done",
                {
                    "type": "response.output_text.done",
                    "item_id": message["id"],
                    "output_index": 0,
                    "content_index": 0,
                    "text": REPLY,
                },
            ),
            (
                "response.output_item.done",
                {"type": "response.output_item.done", "output_index": 0, "item": message},
            ),
            ("response.completed", {"type": "response.completed", "response": response}),
        ]
        for number, (_, data) in enumerate(events):
            data["sequence_number"] = number
        return _sse(events, done=False)


@dataclass
class RunningStandIn:
    """A stand-in being served, and the base URL to give the OpenAI client."""

    standin: StandIn
    base_url: str


@contextmanager
def running_standin() -> Iterator[RunningStandIn]:
    """Serve a fresh :class:`StandIn` on a free loopback port for the block."""
    standin = StandIn()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(standin.app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="openai-standin", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the OpenAI stand-in did not start on 127.0.0.1:{port}")
        time.sleep(0.01)
    try:
        yield RunningStandIn(standin, f"http://127.0.0.1:{port}/v1")
    finally:
        server.should_exit = True
        thread.join(10)
