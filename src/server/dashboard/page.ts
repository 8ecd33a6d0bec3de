/**
 * The dashboard page: plain HTML, CSS and a small script drawing uPlot charts from the
 * `/events` stream. No framework and no CDN, so it works offline.
 */
export function dashboardHtml(options: { chaos: boolean; target: string }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Steadfast</title>
<link rel="stylesheet" href="/assets/uplot.min.css">
<style>
  :root { color-scheme: light dark; --bg: #0f1217; --panel: #171b22; --text: #e6e9ef; --muted: #8a93a3;
          --pass: #3fb950; --warn: #d29922; --fail: #f85149; --accent: #58a6ff; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, sans-serif; background: var(--bg); color: var(--text); }
  header { display: flex; align-items: center; gap: 16px; padding: 14px 20px; border-bottom: 1px solid #262c36; }
  header h1 { font-size: 17px; margin: 0; letter-spacing: .02em; }
  header .target { color: var(--muted); font-family: ui-monospace, monospace; }
  .badge { padding: 2px 10px; border-radius: 999px; font-weight: 600; text-transform: uppercase; font-size: 12px; }
  .pass { background: #1f3a27; color: var(--pass); } .warn { background: #3d3117; color: var(--warn); }
  .fail { background: #442326; color: var(--fail); }
  main { display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr)); gap: 14px; padding: 16px 20px; }
  section { background: var(--panel); border: 1px solid #262c36; border-radius: 10px; padding: 12px 14px; }
  section h2 { font-size: 13px; margin: 0 0 8px; color: var(--muted); font-weight: 600; text-transform: uppercase; letter-spacing: .05em; }
  #checks { display: grid; grid-template-columns: auto 1fr auto; gap: 6px 12px; align-items: center; }
  #checks .name { font-family: ui-monospace, monospace; } #checks .value { color: var(--muted); text-align: right; }
  #chaos button { margin: 4px 6px 4px 0; padding: 7px 12px; border-radius: 7px; border: 1px solid #394150;
                  background: #202631; color: var(--text); cursor: pointer; font-weight: 600; }
  #chaos button:hover { border-color: var(--accent); }
  #chaos .state { color: var(--muted); margin-top: 6px; font-family: ui-monospace, monospace; }
  .u-legend { color: var(--text); font-size: 12px; }
</style>
</head>
<body>
<header>
  <h1>Steadfast</h1>
  <span class="target">${escapeHtml(options.target)}</span>
  <span id="status" class="badge warn">connecting</span>
</header>
<main>
  <section><h2>Latency (ms)</h2><div id="latency" data-chart></div></section>
  <section><h2>Throughput (calls/s)</h2><div id="throughput" data-chart></div></section>
  <section><h2>Pool connections</h2><div id="pool" data-chart></div></section>
  <section><h2>Circuit breaker (0 closed · 1 half-open · 2 open)</h2><div id="breaker" data-chart></div></section>
  <section><h2>Cache reads (per s)</h2><div id="cache" data-chart></div></section>
  <section><h2>Health</h2><div id="checks"></div></section>
  ${
    options.chaos
      ? `<section id="chaos"><h2>Chaos</h2>
    <button data-action="latency" data-body='{"ms":200}'>Add 200 ms latency</button>
    <button data-action="latency" data-body='{"ms":0}'>Remove latency</button>
    <button data-action="blackhole" data-body='{"seconds":5}'>Blackhole 5 s</button>
    <button data-action="kill">Kill all connections</button>
    <button data-action="refuse" data-body='{"seconds":6}'>Refuse connections 6 s</button>
    <button data-action="heal">Heal</button>
    <div class="state" id="chaos-state"></div></section>`
      : ""
  }
</main>
<script src="/assets/uplot.iife.min.js"></script>
<script>
const WINDOW = 300;
const data = { t: [], p50: [], p95: [], p99: [], ops: [], errors: [], idle: [], used: [], pending: [], breaker: [], hits: [], stale: [], misses: [] };
const width = (el) => Math.max(320, el.clientWidth - 4);
function chart(id, series, extra = {}) {
  const el = document.getElementById(id);
  const opts = { width: width(el), height: 190, series: [{}, ...series.map(([label, stroke]) => ({ label, stroke, width: 2 }))],
    axes: [{ stroke: "#8a93a3", grid: { stroke: "#222833" } }, { stroke: "#8a93a3", grid: { stroke: "#222833" } }], ...extra };
  const plot = new uPlot(opts, [[], ...series.map(() => [])], el);
  plot.keys = series.map(([, , key]) => key);
  return plot;
}
const charts = [
  chart("latency", [["p50", "#58a6ff", "p50"], ["p95", "#d29922", "p95"], ["p99", "#f85149", "p99"]]),
  chart("throughput", [["ok", "#3fb950", "ops"], ["errors", "#f85149", "errors"]]),
  chart("pool", [["used", "#58a6ff", "used"], ["idle", "#3fb950", "idle"], ["waiting", "#d29922", "pending"]]),
  chart("breaker", [["state", "#f85149", "breaker"]], { scales: { y: { range: [0, 2] } } }),
  chart("cache", [["hits", "#3fb950", "hits"], ["stale", "#d29922", "stale"], ["misses", "#58a6ff", "misses"]]),
];
window.steadfast = { samples: 0, charts };
function push(s) {
  const row = { t: s.t, p50: s.p50, p95: s.p95, p99: s.p99, ops: s.ops, errors: s.errors, idle: s.idle, used: s.used,
    pending: s.pending, breaker: s.breaker, hits: s.cache ? s.cache.hits : null, stale: s.cache ? s.cache.stale : null,
    misses: s.cache ? s.cache.misses : null };
  for (const k in data) { data[k].push(row[k]); if (data[k].length > WINDOW) data[k].shift(); }
  window.steadfast.samples++;
}
function redraw() { for (const c of charts) c.setData([data.t, ...c.keys.map((k) => data[k])]); }
const events = new EventSource("/events");
events.addEventListener("history", (e) => { for (const s of JSON.parse(e.data)) push(s); redraw(); });
events.addEventListener("sample", (e) => { push(JSON.parse(e.data)); redraw(); });
const esc = (v) => String(v).replace(/[&<>"']/g, (c) => "&#" + c.charCodeAt(0) + ";");
async function health() {
  try {
    const r = await fetch("/health", { cache: "no-store" });
    const body = await r.json();
    const badge = document.getElementById("status");
    badge.textContent = body.status; badge.className = "badge " + esc(body.status);
    const rows = [];
    for (const [name, [c]] of Object.entries(body.checks || {})) {
      const value = c.observedValue === undefined ? "" : c.observedValue + (c.observedUnit ? " " + c.observedUnit : "");
      rows.push('<span class="name">' + esc(name) + '</span><span class="value">' + esc(c.output || value) + '</span><span class="badge ' + esc(c.status) + '">' + esc(c.status) + '</span>');
    }
    document.getElementById("checks").innerHTML = rows.join("");
  } catch { document.getElementById("status").textContent = "unreachable"; }
}
health(); setInterval(health, 2000);
for (const button of document.querySelectorAll("#chaos button")) {
  button.addEventListener("click", async () => {
    const r = await fetch("/chaos/" + button.dataset.action, { method: "POST", headers: { "content-type": "application/json" }, body: button.dataset.body || "{}" });
    document.getElementById("chaos-state").textContent = JSON.stringify(await r.json());
  });
}
window.addEventListener("resize", () => { for (const c of charts) c.setSize({ width: width(c.root.parentElement), height: 190 }); });
</script>
</body>
</html>`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
