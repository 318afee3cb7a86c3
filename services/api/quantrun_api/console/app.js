// QuantRun console: one page over this origin's /v1 API (CONTRACT 5.4).
//
// The API key lives in this tab's sessionStorage and goes only in the Authorization
// header (never in a URL). Pages are hash routes: #/jobs, #/new/<model>, #/jobs/<id>,
// #/strategies, #/portfolios[/<id>] (portfolios.js), #/instruments, #/compare/<id>/<id>. Every value from the API is put in the page as
// text (no innerHTML), and a job's report is shown in a sandboxed frame.
"use strict";

const KEY = "quantrun.apiKey";
const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);
const COLOURS = ["#0b5cad", "#c4451c", "#116329", "#8250df", "#9a6700", "#bf3989", "#1b7c83", "#57606a"];
const MAX_ROWS = 50;

// ---- elements and formatting ---------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "text") el.textContent = value;
    else el.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function fmt(value) {
  if (value === null || value === undefined) return "-";
  if (typeof value === "number") {
    if (Number.isInteger(value)) return String(value);
    return Math.abs(value) >= 1e6 || (Math.abs(value) < 1e-4 && value !== 0)
      ? value.toExponential(4) : value.toPrecision(6).replace(/\.?0+$/, "");
  }
  if (typeof value === "boolean") return value ? "true" : "false";
  return String(value);
}

const label = (key) => String(key).replace(/_/g, " ");
const scalar = (v) => v === null || ["string", "number", "boolean"].includes(typeof v);
const when = (iso) => (iso ? new Date(iso).toLocaleString() : "-");

function table(headers, rows, caption, limit = MAX_ROWS) {
  const head = h("tr", {}, headers.map((c, i) => h("th", { scope: "col", class: i ? null : "key" }, label(c))));
  const body = rows.slice(0, limit).map((row) =>
    h("tr", {}, row.map((v, i) => (v instanceof Node ? h("td", { class: i ? null : "key" }, v)
      : h("td", { class: i ? null : "key" }, fmt(v))))));
  return h("div", {},
    caption ? h("h3", {}, label(caption)) : null,
    h("div", { class: "scroll" }, h("table", {}, h("thead", {}, head), h("tbody", {}, body))),
    rows.length > limit ? h("p", { class: "meta" }, `${rows.length - limit} more rows in the result`) : null);
}

function recordTable(name, records) {
  const columns = [];
  for (const record of records.slice(0, MAX_ROWS)) {
    for (const [k, v] of Object.entries(record)) {
      if (scalar(v) && !columns.includes(k)) columns.push(k);
      else if (v && typeof v === "object" && !Array.isArray(v)) {
        for (const [k2, v2] of Object.entries(v)) {
          if (scalar(v2) && !columns.includes(`${k}.${k2}`)) columns.push(`${k}.${k2}`);
        }
      }
    }
  }
  const cols = columns.slice(0, 14);
  const cell = (r, c) => { const [a, b] = c.split("."); return b === undefined ? r[a] : (r[a] || {})[b]; };
  return table(cols, records.map((r) => cols.map((c) => cell(r, c))), name);
}

// The result as tables: top-level figures, then each nested object or list of rows.
function resultTables(result) {
  const parts = [];
  const top = Object.entries(result).filter(([, v]) => scalar(v));
  if (top.length) parts.push(table(["figure", "value"], top));
  for (const [key, value] of Object.entries(result)) {
    if (value && typeof value === "object" && !Array.isArray(value)) {
      const inner = Object.values(value);
      if (inner.length && inner.every(scalar)) parts.push(table(["figure", "value"], Object.entries(value), key));
      else if (inner.length && inner.every((v) => v && typeof v === "object" && !Array.isArray(v))) {
        parts.push(recordTable(key, Object.entries(value).map(([k, v]) => ({ "": k, ...v }))));
      }
    } else if (Array.isArray(value) && value.length) {
      if (value.every((v) => v && typeof v === "object" && !Array.isArray(v))) parts.push(recordTable(key, value));
      else parts.push(h("p", { class: "meta" }, `${label(key)}: ${value.length} values (in the job's JSON)`));
    }
  }
  return parts;
}

// Every scalar of a result as [path, value] (for comparing two jobs).
function flatten(value, prefix = "", out = new Map()) {
  if (scalar(value)) out.set(prefix || "value", value);
  else if (value && typeof value === "object" && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  }
  return out;
}

// ---- the API -------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, error) {
    super(error.message);
    this.status = status;
    this.code = error.code;
    this.details = error.details || [];
  }
}

async function call(method, path, body) {
  const headers = { Authorization: `Bearer ${sessionStorage.getItem(KEY)}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (response.status === 401) {
    sessionStorage.removeItem(KEY);
    route("The API refused the key: sign in again.");
    throw new ApiError(401, { code: "unauthenticated", message: "sign in again" });
  }
  const json = (response.headers.get("content-type") || "").includes("json") ? await response.json() : null;
  if (!response.ok) throw new ApiError(response.status, (json && json.error) || { code: `http_${response.status}`, message: response.statusText });
  return json;
}

async function download(path) {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${sessionStorage.getItem(KEY)}` } });
  if (!response.ok) throw new ApiError(response.status, { code: "download", message: `download failed (${response.status})` });
  return response;
}

let models = null;
async function modelList() {
  models = models || await call("GET", "/v1/models");
  return models;
}

// ---- page lifecycle: timers and streams stop when the page changes --------------------

let page = { timers: [], aborts: [] };
function leave() {
  page.timers.forEach(clearInterval);
  page.aborts.forEach((a) => a.abort());
  page = { timers: [], aborts: [] };
}

function show(title, ...content) {
  const main = document.getElementById("main");
  main.replaceChildren(h("h1", {}, title), ...content);
  document.title = `${title} · QuantRun`;
  return main;
}

function failure(error) {
  return h("p", { class: "alert", role: "alert" }, error instanceof ApiError ? `${error.message} (${error.code})` : String(error));
}

// ---- sign in -------------------------------------------------------------------------

function signIn(message) {
  const input = h("input", { id: "api-key", type: "password", autocomplete: "off", required: true, size: 48 });
  const error = h("p", { class: "field-error", id: "api-key-error", role: "alert" }, message || "");
  const form = h("form", {
    onsubmit: async (event) => {
      event.preventDefault();
      sessionStorage.setItem(KEY, input.value.trim());
      try {
        await modelList();
        location.hash = "#/jobs";
        route();
      } catch (e) {
        error.textContent = e instanceof ApiError && e.status === 401 ? "The API refused that key." : String(e.message);
      }
    },
  },
  h("div", { class: "field" }, h("label", { for: "api-key" }, "API key"), input,
    h("p", { class: "hint" }, "Kept in this tab only (sessionStorage). Make one with `quantrun keys create`."), error),
  h("button", { class: "primary", type: "submit" }, "Sign in"));
  show("Sign in", form);
  input.focus();
}

function nav(current) {
  const link = (href, text, name) => h("a", { href, "aria-current": current === name ? "page" : null }, text);
  document.getElementById("nav").replaceChildren(
    link("#/jobs", "Jobs", "jobs"), link("#/new", "New job", "new"),
    link("#/strategies", "Strategies", "strategies"), link("#/portfolios", "Portfolios", "portfolios"),
    link("#/instruments", "Instruments", "instruments"),
    link("#/compare", "Compare", "compare"),
    h("button", { class: "link", type: "button", onclick: () => { sessionStorage.removeItem(KEY); models = null; route(); } }, "Sign out"));
}

// ---- jobs ----------------------------------------------------------------------------

async function jobsPage(query) {
  const params = new URLSearchParams(query);
  const all = await modelList();
  const modelSelect = h("select", { id: "filter-model" }, h("option", { value: "" }, "all"),
    all.map((m) => h("option", { value: m.name, selected: params.get("model") === m.name }, m.name)));
  const statusSelect = h("select", { id: "filter-status" }, h("option", { value: "" }, "all"),
    ["queued", "running", "succeeded", "failed", "cancelled"].map((s) => h("option", { value: s, selected: params.get("status") === s }, s)));
  const refilter = () => {
    const q = new URLSearchParams();
    if (modelSelect.value) q.set("model", modelSelect.value);
    if (statusSelect.value) q.set("status", statusSelect.value);
    location.hash = `#/jobs${q.toString() ? "?" + q : ""}`;
  };
  modelSelect.addEventListener("change", refilter);
  statusSelect.addEventListener("change", refilter);
  const compare = h("button", { type: "button", disabled: true, id: "compare-selected" }, "Compare selected");
  const body = h("tbody", { id: "jobs-body" });
  const live = h("p", { class: "meta", "aria-live": "polite" });
  const chosen = new Set();
  compare.addEventListener("click", () => { const [a, b] = chosen; location.hash = `#/compare/${a}/${b}`; });
  show("Jobs",
    h("div", { class: "filters" },
      h("div", {}, h("label", { for: "filter-model" }, "Model"), modelSelect),
      h("div", {}, h("label", { for: "filter-status" }, "Status"), statusSelect),
      compare, h("a", { class: "button", href: "#/new" }, "New job")),
    h("table", { id: "jobs-table" },
      h("thead", {}, h("tr", {}, ["", "job", "model", "status", "progress", "created"].map((c, i) =>
        h("th", { scope: "col", class: i < 3 ? "key" : null }, c || h("span", { class: "visually-hidden" }, "compare"))))),
      body),
    live);
  const refresh = async () => {
    const q = new URLSearchParams({ limit: "50", fields: "id,model,status,progress,created_at" });
    if (params.get("model")) q.set("model", params.get("model"));
    if (params.get("status")) q.set("status", params.get("status"));
    const pageOf = await call("GET", `/v1/jobs?${q}`);
    body.replaceChildren(...pageOf.items.map((job) => {
      const box = h("input", { type: "checkbox", "aria-label": `compare ${job.id}`, checked: chosen.has(job.id) });
      box.addEventListener("change", () => {
        box.checked ? chosen.add(job.id) : chosen.delete(job.id);
        compare.disabled = chosen.size !== 2;
      });
      return h("tr", { "data-job": job.id },
        h("td", { class: "key" }, box),
        h("td", { class: "key" }, h("a", { href: `#/jobs/${job.id}` }, h("code", {}, job.id.slice(0, 8)))),
        h("td", { class: "key" }, job.model),
        h("td", {}, h("span", { class: "status", "data-status": job.status }, job.status)),
        h("td", {}, `${Math.round(job.progress * 100)}%`),
        h("td", {}, when(job.created_at)));
    }));
    live.textContent = pageOf.items.length ? `Updated ${new Date().toLocaleTimeString()}` : "No jobs yet.";
  };
  await refresh();
  page.timers.push(setInterval(() => refresh().catch(() => {}), 2000));
}

// ---- new job: a form from the model's params JSON Schema -----------------------------

function resolve(schema, root) {
  if (schema && schema.$ref) return resolve(root.$defs[schema.$ref.split("/").pop()], root);
  return schema || {};
}

function kindOf(schema, root) {
  const s = resolve(schema, root);
  const options = s.anyOf ? s.anyOf.map((x) => resolve(x, root)).filter((x) => x.type !== "null") : [s];
  if (options.length === 1) {
    const o = options[0];
    if (o.enum) return { kind: "enum", values: o.enum };
    if (o.const !== undefined) return { kind: "enum", values: [o.const] };
    if (o.type === "boolean") return { kind: "boolean" };
    if (o.type === "number" || o.type === "integer") return { kind: "number", integer: o.type === "integer" };
    if (o.type === "string") return { kind: o.format === "date" ? "date" : "text" };
  }
  return { kind: "json" };
}

function fieldFor(name, schema, root, value, required) {
  const id = `f-${name}`;
  const { kind, values, integer } = kindOf(schema, root);
  const described = `e-${name} h-${name}`;
  let input;
  if (kind === "enum") {
    input = h("select", { id, name, "aria-describedby": described },
      required ? null : h("option", { value: "" }, "(default)"),
      values.map((v) => h("option", { value: JSON.stringify(v), selected: value !== undefined && JSON.stringify(v) === JSON.stringify(value) }, fmt(v))));
  } else if (kind === "boolean") {
    input = h("input", { id, name, type: "checkbox", checked: value === true, "aria-describedby": described });
  } else if (kind === "number") {
    input = h("input", { id, name, type: "number", step: integer ? "1" : "any", value: value ?? "", "aria-describedby": described });
  } else if (kind === "date" || kind === "text") {
    input = h("input", { id, name, type: kind === "date" ? "date" : "text", value: value ?? "", "aria-describedby": described });
  } else {
    input = h("textarea", { id, name, rows: 1, "aria-describedby": described, spellcheck: "false" });
    input.value = value === undefined ? "" : JSON.stringify(value);
  }
  input.dataset.kind = kind;
  const s = resolve(schema, root);
  return h("div", { class: "field" },
    h("label", { for: id }, name, required ? " (required)" : ""),
    input,
    h("p", { class: "hint", id: `h-${name}` }, s.description || "", kind === "json" ? " (JSON)" : ""),
    h("p", { class: "field-error", id: `e-${name}`, role: "alert" }));
}

function readField(input) {
  const kind = input.dataset.kind;
  if (kind === "boolean") return input.checked;
  if (input.value.trim() === "") return undefined;
  if (kind === "number") return Number(input.value);
  if (kind === "enum") return JSON.parse(input.value);
  if (kind === "json") return JSON.parse(input.value);
  return input.value;
}

async function newJobPage(modelName) {
  const all = await modelList();
  const model = all.find((m) => m.name === modelName) || all[0];
  const picker = h("select", { id: "model", onchange: (e) => { location.hash = `#/new/${e.target.value}`; } },
    all.map((m) => h("option", { value: m.name, selected: m.name === model.name }, m.name)));
  const root = model.params_schema;
  const required = new Set(root.required || []);
  // the example's value, else the schema's default (an unticked box would send false)
  const initial = (name, schema) => (name in model.example ? model.example[name] : resolve(schema, root).default);
  const fields = Object.entries(root.properties || {}).map(([name, schema]) =>
    fieldFor(name, schema, root, initial(name, schema), required.has(name)));
  const formError = h("div", { role: "alert", id: "form-error" });
  const submit = h("button", { class: "primary", type: "submit" }, "Submit job");
  const form = h("form", { id: "job-form", novalidate: true, onsubmit: async (event) => {
    event.preventDefault();
    formError.replaceChildren();
    form.querySelectorAll(".field-error").forEach((p) => { p.textContent = ""; });
    form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
    const params = {};
    for (const input of form.querySelectorAll("[data-kind]")) {
      try {
        const value = readField(input);
        if (value !== undefined) params[input.name] = value;
      } catch (e) {
        fieldError(form, input.name, `not valid JSON (${e.message})`);
        return;
      }
    }
    submit.disabled = true;
    try {
      const job = await call("POST", "/v1/jobs", { model: model.name, params });
      location.hash = `#/jobs/${job.id}`;
    } catch (e) {
      const placed = e instanceof ApiError ? e.details.filter((d) => fieldError(form, paramOf(d.field), d.message)) : [];
      if (!placed.length) formError.replaceChildren(failure(e));
      const first = form.querySelector("[aria-invalid]");
      if (first) first.focus();
    } finally {
      submit.disabled = false;
    }
  } }, fields, formError, submit);
  show("New job",
    h("div", { class: "field" }, h("label", { for: "model" }, "Model"), picker, h("p", { class: "hint" }, model.description)),
    form);
}

// "params.symbols[1]" -> "symbols"
const paramOf = (field) => (field || "").replace(/^params\.?/, "").split(/[.[]/)[0];

function fieldError(form, name, message) {
  const slot = form.querySelector(`#e-${CSS.escape(name)}`);
  const input = form.querySelector(`#f-${CSS.escape(name)}`);
  if (!slot || !input) return false;
  slot.textContent = message;
  input.setAttribute("aria-invalid", "true");
  return true;
}

// ---- job detail ----------------------------------------------------------------------

// Server-Sent Events through fetch (EventSource cannot send the Authorization header).
async function follow(jobId, onEvent, signal) {
  const response = await fetch(`/v1/jobs/${jobId}/events`, { headers: { Authorization: `Bearer ${sessionStorage.getItem(KEY)}` }, signal });
  if (!response.ok || !response.body) throw new Error(`events: ${response.status}`);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const fields = {};
      for (const line of block.split("\n")) {
        if (!line || line.startsWith(":")) continue;
        const at = line.indexOf(":");
        fields[line.slice(0, at)] = line.slice(at + 1).replace(/^ /, "");
      }
      if (fields.data) onEvent(fields.event, JSON.parse(fields.data));
    }
  }
}

function chartOf(title, series, width) {
  const xs = [...new Set(series.flatMap((s) => s.x))].sort();
  const index = new Map(xs.map((x, i) => [x, i]));
  const data = [xs.map((x) => Date.parse(`${x}T00:00:00Z`) / 1000)];
  for (const s of series) {
    const ys = new Array(xs.length).fill(null);
    s.x.forEach((x, i) => { ys[index.get(x)] = s.y[i]; });
    data.push(ys);
  }
  const holder = h("figure", { class: "chart" }, h("h3", {}, title));
  const options = {
    width: Math.max(320, Math.min(width, 1100)),
    height: 300,
    scales: { x: { time: true } },
    axes: [{}, { size: 80 }],  // room for labels in the millions
    series: [{}, ...series.map((s, i) => ({ label: s.name, stroke: COLOURS[i % COLOURS.length], width: 1.5, spanGaps: true }))],
  };
  if (window.uPlot) new window.uPlot(options, data, holder);
  return holder;
}

async function jobPage(jobId) {
  let job;
  try {
    job = await call("GET", `/v1/jobs/${jobId}`);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) {
      show("Job not found", h("p", { class: "notice" }, `No job ${jobId} of yours (not found).`), h("a", { href: "#/jobs" }, "All jobs"));
      return;
    }
    throw e;
  }
  const badge = h("span", { class: "status", id: "job-status", "data-status": job.status }, job.status);
  const bar = h("progress", { id: "job-progress", max: "1", value: String(job.progress), "aria-label": "progress" });
  const shards = h("span", { id: "job-shards" });
  const cancel = h("button", { type: "button", id: "cancel", onclick: async () => { await call("POST", `/v1/jobs/${jobId}/cancel`); } }, "Cancel");
  const state = (s) => {
    badge.textContent = s.status;
    badge.dataset.status = s.status;
    bar.value = s.progress;
    shards.textContent = s.shards ? `shards ${s.shards.done} done, ${s.shards.failed} failed, of ${s.shards.total}` : "";
    cancel.hidden = TERMINAL.has(s.status);
  };
  state(job);
  const body = h("div", { id: "job-body" });
  show(`${label(job.model)} job`,
    h("div", { class: "row", "aria-live": "polite" }, badge, bar, shards, cancel),
    h("dl", { class: "facts" },
      h("dt", {}, "id"), h("dd", {}, h("code", {}, job.id)),
      h("dt", {}, "created"), h("dd", {}, when(job.created_at)),
      h("dt", {}, "finished"), h("dd", { id: "job-finished" }, when(job.finished_at)),
      h("dt", {}, "attempts"), h("dd", {}, String(job.attempts))),
    body);
  const fill = (j) => {
    body.replaceChildren(...detail(j));
    document.getElementById("job-finished").textContent = when(j.finished_at);
  };
  fill(job);
  if (!TERMINAL.has(job.status)) {
    const abort = new AbortController();
    page.aborts.push(abort);
    const done = async () => fill(await call("GET", `/v1/jobs/${jobId}`));
    follow(jobId, (kind, s) => { state(s); if (TERMINAL.has(s.status)) done(); }, abort.signal).catch(() => {
      // no stream (a proxy that buffers): read the job every 2 s instead
      const timer = setInterval(async () => {
        const j = await call("GET", `/v1/jobs/${jobId}`);
        state(j);
        if (TERMINAL.has(j.status)) { clearInterval(timer); fill(j); }
      }, 2000);
      page.timers.push(timer);
    });
  }
}

function detail(job) {
  const parts = [];
  if (job.error) parts.push(h("p", { class: "alert", role: "alert" }, `${job.error.code}: ${job.error.message}`));
  if (job.result) parts.push(h("h2", {}, "Results"), ...resultTables(job.result));
  const names = job.artifacts.map((a) => a.name);
  if (names.includes("charts.json")) {
    const charts = h("div", { id: "charts" });
    parts.push(h("h2", {}, "Charts"), charts);
    download(`/v1/jobs/${job.id}/artifacts/charts.json`).then((r) => r.json()).then((all) => {
      const width = charts.clientWidth || 900;
      charts.replaceChildren(...Object.entries(all).map(([name, c]) => chartOf(c.title || name, c.series, width)));
    }).catch((e) => charts.replaceChildren(failure(e)));
  }
  if (names.includes("trades.csv")) {
    const trades = h("div", { id: "trades" });
    parts.push(h("h2", {}, "Trades"), trades);
    download(`/v1/jobs/${job.id}/artifacts/trades.csv`).then((r) => r.text())
      .then((text) => trades.replaceChildren(tradeTable(text)))
      .catch((e) => trades.replaceChildren(failure(e)));
  }
  if (job.artifacts.length) {
    parts.push(h("h2", {}, "Artifacts"), h("ul", { class: "plain", id: "artifacts" }, job.artifacts.map((a) =>
      h("li", {}, h("button", { type: "button", class: "link", "data-artifact": a.name, onclick: () => save(job.id, a.name) }, a.name),
        ` ${a.content_type}, ${(a.size_bytes / 1024).toFixed(1)} KB`))));
  }
  if (names.includes("report.html")) {
    const holder = h("div", { id: "report" });
    parts.push(h("h2", {}, "Report"), h("button", { type: "button", id: "open-report", onclick: async () => {
      const text = await (await download(`/v1/jobs/${job.id}/artifacts/report.html`)).text();
      // sandboxed: the report runs no script and cannot reach this page or its storage
      holder.replaceChildren(h("iframe", { class: "report", title: "Job report", sandbox: "", srcdoc: text }));
    } }, "Open report"), holder);
  }
  parts.push(h("h2", {}, "Params"), h("pre", {}, JSON.stringify(job.params, null, 2)));
  return parts;
}

// trades.csv (no quoted fields: symbols and reasons hold no comma): the first rows, the
// rest in the file
function tradeTable(text) {
  const [header, ...lines] = text.trim().split("\n");
  const rows = lines.map((line) => line.split(",").map((v) => (v === "" ? null : Number.isNaN(Number(v)) ? v : Number(v))));
  return table(header.split(","), rows, `${rows.length} round trips`, 200);
}

async function save(jobId, name) {
  const blob = await (await download(`/v1/jobs/${jobId}/artifacts/${name}`)).blob();
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// ---- instruments ---------------------------------------------------------------------

async function instrumentsPage() {
  const [all, status] = await Promise.all([call("GET", "/v1/instruments"), call("GET", "/v1/market-data/status")]);
  const coverage = h("div", { id: "coverage", "aria-live": "polite" });
  const showCoverage = async (symbol) => {
    const c = await call("GET", `/v1/instruments/${encodeURIComponent(symbol)}/coverage`);
    coverage.replaceChildren(h("h2", {}, `${c.symbol} coverage`), h("dl", { class: "facts" },
      h("dt", {}, "name"), h("dd", {}, c.name),
      h("dt", {}, "first / last"), h("dd", {}, `${c.first_date} to ${c.last_date}`),
      h("dt", {}, "rows"), h("dd", {}, String(c.rows)),
      h("dt", {}, "weekdays without a price"), h("dd", {}, String(c.missing_weekdays)),
      h("dt", {}, "last ingest"), h("dd", {}, c.last_ingest ? `${c.last_ingest.source || ""} ${c.last_ingest.status || ""}` : "-")));
  };
  show("Instruments",
    table(["symbol", "name", "type", "currency", "active", "first date", "last date", "rows"], all.map((i) =>
      [i.rows ? h("button", { type: "button", class: "link", onclick: () => showCoverage(i.symbol) }, i.symbol) : i.symbol,
        i.name, i.asset_type, i.currency, i.active ? "yes" : "no", i.first_date, i.last_date, i.rows])),
    coverage, marketDataStatus(status));
}

function marketDataStatus(status) {
  const c = status.cache;
  const rate = c.hit_rate === null ? "-" : `${(100 * c.hit_rate).toFixed(1)}%`;
  const limit = (r) => (r.state === "limited" && r.until ? `limited until ${when(r.until)}` : r.state);
  return h("section", { id: "market-data" },
    h("h2", {}, "Providers"),
    status.providers.length
      ? table(["provider", "last call", "last success", "last error", "rate limit", "calls / errors (24 h)"],
        status.providers.map((p) => [p.provider, `${when(p.last_call_at)} (${p.last_outcome})`, when(p.last_success_at),
          p.last_error ? `${when(p.last_error.at)}: ${p.last_error.message}` : "-", limit(p.rate_limit),
          `${p.calls_24h} / ${p.errors_24h}`]))
      : h("p", {}, `No provider calls in the last ${status.window_days} days.`),
    h("h2", {}, "Read cache (this API instance)"),
    h("dl", { class: "facts" },
      h("dt", {}, "entries"), h("dd", {}, `${c.entries} of ${c.max_entries} (${(c.bytes / 1048576).toFixed(1)} MiB)`),
      h("dt", {}, "hit rate"), h("dd", {}, `${rate} (${c.hits} hits, ${c.stale_hits} stale, ${c.misses} misses)`),
      h("dt", {}, "TTLs"), h("dd", {}, `history ${c.ttl_seconds.history} s, latest ${c.ttl_seconds.latest} s, ` +
        `instruments ${c.ttl_seconds.instruments} s, stale grace ${c.ttl_seconds.stale} s`)));
}

// ---- strategies: saved templates, their schedules and signals -------------------------

async function strategiesPage() {
  const [strategies, schedules] = await Promise.all([call("GET", "/v1/strategies"), call("GET", "/v1/schedules")]);
  const byStrategy = new Map(strategies.map((s) => [s.id, []]));
  schedules.forEach((s) => (byStrategy.get(s.strategy_id) || []).push(s));
  const signals = h("div", { id: "signals", "aria-live": "polite" });
  const showSignals = async (strategy) => {
    try {
      const found = await call("GET", `/v1/strategies/${strategy.id}/signals`);
      signals.replaceChildren(h("h2", {}, `${strategy.name}: signals on ${found.date}`),
        table(["symbol", "signal", "position", "close", ...Object.keys(found.signals[0].indicators)],
          found.signals.map((s) => [s.symbol, s.signal, s.position, s.close, ...Object.values(s.indicators)])));
    } catch (e) { signals.replaceChildren(failure(e)); }
  };
  const run = async (strategy) => {
    const job = await call("POST", "/v1/jobs", { strategy_id: strategy.id });
    location.hash = `#/jobs/${job.id}`;
  };
  const rows = strategies.map((s) => [
    s.name, s.model, s.active ? "active" : "paused",
    (byStrategy.get(s.id) || []).map((c) => `${c.cron} (${c.timezone}), next ${when(c.next_fire_times[0])}`).join("; ") || "-",
    h("span", { class: "row" },
      h("button", { type: "button", "data-run": s.id, onclick: () => run(s) }, "Run now"),
      s.model === "backtest" ? h("button", { type: "button", "data-signals": s.id, onclick: () => showSignals(s) }, "Signals") : null),
  ]);
  show("Strategies",
    strategies.length ? table(["name", "model", "state", "schedules", ""], rows)
      : h("p", { class: "notice" }, "No strategies yet: POST /v1/strategies saves one (README: Strategies and schedules)."),
    signals);
}

// ---- compare -------------------------------------------------------------------------

async function comparePage(a, b) {
  const first = h("input", { id: "job-a", value: a || "", size: 38 });
  const second = h("input", { id: "job-b", value: b || "", size: 38 });
  const form = h("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); location.hash = `#/compare/${first.value.trim()}/${second.value.trim()}`; } },
    h("div", {}, h("label", { for: "job-a" }, "Job A"), first),
    h("div", {}, h("label", { for: "job-b" }, "Job B"), second),
    h("button", { class: "primary", type: "submit" }, "Compare"));
  if (!a || !b) { show("Compare two jobs", form); return; }
  const jobs = await Promise.all([a, b].map((id) => call("GET", `/v1/jobs/${id}`)));
  const flat = jobs.map((j) => flatten(j.result || {}));
  const keys = [...new Set([...flat[0].keys(), ...flat[1].keys()])];
  const rows = keys.map((k) => [k, flat[0].get(k), flat[1].get(k)]);
  const charts = h("div", { id: "compare-charts" });
  show("Compare two jobs", form,
    h("h2", {}, "Metrics"),
    table(["figure", `A: ${jobs[0].model} ${a.slice(0, 8)}`, `B: ${jobs[1].model} ${b.slice(0, 8)}`], rows, "", 1000),
    h("h2", {}, "Equity"), charts);
  const lines = await Promise.all(jobs.map(async (j, i) => {
    if (!j.artifacts.some((x) => x.name === "charts.json")) return [];
    const all = await (await download(`/v1/jobs/${j.id}/artifacts/charts.json`)).json();
    const equity = all["equity.png"] || all["walk_forward.png"] || all["index_vs_benchmark.png"] || Object.values(all)[0];
    return equity ? equity.series.map((s) => ({ ...s, name: `${"AB"[i]}: ${s.name}` })) : [];
  }));
  const series = lines.flat();
  charts.replaceChildren(series.length ? chartOf("Equity, both jobs", series, charts.clientWidth || 900)
    : h("p", { class: "meta" }, "Neither job drew an equity curve."));
}

// ---- router --------------------------------------------------------------------------

async function route(message) {
  leave();
  if (!sessionStorage.getItem(KEY)) {
    document.getElementById("nav").replaceChildren();
    signIn(message);
    return;
  }
  const [path, query] = (location.hash.replace(/^#/, "") || "/jobs").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const started = performance.now();
  try {
    if (parts[0] === "jobs" && parts[1]) { nav("jobs"); await jobPage(parts[1]); }
    else if (parts[0] === "new") { nav("new"); await newJobPage(parts[1]); }
    else if (parts[0] === "instruments") { nav("instruments"); await instrumentsPage(); }
    else if (parts[0] === "strategies") { nav("strategies"); await strategiesPage(); }
    else if (parts[0] === "portfolios" && parts[1]) { nav("portfolios"); await portfolioPage(parts[1]); }
    else if (parts[0] === "portfolios") { nav("portfolios"); await portfoliosPage(); }
    else if (parts[0] === "compare") { nav("compare"); await comparePage(parts[1], parts[2]); }
    else { nav("jobs"); await jobsPage(query); }
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) show("Something went wrong", failure(e));
  }
  document.getElementById("main").dataset.loadedMs = String(Math.round(performance.now() - started));
  document.getElementById("main").focus();
}

window.addEventListener("hashchange", () => route());
route();
