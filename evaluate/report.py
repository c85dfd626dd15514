"""What `gemmadoc eval` writes and prints: Parquet tables, a summary table, an HTML report with a bar
chart of accuracy per field (inline SVG, no network assets) and a small PNG of the same chart."""

from __future__ import annotations

import html
from pathlib import Path

from evaluate.score import EvalResult

FIELD_COLUMNS = ["doc_id", "gold_path", "gold_line", "field", "path", "pred_path", "gold_json", "pred_json", "correct",
                 "status", "how", "similarity", "verified", "page_ok", "box_iou"]


def write_tables(res: EvalResult, folder: Path) -> None:
    """`eval_fields.parquet` and `eval_documents.parquet` under `folder`."""
    import pandas as pd

    folder.mkdir(parents=True, exist_ok=True)
    fields = pd.DataFrame(res.fields, columns=FIELD_COLUMNS)
    for col in ("verified", "page_ok"):
        fields[col] = fields[col].astype("boolean")
    fields["box_iou"] = fields["box_iou"].astype("Float64")
    fields.to_parquet(folder / "eval_fields.parquet", index=False)
    pd.DataFrame(res.documents).to_parquet(folder / "eval_documents.parquet", index=False)


def summary_lines(res: EvalResult) -> list[tuple[str, str, str]]:
    """(field, correct/labelled, accuracy) rows, then the totals."""
    rows = []
    total_c = total_n = 0
    for name, (c, n) in sorted(res.accuracy_by_field().items()):
        rows.append((name, f"{c}/{n}", f"{c / n:.3f}"))
        total_c, total_n = total_c + c, total_n + n
    rows.append(("all fields", f"{total_c}/{total_n}", f"{total_c / total_n:.3f}" if total_n else "-"))
    return rows


def print_summary(res: EvalResult, console) -> None:
    from rich.table import Table

    t = Table("field", "correct", "accuracy", title="accuracy per field")
    for row in summary_lines(res):
        t.add_row(*row)
    console.print(t)
    wrong, right, nv, nu = calibration_text(res)
    console.print(f"verified values that are wrong: {wrong} (of {nv}); unverified values that are right: {right} (of {nu})")
    for name, (right, gold_n, pred_n) in sorted(res.list_scores().items()):
        console.print(f"{name}: {right} items right of {gold_n} in gold and {pred_n} predicted: "
                      f"precision {right / pred_n if pred_n else 0:.3f}, recall {right / gold_n if gold_n else 0:.3f}")
    pages = [r["page_ok"] for r in res.fields if r["page_ok"] is not None]
    ious = [r["box_iou"] for r in res.fields if r["box_iou"] is not None]
    if pages:
        console.print(f"citation page accuracy: {sum(pages) / len(pages):.3f} (of {len(pages)} with gold evidence)"
                      + (f"; mean box IoU {sum(ious) / len(ious):.3f}" if ious else ""))
    for label, items in (("gold documents not in the output", res.missing_in_out),
                         ("output documents without gold", res.not_in_gold),
                         ("gold fields the schema does not have", res.not_in_schema)):
        if items:
            console.print(f"{label} ({len(items)}): " + ", ".join(items[:10]) + (" ..." if len(items) > 10 else ""))


def calibration_text(res: EvalResult) -> tuple[str, str, int, int]:
    wrong, right, nv, nu = res.calibration()
    fmt = lambda x: "-" if x is None else f"{x:.3f}"  # noqa: E731
    return fmt(wrong), fmt(right), nv, nu


def write_html(res: EvalResult, folder: Path, title: str = "gemmadoc eval") -> Path:
    """report.html: the bar chart, the calibration and the table of wrong values; no external assets."""
    acc = sorted(res.accuracy_by_field().items())
    bar_h, width = 22, 420
    bars = []
    for k, (name, (c, n)) in enumerate(acc):
        w = width * c / n if n else 0
        y = k * (bar_h + 6)
        bars.append(f'<text x="0" y="{y + 15}" font-size="12">{html.escape(name)}</text>'
                    f'<rect x="200" y="{y}" width="{w:.1f}" height="{bar_h}" fill="#3b7dd8"/>'
                    f'<text x="{205 + w:.1f}" y="{y + 15}" font-size="12">{c}/{n} ({c / n:.0%})</text>')
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{200 + width + 90}" height="{len(acc) * (bar_h + 6) + 4}" '
           f'role="img" aria-label="accuracy per field">{"".join(bars)}</svg>')
    wrong, right, nv, nu = calibration_text(res)
    bad = [r for r in res.fields if r["status"] in ("wrong", "missing", "spurious")][:500]
    rows = "".join(f"<tr><td>{html.escape(r['doc_id'][:12])}</td><td>{html.escape(r['path'])}</td>"
                   f"<td>{html.escape(r['gold_json'])}</td><td>{html.escape(r['pred_json'])}</td><td>{r['status']}</td>"
                   f"<td>{'' if r['verified'] is None else r['verified']}</td></tr>" for r in bad)
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 6px;font-size:13px}}</style>
</head><body><h1>{html.escape(title)}</h1><h2>Accuracy per field</h2>{svg}
<h2>Does "verified" mean right?</h2><p>Verified values that are wrong: {wrong} (of {nv}).
Unverified values that are right: {right} (of {nu}).</p>
<h2>Values to look at</h2><table><tr><th>document</th><th>field</th><th>gold</th><th>predicted</th><th>status</th><th>verified</th></tr>{rows}</table>
</body></html>"""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "report.html"
    path.write_text(page, encoding="utf-8")
    return path


def write_png(res: EvalResult, path: Path) -> Path:
    """A small PNG of the accuracy chart (Pillow), for a README."""
    from PIL import Image, ImageDraw

    acc = sorted(res.accuracy_by_field().items())
    bar_h, width = 18, 300
    img = Image.new("RGB", (200 + width + 90, max(1, len(acc)) * (bar_h + 6) + 8), "white")
    d = ImageDraw.Draw(img)
    for k, (name, (c, n)) in enumerate(acc):
        y = 4 + k * (bar_h + 6)
        w = width * c / n if n else 0
        d.text((4, y + 3), name[:30], fill="black")
        d.rectangle([200, y, 200 + w, y + bar_h], fill=(59, 125, 216))
        d.text((205 + w, y + 3), f"{c}/{n}", fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


def compare_runs(a: EvalResult, b: EvalResult, console, names: tuple[str, str]) -> list[dict]:
    """Fields scored in both runs where one was right and the other not, printed and returned."""
    from rich.table import Table

    index = {(r["gold_line"], r["path"]): r for r in b.fields if r["status"] != "spurious"}
    diffs = []
    for r in a.fields:
        other = index.get((r["gold_line"], r["path"]))
        if other is None or r["status"] == "spurious" or bool(r["correct"]) == bool(other["correct"]):
            continue
        diffs.append(dict(gold_line=r["gold_line"], field=r["path"], gold=r["gold_json"], a=r["pred_json"],
                          b=other["pred_json"], right=names[0] if r["correct"] else names[1]))
    ca, cb = (sum(1 for r in x.fields if r["correct"] and r["status"] != "spurious") for x in (a, b))
    t = Table("gold line", "field", "gold", names[0], names[1], "right", title=f"{len(diffs)} fields differ")
    for d in diffs[:50]:
        t.add_row(str(d["gold_line"]), d["field"], d["gold"][:40], d["a"][:40], d["b"][:40], d["right"])
    console.print(t)
    console.print(f"{names[0]}: {ca} correct; {names[1]}: {cb} correct")
    return diffs
