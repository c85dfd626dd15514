"""Every kind of error or warning row gemmadoc writes, its category, and what the user should do.

The README's table of error kinds is this module's `KINDS`, and a test keeps the two the same."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, NamedTuple

Category = Literal["input", "ingest", "model", "grounding", "output"]


class ErrorKind(StrEnum):
    # input: what discovery finds
    NOT_FOUND = "not_found"
    UNREADABLE = "unreadable"
    SYMLINK_LOOP = "symlink_loop"
    SYMLINK_OUTSIDE = "symlink_outside"
    NOT_A_FILE = "not_a_file"
    EMPTY = "empty"
    LIMIT_FILE_SIZE = "limit_file_size"
    UNSUPPORTED_TYPE = "unsupported_type"
    DUPLICATE_CONTENT = "duplicate_content"
    WRONG_EXTENSION = "wrong_extension"
    STILL_WRITING = "still_writing"
    # ingest: turning a file into pages or frames
    CORRUPT = "corrupt"
    ENCRYPTED = "encrypted"
    ZERO_PAGES = "zero_pages"
    REPAIRED = "repaired"
    HIDDEN_TEXT = "hidden_text"
    MISCODED_TEXT = "miscoded_text"
    UNREAD_SCRIPT = "unread_script"
    ATTACHMENTS = "attachments"
    LIMIT_PAGES = "limit_pages"
    LIMIT_PIXELS = "limit_pixels"
    LIMIT_MEMORY = "limit_memory"
    LIMIT_DURATION = "limit_duration"
    TIMEOUT = "timeout"
    RENDER_TIMEOUT = "render_timeout"
    RENDER_FAILED = "render_failed"
    PAGE_FAILED = "page_failed"
    UNREADABLE_VIDEO = "unreadable_video"
    TRUNCATED = "truncated"
    UNRELIABLE_TIMESTAMPS = "unreliable_timestamps"
    CHANGED_DURING_RUN = "changed_during_run"
    INTERNAL_ERROR = "internal_error"
    # model: planning requests, generating, reading the answer
    PLAN_FAILED = "plan_failed"
    CONTEXT_OVERFLOW = "context_overflow"
    GENERATION_FAILED = "generation_failed"
    GENERATION_TIMEOUT = "generation_timeout"
    TRUNCATED_OUTPUT = "truncated_output"
    INVALID_JSON = "invalid_json"
    SCHEMA_VIOLATION = "schema_violation"
    LIST_AT_LIMIT = "list_at_limit"
    VALUE_AT_LIMIT = "value_at_limit"


class KindInfo(NamedTuple):
    category: Category
    action: str  # what the user should do


KINDS: dict[ErrorKind, KindInfo] = {
    ErrorKind.NOT_FOUND: KindInfo("input", "Check the path given on the command line."),
    ErrorKind.UNREADABLE: KindInfo("input", "Give the run's user read access to the file or folder (its files were not processed)."),
    ErrorKind.SYMLINK_LOOP: KindInfo("input", "Remove the link that points back into its own folder."),
    ErrorKind.SYMLINK_OUTSIDE: KindInfo("input", "A link leaves the input folders; copy the file in, or pass --follow-symlinks."),
    ErrorKind.NOT_A_FILE: KindInfo("input", "A FIFO, socket or device sits among the inputs; nothing to do unless it should be a file."),
    ErrorKind.EMPTY: KindInfo("input", "The file has 0 bytes or no content: re-export or re-copy it."),
    ErrorKind.LIMIT_FILE_SIZE: KindInfo("input", "Raise --max-file-mb if the file is genuine."),
    ErrorKind.UNSUPPORTED_TYPE: KindInfo("input", "Convert it to PDF, an image (PNG, JPEG, TIFF, WebP, BMP, GIF, JPEG 2000, AVIF, HEIC) or a common video format; a stray file is only a warning."),
    ErrorKind.DUPLICATE_CONTENT: KindInfo("input", "Nothing: the same bytes were processed once, under the other name."),
    ErrorKind.WRONG_EXTENSION: KindInfo("input", "Nothing: read by its content; rename it to match."),
    ErrorKind.STILL_WRITING: KindInfo("input", "Nothing: the file changed less than --min-file-age seconds ago (it may still be arriving) and the next run reads it."),
    ErrorKind.CORRUPT: KindInfo("ingest", "The file cannot be decoded, or only in part (an image keeps the rows before the damage): get an intact copy."),
    ErrorKind.ENCRYPTED: KindInfo("ingest", "Pass its password with --password (repeatable)."),
    ErrorKind.ZERO_PAGES: KindInfo("ingest", "The PDF has no pages (or an unrecoverable page tree): get an intact copy."),
    ErrorKind.REPAIRED: KindInfo("ingest", "MuPDF repaired a damaged file: check the pages it reports without text."),
    ErrorKind.HIDDEN_TEXT: KindInfo("ingest", "A warning: text-layer words the page does not show (white on white, under a filled box, invisible) were left out of what the model reads and of citations. A redaction drawn over text leaves the text in the file: remove it before sharing the PDF."),
    ErrorKind.MISCODED_TEXT: KindInfo("ingest", "A warning: a page's text layer says other letters than the page shows (a font whose Unicode map is wrong), so the page was read by OCR. Text copied out of this PDF is wrong too: if you produce it, export it again with fonts that map to Unicode."),
    ErrorKind.UNREAD_SCRIPT: KindInfo("ingest", "A warning: OCR read pages, images or video frames written in a script its recogniser does not read (it reads Latin letters, digits and Chinese; Cyrillic, Greek or Arabic come out as look-alike letters, Hebrew as consonants and digits, Hangul as digits alone), and no installed Tesseract model read them either. Their OCR words were left out: the model reads them from the image, and citations on them stay unverified. Install Tesseract with the model of their script (`make ocr-setup`; the message names the packages), or give such documents a text layer (born-digital, or OCR'd by a tool that reads the script), to have them verified."),
    ErrorKind.ATTACHMENTS: KindInfo("ingest", "A warning: the PDF carries documents of its own that were not read: one above --max-file-mb or damaged, or any under --no-attachments. Extract them (a PDF viewer's attachments pane, or `mutool extract`) into the inputs."),
    ErrorKind.LIMIT_PAGES: KindInfo("ingest", "Only the first --max-pages pages were read: raise it if the rest matter."),
    ErrorKind.LIMIT_PIXELS: KindInfo("ingest", "The image is larger than --max-pixels: raise it if the image is genuine."),
    ErrorKind.LIMIT_MEMORY: KindInfo("ingest", "A decompression bomb or a huge page: raise --max-image-mb or --max-page-memory-mb only for a trusted file."),
    ErrorKind.LIMIT_DURATION: KindInfo("ingest", "Only the first --max-video-seconds were read: raise it, or cut the video."),
    ErrorKind.TIMEOUT: KindInfo("ingest", "Ingest ran over --doc-timeout: raise it for very long documents."),
    ErrorKind.RENDER_TIMEOUT: KindInfo("ingest", "A page hung MuPDF (--page-timeout): the file is malformed; re-save it with another tool."),
    ErrorKind.RENDER_FAILED: KindInfo("ingest", "One page could not be rendered: the others were kept; re-save the file."),
    ErrorKind.PAGE_FAILED: KindInfo("ingest", "One page failed unexpectedly: the others were kept; report the file if it is not broken."),
    ErrorKind.UNREADABLE_VIDEO: KindInfo("ingest", "OpenCV cannot decode it: remux or re-encode it (for example to H.264 MP4)."),
    ErrorKind.TRUNCATED: KindInfo("ingest", "The file stops early (a video, an image, a multi-page TIFF): what came before the break was kept; get an intact copy."),
    ErrorKind.UNRELIABLE_TIMESTAMPS: KindInfo("ingest", "Frame times are derived: remux the video to repair its timestamps if cited seconds matter."),
    ErrorKind.CHANGED_DURING_RUN: KindInfo("ingest", "The file was rewritten while it was being read, so nothing read from it was kept: the next run reads the new content (set --min-file-age if files arrive slowly)."),
    ErrorKind.INTERNAL_ERROR: KindInfo("ingest", "An unexpected error (retried): report it with the file if it persists."),
    ErrorKind.PLAN_FAILED: KindInfo("model", "Planning the requests failed unexpectedly: report it with the document."),
    ErrorKind.CONTEXT_OVERFLOW: KindInfo("model", "One page does not fit: raise --max-context or lower --image-tokens."),
    ErrorKind.GENERATION_FAILED: KindInfo("model", "The model failed on this batch: rerun with --retry-failed."),
    ErrorKind.GENERATION_TIMEOUT: KindInfo("model", "Generation ran over --generate-timeout: raise it, or rerun with --retry-failed."),
    ErrorKind.TRUNCATED_OUTPUT: KindInfo("model", "The answer hit --max-new-tokens twice where it could not be asked in smaller parts (a band of a few lines, a frame, a collection): raise it."),
    ErrorKind.INVALID_JSON: KindInfo("model", "The answer did not parse (rare under constrained decoding): rerun with --retry-failed."),
    ErrorKind.SCHEMA_VIOLATION: KindInfo("model", "The answer breaks the schema (a warning; the message names the field and the rule): check the values. A long document's windows each fit the schema, but their merged lists may pass its `maxItems`: every value is kept, and the warning says so."),
    ErrorKind.LIST_AT_LIMIT: KindInfo("model", "A list came back as long as one answer may hold (12 items, or --max-new-tokens) where it could not be asked in smaller parts (a band of a few lines, a frame, a collection; a warning, the items read are kept): items there may be missing, so check those pages."),
    ErrorKind.VALUE_AT_LIMIT: KindInfo("model", "A string value came back as long as one value may be (its schema's maxLength, or 4000 characters where none is set or one above that; a warning, the value is kept): its end may be missing. Check it, or raise the field's maxLength where the schema sets it lower than the value needs."),
}


def category_of(kind: str) -> Category:
    return KINDS[ErrorKind(kind)].category
