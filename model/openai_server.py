"""Gemma 4 behind an OpenAI-compatible server a team already runs (`vllm serve`, SGLang):
`--model openai:http://HOST:PORT/v1[#served-name]`.

Chat completions with the page images as data URLs, `response_format` json_schema, the image budget as
`mm_processor_kwargs.max_soft_tokens` (vLLM needs `--trust-request-mm-kwargs`), thinking through
`chat_template_kwargs`. Bounded concurrency over one pooled connection set, retries with backoff on 5xx
answers, timeouts and dropped connections; a refused request becomes that request's error."""

from __future__ import annotations

import base64
import io
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from model.backend import ModelUnavailable, timeout_message
from model.images import load_image
from model.prompts import CountingBackend, PromptCounter, request_budget
from schemas.records import Generation, ImageRef, ImageSegment, Request

log = logging.getLogger("gemmadoc.model")
CHARS_PER_TOKEN = 3.0  # without a local processor, text is counted high (Gemma's tokenizer averages ~4 on prose)
BACKOFF_S = (0.5, 2.0, 8.0, 20.0)
THINK_BUDGET = 512  # tokens a thought may take on top of the answer's max_new_tokens (as the other backends)


def parse_spec(spec: str) -> tuple[str, str | None]:
    """(base URL, served model name or None) of `openai:URL[#name]`."""
    url, _, name = spec.removeprefix("openai:").partition("#")
    if not url.startswith(("http://", "https://")):
        raise ModelUnavailable(f"--model {spec}: expected openai:http://HOST:PORT/v1[#served-name]")
    return url.rstrip("/"), name or None


def data_url(ref: ImageRef) -> str:
    """The image as a data URL (PNG or JPEG bytes as ingest wrote them; a picture to turn upright or a
    slice of a long page, turned or cut and written again as JPEG)."""
    if ref.turn % 4 or ref.crop:
        buf = io.BytesIO()
        load_image(ref).save(buf, "JPEG", quality=90)
        data = buf.getvalue()
    else:
        data = ref.data if ref.kind == "encoded" else open(ref.path, "rb").read()
    mime = "image/png" if data[:4] == b"\x89PNG" else "image/jpeg" if data[:2] == b"\xff\xd8" else "image/webp"
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


class EstimatedCounts:
    """Token counts without the model's processor: an upper estimate, so planned requests still fit."""

    def image_tokens(self, width: int, height: int, budget: int) -> int:
        return budget + 2

    def text_tokens(self, text: str) -> int:
        return int(len(text) / CHARS_PER_TOKEN) + 1

    def count_tokens(self, request: Request) -> int:
        n = self.text_tokens(request.system) + 16  # turn markers
        for seg in request.segments:
            if isinstance(seg, ImageSegment):
                n += self.image_tokens(seg.width, seg.height, seg.budget) + 4  # with its blank lines
            else:
                n += self.text_tokens(seg.text)
        return n

    def control_tokens(self) -> list[str]:
        from model.tiny import BASE_SPECIALS, NAMED_SPECIALS, VIDEO_TOKEN  # Gemma 4's named tokens

        return sorted({*BASE_SPECIALS, *NAMED_SPECIALS.values(), VIDEO_TOKEN})


class OpenAIBackend(CountingBackend):
    """Requests to an OpenAI-compatible chat completions endpoint, `concurrency` at a time across every
    generate() call: calls from several threads share one pool, so the flow overlaps chunks and the
    server gets the next chunk's requests while this chunk's last answers decode."""

    continuous_batching = True  # the server batches; the extractor sends whole chunks
    overlapping_calls = True  # generate() from several threads shares the request pool

    def __init__(self, spec: str, *, concurrency: int = 8, request_timeout_s: float = 600.0, request_retries: int = 3,
                 api_key_env: str = "OPENAI_API_KEY", processor: str | None = None):
        import httpx

        self.base_url, name = parse_spec(spec)
        self.concurrency = concurrency
        self.timeout_s = request_timeout_s
        self.retries = request_retries
        headers = {"Authorization": f"Bearer {os.environ[api_key_env]}"} if os.environ.get(api_key_env) else {}
        self.client = httpx.Client(base_url=self.base_url, headers=headers, timeout=request_timeout_s,
                                   limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency))
        served = self._served_models()
        if name and name not in served:
            raise ModelUnavailable(f"{self.base_url} serves {', '.join(served) or 'no model'}, not {name!r}")
        self.model_id = name or served[0]
        self.is_random = False
        self.counter = self._counter(processor)
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="openai")  # FIFO: chunks are served in order
        self._busy = threading.Lock()
        self._in_flight, self._busy_since, self._busy_total = 0, 0.0, 0.0

    @property
    def busy_seconds(self) -> float:
        """Wall time with at least one request at the server (the runs table's GPU idle share), counted
        once however many requests or overlapping calls are in flight."""
        with self._busy:
            return self._busy_total + (time.monotonic() - self._busy_since if self._in_flight else 0.0)

    def _started(self) -> None:
        with self._busy:
            if self._in_flight == 0:
                self._busy_since = time.monotonic()
            self._in_flight += 1

    def _ended(self) -> None:
        with self._busy:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._busy_total += time.monotonic() - self._busy_since

    def _served_models(self) -> list[str]:
        import httpx

        tried = []
        for attempt in range(self.retries + 1):
            try:
                r = self.client.get("/models", timeout=min(self.timeout_s, 10.0))
                r.raise_for_status()
                return [m["id"] for m in r.json().get("data", [])]
            except (httpx.HTTPError, ValueError, KeyError) as e:
                tried.append(f"GET {self.base_url}/models: {type(e).__name__}: {e}")
                if attempt < self.retries:
                    time.sleep(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])
        raise ModelUnavailable(f"the OpenAI-compatible server at {self.base_url} cannot be reached "
                               f"({len(tried)} tries; last: {tried[-1]}). Start it, or check --model openai:URL")

    def _counter(self, processor: str | None):
        """The model's processor for exact counts: --processor, else the served name when it is a local
        folder or in the local hub cache; otherwise an upper estimate (the usage fields give the truth)."""
        from model.registry import weights_available

        source = processor or (self.model_id if weights_available(self.model_id) else None)
        if source is None:
            log.info("no local processor for %s: token counts are estimated for packing", self.model_id)
            return EstimatedCounts()
        from model.processor import load_processor

        return PromptCounter(load_processor(source))

    # requests
    def body(self, request: Request) -> dict:
        """The chat completions request body of one request."""
        content = [{"type": "image_url", "image_url": {"url": data_url(s.image)}} if isinstance(s, ImageSegment)
                   else {"type": "text", "text": s.text} for s in request.segments]
        return {
            "model": self.model_id, "temperature": 0.0,
            "max_tokens": request.max_new_tokens + (THINK_BUDGET + 8 if request.thinking else 0),  # the thought counts
            "messages": [{"role": "system", "content": request.system}, {"role": "user", "content": content}],
            "response_format": {"type": "json_schema",
                                "json_schema": {"name": "extraction", "schema": request.response_schema, "strict": True}},
            "mm_processor_kwargs": {"max_soft_tokens": request_budget(request)},
            "chat_template_kwargs": {"enable_thinking": request.thinking},
        }

    def generate(self, requests: list[Request], max_seconds: float | None = None) -> list[Generation]:
        """Send the requests `concurrency` at a time; answers come back in order."""
        if not requests:
            return []
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        futures = [self._pool.submit(self._one, r, deadline, max_seconds) for r in requests]
        return [f.result() for f in futures]

    def _one(self, request: Request, deadline: float | None, limit: float | None) -> Generation:
        import httpx

        t0 = time.monotonic()
        body = self.body(request)
        last = ""
        for attempt in range(self.retries + 1):
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return self._failed(request, "time", timeout_message(time.monotonic() - t0, limit))
            self._started()
            try:
                r = self.client.post("/chat/completions", json=body,
                                     timeout=self.timeout_s if left is None else min(self.timeout_s, left))
            except httpx.TransportError as e:  # connection refused or dropped, timeouts
                r, last = None, f"{type(e).__name__}: {e}"
            finally:
                self._ended()
            if r is not None:
                if r.status_code < 400:
                    return self._generation(request, r.json())
                last = f"HTTP {r.status_code}: {r.text[:300]}"
                if r.status_code < 500 and r.status_code != 429:  # refused: retrying will not help
                    return self._failed(request, "error", f"the server refused the request ({last})")
            if attempt < self.retries:
                time.sleep(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])
        return self._failed(request, "error", f"{self.retries + 1} tries failed; last: {last}")

    def _failed(self, request: Request, finish: str, error: str) -> Generation:
        return Generation(request_id=request.request_id, text="", finish_reason=finish, model_id=self.model_id, error=error)

    def _generation(self, request: Request, answer: dict) -> Generation:
        try:
            choice = answer["choices"][0]
            message = choice["message"]
        except (KeyError, IndexError, TypeError):
            return self._failed(request, "error", f"the server's answer has no choices: {str(answer)[:300]}")
        usage = answer.get("usage") or {}
        finish = "length" if choice.get("finish_reason") == "length" else "stop"
        return Generation(request_id=request.request_id, text=message.get("content") or "",
                          thought=message.get("reasoning_content") or message.get("reasoning") or None,
                          prompt_tokens=int(usage.get("prompt_tokens") or 0),
                          output_tokens=int(usage.get("completion_tokens") or 0),
                          finish_reason=finish, model_id=self.model_id)
