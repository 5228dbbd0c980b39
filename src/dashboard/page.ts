// The ops dashboard page: one self-contained HTML document (inline CSS and JS, charts drawn as
// inline SVG), refreshed from GET /internal/dashboard/data every few seconds. Data is only ever
// written with textContent, never parsed as HTML, so label values cannot inject markup.

export const REFRESH_MS = 5_000;

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#0f1419;color:#e6e6e6}
header{display:flex;gap:1em;align-items:baseline;padding:12px 20px;background:#161b22;border-bottom:1px solid #30363d}
h1{font-size:18px;margin:0}h2{font-size:15px;margin:0 0 8px}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:16px;padding:16px 20px}
section{background:#161b22;border:1px solid #30363d;border-radius:6px;padding:12px;min-width:0;overflow-x:auto}
.kpis{grid-column:1/-1;display:flex;flex-wrap:wrap;gap:12px}
.kpi{background:#161b22;border:1px solid #30363d;border-radius:6px;padding:10px 16px;min-width:120px}
.kpi b{display:block;font-size:22px}.kpi span{color:#8b949e;font-size:12px}
table{border-collapse:collapse;width:100%}td,th{padding:3px 6px;text-align:right;border-bottom:1px solid #21262d}
td:first-child,th:first-child{text-align:left}th{color:#8b949e;font-weight:normal}
.bad{color:#f85149}.warn{color:#d29922}.ok{color:#3fb950}.muted{color:#8b949e}
#status{margin-left:auto;color:#8b949e}svg text{fill:#c9d1d9;font-size:11px}
`;

const SCRIPT = `
"use strict";
var params = new URLSearchParams(location.search);
var token = params.get("token");
if (token !== null) {
  params.delete("token");
  var rest = params.toString();
  history.replaceState(null, "", location.pathname + (rest ? "?" + rest : "") + location.hash);
}
var history_ = [];
var last = null;
function $(id) { return document.getElementById(id); }
function el(tag, text, cls) { var e = document.createElement(tag); if (text !== undefined) e.textContent = String(text); if (cls) e.className = cls; return e; }
function svgEl(tag, attrs, text) { var e = document.createElementNS("http://www.w3.org/2000/svg", tag); for (var k in attrs) e.setAttribute(k, String(attrs[k])); if (text !== undefined) e.textContent = text; return e; }
function pct(r) { return r === null || r === undefined ? "-" : (r * 100).toFixed(r > 0 && r < 0.01 ? 2 : 1) + "%"; }
function num(n) { return n === null || n === undefined ? "-" : Number(n).toLocaleString("en-US"); }
function ms(n) { return n === null || n === undefined ? "-" : n + " ms"; }
function rateClass(r) { return r === null ? "muted" : r >= 0.05 ? "bad" : r >= 0.01 ? "warn" : "ok"; }
function table(id, head, rows) {
  var t = $(id); t.textContent = "";
  var tr = el("tr"); head.forEach(function (h) { tr.appendChild(el("th", h)); }); t.appendChild(tr);
  if (rows.length === 0) { var r = el("tr"); var td = el("td", "no data yet", "muted"); td.colSpan = head.length; r.appendChild(td); t.appendChild(r); }
  rows.forEach(function (cells) {
    var r = el("tr");
    if (cells.attrs) for (var k in cells.attrs) r.setAttribute(k, cells.attrs[k]);
    cells.forEach(function (c) { r.appendChild(typeof c === "object" && c !== null ? el("td", c.text, c.cls) : el("td", c)); });
    t.appendChild(r);
  });
}
function bars(id, items, max, fmt) {
  var svg = $(id); svg.textContent = "";
  var h = 18, w = 420, labelW = 150;
  svg.setAttribute("viewBox", "0 0 " + w + " " + Math.max(h, items.length * h));
  svg.setAttribute("height", String(Math.max(h, items.length * h)));
  if (items.length === 0) { svg.appendChild(svgEl("text", { x: 0, y: 13 }, "no data yet")); return; }
  items.forEach(function (it, i) {
    var y = i * h, len = max > 0 ? Math.max(1, (w - labelW - 70) * it.value / max) : 0;
    svg.appendChild(svgEl("text", { x: 0, y: y + 13 }, it.label.slice(0, 24)));
    svg.appendChild(svgEl("rect", { x: labelW, y: y + 3, width: it.value > 0 ? len : 0, height: h - 6, fill: it.color || "#58a6ff" }));
    svg.appendChild(svgEl("text", { x: labelW + len + 6, y: y + 13 }, fmt(it.value)));
  });
}
function sparkline(id, points) {
  var svg = $(id); svg.textContent = "";
  var w = 420, h = 60, max = Math.max.apply(null, points.concat([1]));
  svg.setAttribute("viewBox", "0 0 " + w + " " + h);
  var d = points.map(function (p, i) { return (i === 0 ? "M" : "L") + (i * w / Math.max(1, points.length - 1)).toFixed(1) + "," + (h - 4 - (h - 8) * p / max).toFixed(1); }).join(" ");
  if (d) svg.appendChild(svgEl("path", { d: d, fill: "none", stroke: "#58a6ff", "stroke-width": 2 }));
  svg.appendChild(svgEl("text", { x: 4, y: 12 }, "max " + max.toFixed(2) + " req/s"));
}
var SOURCE_COLORS = { client: "#d29922", gateway: "#f85149", upstream: "#db61a2" };
var BREAKER = { closed: "ok", half_open: "warn", open: "bad" };
function render(d) {
  $("k-requests").textContent = num(d.totals.requests);
  $("k-failures").textContent = num(d.totals.failures);
  $("k-rate").textContent = pct(d.totals.rate); $("k-rate").className = rateClass(d.totals.rate);
  var all = d.latency.filter(function (l) { return l.key === "all"; })[0];
  $("k-p95").textContent = ms(all ? all.p95Ms : null);
  var open = d.byUpstream.filter(function (u) { return u.breaker === "open"; }).length;
  $("k-open").textContent = String(open); $("k-open").className = open > 0 ? "bad" : "ok";
  var dead = d.queues.reduce(function (n, q) { return n + q.deadLettersPending; }, 0);
  $("k-dead").textContent = num(dead); $("k-dead").className = dead > 0 ? "bad" : "ok";
  var now = Date.parse(d.generatedAt);
  if (last) history_.push(Math.max(0, (d.totals.requests - last.requests) / Math.max(0.001, (now - last.at) / 1000)));
  if (history_.length > 60) history_.shift();
  last = { requests: d.totals.requests, at: now };
  sparkline("spark", history_.length ? history_ : [0]);
  var sources = Object.keys(d.totals.bySource).filter(function (s) { return s !== "none"; }).map(function (s) {
    return { label: s, value: d.totals.requests ? d.totals.bySource[s] / d.totals.requests : 0, color: SOURCE_COLORS[s] };
  });
  bars("by-source", sources, Math.max.apply(null, sources.map(function (s) { return s.value; }).concat([0.0001])), pct);
  var up = d.byUpstream.map(function (u) { return { label: u.key, value: u.rate || 0, color: "#db61a2" }; });
  bars("by-upstream-chart", up, Math.max.apply(null, up.map(function (s) { return s.value; }).concat([0.0001])), pct);
  table("by-upstream", ["target", "attempts", "failures", "failure rate", "kinds", "breaker"], d.byUpstream.map(function (u) {
    var row = [u.key, num(u.requests), num(u.failures), { text: pct(u.rate), cls: rateClass(u.rate) },
      Object.keys(u.kinds).map(function (k) { return k + " " + u.kinds[k]; }).join(", ") || "-", { text: u.breaker || "-", cls: BREAKER[u.breaker] || "muted" }];
    row.attrs = { "data-upstream": u.key, "data-rate": String(u.rate === null ? "" : u.rate), "data-breaker": u.breaker || "" };
    return row;
  }));
  table("by-route", ["route", "requests", "failures", "failure rate"], d.byRoute.map(function (r) { return [r.key, num(r.requests), num(r.failures), { text: pct(r.rate), cls: rateClass(r.rate) }]; }));
  table("by-channel", ["channel", "requests", "failures", "failure rate"], d.byChannel.map(function (r) { return [r.key, num(r.requests), num(r.failures), { text: pct(r.rate), cls: rateClass(r.rate) }]; }));
  table("latency", ["channel", "count", "p50", "p95", "p99"], d.latency.map(function (l) { return [l.key, num(l.count), ms(l.p50Ms), ms(l.p95Ms), ms(l.p99Ms)]; }));
  table("overhead", ["channel", "count", "p50", "p95", "p99"], d.overhead.map(function (l) { return [l.key, num(l.count), ms(l.p50Ms), ms(l.p95Ms), ms(l.p99Ms)]; }));
  var lat = all ? [{ label: "p50", value: all.p50Ms || 0 }, { label: "p95", value: all.p95Ms || 0 }, { label: "p99", value: all.p99Ms || 0 }] : [];
  bars("latency-chart", lat, Math.max.apply(null, lat.map(function (l) { return l.value; }).concat([1])), function (v) { return v + " ms"; });
  table("tenants", ["tenant", "requests (1 h)", "failures (1 h)", "rejections (1 h)", "cost (USD)"], d.tenants.map(function (t) {
    return [t.tenant, num(t.requests), num(t.failures), num(t.rejections), (t.costMicros / 1e6).toFixed(6)];
  }));
  table("queues", ["queue", "sent", "acked", "backlog", "dead-lettered", "DLQ pending"], d.queues.map(function (q) {
    return [q.queue, num(q.sent), num(q.acked), { text: num(q.backlog), cls: q.backlog > 0 ? "warn" : "" }, num(q.deadLettered), { text: num(q.deadLettersPending), cls: q.deadLettersPending > 0 ? "bad" : "ok" }];
  }));
  var guard = [];
  Object.keys(d.rejections).forEach(function (k) { guard.push(["rejected: " + k, num(d.rejections[k])]); });
  Object.keys(d.failOpen).forEach(function (k) { guard.push([{ text: "fail-open: " + k, cls: "warn" }, num(d.failOpen[k])]); });
  Object.keys(d.sources).forEach(function (k) { guard.push(["source " + k, { text: d.sources[k] ? "up" : "DOWN", cls: d.sources[k] ? "ok" : "bad" }]); });
  table("guards", ["what", "value"], guard);
  $("status").textContent = "updated " + new Date(d.generatedAt).toLocaleTimeString();
}
function refresh() {
  var headers = token ? { authorization: "Bearer " + token } : {};
  fetch("/internal/dashboard/data", { headers: headers, credentials: "omit", cache: "no-store" })
    .then(function (res) { if (!res.ok) throw new Error("data route answered " + res.status); return res.json(); })
    .then(function (d) { render(d); $("error").textContent = ""; document.body.setAttribute("data-loaded", "true"); })
    .catch(function (e) { $("error").textContent = String(e.message || e); });
}
refresh();
setInterval(refresh, REFRESH_MS);
`;

/** The page; `nonce` must match the Content-Security-Policy sent with it. */
export function dashboardPage(nonce: string): string {
  const kpi = (id: string, label: string) => `<div class="kpi"><b id="${id}">-</b><span>${label}</span></div>`;
  const panel = (title: string, body: string) => `<section><h2>${title}</h2>${body}</section>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer"><link rel="icon" href="data:,"><title>Gateway ops dashboard</title>
<style nonce="${nonce}">${STYLE}</style></head>
<body><header><h1>Gateway ops dashboard</h1><span id="error" class="bad"></span><span id="status">loading...</span></header>
<main>
<div class="kpis">${kpi("k-requests", "requests")}${kpi("k-failures", "failed requests")}${kpi("k-rate", "failure rate")}${kpi("k-p95", "p95 latency")}${kpi("k-open", "open breakers")}${kpi("k-dead", "dead letters pending")}</div>
${panel("Request rate", `<svg id="spark" width="100%" height="60" role="img" aria-label="request rate"></svg>`)}
${panel("Failure rate by source", `<svg id="by-source" width="100%" role="img" aria-label="failure rate by source"></svg>`)}
${panel("Upstreams", `<svg id="by-upstream-chart" width="100%" role="img" aria-label="failure rate by upstream"></svg><table id="by-upstream"></table>`)}
${panel("Routes", `<table id="by-route"></table><h2>Channels</h2><table id="by-channel"></table>`)}
${panel("Latency (total)", `<svg id="latency-chart" width="100%" role="img" aria-label="latency percentiles"></svg><table id="latency"></table><h2>Gateway overhead</h2><table id="overhead"></table>`)}
${panel("Traffic by tenant", `<table id="tenants"></table>`)}
${panel("Queues", `<table id="queues"></table>`)}
${panel("Limiters and sources", `<table id="guards"></table>`)}
</main>
<script nonce="${nonce}">var REFRESH_MS = ${REFRESH_MS};${SCRIPT}</script>
</body></html>`;
}

/** CSP for the page: only its own nonce'd script and style, data from this origin only. */
export function dashboardCsp(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}
