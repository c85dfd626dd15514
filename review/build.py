"""Build the static review site `OUT/review/` from an output folder: `index.html`, `queue.html`, one
page per document under `doc/`, and the page images, frames and video clips they show.

Everything a page shows comes from the run's JSON and tables, embedded as JSON in the page and put in
the DOM as text by `assets/review.js`: document text can never become markup or script. The site works
from `file://` with no server and no network."""

from __future__ import annotations

import html
import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.outputs import read_table
from pipeline.pageimages import keep_scale, pages_dir, shrink_to_keep, unit_file
from pipeline.slices import MAX_TILE_SIDE, area_slices
from schemas.records import DocumentResult

ASSETS = Path(__file__).with_name("assets")
LOW_SCORE = 0.8  # a located citation below this score still goes to the review queue
ONLY = ("unverified", "unsupported", "failed")
CLIP_MAX_WIDTH = 480
CLIP_MAX_FPS = 4.0  # enough to seek to a cited second; VP8 encoding is most of the build time
PLAYABLE = {("video/mp4", "avc1"), ("video/mp4", "h264"), ("video/mp4", "av01"), ("video/webm", "vp80"),
            ("video/webm", "vp90"), ("video/webm", "av01")}  # containers and codecs Chromium plays as they are


@dataclass
class Built:
    """What `build_site` wrote, and the gaps it found (shown on the pages too)."""

    index: Path
    documents: int
    queue: int
    gaps: list[str] = field(default_factory=list)


def build_site(out: Path, only: str | None = None, progress=None) -> Built:
    """Write `out/review/`. `only` keeps the documents with an unverified value, an unsupported
    value, or a failure. `progress(done, total)` is called after each document."""
    site = out / "review"
    for sub in ("doc", "img", "media", "assets"):
        (site / sub).mkdir(parents=True, exist_ok=True)
    for asset in ASSETS.iterdir():
        shutil.copyfile(asset, site / "assets" / asset.name)
    gaps: list[str] = []
    rows = _document_rows(out, gaps)
    views = []
    for n, row in enumerate(rows, 1):
        doc = _document_view(out, site, row, gaps)
        if only is None or _matches(doc, only):
            views.append(doc)
        if progress:
            progress(n, len(rows))
    videos = [d for d in views if d["media_type"] == "video"]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:  # OpenCV encodes outside the GIL
        for doc, (clip, reason) in zip(videos, pool.map(lambda d: _safe_clip(site, d), videos)):
            doc["video"] = clip
            if reason:
                doc["notes"].append(reason)
    entries, queue = [], []
    for doc in views:
        _write_page(site / "doc" / f"{doc['key']}.html", "doc", doc["name"], doc, "../")
        entries.append(_index_entry(doc))
        queue.extend(_queue_items(doc))
    loose = _loose_errors(out)
    _write_page(site / "index.html", "index", "gemmadoc review",
                {"out": str(out), "documents": entries, "gaps": gaps, "errors": loose, "only": only}, "")
    _write_page(site / "queue.html", "queue", "gemmadoc review queue", {"out": str(out), "items": queue, "gaps": gaps}, "")
    return Built(site / "index.html", len(entries), len(queue), gaps)


# ---------------------------------------------------------------- reading the output folder
def _document_rows(out: Path, gaps: list[str]) -> list[dict]:
    """One row per current document: the documents table, else the JSON files (older folders)."""
    table = out / "tables" / "documents"
    if table.is_dir() and any(table.glob("part-*.parquet")):
        docs = read_table(out, "documents")
        docs = docs.drop_duplicates("doc_id", keep="last")[["doc_id", "name", "path", "media_type", "status"]]
        return docs.astype(object).where(docs.notna(), None).to_dict("records")
    gaps.append(f"no documents table in {out}/tables: documents listed from {out}/json")
    rows = []
    for path in sorted((out / "json").glob("*.json")) if (out / "json").is_dir() else []:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            rows.append({"doc_id": data["doc_id"], "name": data.get("name", path.stem), "path": data.get("path", ""),
                         "status": data.get("status", "unknown"), "media_type": data.get("media_type", "")})
        except (OSError, ValueError, KeyError) as e:
            gaps.append(f"{path.name}: unreadable ({e})")
    return rows


def _load_result(out: Path, doc_id: str) -> DocumentResult | None:
    path = out / "json" / f"{doc_id}.json"
    try:
        data = json.loads(path.read_bytes())
        data.pop("run_id", None)  # written beside the result; not part of it
        return DocumentResult.model_validate(data)
    except (OSError, ValueError, AttributeError):
        return None


def _loose_errors(out: Path) -> list[dict]:
    """Errors that belong to no processed document (discovery: unreadable files, stray files, links)."""
    errors = read_table(out, "errors")
    if not len(errors):
        return []
    loose = errors[errors["work_key"].isna() | (errors["work_key"] == "")]
    return [{"path": r["path"], "kind": r["kind"], "severity": r["severity"], "message": r["message"]}
            for r in loose.to_dict("records")]


# ---------------------------------------------------------------- one document
def _document_view(out: Path, site: Path, row: dict, gaps: list[str]) -> dict:
    doc_id = row["doc_id"]
    key = doc_id[:16]
    result = _load_result(out, doc_id)
    source = row.get("path") or ""
    doc = {"key": key, "doc_id": doc_id, "name": row.get("name") or source, "path": source,
           "media_type": row.get("media_type") or "", "status": row.get("status") or "unknown",
           "source_exists": bool(source) and os.path.exists(source), "notes": [], "errors": [], "fields": [],
           "units": [], "video": None}
    if result is None:
        doc["notes"].append(f"the JSON of this document ({out}/json/{doc_id}.json) is missing or unreadable: "
                            "its values cannot be shown")
        gaps.append(f"{doc['name']}: JSON missing")
        return doc
    video = result.media_type == "video" or result.frames > 0  # an animated image is cited by time too
    doc["errors"] = [{"stage": e.stage, "kind": e.kind, "severity": e.severity, "message": e.message} for e in result.errors]
    wanted: dict[str, float | int] = {}
    for e in result.extractions:
        cites = []
        for c in e.citations:
            unit = _unit_key(c.t_seconds if video else c.page, video)
            claimed = _unit_key(c.claimed_t_seconds if video else c.claimed_page, video)
            for k, v in ((unit, c.t_seconds if video else c.page), (claimed, c.claimed_t_seconds if video else c.claimed_page)):
                if k:
                    wanted[k] = v
            cites.append({"unit": unit, "claimed": claimed if claimed != unit else None, "quote": c.quote,
                          "match": c.match, "score": round(c.score, 3), "value_supported": c.value_supported,
                          "reason": c.reason, "document": result.name, "t": c.t_seconds,
                          "boxes": [[b.x0, b.y0, b.x1, b.y1] for b in c.boxes_norm]})
        doc["fields"].append({"field": e.field, "value": _value_text(e.value), "verified": e.verified,
                              "supported": not any(c.value_supported is False for c in e.citations),
                              "conflicts": [_value_text(v) for v in e.conflicts], "citations": cites})
    if not wanted:
        wanted[_unit_key(0.0 if video else 1, video)] = 0.0 if video else 1
    unrendered = {e.page: e.kind for e in result.errors if e.kind in UNRENDERED and e.page}
    for k, where in sorted(wanted.items(), key=lambda kv: kv[1]):
        doc["units"].append(_unit_view(out, site, doc, k, where, video, None if video else unrendered.get(int(where))))
    return doc


def _unit_key(where, video: bool) -> str | None:
    if where is None:
        return None
    return f"t{round(float(where) * 1000)}" if video else f"p{int(where)}"


def _value_text(v) -> str:
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)


UNRENDERED = {"render_timeout", "render_failed", "limit_memory"}  # a page the run could not render is not tried again
RENDER_TIMEOUT_S = 60.0  # a page re-rendered for the review hangs no longer than a run's page (--page-timeout)


def _unit_view(out: Path, site: Path, doc: dict, key: str, where, video: bool, unrendered: str | None = None) -> dict:
    name = unit_file(where, video)
    label = _timestamp(where) if video else f"page {where}"
    target = site / "img" / doc["key"] / name
    view = {"key": key, "label": label, "t": float(where) if video else None, "image": None, "missing": None}
    kept = pages_dir(out, doc["doc_id"]) / name
    try:
        if target.exists():
            pass
        elif unrendered:
            view["missing"] = f"the run could not render this page ({unrendered}): it is not rendered again here"
            return view
        elif kept.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            _link_or_copy(kept, target)
        elif doc["source_exists"]:
            target.parent.mkdir(parents=True, exist_ok=True)
            _render(doc["path"], doc["media_type"], where, target, video)
        else:
            view["missing"] = (f"no image of this {'frame' if video else 'page'}: the run kept none "
                               f"and the source file {doc['path']} is gone")
            return view
    except Exception as e:  # noqa: BLE001 - a broken source must not stop the site
        view["missing"] = f"could not render this {'frame' if video else 'page'} from {doc['path']}: {e}"
        return view
    view["image"] = f"img/{doc['key']}/{name}"
    return view


def _timestamp(t: float) -> str:
    t = int(t)
    return f"{t // 3600}:{t // 60 % 60:02d}:{t % 60:02d}" if t >= 3600 else f"{t // 60:02d}:{t % 60:02d}"


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _render(source: str, media_type: str, where, target: Path, timed: bool = False) -> None:
    """Re-render one page or frame from the source file (the run kept no image of it): `where` is a page
    number, or a time in seconds when `timed` (a video, an animated image)."""
    from PIL import Image

    if media_type == "pdf":  # in the run's guarded page worker: a page that hangs MuPDF or bombs is cut off
        import pymupdf

        from pipeline.ingest.render import thread_guard
        from schemas.options import IngestOptions

        with pymupdf.open(source) as pdf:
            page = pdf[int(where) - 1]
            width, height = page.rect.width, page.rect.height
        # the worker picks the zoom of as many tiles as ingest kept the page for (pipeline/slices.py)
        zooms = tuple(keep_scale(width, height, area_slices(width, height) * side * side) for side in range(1, MAX_TILE_SIDE + 1))
        thread_guard(IngestOptions().max_page_memory_mb).read(source, int(where) - 1, zooms, str(target), RENDER_TIMEOUT_S)
    elif media_type == "video":
        import cv2

        cap = cv2.VideoCapture(source)
        try:
            cap.set(cv2.CAP_PROP_POS_MSEC, float(where) * 1000)
            ok, frame = cap.read()
        finally:
            cap.release()
        if not ok:
            raise ValueError(f"no frame at {where} s")
        shrink_to_keep(Image.fromarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))).save(target, quality=80)
    else:
        from PIL import ImageOps

        from pipeline.ingest.animation import seek_to_time
        from pipeline.ingest.image import to_rgb

        with Image.open(source) as im:
            if timed:
                seek_to_time(im, float(where))
                frame = to_rgb(im)
            else:
                im.seek(int(where) - 1)
                frame = to_rgb(ImageOps.exif_transpose(im) if int(where) == 1 else im)
            shrink_to_keep(frame).save(target, quality=80)


def _safe_clip(site: Path, doc: dict) -> tuple[str | None, str | None]:
    """`_clip`, where a video that breaks it gets a note instead of stopping the site."""
    try:
        return _clip(site, doc)
    except Exception as e:  # noqa: BLE001 - a broken source must not stop the site
        return None, f"no playback of {doc['path']}: {type(e).__name__}: {e}; frames kept by the run are shown"


def _clip(site: Path, doc: dict) -> tuple[str | None, str | None]:
    """The video as Chromium can play and seek it from file://: the source itself (linked) when it is
    H.264/AV1 MP4 or VP8/VP9/AV1 WebM, else a small VP8 WebM copy (OpenCV's usual MPEG-4 part 2 does
    not play there). Returns (path relative to the site, or None and why)."""
    for ext in ("webm", "mp4"):
        if (site / "media" / f"{doc['key']}.{ext}").exists():
            return f"media/{doc['key']}.{ext}", None
    if not doc["source_exists"]:
        return None, f"the video {doc['path']} is gone: frames kept by the run are shown, without playback"
    import cv2

    from pipeline.discover import sniff

    cap = cv2.VideoCapture(doc["path"])
    code = int(cap.get(cv2.CAP_PROP_FOURCC) or 0)  # -1 for a stream OpenCV cannot name
    fourcc = code.to_bytes(4, "little").decode("latin-1").lower() if 0 < code < 2**32 else ""
    with open(doc["path"], "rb") as f:
        kind = sniff(f.read(1024))
    mime = kind[1] if kind else ""
    if (mime, fourcc) in PLAYABLE:
        cap.release()
        ext = "webm" if mime == "video/webm" else "mp4"
        _link_or_copy(Path(doc["path"]), site / "media" / f"{doc['key']}.{ext}")
        return f"media/{doc['key']}.{ext}", None
    target = site / "media" / f"{doc['key']}.webm"
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # "no tag for VP8 in WebM": it plays all the same
    writer = None
    try:
        fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
        fps = fps if 0 < fps < 1000 else 25.0
        every = max(1, round(fps / CLIP_MAX_FPS))
        n = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if n % every == 0:
                h, w = frame.shape[:2]
                scale = min(1.0, CLIP_MAX_WIDTH / w)
                size = (max(2, round(w * scale) // 2 * 2), max(2, round(h * scale) // 2 * 2))
                if writer is None:
                    writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"VP80"), fps / every, size)
                writer.write(cv2.resize(frame, size, interpolation=cv2.INTER_AREA))
            n += 1
    finally:
        cap.release()
        if writer is not None:
            writer.release()
    if writer is None or not target.exists():
        return None, f"could not make a playable copy of {doc['path']}"
    return f"media/{doc['key']}.webm", None


# ---------------------------------------------------------------- index and queue
def _index_entry(doc: dict) -> dict:
    fields = doc["fields"]
    return {"key": doc["key"], "doc_id": doc["doc_id"], "name": doc["name"], "status": doc["status"],
            "media_type": doc["media_type"], "values": len(fields), "verified": sum(f["verified"] for f in fields),
            "unverified": sum(not f["verified"] for f in fields), "unsupported": sum(not f["supported"] for f in fields),
            "errors": [f"{e['stage']}/{e['kind']}: {e['message']}" for e in doc["errors"] if e["severity"] == "error"],
            "warnings": sum(e["severity"] == "warning" for e in doc["errors"]), "notes": doc["notes"]}


def _queue_items(doc: dict) -> list[dict]:
    """Every value a person must check in this document: unverified, unsupported, low score; or the
    document itself when it failed."""
    items = []
    if doc["status"] == "failed":
        items.append({"key": doc["key"], "doc_id": doc["doc_id"], "name": doc["name"], "field": "", "value": "",
                      "reasons": ["failed document"] + [e["message"] for e in doc["errors"] if e["severity"] == "error"][:2]})
    for f in doc["fields"]:
        reasons = []
        if not f["verified"]:
            reasons.append("unverified" if f["supported"] else "value not supported")
        located = [c["score"] for c in f["citations"] if c["match"] != "unverified"]
        if located and min(located) < LOW_SCORE:
            reasons.append(f"low score {min(located):.2f}")
        if reasons:
            items.append({"key": doc["key"], "doc_id": doc["doc_id"], "name": doc["name"], "field": f["field"],
                          "value": f["value"], "reasons": reasons})
    return items


def _matches(doc: dict, only: str) -> bool:
    if only == "failed":
        return doc["status"] == "failed"
    if only == "unsupported":
        return any(not f["supported"] for f in doc["fields"])
    return any(not f["verified"] for f in doc["fields"])


# ---------------------------------------------------------------- HTML
def _write_page(path: Path, view: str, title: str, data: dict, root: str) -> None:
    """A page shell: local style and script, and the page's data as inert JSON (`<`, `>` and `&` are
    escaped, so no text in it can close the script element)."""
    payload = json.dumps(data, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    page = (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title>"
            f'<link rel="stylesheet" href="{root}assets/review.css"></head>\n'
            f'<body data-view="{view}" data-root="{root}"><main id="app"></main>\n'
            f'<script type="application/json" id="data">{payload}</script>\n'
            f'<script src="{root}assets/review.js"></script></body></html>\n')
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)
