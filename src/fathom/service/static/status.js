// The status page: model versions (active marked, offline metrics, a chart of one metric across versions), live
// event counts and charts of events over time; refreshed every 3 s.
"use strict";

function flatten(value, prefix = "", out = []) {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value)) flatten(inner, prefix ? `${prefix}.${key}` : key, out);
  } else {
    out.push([prefix, Array.isArray(value) ? value.join(", ") : value]);
  }
  return out;
}

function keyValues(value, cls) {
  const rows = flatten(value || {});
  if (!rows.length) return el("span", {class: "none"}, "none");
  return el("ul", {class: cls}, rows.map(([k, v]) => el("li", {}, el("code", {}, k), " ", fmt(v, 4))));
}

function renderService(data) {
  const facts = [
    ["status", data.status],
    ["active model version", data.active === null ? "none" : data.active],
    ["search", `${data.search.signals.join(" + ")}` + (data.search.encoder ? ` (${data.search.encoder})` : "") +
               ", no reranking"],
    ["writes", data.writes_need_key ? "need an API key" : "open (no API key configured)"],
  ];
  document.getElementById("service").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, k),
                                                                                   el("dd", {}, String(v))]));
}

function renderCounts(counts) {
  const rows = [
    ["items", counts.items], ["users", counts.users], ["events", counts.events],
    ...Object.entries(counts.events_by_type).map(([type, n]) => [`events: ${type}`, n]),
    ["events in the last minute", counts.events_last_minute], ["events in the last hour", counts.events_last_hour],
  ];
  const body = document.querySelector("#counts tbody");
  body.replaceChildren(...rows.map(([name, n]) => el("tr", {dataset: {count: name}}, el("th", {}, name),
                                                      el("td", {}, fmt(n)))));
}

function renderVersions(versions) {
  const body = document.querySelector("#versions tbody");
  if (!versions.length) {
    body.replaceChildren(el("tr", {}, el("td", {colspan: "9"}, "no model version registered yet")));
    return;
  }
  body.replaceChildren(...versions.map((v) => el("tr", {class: v.active ? "active" : "", dataset: {version: v.version}},
    el("td", {}, v.version),
    el("td", {}, v.model),
    el("td", {}, v.active ? el("strong", {class: "badge"}, "active") : "inactive"),
    el("td", {}, new Date(v.created_at * 1000).toLocaleString()),
    el("td", {}, fmt(v.n_users)), el("td", {}, fmt(v.n_items)), el("td", {}, fmt(v.n_events)),
    el("td", {}, keyValues(v.config, "kv")),
    el("td", {class: "metrics"}, v.metrics && Object.keys(v.metrics).length ? keyValues(v.metrics, "kv") : el("span", {class: "none"}, "none saved")))));
}

// ------------------------------------------------------------------------------------------------ charts
const drawn = {};  // chart container id -> what it was drawn from (redrawn only when that or its width changes)

// draw make(width) into the container ``id``, sized to its width in pixels (text keeps its size)
function draw(id, data, make) {
  const box = document.getElementById(id);
  const width = Math.max(320, Math.round(box.clientWidth || 640));
  const key = `${width} ${JSON.stringify(data)}`;
  if (drawn[id] === key) return;
  drawn[id] = key;
  box.replaceChildren(make(width));
}

const clock = (t) => new Date(t * 1000).toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"});
const dayClock = (t) => new Date(t * 1000).toLocaleString([], {weekday: "short", hour: "2-digit", minute: "2-digit"});

function renderHistory(history) {
  const {per_minute: minutes, per_hour: hours} = history;
  draw("chart-minutes", minutes, (width) => barChart({counts: minutes.counts, start: minutes.start,
    bucketS: minutes.bucket_s, title: "Events received per minute over the last hour", unit: "events", when: clock,
    width}));
  draw("chart-hours", hours, (width) => barChart({counts: hours.counts, start: hours.start, bucketS: hours.bucket_s,
    title: "Events received per hour over the last day", unit: "events", when: dayClock, width}));
}

let metric = "ndcg@10";

// the numeric metrics saved with any version, ndcg@10 first
function metricNames(versions) {
  const names = new Set();
  for (const v of versions) {
    for (const [name, value] of Object.entries(v.metrics || {})) {
      if (typeof value === "number" && !name.startsWith("n_")) names.add(name);
    }
  }
  return [...names].sort((a, b) => (b === "ndcg@10") - (a === "ndcg@10") || a.localeCompare(b));
}

function renderMetricChart(versions) {
  const names = metricNames(versions);
  if (names.length && !names.includes(metric)) metric = names[0];
  const select = document.getElementById("metric-select");
  if (select.dataset.names !== names.join("\n")) {
    select.dataset.names = names.join("\n");
    select.replaceChildren(...names.map((name) => el("option", {value: name}, name)));
  }
  select.value = metric;
  select.disabled = !names.length;
  const withMetric = versions.filter((v) => typeof (v.metrics || {})[metric] === "number");
  const without = versions.filter((v) => !withMetric.includes(v)).map((v) => v.version);
  document.getElementById("metric-note").textContent =
    without.length ? ` (no ${metric} saved for version${without.length > 1 ? "s" : ""} ${without.join(", ")})` : "";
  const points = withMetric.map((v) => ({
    key: v.version, value: v.metrics[metric], label: `v${v.version}`, active: v.active,
    tooltip: `version ${v.version} (${v.model}${v.active ? ", active" : ""}): ${metric} ${fmt(v.metrics[metric], 4)}`}));
  draw("chart-metrics", {metric, points}, (width) => lineChart({points, title: `Offline ${metric} of each model version`,
    empty: names.length ? `no version has ${metric} saved` : "no version has offline metrics saved", width}));
}

// ------------------------------------------------------------------------------------------------ refresh
let last = null;  // the latest answers, redrawn when the window is resized

function renderCharts() {
  if (!last) return;
  renderMetricChart(last.versions);
  if (last.history) renderHistory(last.history);
}

async function refresh() {
  const [r, history] = await Promise.all([api("GET", "/status"), api("GET", "/status/history")]);
  if (!r.ok) {
    showMessage(`status failed (${r.status}): ${r.data.detail}`, "error");
    return;
  }
  renderService(r.data);
  renderCounts(r.data.counts);
  renderVersions(r.data.versions);
  last = {versions: r.data.versions, history: history.ok ? history.data : null};
  renderCharts();
  document.getElementById("updated").textContent = new Date().toLocaleTimeString();
  document.body.dataset.ready = "true";
}

document.getElementById("metric-select").addEventListener("change", (event) => {
  metric = event.target.value;
  renderCharts();
});
window.addEventListener("resize", renderCharts);
refresh();
setInterval(refresh, 3000);
