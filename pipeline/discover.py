"""Walk input paths and identify documents by their bytes (never the extension)."""

from __future__ import annotations

import hashlib
import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from schemas.records import ErrorRecord, SourceDocument

VIDEO_BRANDS_QT = (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip")
AUDIO_BRANDS = (b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B ")  # MPEG-4 audio: voice memos, audiobooks
STILL_IMAGE_BRANDS = (b"avif", b"avis", b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1")
BMP_HEADER_SIZES = tuple(n.to_bytes(4, "little") for n in (12, 40, 52, 56, 64, 108, 124))
ASF_GUID = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")  # Windows Media (.wmv, .asf)
JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
EXTENSIONS = {
    "pdf": {".pdf"},
    "image": {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp", ".gif", ".jp2", ".j2k", ".jpx", ".avif", ".heic",
              ".heif"},
    "video": {".mp4", ".m4v", ".mov", ".avi", ".webm", ".mkv", ".3gp", ".3g2", ".wmv", ".asf", ".flv", ".ts", ".m2ts",
              ".mts"},
}


@dataclass
class Discovery:
    documents: list[SourceDocument] = field(default_factory=list)
    errors: list[ErrorRecord] = field(default_factory=list)
    warnings: list[ErrorRecord] = field(default_factory=list)


def sniff(head: bytes) -> tuple[str, str] | None:
    """(media_type, mime) from the first bytes of a file, or None when it is not a supported kind."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image", "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image", "image/jpeg"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "image", "image/tiff"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image", "image/webp"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image", "image/gif"
    if head[:2] == b"BM" and head[14:18] in BMP_HEADER_SIZES:
        return "image", "image/bmp"
    if head.startswith(JP2_SIGNATURE):
        return "image", "image/jp2"
    if head.startswith(b"\xff\x4f\xff\x51"):  # a bare JPEG 2000 codestream
        return "image", "image/j2k"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video", "video/x-msvideo"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "video", "video/webm" if b"webm" in head[:64] else "video/x-matroska"
    if head.startswith(ASF_GUID):
        return "video", "video/x-ms-asf"
    if head.startswith(b"FLV\x01"):
        return "video", "video/x-flv"
    for offset, packet in ((0, 188), (4, 192)):  # MPEG transport stream; Blu-ray/AVCHD .m2ts prefix a timecode
        if len(head) >= offset + 4 * packet + 1 and all(head[offset + i * packet] == 0x47 for i in range(5)):
            return "video", "video/mp2t"
    if is_audio(head):  # an .m4a shares the MP4 container; no sound file is a document
        return None
    if head[4:8] == b"ftyp" and head[8:12] in STILL_IMAGE_BRANDS:  # HEIF containers hold still images
        return ("image", "image/avif") if _is_avif(head) else ("image", "image/heic")
    if head[4:8] in VIDEO_BRANDS_QT:
        brand = head[8:12]
        return "video", "video/quicktime" if brand == b"qt  " else "video/mp4"
    if b"%PDF-" in head[:1024]:
        return "pdf", "application/pdf"
    return None


# named as a document: one that is none is a failure. A .ts that is not a video is TypeScript, a stray file.
SUPPORTED_EXTENSIONS = set().union(*EXTENSIONS.values()) - {".ts"}


def _file_kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "not a regular file"


def _is_avif(head: bytes) -> bool:
    """An ISO-BMFF still image whose brands (major or compatible, in the ftyp box) name AVIF (Pillow reads
    it); else HEIC (pillow-heif reads it)."""
    brands = head[8:max(16, int.from_bytes(head[:4], "big"))]
    return b"avif" in brands or b"avis" in brands


def is_audio(head: bytes) -> bool:
    """MPEG-4 audio (.m4a), MP3, WAV, Ogg, FLAC, AIFF or AMR, from the first bytes."""
    return ((head[4:8] == b"ftyp" and head[8:12] in AUDIO_BRANDS) or head.startswith((b"ID3", b"OggS", b"fLaC", b"#!AMR"))
            or (head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")) or (head[:4] == b"RIFF" and head[8:12] == b"WAVE")
            or (head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC")))


def describe_unknown(head: bytes) -> str:
    if head.startswith(b"PK\x03\x04"):
        return "a ZIP container (DOCX/XLSX/ODT?), which gemmadoc does not read; convert it to PDF first"
    if is_audio(head):
        return "a sound recording; gemmadoc reads documents, images and videos, not sound"
    return ("not a PDF, image (PNG, JPEG, TIFF, WebP, BMP, GIF, JPEG 2000, AVIF, HEIC) or video (MP4, MOV, AVI, WebM, MKV, "
            "WMV, FLV, MPEG-TS) file (checked by content, not extension)")


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def iter_files(inputs: list[str | Path], errors: list[ErrorRecord], exclude: list[str | Path] = (),
               warnings: list[ErrorRecord] | None = None, follow_symlinks: bool = False):
    """Yield regular files under the inputs, following directory links once (no cycles), never entering
    the `exclude` folders (the run's own output folder, when it lies inside an input), and never
    leaving the input folders through a symbolic link unless `follow_symlinks` (such a link becomes a
    warning)."""
    warnings = warnings if warnings is not None else errors
    seen_dirs: set[tuple[int, int]] = set()
    skip: set[tuple[int, int]] = set()
    for ex in exclude:
        try:
            st = os.stat(ex)
            skip.add((st.st_dev, st.st_ino))
        except OSError:
            continue
    roots = [os.path.realpath(r) for r in inputs if os.path.isdir(r)]

    def outside(link: str) -> bool:
        if follow_symlinks or not os.path.islink(link):
            return False
        target = os.path.realpath(link)
        if any(target == r or target.startswith(r.rstrip(os.sep) + os.sep) for r in roots):
            return False
        warnings.append(ErrorRecord(path=link, stage="discover", kind="symlink_outside", severity="warning",
                                    message=f"skipped {os.path.basename(link)}: a link to {target}, outside the input "
                                            "folders (--follow-symlinks to read it)"))
        return True

    for raw in inputs:
        root = Path(raw)
        if not os.path.lexists(root):
            errors.append(ErrorRecord(path=str(root), stage="discover", kind="not_found", message=f"input path does not exist: {root}"))
            continue
        if not root.is_dir():
            yield root
            continue
        def unreadable(e: OSError) -> None:  # os.walk skips folders it cannot list unless told
            errors.append(ErrorRecord(path=e.filename or str(root), stage="discover", kind="unreadable",
                                      message=f"cannot read folder {e.filename}: {e.strerror}; its files were not processed"))

        for dirpath, dirnames, filenames in os.walk(root, followlinks=True, onerror=unreadable):
            try:
                st = os.stat(dirpath)
            except OSError as e:
                errors.append(ErrorRecord(path=dirpath, stage="discover", kind="unreadable", message=str(e)))
                dirnames[:] = []
                continue
            key = (st.st_dev, st.st_ino)
            if key in skip:
                dirnames[:] = []
                continue
            if key in seen_dirs:
                errors.append(ErrorRecord(path=dirpath, stage="discover", kind="symlink_loop",
                                          message=f"directory visited twice through a symlink: {dirpath}"))
                dirnames[:] = []
                continue
            seen_dirs.add(key)
            dirnames[:] = sorted(d for d in dirnames if not outside(os.path.join(dirpath, d)))
            for name in sorted(filenames):
                if not name.startswith(".") and not outside(os.path.join(dirpath, name)):
                    yield Path(dirpath) / name


def video_seconds(path: str) -> float | None:
    """Duration the container states, or None when it states none; cheap (headers only)."""
    import cv2

    from pipeline.ingest.video import stated_seconds

    cap = cv2.VideoCapture(path)
    try:
        return stated_seconds(cap)
    finally:
        cap.release()


def _still_arriving(path: Path, why: str) -> ErrorRecord:
    return ErrorRecord(path=str(path), stage="discover", kind="still_writing", severity="warning",
                       message=f"skipped {path.name}: {why}; the next run reads it")


def discover(inputs: list[str | Path], max_file_mb: float = 1024.0, exclude: list[str | Path] = (),
             follow_symlinks: bool = False, max_video_seconds: float | None = None, min_age_s: float = 0.0,
             unpack_into: Path | None = None, passwords: list[str] = (), unpack_memory_mb: int = 2048) -> Discovery:
    """Find supported documents under `inputs` (not under `exclude`, not through links that leave the
    inputs unless `follow_symlinks`); unreadable or unsupported files become error records, videos
    longer than `max_video_seconds` a warning (only their beginning will be read), and files changed
    less than `min_age_s` ago, or while being hashed, a warning (they may still be arriving). With
    `unpack_into`, the documents PDFs carry (`pipeline.attachments`) are unpacked there and found too,
    named after the PDF (`letter.pdf/invoice.pdf`), attached PDFs' own up to MAX_NESTING deep, by a
    worker process under `unpack_memory_mb` of address space."""
    out = Discovery()
    seen_ids: dict[str, str] = {}
    for path in iter_files(inputs, out.errors, exclude, out.warnings, follow_symlinks):
        if doc := _admit(path, out, seen_ids, max_file_mb, max_video_seconds, min_age_s):
            out.documents.append(doc)
    if unpack_into is not None:
        _unpack_carried(out, seen_ids, Path(unpack_into), list(passwords), max_file_mb, max_video_seconds, unpack_memory_mb)
    return out


MAX_NESTING = 3  # a PDF attached to a PDF attached to a PDF is read; deeper ones are not unpacked


def _unpack_carried(out: Discovery, seen_ids: dict[str, str], into: Path, passwords: list[str], max_file_mb: float,
                    max_video_seconds: float | None, memory_mb: int) -> None:
    """Append to `out` the documents its PDFs carry, unpacked into `into`."""
    from pipeline.attachments import unpack_attachments

    depth = {d.doc_id: 0 for d in out.documents}
    for doc in out.documents:  # grows as attached PDFs are found
        if doc.media_type != "pdf" or depth[doc.doc_id] >= MAX_NESTING:
            continue
        carried, warnings = unpack_attachments(doc, into, passwords, max_file_mb, memory_mb)
        out.warnings.extend(warnings)
        for item in carried:
            child = _admit(item.path, out, seen_ids, max_file_mb, max_video_seconds, 0.0)
            if child is not None:
                depth[child.doc_id] = depth[doc.doc_id] + 1
                out.documents.append(child.model_copy(update=dict(name=f"{doc.name}/{item.name}", attached_to=doc.path)))


def _admit(path: Path, out: Discovery, seen_ids: dict[str, str], max_file_mb: float, max_video_seconds: float | None,
           min_age_s: float) -> SourceDocument | None:
    """The document at `path`, or None with an error or warning added to `out` (see `discover`)."""
    spath = str(path)
    try:
        st = path.stat()  # follows links: raises ELOOP for a symlink loop
    except OSError as e:
        kind = "symlink_loop" if e.errno == 40 else "unreadable"
        out.errors.append(ErrorRecord(path=spath, stage="discover", kind=kind, message=f"cannot read {path.name}: {e.strerror}"))
        return None
    if not stat.S_ISREG(st.st_mode):  # reading a FIFO would block the run for ever
        out.warnings.append(ErrorRecord(path=spath, stage="discover", kind="not_a_file", severity="warning",
                                        message=f"skipped {path.name}: it is {_file_kind(st.st_mode)}, not a file"))
        return None
    age = time.time() - st.st_mtime  # a time far ahead (a camera's clock) is no sign of a copy in progress
    if abs(age) < min_age_s:
        out.warnings.append(_still_arriving(path, f"changed {max(age, 0):.0f} s ago, less than --min-file-age "
                                                  f"{min_age_s:g}, so it may still be arriving"))
        return None
    if st.st_size == 0:
        out.errors.append(ErrorRecord(path=spath, stage="discover", kind="empty", message=f"{path.name} is an empty file (0 bytes)"))
        return None
    if st.st_size > max_file_mb * 2**20:
        out.errors.append(ErrorRecord(path=spath, stage="discover", kind="limit_file_size",
                                      message=f"{path.name} is {st.st_size / 2**20:.0f} MB, above --max-file-mb {max_file_mb:g}"))
        return None
    try:
        with open(path, "rb") as f:
            head = f.read(1024)
        doc_id = file_sha256(path)
        after = path.stat()
    except OSError as e:
        out.errors.append(ErrorRecord(path=spath, stage="discover", kind="unreadable", message=f"cannot read {path.name}: {e}"))
        return None
    if (after.st_size, after.st_mtime_ns) != (st.st_size, st.st_mtime_ns):
        out.warnings.append(_still_arriving(path, "it changed while it was being read"))
        return None
    kind = sniff(head)
    if kind is None:
        if path.suffix.lower() in SUPPORTED_EXTENSIONS:  # named as a document but is not one: a failure
            out.errors.append(ErrorRecord(doc_id=doc_id, path=spath, stage="discover", kind="unsupported_type",
                                          message=f"{path.name} is {describe_unknown(head)}"))
        else:  # a stray file (notes.txt, a .docx): noted, and the night does not fail for it
            out.warnings.append(ErrorRecord(doc_id=doc_id, path=spath, stage="discover", kind="unsupported_type",
                                            severity="warning", message=f"skipped {path.name}: {describe_unknown(head)}"))
        return None
    media_type, mime = kind
    if doc_id in seen_ids:
        out.warnings.append(ErrorRecord(doc_id=doc_id, path=spath, stage="discover", kind="duplicate_content",
                                        message=f"same bytes as {seen_ids[doc_id]}; processed once", severity="warning"))
        return None
    seen_ids[doc_id] = spath
    ext = path.suffix.lower()
    if ext and ext not in EXTENSIONS[media_type]:
        out.warnings.append(ErrorRecord(doc_id=doc_id, path=spath, stage="discover", kind="wrong_extension",
                                        message=f"{path.name} has extension {ext} but its content is {mime}; read as {media_type}", severity="warning"))
    if media_type == "video" and max_video_seconds:
        seconds = video_seconds(spath)
        if seconds is not None and seconds > max_video_seconds:
            out.warnings.append(ErrorRecord(doc_id=doc_id, path=spath, stage="discover", kind="limit_duration", severity="warning",
                                            message=f"{path.name} is {seconds / 60:.0f} min long; only its first "
                                                    f"{max_video_seconds:g} s will be read (--max-video-seconds)"))
    return SourceDocument(doc_id=doc_id, path=spath, name=path.name, media_type=media_type, mime=mime,
                          size_bytes=st.st_size, mtime_ns=st.st_mtime_ns)
