"""A typed exception every stage raises for expected failures; the flow turns it into an ErrorRecord."""

from __future__ import annotations

from schemas.errors import ErrorKind
from schemas.records import ErrorRecord, Stage


class StageError(Exception):
    """An expected, explained failure of one document at one stage.

    `permanent` errors (a corrupt or encrypted file) are never retried; transient ones may be."""

    def __init__(self, stage: Stage, kind: ErrorKind | str, message: str, permanent: bool = True):
        super().__init__(message)
        self.stage = stage
        self.kind = ErrorKind(kind)  # an unknown kind fails here, where it is raised
        self.message = message
        self.permanent = permanent

    def record(self, path: str, doc_id: str | None = None) -> ErrorRecord:
        return ErrorRecord(doc_id=doc_id, path=path, stage=self.stage, kind=self.kind,
                           message=self.message, permanent=self.permanent)
