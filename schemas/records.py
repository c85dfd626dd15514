"""Records exchanged between stages (pydantic v2). Coordinates are in the unit's own space:
PDF points for pages (origin top-left, after /Rotate), pixels for images and video frames."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from schemas.errors import ErrorKind, category_of

MediaType = Literal["pdf", "image", "video"]
# mixed: a usable text layer plus OCR of the pictures it does not read (a scan under a stamped line)
TextSource = Literal["pdf", "ocr", "mixed", "none"]
# partial: the quote has words the page lacks at an edge (LangExtract's MATCH_LESSER); the rest matched
MatchKind = Literal["exact", "normalised", "fuzzy", "partial", "relocated", "unverified"]
Status = Literal["ok", "partial", "failed", "skipped"]
Stage = Literal["discover", "ingest", "plan", "model", "parse", "grounding", "outputs", "flow"]


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceDocument(Record):
    """One input file. `doc_id` is the sha256 of its bytes; `media_type` comes from magic bytes."""

    doc_id: str
    path: str
    name: str
    media_type: MediaType
    mime: str
    size_bytes: int
    mtime_ns: int = 0  # modification time when it was hashed (0: unknown), to notice a file rewritten while read
    attached_to: str | None = None  # the PDF that carries it (the path of a document unpacked from an input)


class Box(Record):
    x0: float
    y0: float
    x1: float
    y1: float


class Word(Record):
    """A word with its box; `line` groups words of one text line (for per-line citation boxes).
    `char_x`: where each character ends in reading order (its right edge; its left edge on a page read
    upside down), where OCR gives character positions: an OCR token may hold several run-together words,
    and a citation box is then cut at character edges. `ocr`: the word was read by OCR, not taken from
    a text layer (OCR may run words together)."""

    text: str
    x0: float
    y0: float
    x1: float
    y1: float
    line: int = 0
    char_x: list[float] | None = None
    ocr: bool = False


class ImageRef(Record):
    """Where a unit's pixels are: a file written once by ingest (`file`) or in-memory bytes (`encoded`).
    Units carry references, not pixels, so a 2,000-page PDF never sits in memory at once."""

    kind: Literal["file", "encoded"] = "file"
    path: str = ""
    data: bytes | None = Field(default=None, repr=False)
    turn: int = 0  # quarter turns counter-clockwise that show the picture upright (a page scanned sideways or upside down, as OCR read it)
    crop: tuple[int, int, int, int] | None = None  # (left, top, right, bottom) of the upright picture: one slice of a long page or tile of a large sheet (pipeline/slices.py)


class PageUnit(Record):
    kind: Literal["page"] = "page"
    doc_id: str
    page: int  # 1-based
    width: float  # points (pages) or pixels (images)
    height: float
    image: ImageRef
    image_width: int  # pixels of the picture as the model is shown it (turned upright: see ImageRef.turn)
    image_height: int
    words: list[Word] = []
    text_source: TextSource = "none"
    rotation: int = 0
    density: float = 0.0  # 0..1: share of the page covered by text, used to choose image budgets

    @property
    def label(self) -> str:
        return f"[page {self.page}]"


class FrameUnit(Record):
    kind: Literal["frame"] = "frame"
    doc_id: str
    index: int
    t_seconds: float
    image: ImageRef
    image_width: int
    image_height: int
    width: float  # pixels
    height: float
    words: list[Word] = []
    text_source: TextSource = "none"
    exact: bool = True  # decoded at exactly t_seconds (False: nearest decodable frame, or times derived)
    density: float = 0.0
    ocr_reused: bool = False  # the picture had not changed since the last OCR'd frame: its words were reused

    @property
    def label(self) -> str:
        return f"[{format_timestamp(self.t_seconds)}]"


Unit = Annotated[Union[PageUnit, FrameUnit], Field(discriminator="kind")]


def format_timestamp(t: float) -> str:
    """Seconds -> `mm:ss` (or `h:mm:ss`), the label used for frames in prompts and citations."""
    s = int(round(t))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def parse_timestamp(text: str) -> float:
    """`mm:ss` / `h:mm:ss` -> seconds."""
    parts = [int(p) for p in text.strip().strip("[]").split(":")]
    total = 0
    for p in parts:
        total = total * 60 + p
    return float(total)


class TextSegment(Record):
    kind: Literal["text"] = "text"
    text: str


class ImageSegment(Record):
    kind: Literal["image"] = "image"
    image: ImageRef
    width: int
    height: int
    budget: int  # soft-token budget: 70/140/280/560/1120


Segment = Annotated[Union[TextSegment, ImageSegment], Field(discriminator="kind")]


class Request(Record):
    """One model call: a system turn, an interleaved user turn and the JSON schema of the answer."""

    request_id: str
    doc_ids: list[str]
    doc_labels: list[str] = []  # the names the prompt gives doc_ids (distinct within a collection)
    system: str
    segments: list[Segment]
    unit_labels: list[str]
    response_schema: dict[str, Any]
    n_tokens: int = 0  # exact prompt length, counted by the backend's processor
    thinking: bool = False
    max_new_tokens: int = 1024
    window: tuple[int, int] | None = None  # (first, last) unit index when a document is split
    band: tuple[float, float] | None = None  # (top, bottom) of the one page shown upright that a part of a long answer shows (pipeline/parts.py)


class Generation(Record):
    request_id: str
    text: str
    thought: str | None = None
    prompt_tokens: int = 0
    output_tokens: int = 0
    padding_tokens: int = 0
    finish_reason: Literal["stop", "length", "time", "error"] = "stop"  # time: stopped by the wall-clock limit
    model_id: str = ""
    error: str | None = None
    oom_retries: int = 0


class ClaimedCitation(Record):
    """A citation as the model wrote it: document, page or timestamp, verbatim quote."""

    doc_id: str
    page: int | None = None
    t_seconds: float | None = None
    quote: str


class Citation(Record):
    """A citation after verification by the pipeline: boxes come from matched words, never the model."""

    doc_id: str
    page: int | None = None
    t_seconds: float | None = None
    quote: str
    match: MatchKind = "unverified"
    score: float = 0.0
    boxes: list[Box] = []
    boxes_norm: list[Box] = []
    claimed_page: int | None = None
    claimed_t_seconds: float | None = None
    reason: str | None = None
    value_supported: bool | None = None  # the matched words hold the value; None: not checkable (or not asked)

    @property
    def located(self) -> bool:
        return self.match != "unverified"


class Extraction(Record):
    doc_id: str
    field: str  # JSON path of the leaf, e.g. `parties[1].name`
    value: Any = None
    citations: list[Citation] = []
    conflicts: list[Any] = []  # other values seen for a scalar field across windows

    @model_validator(mode="before")
    @classmethod
    def _derived_fields_in(cls, data: Any) -> Any:
        """`verified` is derived from the citations: accepted on input (JSON round trips), recomputed."""
        if isinstance(data, dict) and "verified" in data:
            data = {k: v for k, v in data.items() if k != "verified"}
        return data

    @computed_field
    @property
    def verified(self) -> bool:
        """At least one citation is located and its words do not contradict the value."""
        return any(c.located and c.value_supported is not False for c in self.citations)


class ErrorRecord(Record):
    doc_id: str | None = None
    path: str
    stage: Stage
    kind: ErrorKind  # schemas/errors.py: every kind, its category and what to do
    message: str
    permanent: bool = True
    severity: Literal["error", "warning"] = "error"
    page: int | None = None  # the page (or image frame) the failure belongs to, when it belongs to one
    t_seconds: float | None = None  # the video time it belongs to

    @property
    def category(self) -> str:
        return category_of(self.kind)


class DocumentResult(Record):
    doc_id: str
    path: str
    name: str
    path_bytes_hex: str | None = None  # in outputs: the path's bytes when the name is not valid UTF-8
    attached_to: str | None = None  # the PDF that carries the document, for one unpacked from it
    media_type: str
    status: Status
    work_key: str = ""
    schema_name: str = ""
    model_id: str = ""
    pages: int = 0
    frames: int = 0
    frames_ocr_reused: int = 0  # frames whose OCR was skipped because the picture had not changed
    text_sources: dict[str, int] = {}
    answer: dict[str, Any] | None = None  # unwrapped answer (values only), validated against the schema
    extractions: list[Extraction] = []
    errors: list[ErrorRecord] = []
    requests: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    padding_tokens: int = 0
    images_per_budget: dict[str, int] = {}
    seconds: float = 0.0


class WorkerUsage(Record):
    """One model actor of a Ray run: where it ran and what it served."""

    name: str
    node: str = ""  # the node's IP address
    gpus: list[str] = []  # the GPU ids Ray gave it (empty for a CPU actor)
    chunks: int = 0
    requests: int = 0
    lost_chunks: int = 0  # chunks it was serving when it or its node died (sent again elsewhere)


class RunRecord(Record):
    run_id: str
    status: Literal["completed", "aborted"] = "completed"  # aborted: written by the next run for a killed one
    started_at: str
    finished_at: str
    model_id: str
    schema_name: str
    options: dict[str, Any]
    documents: int = 0
    ok: int = 0
    partial: int = 0
    failed: int = 0
    skipped: int = 0
    warnings: int = 0  # files noted and skipped at discovery (stray files, FIFOs, duplicates): not failures
    processed: int = 0
    values: int = 0  # extracted values (leaves) of the documents processed in this run
    verified_values: int = 0  # ... located and not contradicted by their words
    pages: int = 0
    frames: int = 0
    requests: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    padding_tokens: int = 0
    oom_retries: int = 0
    part_requests: int = 0  # of `requests`: answers too long for one request, asked again in parts or for longer values (pipeline/longanswers.py)
    context_utilisation: float = 0.0
    images_per_budget: dict[str, int] = {}
    seconds: float = 0.0
    pages_per_s: float = 0.0
    gpu_idle_share: float = 0.0  # share of the run's wall time with no generate call in flight
    cluster: str = ""  # "" in-process; "ray HOST:PORT" on a Ray cluster
    workers: list[WorkerUsage] = []  # the model actors a Ray run used
    chunk_retries: int = 0  # chunks sent again after a model actor or its node died
    quantization: str = "none"  # the weights' quantization (checkpoint:<method> for a pre-quantized checkpoint)
    parameter_bytes: dict[str, int] = {}  # bytes of the loaded weights per part: experts, text, embeddings, vision
