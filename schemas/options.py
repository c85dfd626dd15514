"""Run options: one validated object carried from the CLI through the flow to every stage."""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

IMAGE_BUDGETS = (70, 140, 280, 560, 1120)
DEFAULT_MODEL_ID = "google/gemma-4-26B-A4B-it"
TINY_MODEL = "tiny-random"
PIPELINE_VERSION = "0.3.1"  # 0.3.1: error rows with category and page or t_seconds, no char offsets in citations; 0.3.0: page text read in the capped worker, strip-decoded images, distinct collection labels, OCR reuse in videos; 0.2.0: digits exact, word boundaries, value support, partial matches


class RunOptions(BaseModel):
    """Everything that shapes a run. `output_key()` hashes the subset that changes results."""

    model_config = ConfigDict(extra="forbid")

    # what to extract, and with which model
    schema_name: str = "key_facts"
    model: str = DEFAULT_MODEL_ID
    revision: str | None = None
    thinking: bool = Field(False, description="Switch on Gemma 4's thinking mode (thought kept out of the answer).")
    max_new_tokens: int = Field(1024, ge=16, description='Answer tokens per request.')

    # packing
    image_tokens_min: int = 70
    image_tokens_max: int = 1120
    max_context: int = Field(32768, ge=1024, description='Context tokens per request (the model reads up to 262144).')
    include_text_layer: bool = True
    window_overlap: int = Field(1, ge=0)
    collection: bool = Field(False, description='Pack several documents into one request (cross-document schemas).')
    batch_tokens: int = Field(65536, ge=1024)  # upper bound on padded tokens per generate() batch

    # ingest
    dpi: int = Field(150, ge=36, le=600)
    max_side_px: int = Field(1600, ge=256)
    ocr: Literal["auto", "off", "force"] = Field("auto", description='auto (only pages without a usable text layer) | off | force.')
    follow_symlinks: bool = Field(False, description='Read files and folders that links inside the inputs point to outside them (skipped with a warning by default).')
    passwords: list[str] = Field([], description='Password to try on encrypted PDFs (repeatable).')
    video_fps: float = Field(1.0, gt=0)
    dedup_threshold: float = Field(0.0, ge=0.0, le=1.0, description='Skip video frames differing from the last kept one by less than this (0..1; 0 keeps all).')

    # limits (hostile input)
    max_pages: int = Field(2000, ge=1, description='Pages (or image frames) read per document; the rest are skipped with an error row.')
    max_pixels: int = Field(100_000_000, ge=1, description='Largest image (width x height) that is decoded.')
    max_image_mb: float = Field(512.0, gt=0, description='Largest decoded size of one image frame, judged from its header before decoding.')
    max_page_memory_mb: int = Field(2048, ge=0, description='Address space of the PDF page worker; a page needing more (a decompression bomb) fails alone. 0: no cap.')
    max_file_mb: float = Field(1024.0, gt=0, description='Larger files are not read (error row).')
    max_video_seconds: float = Field(3600.0, gt=0, description='Video read up to this time; longer videos get a warning at discovery.')
    doc_timeout_s: float = Field(900.0, gt=0, description='Seconds of ingest per document; later pages are skipped with an error row.')
    page_timeout_s: float = Field(60.0, gt=0, description='Seconds one PDF page may take to read; a hang kills the page worker.')
    generate_timeout_s: float = Field(900.0, gt=0, description='Seconds one generation batch may take; answers still unfinished become error rows.')

    # outputs
    keep_page_images: bool = Field(True, description='Keep ~1000 px copies of cited pages and frames in OUT/pages for `gemmadoc review`.')

    # runtime
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field("auto", description='auto | bfloat16 | float16 | float32.')
    device_map: str | None = Field(None, description='accelerate device map, e.g. auto or cuda:0.')
    attn_implementation: Literal["sdpa", "eager", "flex_attention"] = Field("sdpa", description='Attention implementation: sdpa | eager | flex_attention (Gemma 4 refuses flash_attention_2).')
    experts_implementation: Literal["eager", "grouped_mm", "batched_mm", "deepgemm", "sonicmoe"] | None = Field(None, description='MoE experts implementation: grouped_mm | batched_mm | eager | deepgemm | sonicmoe (the last two on GPUs).')
    max_workers: int = Field(2, ge=1, description='Documents ingested in parallel.')
    chunk_docs: int = Field(16, ge=1, description='Documents per ingest -> model -> write round (bounds memory; each round is committed).')
    retries: int = Field(2, ge=0)
    wait_lock_s: float = Field(0.0, ge=0, description='Seconds to wait when another run is writing to --out (default: exit 2 at once).')
    force: bool = Field(False, description='Redo documents that are already done.')
    retry_failed: bool = Field(False, description='Redo only documents that failed or came out partial last time.')

    @model_validator(mode="after")
    def _check_budgets(self) -> "RunOptions":
        for v in (self.image_tokens_min, self.image_tokens_max):
            if v not in IMAGE_BUDGETS:
                raise ValueError(f"image token budgets must be one of {IMAGE_BUDGETS}, got {v}")
        if self.image_tokens_min > self.image_tokens_max:
            raise ValueError("--image-tokens floor is above the ceiling")
        return self

    def budgets(self) -> list[int]:
        """Allowed image budgets, lowest first."""
        return [b for b in IMAGE_BUDGETS if self.image_tokens_min <= b <= self.image_tokens_max]

    def output_key(self) -> str:
        """Hash of the options that change what comes out (not runtime knobs such as workers)."""
        keep = self.model_dump(
            include={
                "thinking", "max_new_tokens", "image_tokens_min", "image_tokens_max", "max_context",
                "include_text_layer", "window_overlap", "collection", "dpi", "max_side_px", "ocr",
                "video_fps", "dedup_threshold", "max_pages",
            }
        )
        return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:16]
