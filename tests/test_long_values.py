"""String values longer than a first answer gives them (pipeline/bounds.py, pipeline/longanswers.py):
prose read by a scripted reader that answers like a model under constrained decoding (each value cut to
the characters the request's schema allows), through the real planner, prompts, grounding and merge."""

import json
import random

from pipeline.bounds import long_values
from pipeline.wrap import LONG_STRING, MAX_STRING, string_limit
from schemas.options import RunOptions
from schemas.shape import shape_of
from tests.doubles import ValueReader
from tests.test_extract import run

WORDS = ("the", "lessee", "shall", "maintain", "premises", "in", "good", "repair", "and", "notify", "landlord",
         "of", "any", "defect", "within", "thirty", "days", "after", "discovery", "costs", "are", "borne", "by")


def prose(n_words: int, seed: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(n_words)).capitalize() + "."


def write_prose(path, pages: list[str]):
    """A PDF of one paragraph a page, set in 10 pt lines broken at spaces (so its lines joined by spaces
    are the paragraph)."""
    import pymupdf

    doc = pymupdf.open()
    for text in pages:
        page = doc.new_page()
        assert page.insert_textbox(pymupdf.Rect(60, 60, 540, 780), text, fontsize=10) >= 0
    doc.save(path)
    return str(path)


def schema_file(tmp_path, text_node: dict | None = None) -> str:
    node = text_node or {"type": "string"}
    schema = {"type": "object", "properties": {
        "title": {"type": "string"}, "passage": dict(node),
        "pages": {"type": "array", "items": {"type": "object", "properties": {"text": dict(node)}}}}}
    path = tmp_path / "prose.json"
    path.write_text(json.dumps(schema))
    return str(path)


def max_lengths(request) -> dict[str, int]:
    props = request.response_schema["properties"]
    out = {name: props[name]["anyOf"][0]["properties"]["value"]["maxLength"] for name in ("title", "passage") if name in props}
    if "pages" in props:
        out["pages"] = props["pages"]["items"]["properties"]["text"]["anyOf"][0]["properties"]["value"]["maxLength"]
    return out


def test_values_cut_at_a_first_answers_bound_are_asked_again_longer_and_read_whole(tmp_path):
    """Two pages of prose (about 900 characters each): the first answer cuts the passage and each page's
    text at 200 characters; they alone are asked again with strings of up to 4000, and read whole,
    cited and verified. The title, short, stands from the first answer."""
    pages = [prose(150, 1), prose(150, 2)]
    backend = ValueReader()
    (result,), ex = run([write_prose(tmp_path / "p.pdf", pages)], RunOptions(ocr="off"),
                        schema=schema_file(tmp_path), backend=backend)
    assert result.answer["passage"] == " ".join(pages) and len(result.answer["passage"]) > 4 * MAX_STRING
    assert [p["text"] for p in result.answer["pages"]] == pages
    assert result.answer["title"] and len(result.answer["title"]) < MAX_STRING
    assert result.status == "ok" and not result.errors and ex.stats.part_requests == 1
    first, again = backend.requests
    assert max_lengths(first) == {"title": MAX_STRING, "passage": MAX_STRING, "pages": MAX_STRING}
    assert max_lengths(again) == {"passage": LONG_STRING, "pages": LONG_STRING}  # the title is not asked again
    assert all(e.verified for e in result.extractions)
    assert [e.citations[0].page for e in result.extractions if e.field.startswith("pages")] == [1, 2]


def test_a_schemas_own_max_length_is_kept_and_not_asked_past(tmp_path):
    """A schema's maxLength (here 1000, above the first answer's 200) is the bound from the first request,
    and a value that fills it stands as the schema wants it: not asked again, no warning."""
    pages = [prose(400, 3)]
    backend = ValueReader()
    (result,), ex = run([write_prose(tmp_path / "p.pdf", pages)], RunOptions(ocr="off"),
                        schema=schema_file(tmp_path, {"type": "string", "maxLength": 1000}), backend=backend)
    assert len(backend.requests) == 1 and ex.stats.part_requests == 0
    assert max_lengths(backend.requests[0])["passage"] == 1000
    assert result.answer["passage"] == pages[0][:1000] and not result.errors


def test_a_value_longer_than_any_answer_holds_is_kept_with_a_warning(tmp_path):
    """Prose of about 5000 characters over two pages: asked again, the passage fills the longest bound a
    value has (4000), so it is kept with a value_at_limit warning naming it; each page's text fits."""
    pages = [prose(450, 4), prose(450, 5)]
    assert len(" ".join(pages)) > LONG_STRING
    (result,), ex = run([write_prose(tmp_path / "p.pdf", pages)], RunOptions(ocr="off", max_new_tokens=4096),
                        schema=schema_file(tmp_path), backend=ValueReader())
    assert result.answer["passage"] == " ".join(pages)[:LONG_STRING]
    assert [p["text"] for p in result.answer["pages"]] == pages
    (warning,) = result.errors
    assert warning.kind == "value_at_limit" and warning.severity == "warning" and result.status == "ok"
    assert "`passage`" in warning.message and "`pages`" not in warning.message and ex.stats.part_requests == 1


def test_a_collections_cut_values_are_kept_with_a_warning_on_each_document(tmp_path):
    """A collection request is not asked again: its values cut at the first bound are kept, and each of its
    documents says so."""
    paths = [write_prose(tmp_path / f"{n}.pdf", [prose(100, k)]) for k, n in enumerate("ab")]
    results, ex = run(paths, RunOptions(ocr="off", collection=True), schema=schema_file(tmp_path), backend=ValueReader())
    assert ex.stats.part_requests == 0
    for r in results:
        (warning,) = r.errors
        assert warning.kind == "value_at_limit" and "`passage`" in warning.message


def test_long_values_names_the_fields_to_ask_again_and_those_at_their_limit():
    """Which string values fill their bound: an enum or a number never; a value in a list item counts for
    its top-level field; a schema's maxLength above the longest bound is at its limit in any answer."""
    shape = shape_of(_schema())

    def cited(v):
        return {"value": v, "citations": [{"page": 1, "quote": "x"}]}

    answer = {"kind": cited("a"), "amount": cited(1.0), "note": cited("n" * MAX_STRING), "short": cited("s" * 50),
              "huge": cited("h" * LONG_STRING), "items": [{"text": cited("t")}, {"text": cited("t" * MAX_STRING)}]}
    found = long_values(answer, shape)
    assert found.again == ("note", "items") and found.at_limit == ("huge",)
    answer.update(note=cited("n" * (MAX_STRING - 1)), items=[], huge=cited("h"))
    assert long_values(answer, shape) == long_values({}, shape)
    longer = {"note": cited("n" * LONG_STRING), "huge": cited("h" * LONG_STRING)}
    assert long_values(longer, shape, longer=True).at_limit == ("note", "huge")
    leaves = {leaf.path: leaf for leaf in shape.leaves()}
    assert (string_limit(leaves["short"]), string_limit(leaves["short"], True)) == (50, 50)
    assert (string_limit(leaves["note"]), string_limit(leaves["note"], True)) == (MAX_STRING, LONG_STRING)


def _schema() -> dict:
    return {"type": "object", "properties": {
        "kind": {"type": "string", "enum": ["a" * MAX_STRING, "a"]}, "amount": {"type": "number"},
        "note": {"type": "string"}, "short": {"type": "string", "maxLength": 50},
        "huge": {"type": "string", "maxLength": 10 * LONG_STRING},
        "items": {"type": "array", "items": {"type": "object", "properties": {"text": {"type": "string"}}}}}}


def test_a_full_list_whose_values_are_cut_too_is_asked_in_parts_with_longer_strings(tmp_path):
    """14 pages of prose, a `pages` item each: a first answer holds at most 12 items, each cut at 200
    characters; the list is asked in parts (runs of pages), each with longer strings, and every page's
    text comes back whole, once, in order."""
    pages = [prose(60, 10 + k) for k in range(14)]
    schema = tmp_path / "pages.json"
    schema.write_text(json.dumps({"type": "object", "properties": {"pages": {"type": "array", "items": {
        "type": "object", "properties": {"text": {"type": "string"}}}}}}))
    backend = ValueReader()
    (result,), ex = run([write_prose(tmp_path / "p.pdf", pages)], RunOptions(ocr="off", max_context=65536),
                        schema=str(schema), backend=backend)
    assert [p["text"] for p in result.answer["pages"]] == pages and not result.errors
    first, *parts = {r.request_id: r for r in backend.requests}.values()  # a retry at twice the tokens asks again
    assert first.window is None and max_lengths(first)["pages"] == MAX_STRING
    assert len(parts) == ex.stats.part_requests >= 2 and all(max_lengths(r)["pages"] == LONG_STRING for r in parts)
    assert all(r.window is not None and r.window[1] - r.window[0] < 13 for r in parts)  # runs of pages
