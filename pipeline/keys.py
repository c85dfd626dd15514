"""Identity of a document's result: what makes two runs' results the same, so re-runs can skip it."""

from __future__ import annotations

import hashlib

from pipeline.ingest.tesseract import signature
from schemas.catalog import ExtractionSchema
from schemas.options import PIPELINE_VERSION, RunOptions


def work_key(doc_id: str, schema: ExtractionSchema, model_id: str, options: RunOptions) -> str:
    """Identity of one document's result: content, schema, model (and revision), output options, version, and
    the scripts Tesseract reads here."""
    parts = [doc_id, schema.digest, model_id, getattr(options.backend, "revision", None) or "", options.output_key(), PIPELINE_VERSION]
    quantization = getattr(options.backend, "quantization", "none")
    if quantization != "none":  # quantized weights answer differently (bf16 keys stay as they were)
        parts.append(f"quantization={quantization}")
    if second_reader := signature():  # Tesseract's script models read scans RapidOCR does not
        parts.append(f"second_reader={second_reader}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]
