"""Open one file as a `Document` (identity + units with words and boxes) for verification, through a
cache keyed by the file's sha256 and the ingest options, so that checking many citations, or running
many times, ingests a document once. Entries live under `<cache>/documents/<key>/` (the units as JSON
and their page images); the least recently used are removed beyond `max_mb`."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from pipeline.discover import discover
from pipeline.errors import StageError
from pipeline.ingest import ingest_document
from pipeline.ingest.tesseract import signature
from schemas.options import PIPELINE_VERSION, IngestOptions
from schemas.verify import Document

MEMORY_ENTRIES = 8  # documents kept in memory as well


class DocumentError(Exception):
    """A file that cannot be opened as a document: missing, unsupported, unreadable, or with no
    readable page or frame."""


@dataclass
class CacheStats:
    ingests: int = 0  # documents actually ingested
    disk_hits: int = 0
    memory_hits: int = 0


def ingest_key(options: IngestOptions) -> str:
    """The ingest options that change units, with the pipeline version."""
    keep = options.model_dump(include={"dpi", "max_side_px", "max_page_pixels", "ocr", "video_fps", "dedup_threshold", "max_pages",
                                       "max_pixels", "max_video_seconds"})
    keep["version"] = PIPELINE_VERSION
    keep["second_reader"] = signature()  # installing Tesseract's model of a script changes what its scans yield
    keep["passwords"] = hashlib.sha256("\0".join(options.passwords).encode()).hexdigest()[:8]
    return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:12]


class DocumentCache:
    """Disk (and small in-memory) cache of opened documents. Thread-safe."""

    def __init__(self, root: Path, max_mb: float = 2048.0):
        self.root = Path(root) / "documents"
        self.max_mb = max_mb
        self.stats = CacheStats()
        self._memory: OrderedDict[str, Document] = OrderedDict()
        self._lock = threading.Lock()

    def open(self, path: str | Path, options: IngestOptions) -> Document:
        """The document at `path`, from the cache or ingested now. Raises DocumentError."""
        found = discover([path], max_file_mb=options.max_file_mb)
        if not found.documents:
            problem = found.errors[0].message if found.errors else f"{path} is not a supported document"
            raise DocumentError(problem)
        src = found.documents[0]
        options = options.model_copy(update={"attachments": False})  # one file: what it carries is named, not unpacked
        key = f"{src.doc_id[:32]}-{ingest_key(options)}"
        with self._lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                self.stats.memory_hits += 1
                return self._memory[key].model_copy(update={"path": src.path, "name": src.name})
        entry = self.root / key
        doc = self._load(entry)
        if doc is not None:
            self.stats.disk_hits += 1
            doc = doc.model_copy(update={"path": src.path, "name": src.name})
        else:
            doc = self._ingest(src, options, entry)
        with self._lock:
            self._memory[key] = doc
            while len(self._memory) > MEMORY_ENTRIES:
                self._memory.popitem(last=False)
        return doc

    def _load(self, entry: Path) -> Document | None:
        try:
            doc = Document.model_validate_json((entry / "document.json").read_bytes())
            (entry / "document.json").touch()  # recently used
            return doc
        except (OSError, ValueError):
            return None

    def _ingest(self, src, options: IngestOptions, entry: Path) -> Document:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".open-", dir=self.root))
        try:
            try:
                res = ingest_document(src, options, tmp / "images")
            except StageError as e:
                raise DocumentError(e.record(src.path, src.doc_id).message) from e
            with self._lock:
                self.stats.ingests += 1
            if not res.units:
                raise DocumentError("; ".join(e.message for e in res.errors) or f"{src.name} has no readable pages or frames")
            units = [_moved(u, tmp / "images", entry / "images") for u in res.units]
            doc = Document(doc_id=src.doc_id, path=src.path, name=src.name, media_type=src.media_type, units=units,
                           errors=res.errors)
            (tmp / "document.json").write_text(doc.model_dump_json())
            try:
                tmp.rename(entry)
            except OSError:  # another process cached it first
                shutil.rmtree(tmp, ignore_errors=True)
            self._evict()
            return doc
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def _evict(self) -> None:
        """Remove the least recently used entries while the cache is above `max_mb`."""
        entries = []
        for e in self.root.iterdir():
            if e.name.startswith(".") or not e.is_dir():
                continue
            size = sum(f.stat().st_size for f in e.rglob("*") if f.is_file())
            used = (e / "document.json").stat().st_mtime if (e / "document.json").exists() else 0.0
            entries.append((used, size, e))
        total = sum(s for _, s, _ in entries)
        for _, size, e in sorted(entries, key=lambda x: x[0]):
            if total <= self.max_mb * 2**20:
                break
            shutil.rmtree(e, ignore_errors=True)
            total -= size


def _moved(unit, old: Path, new: Path):
    """A unit whose spooled image path points into the cache entry."""
    path = unit.image.path
    if unit.image.kind == "file" and path.startswith(str(old)):
        unit = unit.model_copy(update={"image": unit.image.model_copy(update={"path": str(new) + path[len(str(old)):]})})
    return unit


def default_cache_root() -> Path:
    """`$GEMMADOC_CACHE`, else ~/.cache/gemmadoc (the same folder the tiny model uses)."""
    import os

    return Path(os.environ.get("GEMMADOC_CACHE") or Path.home() / ".cache" / "gemmadoc")


_caches: dict[tuple[str, float], DocumentCache] = {}


def document_cache(root: Path | None = None, max_mb: float = 2048.0) -> DocumentCache:
    """One cache object per folder and size limit in this process."""
    root = Path(root) if root is not None else default_cache_root()
    key = (str(root.resolve()), max_mb)
    if key not in _caches:
        _caches[key] = DocumentCache(root, max_mb)
    return _caches[key]
