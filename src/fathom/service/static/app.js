// The search + recommendations page. Every number shown comes from the JSON API of this service.
"use strict";

const state = {
  query: "",
  filters: {},          // facet name -> Set of selected values
  user: "",
  similarTo: "",        // the item whose similar items are shown (or being loaded)
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

// ------------------------------------------------------------------------------------------- item cards
// item id -> {categorical, numeric}: from search hits' documents, from a recommendation's own attributes when the
// API sends them, else from GET /items/{id} (public, no key), fetched once per item and in parallel per list
const attributes = new Map();

function remember(itemId, source) {
  if (source && (source.categorical || source.numeric)) {
    attributes.set(itemId, {categorical: source.categorical || {}, numeric: source.numeric || {}});
  }
}

async function fetchAttributes(items) {
  for (const item of items) remember(item.item_id, item);
  const missing = [...new Set(items.map((i) => i.item_id).filter((id) => !attributes.has(id)))];
  await Promise.all(missing.map(async (id) => {
    const r = await api("GET", `/items/${encodeURIComponent(id)}`);
    if (r.ok) remember(id, r.data);
  }));
}

const YEAR = /(^|[_ -])year$/i;  // a numeric attribute shown as the year beside the title

function numberText(x) {
  return Number.isInteger(x) ? String(x) : fmt(x, 2);
}

// one item card: the title (and year), then on one wrapping line the categorical values as chips, other
// numbers, the id and reason, and ``extra`` (per-signal scores)
function itemRow(item, extra) {
  const title = item.title || item.item_id;
  const {categorical = {}, numeric = {}} = attributes.get(item.item_id) || {};
  const years = Object.entries(numeric).filter(([name]) => YEAR.test(name));
  const numbers = Object.entries(numeric).filter(([name]) => !YEAR.test(name));
  const chips = Object.entries(categorical).flatMap(([name, values]) => [].concat(values).map((value) =>
    el("span", {class: "attr", title: name, dataset: {attr: name}}, value)));
  return el("li", {dataset: {itemId: item.item_id}},
    el("div", {class: "item-head"},
      el("button", {type: "button", class: "item-link", onclick: () => selectItem(item.item_id, title)}, title),
      years.map(([name, value]) => el("span", {class: "year", title: name, dataset: {attr: name}}, numberText(value)))),
    el("div", {class: "item-foot"}, chips,
      numbers.map(([name, value]) => el("span", {class: "attr-num", dataset: {attr: name}},
        `${name.replaceAll("_", " ")} ${numberText(value)}`)),
      el("span", {class: "meta"}, `#${item.item_id}`, item.reason ? ` · ${item.reason}` : ""),
      extra),
    pathLine(item));
}

// the knowledge-graph path behind a reason, as "Fargo —genre→ Crime ←genre— Heat", with its short text
function pathLine(item) {
  if (!item.path || !item.path.length) return null;
  const parts = item.path.flatMap((step, i) => [
    i ? el("span", {class: "edge"}, step.forward ? ` —${step.relation}→ ` : ` ←${step.relation}— `) : null,
    el("span", {class: step.type === "item" ? "node node-item" : "node"}, step.name)]);
  return el("div", {class: "why", title: "knowledge-graph path from the item this one is recommended for"},
    el("span", {class: "why-text"}, item.path_text || ""), " ", el("span", {class: "path"}, parts));
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
  for (const h of result.hits) remember(h.item_id, h.document);
  // per-signal scores for a query; browsing (empty query) ranks nothing, so it shows none
  hits.replaceChildren(...result.hits.map((h) => itemRow(h, result.query ? scoreBadges(h.scores) : null)));
  hits.scrollTop = 0;
  const what = state.query ? `for “${state.query}”` : "(browsing the catalogue)";
  const shown = result.hits.length;
  // total counts every match whatever k; a short result goes on with related items that do not match
  const showing = shown > result.total ? `showing ${shown} results, with related items that do not match`
                                       : `showing ${shown}`;
  $("search-summary").textContent = `${fmt(result.total)} ${result.total === 1 ? "match" : "matches"} ${what}; ${showing}`;
  const corrected = Object.entries(result.corrections || {});
  const note = $("search-corrections");
  note.hidden = !corrected.length;
  note.replaceChildren(...(corrected.length ? ["Searched for ", ...corrected.flatMap(([typed, read], i) => [
    i ? ", " : "", el("strong", {class: "read", dataset: {typed}}, read), ` (you typed “${typed}”)`]), "."] : []));
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
  const [recs, info] = await Promise.all([api("GET", `/recommend/${encodeURIComponent(user)}?k=10&why=true`, undefined, writeHeaders()),
                                          api("GET", `/users/${encodeURIComponent(user)}`, undefined, writeHeaders())]);
  if (user !== state.user) return;  // another user was chosen meanwhile
  const list = $("recs");
  if (!recs.ok) {
    list.replaceChildren();
    $("user-summary").textContent = `No recommendations for ${user} (${recs.status}): ${recs.data.detail}`;
    bumpRenders(list);
    return;
  }
  await fetchAttributes(recs.data.items);
  if (user !== state.user) return;
  list.replaceChildren(...recs.data.items.map((item) => itemRow(item)));
  list.scrollTop = 0;
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
  state.similarTo = itemId;
  const r = await api("GET", `/similar/${encodeURIComponent(itemId)}?k=10`);
  if (r.ok) await fetchAttributes(r.data.items);
  if (itemId !== state.similarTo) return;  // another item was clicked meanwhile
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
  list.scrollTop = 0;
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
