"""Animated GIF, PNG, WebP and AVIF files are read like short videos (frames at --video-fps, by their own display
times, cited by time); a JPEG that carries extra pictures (MPO) is read as its primary picture."""

import shutil

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageDraw, ImageFont
from typer.testing import CliRunner

from flows.cli import app
from pipeline.discover import discover
from pipeline.errors import StageError
from pipeline.ingest import ingest_document
from pipeline.ingest.animation import frame_seconds, seek_to_time
from schemas.options import IngestOptions
from schemas.records import FrameUnit, PageUnit

SCENES = ["INVOICE NO 1041", "TOTAL DUE 250.00", "PAID IN FULL"]  # three words: the scripted backend quotes them
DURATIONS_MS = [700, 1200, 900]  # scene starts 0.0, 0.7, 1.9 s; ends 2.8 s -> samples 0, 1, 2 s


def scene(text: str, shade: int = 255) -> Image.Image:
    im = Image.new("RGB", (480, 200), (shade, shade, shade))
    ImageDraw.Draw(im).text((30, 70), text, fill="black", font=ImageFont.load_default(size=44))
    return im


def write_animation(path, durations=DURATIONS_MS, texts=SCENES):
    frames = [scene(t) for t in texts]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=list(durations), loop=0)
    return path


def ingest(path, spool, **options):
    return ingest_document(discover([path]).documents[0], IngestOptions(**options), spool)


@pytest.mark.parametrize("name", ["screen.gif", "screen.png", "screen.webp", "screen.avif"])
def test_an_animation_is_sampled_by_its_frame_times_and_read(tmp_path, spool, name):
    res = ingest(write_animation(tmp_path / name), spool)
    assert res.status == "ok" and not res.errors
    assert all(isinstance(u, FrameUnit) and u.exact for u in res.units)
    # 0 s shows the first scene, 1 s the second (on screen 0.7-1.9 s), 2 s the third
    assert [u.t_seconds for u in res.units] == [0.0, 1.0, 2.0]
    read = [" ".join(w.text for w in u.words).replace(" ", "") for u in res.units]
    for text, words in zip(SCENES, read):
        assert text.replace(" ", "") in words, (name, read)
    assert (res.units[0].width, res.units[0].height) == (480.0, 200.0)


def test_an_apng_default_image_outside_the_animation_is_not_a_frame(tmp_path, spool):
    poster = scene("OPEN IN A BROWSER", shade=200)  # what viewers that cannot animate show instead
    frames = [scene(t) for t in SCENES]
    poster.save(tmp_path / "a.png", save_all=True, append_images=frames, duration=DURATIONS_MS, default_image=True)
    res = ingest(tmp_path / "a.png", spool)
    assert [u.t_seconds for u in res.units] == [0.0, 1.0, 2.0]
    assert SCENES[0].replace(" ", "") in "".join(w.text for w in res.units[0].words).replace(" ", "")
    with Image.open(tmp_path / "a.png") as im:
        assert seek_to_time(im, 0.0) == 1 and seek_to_time(im, 1.0) == 2


def test_two_samples_a_second_and_frames_that_flash_by(tmp_path, spool):
    res = ingest(write_animation(tmp_path / "a.gif"), spool, ocr="off", video_fps=2)
    # samples every 0.5 s; each stands for the frame on screen then, a frame kept once
    assert [u.t_seconds for u in res.units] == [0.0, 1.0, 2.0]
    # no stated delay (0 ms) is played at 100 ms, as browsers do: 3 frames last 0.3 s, one sample
    flash = ingest(write_animation(tmp_path / "flash.gif", durations=[0, 0, 0]), spool, ocr="off")
    assert [u.t_seconds for u in flash.units] == [0.0]
    assert frame_seconds({"duration": 0}) == frame_seconds({}) == 0.1 and frame_seconds({"duration": 40}) == 0.04


def test_a_long_animation_stops_at_the_duration_limit(tmp_path, spool):
    res = ingest(write_animation(tmp_path / "slow.gif", durations=[5000, 5000, 5000]), spool, ocr="off",
                 max_video_seconds=8)
    assert [u.t_seconds for u in res.units] == [0.0, 5.0]
    assert [(e.kind, e.t_seconds) for e in res.errors] == [("limit_duration", 8.0)]


def test_an_animation_is_judged_by_the_size_its_frames_decode_to(tmp_path, spool):
    path = write_animation(tmp_path / "big.gif")  # 480 x 200: a palette frame of 0.09 MB, RGBA frames of 0.37 MB
    with pytest.raises(StageError) as e:
        ingest(path, spool, ocr="off", max_image_mb=0.2)
    assert e.value.kind == "limit_memory" and "RGBA" in e.value.message


def test_an_animation_cut_short_keeps_the_frames_before_the_cut(tmp_path, spool):
    path = write_animation(tmp_path / "cut.gif", durations=[1000, 1000, 1000])
    data = path.read_bytes()
    with Image.open(path) as im:  # the byte where the third frame starts
        im.seek(1)
        im.seek(2)
        third = im.tile[0][2]
    path.write_bytes(data[:third + 40])
    res = ingest(path, spool, ocr="off")
    assert [u.t_seconds for u in res.units][:2] == [0.0, 1.0]
    assert res.status == "partial" and res.errors[0].kind in ("truncated", "corrupt")
    assert res.errors[0].t_seconds is not None


def test_a_still_gif_a_multipage_gif_and_a_multipage_tiff_stay_pages(tmp_path, spool):
    scene(SCENES[0]).convert("P").save(tmp_path / "still.gif")
    frames = [scene(t).convert("L") for t in SCENES]
    frames[0].save(tmp_path / "fax.tif", save_all=True, append_images=frames[1:])
    frames[0].save(tmp_path / "fax.gif", save_all=True, append_images=frames[1:])  # no delays, no loop: pages
    assert [type(u) for u in ingest(tmp_path / "still.gif", spool, ocr="off").units] == [PageUnit]
    assert [u.page for u in ingest(tmp_path / "fax.tif", spool, ocr="off").units] == [1, 2, 3]
    assert [u.page for u in ingest(tmp_path / "fax.gif", spool, ocr="off").units] == [1, 2, 3]


def test_a_jpeg_with_a_gain_map_is_read_as_its_primary_picture(tmp_path, spool):
    """Phones store an HDR gain map or a preview as a second picture in the JPEG (MPO): not a second page."""
    photo, gain_map = scene(SCENES[1]), Image.new("RGB", (240, 100), (90, 90, 90))
    photo.save(tmp_path / "phone.jpg", format="MPO", save_all=True, append_images=[gain_map])
    with Image.open(tmp_path / "phone.jpg") as im:
        assert im.format == "MPO" and im.n_frames == 2  # what Pillow sees
    res = ingest(tmp_path / "phone.jpg", spool)
    assert len(res.units) == 1 and isinstance(res.units[0], PageUnit) and not res.errors
    assert (res.units[0].width, res.units[0].height) == (480.0, 200.0)
    assert "250.00" in " ".join(w.text for w in res.units[0].words)


def test_an_animation_whose_first_frame_is_unreadable_is_a_clear_failure(tmp_path, spool):
    data = write_animation(tmp_path / "ok.gif").read_bytes()
    (tmp_path / "bad.gif").write_bytes(data[:20])
    with pytest.raises(StageError) as e:
        ingest(tmp_path / "bad.gif", spool, ocr="off")
    assert e.value.kind in ("corrupt", "truncated")


def test_seek_to_time_finds_the_frame_on_screen(tmp_path):
    with Image.open(write_animation(tmp_path / "a.webp")) as im:
        assert [seek_to_time(im, t) for t in (0.0, 0.69, 0.7, 1.89, 1.9, 2.5, 60.0)] == [0, 0, 1, 1, 2, 2, 2]


def test_an_animation_through_the_flow_is_cited_by_time_and_reviewed(tmp_path, prefect_harness):
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    write_animation(inbox / "screen.gif")
    runner = CliRunner()
    r = runner.invoke(app, ["run", str(inbox), "--out", str(out), "--model", "scripted:", "--schema", "invoice"])
    assert r.exit_code == 0, r.output
    docs = pd.read_parquet(out / "tables" / "documents")
    assert (docs["pages"].iloc[0], docs["frames"].iloc[0], docs["status"].iloc[0]) == (0, 3, "ok")
    cites = pd.read_parquet(out / "tables" / "citations")
    assert len(cites) and cites["page"].isna().all() and set(cites["t_seconds"]) <= {0.0, 1.0, 2.0}
    located = cites[cites["match"] != "unverified"]
    assert len(located) and located["x0"].notna().all()  # verified against the frame's words, with a box
    # the review site shows the cited frames, re-rendered from the source by time when the run kept none
    shutil.rmtree(out / "pages")
    r = runner.invoke(app, ["review", str(out)])
    assert r.exit_code == 0, r.output
    key = docs["doc_id"].iloc[0][:16]
    page = (out / "review" / "doc" / f"{key}.html").read_text()
    for t in sorted(set(cites["t_seconds"])):
        name = f"t{round(t * 1000):09d}.jpg"
        assert f"img/{key}/{name}" in page
        shown = out / "review" / "img" / key / name
        with Image.open(shown) as im:
            expected = scene(SCENES[int(t)]).resize(im.size)
            diff = np.abs(np.asarray(im.convert("L"), float) - np.asarray(expected.convert("L"), float)).mean()
        assert diff < 8, (t, diff)  # the frame on screen at that second, not another scene

