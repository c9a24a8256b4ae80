// The status page: model versions (active marked, offline metrics), live event counts; refreshed every 3 s.
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

async function refresh() {
  const r = await api("GET", "/status");
  if (!r.ok) {
    showMessage(`status failed (${r.status}): ${r.data.detail}`, "error");
    return;
  }
  renderService(r.data);
  renderCounts(r.data.counts);
  renderVersions(r.data.versions);
  document.getElementById("updated").textContent = new Date().toLocaleTimeString();
  document.body.dataset.ready = "true";
}

refresh();
setInterval(refresh, 3000);
