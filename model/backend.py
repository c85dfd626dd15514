"""The one interface the pipeline uses to talk to a model."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from schemas.records import Generation, Request


class ModelUnavailable(RuntimeError):
    """The requested weights cannot be loaded (absent locally and no hub); the message says what to do."""


def timeout_message(elapsed_s: float, limit_s: float) -> str:
    """The error of a generation row cut off by the wall-clock limit."""
    return (f"generation stopped after {elapsed_s:.1f} s by the time limit of {limit_s:g} s per batch "
            f"(--generate-timeout); the answer was incomplete")


@runtime_checkable
class Backend(Protocol):
    """A loaded model. A backend whose class sets `continuous_batching = True` schedules requests itself
    (vLLM, a server) and gets every request of a chunk in one `generate` call."""

    model_id: str
    is_random: bool  # True for random-weight models whose values mean nothing

    def image_tokens(self, width: int, height: int, budget: int) -> int:
        """Soft tokens (with begin/end markers) one image of this size costs at `budget`."""

    def text_tokens(self, text: str) -> int:
        """Tokens of a plain text fragment."""

    def count_tokens(self, request: Request) -> int:
        """Exact prompt length of `request` as the processor will encode it."""

    def control_tokens(self) -> list[str]:
        """The tokenizer's special and added tokens: document text must never spell them."""

    def generate(self, requests: list[Request], max_seconds: float | None = None) -> list[Generation]:
        """Generate answers for one batch of requests (same order). Generation stops after `max_seconds`
        of wall-clock time; rows that had not finished then come back with finish_reason "time"."""
