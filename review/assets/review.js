// gemmadoc review site. Every string from a document goes into the page as text (textContent), never
// as markup. Decisions are kept in the browser (localStorage) and exported as decisions.json.
"use strict";

const DATA = JSON.parse(document.getElementById("data").textContent);
const ROOT = document.body.dataset.root || "";
const VIEW = document.body.dataset.view;
const STORE = "gemmadoc-review:" + (DATA.out || "");

function put(node, ...children) {  // DOM append, skipping absent children (append(null) would add "null")
  node.append(...children.filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") node.textContent = v;
    else if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  return put(node, ...children);
}

// ------------------------------------------------------------------ decisions
function decisions() {
  try { return JSON.parse(localStorage.getItem(STORE) || "{}"); } catch (e) { return {}; }
}
function decide(docId, field, decision, corrected) {
  const all = decisions();
  all[docId + "\u0000" + field] = {
    doc_id: docId, field: field, decision: decision,
    corrected_value: decision === "correct" ? corrected : null,
    reviewer: localStorage.getItem(STORE + ":reviewer") || "",
    decided_at: new Date().toISOString(),
  };
  localStorage.setItem(STORE, JSON.stringify(all));
  document.dispatchEvent(new CustomEvent("decided"));
}
function decisionOf(docId, field) { return decisions()[docId + "\u0000" + field] || null; }
function exportDecisions() {
  const body = JSON.stringify({ version: 1, out: DATA.out || "", decisions: Object.values(decisions()) }, null, 1);
  const a = el("a", { href: URL.createObjectURL(new Blob([body], { type: "application/json" })), download: "decisions.json" });
  document.body.append(a);
  a.click();
  a.remove();
}

function decisionControls(docId, field, value) {
  const box = el("span", { class: "decide" });
  const state = el("span", { class: "decision" });
  const show = () => {
    const d = decisionOf(docId, field);
    state.textContent = d ? (d.decision === "correct" ? "corrected: " + d.corrected_value : d.decision + "ed") : "";
    box.dataset.decision = d ? d.decision : "";
  };
  const input = el("input", { type: "text", class: "correction", "aria-label": "corrected value", value: value || "" });
  put(box,
    el("button", { type: "button", class: "accept", text: "accept", onclick: () => { decide(docId, field, "accept"); show(); } }),
    el("button", { type: "button", class: "reject", text: "reject", onclick: () => { decide(docId, field, "reject"); show(); } }),
    input,
    el("button", { type: "button", class: "correct", text: "correct", onclick: () => { decide(docId, field, "correct", input.value); show(); } }),
    state);
  show();
  return box;
}

function toolbar(extra) {
  const who = el("input", { type: "text", id: "reviewer", placeholder: "reviewer", "aria-label": "reviewer",
                            value: localStorage.getItem(STORE + ":reviewer") || "" });
  who.addEventListener("change", () => localStorage.setItem(STORE + ":reviewer", who.value));
  const count = el("span", { id: "decided-count" });
  const update = () => { count.textContent = Object.keys(decisions()).length + " decisions"; };
  document.addEventListener("decided", update);
  update();
  return el("nav", { class: "toolbar" },
    el("a", { href: ROOT + "index.html", text: "documents" }), " ",
    el("a", { href: ROOT + "queue.html", text: "review queue" }), " ",
    ...(extra || []), who, count,
    el("button", { type: "button", id: "export", text: "export decisions", onclick: exportDecisions }));
}

function gaps(list) {
  return (list || []).length ? el("ul", { class: "gaps" }, ...list.map((g) => el("li", { text: g }))) : null;
}

function badge(field) {
  if (field.verified) return el("span", { class: "badge verified", text: "verified" });
  if (!field.supported) return el("span", { class: "badge unsupported", text: "value not supported" });
  return el("span", { class: "badge unverified", text: "unverified" });
}

// ------------------------------------------------------------------ index
function renderIndex() {
  const app = document.getElementById("app");
  const docs = DATA.documents.slice();
  let sortKey = "name", sortDir = 1, selected = 0;
  const filter = el("input", { type: "search", id: "filter", placeholder: "filter: name, status, error", "aria-label": "filter" });
  const status = el("select", { id: "status-filter", "aria-label": "status" },
    ...["", "ok", "partial", "failed"].map((s) => el("option", { value: s, text: s || "any status" })));
  const tbody = el("tbody");
  const columns = [["name", "document"], ["status", "status"], ["values", "values"], ["verified", "verified"],
                   ["unverified", "unverified"], ["unsupported", "not supported"], ["errors", "errors"]];
  const head = el("tr", {}, ...columns.map(([k, label]) => el("th", { "data-key": k, tabindex: 0, text: label,
    onclick: () => { sortDir = sortKey === k ? -sortDir : 1; sortKey = k; draw(); } })));
  const shown = () => {
    const q = filter.value.toLowerCase();
    return docs.filter((d) => (!status.value || d.status === status.value) &&
      (!q || (d.name + " " + d.status + " " + d.errors.join(" ")).toLowerCase().includes(q)))
      .sort((a, b) => {
        const x = Array.isArray(a[sortKey]) ? a[sortKey].length : a[sortKey];
        const y = Array.isArray(b[sortKey]) ? b[sortKey].length : b[sortKey];
        return (x < y ? -1 : x > y ? 1 : 0) * sortDir;
      });
  };
  function draw() {
    const rows = shown();
    selected = Math.min(selected, Math.max(0, rows.length - 1));
    tbody.replaceChildren(...rows.map((d, i) => el("tr", { class: (i === selected ? "selected " : "") + "status-" + d.status,
        "data-key": d.key, onclick: () => { selected = i; draw(); } },
      el("td", {}, el("a", { href: "doc/" + d.key + ".html", text: d.name })),
      el("td", { text: d.status }), el("td", { text: d.values }), el("td", { text: d.verified }),
      el("td", { text: d.unverified }), el("td", { text: d.unsupported }),
      el("td", { class: "errors" }, ...d.errors.map((e) => el("div", { text: e })), ...d.notes.map((n) => el("div", { class: "note", text: n }))))));
    const sel = tbody.children[selected];
    if (sel) sel.scrollIntoView({ block: "nearest" });
  }
  filter.addEventListener("input", () => { selected = 0; draw(); });
  status.addEventListener("change", () => { selected = 0; draw(); });
  document.addEventListener("keydown", (ev) => {
    if (ev.target instanceof HTMLInputElement || ev.target instanceof HTMLSelectElement) return;
    const n = tbody.children.length;
    if (ev.key === "j" || ev.key === "ArrowDown") { selected = Math.min(n - 1, selected + 1); draw(); ev.preventDefault(); }
    else if (ev.key === "k" || ev.key === "ArrowUp") { selected = Math.max(0, selected - 1); draw(); ev.preventDefault(); }
    else if (ev.key === "Enter" && tbody.children[selected]) { tbody.children[selected].querySelector("a").click(); }
    else if (ev.key === "/") { filter.focus(); ev.preventDefault(); }
  });
  const loose = (DATA.errors || []).length ? el("section", { class: "loose" }, el("h2", { text: "files not processed" }),
    el("ul", {}, ...DATA.errors.map((e) => el("li", { class: e.severity, text: e.path + ": " + e.kind + ": " + e.message })))) : null;
  put(app, toolbar(), el("h1", { text: "Documents (" + docs.length + ")" }), gaps(DATA.gaps),
    el("p", { class: "help", text: "j / k or arrows: move; Enter: open; /: filter. Click a header to sort." }),
    el("div", { class: "filters" }, filter, status), el("table", { id: "documents" }, el("thead", {}, head), tbody), loose);
  draw();
}

// ------------------------------------------------------------------ queue
function renderQueue() {
  const app = document.getElementById("app");
  const items = DATA.items;
  const list = el("table", { id: "queue" }, el("thead", {}, el("tr", {},
    ...["document", "field", "value", "why", "decision"].map((h) => el("th", { text: h })))),
    el("tbody", {}, ...items.map((it) => el("tr", { "data-doc": it.doc_id, "data-field": it.field },
      el("td", {}, el("a", { href: "doc/" + it.key + ".html" + (it.field ? "#field=" + encodeURIComponent(it.field) : ""), text: it.name })),
      el("td", { class: "field", text: it.field || "(document)" }), el("td", { class: "value", text: it.value }),
      el("td", { text: it.reasons.join("; ") }), el("td", {}, decisionControls(it.doc_id, it.field, it.value))))));
  put(app, toolbar(), el("h1", { text: "Review queue (" + items.length + ")" }), gaps(DATA.gaps),
    el("p", { class: "help", text: "Every value a person must check: unverified, value not supported, low score, failed documents." }), list);
}

// ------------------------------------------------------------------ document
function renderDocument() {
  const doc = DATA;
  const app = document.getElementById("app");
  document.title = doc.name + " - gemmadoc review";
  const units = new Map();
  const pages = el("section", { id: "pages" });
  let video = null;
  if (doc.video) {
    video = el("video", { id: "video", controls: true, preload: "auto", src: ROOT + doc.video });
    pages.append(el("div", { class: "player" }, video));
  }
  for (const u of doc.units) {
    const frame = el("div", { class: "unit", id: "unit-" + u.key, "data-key": u.key });
    frame.append(el("h3", { text: u.label }));
    if (u.image) {
      const holder = el("div", { class: "imgbox" }, el("img", { src: ROOT + u.image, alt: u.label }));
      frame.append(holder);
      units.set(u.key, holder);
    } else {
      frame.append(el("p", { class: "missing", text: u.missing || "no image" }));
    }
    pages.append(frame);
  }
  const fields = el("section", { id: "fields" });
  const byField = new Map();
  doc.fields.forEach((f, i) => {
    const row = el("div", { class: "field", id: "field-" + i, "data-field": f.field });
    byField.set(f.field, row);
    const value = el("button", { type: "button", class: "value", text: f.value, title: "show where", onclick: () => show(i) });
    const cites = el("ol", { class: "citations" }, ...f.citations.map((c, j) => el("li", { class: "match-" + c.match,
        onclick: () => show(i, j) },
      el("span", { class: "where", text: (c.unit ? labelOf(c.unit) : "not found") + (c.claimed ? " (claimed " + labelOf(c.claimed) + ")" : "") }),
      el("span", { class: "kind", text: c.match + " " + c.score.toFixed(2) + (c.value_supported === false ? ", value not on it" : "") }),
      el("q", { text: c.quote }), c.reason ? el("span", { class: "reason", text: c.reason }) : null,
      el("span", { class: "docname", text: c.document }))));
    put(row, el("div", { class: "head" }, el("span", { class: "name", text: f.field }), badge(f)), value,
      f.conflicts.length ? el("div", { class: "conflicts", text: "other values seen: " + f.conflicts.join(" | ") }) : null,
      cites, decisionControls(doc.doc_id, f.field, f.value));
    fields.append(row);
  });
  function labelOf(key) { const u = doc.units.find((x) => x.key === key); return u ? u.label : key; }
  let boxes = [];
  function show(i, only) {
    for (const b of boxes) b.remove();
    boxes = [];
    document.querySelectorAll(".field.active").forEach((n) => n.classList.remove("active"));
    const f = doc.fields[i];
    document.getElementById("field-" + i).classList.add("active");
    let first = null;
    f.citations.forEach((c, j) => {
      if (only !== undefined && j !== only) return;
      const holder = units.get(c.unit);
      if (!holder) return;
      for (const [x0, y0, x1, y1] of c.boxes) {
        const box = el("div", { class: "box hl match-" + c.match, "data-field": f.field, "data-cite": j,
          style: `left:${x0 * 100}%;top:${y0 * 100}%;width:${(x1 - x0) * 100}%;height:${(y1 - y0) * 100}%` });
        holder.append(box);
        boxes.push(box);
        first = first || box;
      }
      if (!first) first = holder;
      if (video && c.t !== null && c.t !== undefined && (only === undefined ? j === 0 : true)) {
        video.currentTime = c.t;
      }
    });
    if (first) first.scrollIntoView({ block: "center" });
  }
  const header = el("header", {},
    el("h1", { text: doc.name }),
    el("p", { class: "meta", text: doc.media_type + " · " + doc.status + " · " + doc.path + (doc.source_exists ? "" : " (source file gone)") }),
    ...doc.notes.map((n) => el("p", { class: "note", text: n })),
    doc.errors.length ? el("ul", { class: "errors" }, ...doc.errors.map((e) => el("li", { class: e.severity,
      text: e.stage + "/" + e.kind + ": " + e.message }))) : null,
    doc.status === "failed" ? el("div", { class: "docdecision" }, "document: ", decisionControls(doc.doc_id, "", "")) : null);
  put(app, toolbar(), header, el("div", { class: "split" }, fields, pages));
  const wanted = new URLSearchParams(location.hash.slice(1)).get("field");
  if (wanted && byField.has(wanted)) {
    const i = doc.fields.findIndex((f) => f.field === wanted);
    byField.get(wanted).scrollIntoView();
    show(i);
  }
}

if (VIEW === "index") renderIndex();
else if (VIEW === "queue") renderQueue();
else renderDocument();
