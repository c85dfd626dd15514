"""Length-sorted, token-bounded batching (pure Python: also used by the GPU benchmark, which runs
where pydantic may be absent)."""

from __future__ import annotations

from typing import Callable, Sequence, TypeVar

T = TypeVar("T")


def group_by_length(items: Sequence[T], cost: Callable[[T], int], batch_tokens: int) -> list[list[T]]:
    """Sort by cost and cut into batches whose padded size (rows x costliest row) stays within
    `batch_tokens`; a single item above the bound gets a batch of its own."""
    batches: list[list[T]] = []
    current: list[T] = []
    longest = 0
    for item in sorted(items, key=cost):
        need = cost(item)
        if current and (len(current) + 1) * max(longest, need) > batch_tokens:
            batches.append(current)
            current, longest = [], 0
        current.append(item)
        longest = max(longest, need)
    if current:
        batches.append(current)
    return batches
