// The search + recommendations page. Every number shown comes from the JSON API of this service.
"use strict";

const state = {
  query: "",
  filters: {},          // facet name -> Set of selected values
  user: "",
  writesNeedKey: false,
};

const $ = (id) => document.getElementById(id);

// the API key, when one is typed in: writes and reads of one user's data need it when the service has one
function writeHeaders() {
  const key = $("api-key").value;
  return key ? {"X-API-Key": key} : {};
}

function bumpRenders(list) {
  list.dataset.renders = String(Number(list.dataset.renders || "0") + 1);
}

// one item row: a clickable title, then id / reason and the per-signal scores
function itemRow(item, extra) {
  const title = item.title || item.item_id;
  return el("li", {dataset: {itemId: item.item_id}},
    el("button", {type: "button", class: "item-link", onclick: () => selectItem(item.item_id, title)}, title),
    el("span", {class: "meta"}, `#${item.item_id}`, item.reason ? ` · ${item.reason}` : ""),
    extra);
}

function scoreBadges(scores) {
  const names = Object.keys(scores).sort((a, b) => (a === "fused") - (b === "fused") || a.localeCompare(b));
  return el("span", {class: "scores"},
    names.map((name) => el("span", {class: `score score-${name}`, dataset: {signal: name}}, `${name} ${fmt(scores[name])}`)));
}

// ------------------------------------------------------------------------------------------------ search
function filterBody() {
  const equals = {};
  for (const [name, values] of Object.entries(state.filters)) {
    if (values.size) equals[name] = [...values];
  }
  return Object.keys(equals).length ? {equals} : null;
}

async function runSearch() {
  const body = {query: state.query, k: 20};
  const filter = filterBody();
  if (filter) body.filter = filter;
  const r = await api("POST", "/search", body);
  if (!r.ok) {
    showMessage(`search failed (${r.status}): ${r.data.detail}`, "error");
    return;
  }
  renderHits(r.data);
  renderFacets(r.data.facets);
  renderActiveFilters();
}

function renderHits(result) {
  const hits = $("hits");
  // per-signal scores for a query; browsing (empty query) ranks nothing, so it shows none
  hits.replaceChildren(...result.hits.map((h) => itemRow(h, result.query ? scoreBadges(h.scores) : null)));
  const corrected = Object.entries(result.corrections || {}).map(([from, to]) => `${from} → ${to}`);
  const what = state.query ? `for “${state.query}”` : "(browsing the catalogue)";
  $("search-summary").textContent =
    `${fmt(result.total)} matches ${what}; showing ${result.hits.length}` +
    (corrected.length ? `; typo corrections: ${corrected.join(", ")}` : "");
  bumpRenders(hits);
}

function toggleFilter(name, value) {
  const values = state.filters[name] || (state.filters[name] = new Set());
  if (values.has(value)) values.delete(value);
  else values.add(value);
  runSearch();
}

function renderFacets(facets) {
  const box = $("facets");
  const groups = [];
  for (const [name, counts] of Object.entries(facets || {})) {
    const selected = state.filters[name] || new Set();
    const entries = Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    const shown = entries.slice(0, 15);
    for (const value of selected) {
      if (!shown.some(([v]) => v === value)) shown.push([value, counts[value] || 0]);
    }
    if (!shown.length) continue;
    groups.push(el("div", {class: "facet", dataset: {facet: name}},
      el("h3", {}, name),
      el("ul", {}, shown.map(([value, count]) => el("li", {},
        el("button", {type: "button", class: "facet-value", "aria-pressed": selected.has(value) ? "true" : "false",
                      dataset: {facet: name, value}, onclick: () => toggleFilter(name, value)},
          value, " ", el("span", {class: "count"}, fmt(count))))))));
  }
  box.replaceChildren(...groups);
}

function renderActiveFilters() {
  const chips = [];
  for (const [name, values] of Object.entries(state.filters)) {
    for (const value of values) {
      chips.push(el("button", {type: "button", class: "chip", dataset: {facet: name, value},
                               title: "remove this filter", onclick: () => toggleFilter(name, value)},
        `${name}: ${value} ×`));
    }
  }
  $("active-filters").replaceChildren(...chips);
}

// --------------------------------------------------------------------------------------- recommendations
async function loadUsers() {
  const r = await api("GET", "/status/users?limit=100", undefined, writeHeaders());
  if (r.status === 401 || r.status === 403) {
    $("key-label").hidden = false;
    $("user-summary").textContent = `Users are shown with the API key only: ${r.data.detail}. Enter it above.`;
    return;
  }
  if (!r.ok) return;
  const select = $("user-select");
  const options = r.data.users.map((u) => el("option", {value: u.user_id}, `${u.user_id} (${fmt(u.events)} events)`));
  select.replaceChildren(el("option", {value: ""}, "choose a user"), ...options);
  if (state.user) select.value = state.user;
}

async function chooseUser(userId) {
  state.user = userId.trim();
  $("user-select").value = state.user;
  if (!state.user) {
    $("recs").replaceChildren();
    $("user-summary").textContent = "Choose a user to see their recommendations.";
    return;
  }
  await loadRecs();
}

async function loadRecs(note) {
  const user = state.user;
  const [recs, info] = await Promise.all([api("GET", `/recommend/${encodeURIComponent(user)}?k=10`, undefined, writeHeaders()),
                                          api("GET", `/users/${encodeURIComponent(user)}`, undefined, writeHeaders())]);
  if (user !== state.user) return;  // another user was chosen meanwhile
  const list = $("recs");
  if (!recs.ok) {
    list.replaceChildren();
    $("user-summary").textContent = `No recommendations for ${user} (${recs.status}): ${recs.data.detail}`;
    bumpRenders(list);
    return;
  }
  list.replaceChildren(...recs.data.items.map((item) => itemRow(item)));
  const events = info.ok ? `${fmt(info.data.events)} events; ` : "";
  const option = [...$("user-select").options].find((o) => o.value === user);
  if (option && info.ok) option.textContent = `${user} (${fmt(info.data.events)} events)`;
  $("user-summary").textContent =
    `User ${user}: ${events}model version ${recs.data.model_version}` + (note ? `; ${note}` : "");
  list.classList.remove("flash");
  void list.offsetWidth;  // restart the highlight animation
  list.classList.add("flash");
  bumpRenders(list);
}

// ------------------------------------------------------------------------------------ clicks and similar
async function selectItem(itemId, title) {
  const similar = loadSimilar(itemId, title);
  if (state.user) {
    const r = await api("POST", "/events", {user_id: state.user, item_id: itemId, event: "click"}, writeHeaders());
    if (r.ok) {
      showMessage(`Recorded a click on “${title}” for user ${state.user}.`);
      await loadRecs(`updated after the click on “${title}”`);
    } else if (r.status === 401 || r.status === 403) {
      $("key-label").hidden = false;
      showMessage(`The click was not recorded: ${r.data.detail}. Enter the API key above.`, "error");
    } else {
      showMessage(`The click was not recorded (${r.status}): ${r.data.detail}`, "error");
    }
  } else {
    showMessage("Choose a user to record clicks and update their recommendations.");
  }
  await similar;
}

async function loadSimilar(itemId, title) {
  const r = await api("GET", `/similar/${encodeURIComponent(itemId)}?k=10`);
  const list = $("similar");
  $("similar-title").textContent = `Similar to “${title}”`;
  $("similar-panel").dataset.itemId = itemId;
  if (!r.ok) {
    list.replaceChildren();
    $("similar-summary").textContent = `No similar items (${r.status}): ${r.data.detail}`;
  } else {
    list.replaceChildren(...r.data.items.map((item) => itemRow(item, el("span", {class: "scores"},
      el("span", {class: "score"}, `score ${fmt(item.score)}`)))));
    $("similar-summary").textContent = `${r.data.items.length} items, model version ${r.data.model_version}`;
  }
  bumpRenders(list);
}

// ------------------------------------------------------------------------------------------------ start
async function start() {
  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    state.query = $("search-input").value.trim();
    runSearch();
  });
  $("user-select").addEventListener("change", (event) => chooseUser(event.target.value));
  $("user-other").addEventListener("change", (event) => chooseUser(event.target.value));
  const status = await api("GET", "/status");
  if (status.ok && status.data.writes_need_key) $("key-label").hidden = false;
  $("api-key").addEventListener("change", async () => {
    await loadUsers();
    if (state.user) await loadRecs();
  });
  await Promise.all([runSearch(), loadUsers()]);
  document.body.dataset.ready = "true";
}

start();
