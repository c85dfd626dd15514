"""Progress reporting hook: the CLI installs a rich progress bar, the flow reports to whatever is set."""

from __future__ import annotations

from typing import Protocol


class Reporter(Protocol):
    def start(self, documents: int) -> None: ...
    def advance(self, documents: int, pages: int, frames: int, status: str) -> None: ...
    def note(self, text: str) -> None: ...


class Silent:
    def start(self, documents: int) -> None:
        pass

    def advance(self, documents: int, pages: int, frames: int, status: str) -> None:
        pass

    def note(self, text: str) -> None:
        pass


_reporter: Reporter = Silent()


def set_reporter(reporter: Reporter) -> None:
    global _reporter
    _reporter = reporter


def reporter() -> Reporter:
    return _reporter
