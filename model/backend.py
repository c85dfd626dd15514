"""The one interface the pipeline uses to talk to a model."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from schemas.records import Generation, Request


class ModelUnavailable(RuntimeError):
    """The requested weights cannot be loaded (absent locally and no hub); the message says what to do."""


@runtime_checkable
class Backend(Protocol):
    model_id: str
    is_random: bool  # True for random-weight models whose values mean nothing

    def image_tokens(self, width: int, height: int, budget: int) -> int:
        """Soft tokens (with begin/end markers) one image of this size costs at `budget`."""

    def text_tokens(self, text: str) -> int:
        """Tokens of a plain text fragment."""

    def count_tokens(self, request: Request) -> int:
        """Exact prompt length of `request` as the processor will encode it."""

    def generate(self, requests: list[Request]) -> list[Generation]:
        """Generate answers for one batch of requests (same order)."""
