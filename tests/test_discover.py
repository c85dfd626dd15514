import hashlib
import io
import os
from pathlib import Path

import pymupdf
from PIL import Image

from pipeline.discover import discover, sniff
from tests.conftest import CORPUS, SAMPLES, needs_corpus


def test_sniff_by_bytes_not_extension():
    assert sniff(b"%PDF-1.7\n...") == ("pdf", "application/pdf")
    assert sniff(b"\x89PNG\r\n\x1a\n" + b"0" * 8)[0] == "image"
    assert sniff(b"\xff\xd8\xff\xe0")[1] == "image/jpeg"
    assert sniff(b"II*\x00abcd")[1] == "image/tiff"
    assert sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ")[1] == "image/webp"
    assert sniff(b"\x00\x00\x00\x18ftypmp42")[0] == "video"
    assert sniff(b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01webm")[1] == "video/webm"
    assert sniff(b"RIFF\x00\x00\x00\x00AVI LIST")[0] == "video"
    assert sniff(b"PK\x03\x04") is None
    assert sniff(b"GIF89a\x10\x00")[1] == "image/gif"
    assert sniff(b"BM" + bytes(12) + (40).to_bytes(4, "little"))[1] == "image/bmp"
    assert sniff(b"BMW is not a bitmap, whatever its name says") is None
    assert sniff(b"\x00\x00\x00\x0cjP  \r\n\x87\n\x00\x00")[1] == "image/jp2"
    assert sniff(b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf")[1] == "image/avif"
    assert sniff(b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1avifmiaf")[1] == "image/avif"
    assert sniff(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic")[1] == "image/heic"  # read with pillow-heif
    assert sniff(bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c") + bytes(8))[1] == "video/x-ms-asf"
    assert sniff(b"FLV\x01\x05\x00\x00\x00\x09")[1] == "video/x-flv"
    assert sniff(b"".join(b"G" + bytes(187) for _ in range(6)))[1] == "video/mp2t"
    assert sniff(b"".join(bytes(4) + b"G" + bytes(187) for _ in range(6)))[1] == "video/mp2t"  # .m2ts
    assert sniff(b"G" + bytes(1023)) is None
    assert sniff(b"oops\n") is None


def test_samples_are_found_with_sha256_ids():
    found = discover([SAMPLES])
    kinds = sorted(d.media_type for d in found.documents)
    assert kinds == ["image", "pdf", "video"]
    for d in found.documents:
        assert d.doc_id == hashlib.sha256(open(d.path, "rb").read()).hexdigest()
    assert not found.errors


def test_bad_files_become_error_records(tmp_path):
    (tmp_path / "empty.pdf").write_bytes(b"")
    (tmp_path / "note.pdf").write_bytes(b"oops\n")
    (tmp_path / "real.mp4").write_bytes(open(SAMPLES / "contract_and_invoice.pdf", "rb").read())
    os.symlink(tmp_path / "loop", tmp_path / "loop")  # a symlink pointing at itself
    sub = tmp_path / "sub"
    sub.mkdir()
    os.symlink(tmp_path, sub / "back")  # directory cycle
    found = discover([tmp_path, tmp_path / "missing"])
    kinds = {e.kind for e in found.errors}
    assert {"empty", "unsupported_type", "symlink_loop", "not_found"} <= kinds
    assert [d.name for d in found.documents] == ["real.mp4"]
    assert found.documents[0].media_type == "pdf"
    assert any(w.kind == "wrong_extension" and w.severity == "warning" for w in found.warnings)


def test_a_typescript_file_is_a_stray_file_not_a_broken_video(tmp_path):
    (tmp_path / "app.ts").write_text("export const total: number = 42;\n")
    (tmp_path / "clip.mp4").write_text("export const total: number = 42;\n")
    found = discover([tmp_path])
    assert [(e.path.rsplit("/", 1)[1], e.severity) for e in found.errors] == [("clip.mp4", "error")]
    assert [(w.path.rsplit("/", 1)[1], w.kind) for w in found.warnings] == [("app.ts", "unsupported_type")]


def test_duplicate_content_is_processed_once(tmp_path):
    data = open(SAMPLES / "scanned_receipt.png", "rb").read()
    (tmp_path / "a.png").write_bytes(data)
    (tmp_path / "b.png").write_bytes(data)
    found = discover([tmp_path])
    assert len(found.documents) == 1
    assert found.warnings[0].kind == "duplicate_content"


def test_file_size_limit(tmp_path):
    (tmp_path / "big.pdf").write_bytes(b"%PDF-1.4\n" + b"0" * 2_000_000)
    found = discover([tmp_path], max_file_mb=1)
    assert found.errors[0].kind == "limit_file_size"


@needs_corpus()
def test_corpus_hostile_discovery():
    found = discover([CORPUS / "hostile"])
    by_name = {os.path.basename(e.path): e.kind for e in found.errors}
    assert by_name["derived_docx_named_as.pdf"] == "unsupported_type"
    assert by_name["qpdf_bad1_not_a_pdf.pdf"] == "unsupported_type"
    assert by_name["pdfplumber_empty_0bytes.pdf"] == "empty"
    jpeg = next(d for d in found.documents if d.name == "derived_jpeg_receipt_named_as.pdf")
    assert jpeg.media_type == "image"


def test_stray_files_and_fifos_are_warnings_not_failures(tmp_path):
    (tmp_path / "notes.txt").write_text("call the supplier")
    (tmp_path / "report.docx").write_bytes(b"PK\x03\x04rest of a zip")
    (tmp_path / "broken.pdf").write_bytes(b"not a pdf at all")
    os.mkfifo(tmp_path / "pipe")
    found = discover([tmp_path])
    warned = {os.path.basename(w.path): w for w in found.warnings}
    assert warned["notes.txt"].kind == "unsupported_type" and warned["notes.txt"].severity == "warning"
    assert "ZIP container" in warned["report.docx"].message
    assert warned["pipe"].kind == "not_a_file" and "named pipe (FIFO)" in warned["pipe"].message
    assert [os.path.basename(e.path) for e in found.errors] == ["broken.pdf"]  # named as a document: a failure


def test_links_never_leave_the_input_folders_unless_asked(tmp_path):
    inbox, outside = tmp_path / "inbox", tmp_path / "outside"
    inbox.mkdir()
    outside.mkdir()
    data = open(SAMPLES / "scanned_receipt.png", "rb").read()
    (outside / "secret.png").write_bytes(data)
    (inbox / "mine.png").write_bytes(open(SAMPLES / "contract_and_invoice.pdf", "rb").read())
    os.symlink(outside / "secret.png", inbox / "secret.png")  # a file outside
    os.symlink(tmp_path, inbox / "up")  # a link to the parent: the whole parent would be walked
    os.symlink(inbox / "mine.png", inbox / "alias.png")  # inside: fine (processed once, as a duplicate)
    found = discover([inbox])
    assert len(found.documents) == 1  # mine.png and its alias inside the folder: one document
    warned = {os.path.basename(w.path): w.kind for w in found.warnings}
    assert warned["secret.png"] == "symlink_outside" and warned["up"] == "symlink_outside"
    assert not any("secret" in d.path for d in found.documents)
    followed = discover([inbox], follow_symlinks=True)
    assert any(d.name == "secret.png" for d in followed.documents)


def test_a_file_still_arriving_is_left_for_the_next_run(tmp_path, monkeypatch):
    import shutil
    import time

    import pipeline.discover as discovery

    shutil.copy(SAMPLES / "contract_and_invoice.pdf", tmp_path / "new.pdf")
    found = discover([tmp_path], min_age_s=60)
    assert not found.documents and [w.kind for w in found.warnings] == ["still_writing"]
    assert found.warnings[0].severity == "warning" and "--min-file-age 60" in found.warnings[0].message
    old = time.time() - 120
    os.utime(tmp_path / "new.pdf", (old, old))
    doc, = discover([tmp_path], min_age_s=60).documents
    assert doc.mtime_ns == os.stat(tmp_path / "new.pdf").st_mtime_ns
    ahead = time.time() + 86400 * 365  # set by a wrong clock: not a copy in progress, never left for ever
    os.utime(tmp_path / "new.pdf", (ahead, ahead))
    assert len(discover([tmp_path], min_age_s=60).documents) == 1
    # a file written to while it is hashed (a copy in progress) is left too, whatever its age
    real_hash = discovery.file_sha256

    def hash_while_appending(path, *a):
        digest = real_hash(path, *a)
        with open(path, "ab") as f:
            f.write(b"% more bytes arriving\n")
        return digest

    monkeypatch.setattr(discovery, "file_sha256", hash_while_appending)
    found = discover([tmp_path])
    assert not found.documents and "changed while it was being read" in found.warnings[0].message


def _letter(path: Path, attach: dict[str, bytes], password: str | None = None) -> Path:
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "Cover letter: please find the documents attached.")
    for name, data in attach.items():
        doc.embfile_add(name, data, filename=name)
    encrypt = dict(encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw=password, owner_pw=password) if password else {}
    doc.save(path, **encrypt)
    return path


def test_documents_a_pdf_carries_are_unpacked_once_and_found(tmp_path):
    """A portfolio's documents and a PDF's attachments are documents of their own, named after the PDF
    that carries them; a nested PDF's too; an e-invoice's XML is no document; a name from the PDF
    cannot write outside the unpack folder; unpacking again writes nothing new."""
    invoice = (SAMPLES / "contract_and_invoice.pdf").read_bytes()
    receipt = (SAMPLES / "scanned_receipt.png").read_bytes()
    inbox, into = tmp_path / "in", tmp_path / "out" / "attachments"
    inbox.mkdir()
    inner = _letter(tmp_path / "inner.pdf", {"talk.mp4": (SAMPLES / "slides.mp4").read_bytes(), "again.png": receipt}).read_bytes()
    _letter(inbox / "letter.pdf", {"invoice.pdf": invoice, "invoice.xml": b"<Invoice/>", "../../evil/scan": receipt,
                                   "bundle.pdf": inner})
    found = discover([inbox], unpack_into=into)
    names = {d.name: d for d in found.documents}
    assert set(names) == {"letter.pdf", "letter.pdf/invoice.pdf", "letter.pdf/scan", "letter.pdf/bundle.pdf",
                          "letter.pdf/bundle.pdf/talk.mp4"}
    assert not found.errors and [w.kind for w in found.warnings] == ["duplicate_content"]  # the receipt twice: read once
    assert names["letter.pdf"].attached_to is None
    assert names["letter.pdf/invoice.pdf"].attached_to == str(inbox / "letter.pdf")
    assert names["letter.pdf/bundle.pdf/talk.mp4"].attached_to == names["letter.pdf/bundle.pdf"].path
    assert names["letter.pdf/bundle.pdf/talk.mp4"].media_type == "video"
    assert names["letter.pdf/invoice.pdf"].doc_id == hashlib.sha256(invoice).hexdigest()
    assert names["letter.pdf/scan"].media_type == "image"
    for d in found.documents[1:]:
        assert into in Path(d.path).parents and Path(d.path).read_bytes()
    written = sorted(p for p in into.rglob("*"))
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and into not in p.parents and p.parent != inbox
                and p.name != "inner.pdf"]
    again = discover([inbox], unpack_into=into)
    assert [(d.name, d.path, d.doc_id) for d in again.documents] == [(d.name, d.path, d.doc_id) for d in found.documents]
    assert sorted(p for p in into.rglob("*")) == written
    assert [d.name for d in discover([inbox]).documents] == ["letter.pdf"]  # not unpacked unless asked


def test_files_pinned_to_pages_are_unpacked_and_links_are_not_mistaken_for_them(tmp_path):
    """An inspection report with a photo pinned to page 2 and the invoice pinned to page 3, and links on
    every page: the pinned files are documents of their own, named after the report; a PDF whose pages
    carry only links has nothing to unpack."""
    inbox, into = tmp_path / "in", tmp_path / "att"
    inbox.mkdir()
    report = pymupdf.open()
    for k in range(3):
        page = report.new_page()
        page.insert_text((72, 72), f"Inspection report, page {k + 1}")
        page.insert_link({"kind": pymupdf.LINK_URI, "from": pymupdf.Rect(72, 60, 200, 80), "uri": "https://example.org"})
    report[1].add_file_annot(pymupdf.Point(300, 300), (SAMPLES / "scanned_receipt.png").read_bytes(), "photo.png")
    report[2].add_file_annot(pymupdf.Point(300, 300), (SAMPLES / "contract_and_invoice.pdf").read_bytes(), "invoice.pdf")
    report.save(inbox / "report.pdf")
    report.close()
    links = pymupdf.open()
    links.new_page().insert_link({"kind": pymupdf.LINK_URI, "from": pymupdf.Rect(72, 60, 200, 80), "uri": "https://example.org"})
    links.save(inbox / "links.pdf")
    found = discover([inbox], unpack_into=into)
    names = {d.name: d for d in found.documents}
    assert set(names) == {"links.pdf", "report.pdf", "report.pdf/photo.png", "report.pdf/invoice.pdf"}, set(names)
    assert names["report.pdf/invoice.pdf"].doc_id == hashlib.sha256((SAMPLES / "contract_and_invoice.pdf").read_bytes()).hexdigest()
    assert names["report.pdf/photo.png"].attached_to == str(inbox / "report.pdf") and not found.warnings


def test_an_encrypted_pdf_unpacks_with_its_password_and_too_large_attachments_are_named(tmp_path):
    inbox, into = tmp_path / "in", tmp_path / "att"
    inbox.mkdir()
    _letter(inbox / "locked.pdf", {"invoice.pdf": (SAMPLES / "contract_and_invoice.pdf").read_bytes()}, password="s3cret")
    assert len(discover([inbox], unpack_into=into).documents) == 1
    assert len(discover([inbox], unpack_into=into, passwords=["wrong", "s3cret"]).documents) == 2
    white = io.BytesIO()
    Image.new("RGB", (2000, 2000), "white").save(white, "BMP")  # 12 MB that the PDF stores deflated, in 20 KB
    _letter(inbox / "big.pdf", {"scan.bmp": white.getvalue()})
    found = discover([inbox / "big.pdf"], unpack_into=into, max_file_mb=1)
    (warning,) = found.warnings
    assert warning.kind == "attachments" and "'scan.bmp', attached to big.pdf" in warning.message
    assert "above --max-file-mb" in warning.message and [d.name for d in found.documents] == ["big.pdf"]


def test_an_attached_decompression_bomb_is_refused_under_the_memory_cap_and_the_rest_unpacked(tmp_path):
    """An embedded file states any size it likes and MuPDF inflates it whole: 400 MB of zeros stored in
    400 KB. Unpacking runs in a worker under the memory cap (which can import PyMuPDF under 512 MB only
    without its layout model), so the bomb fails there with a warning; the PDF and, at a larger cap,
    its other attachment are read."""
    invoice = (SAMPLES / "contract_and_invoice.pdf").read_bytes()
    _letter(tmp_path / "bomb.pdf", {"bomb.pdf": b"%PDF-1.4\n" + bytes(400 << 20)})
    found = discover([tmp_path / "bomb.pdf"], unpack_into=tmp_path / "att", unpack_memory_mb=512)
    assert [d.name for d in found.documents] == ["bomb.pdf"]
    (warning,) = found.warnings
    assert warning.kind == "attachments" and "more than --max-page-memory-mb 512 MB" in warning.message, warning.message
    _letter(tmp_path / "fine.pdf", {"invoice.pdf": invoice})
    found = discover([tmp_path / "fine.pdf"], unpack_into=tmp_path / "att", unpack_memory_mb=512)
    assert [d.name for d in found.documents] == ["fine.pdf", "fine.pdf/invoice.pdf"] and not found.warnings
