// Helpers shared by the pages: DOM building (text only, never HTML from data) and JSON API calls.
"use strict";

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function fmt(x, digits = 3) {
  if (typeof x !== "number") return String(x);
  if (Math.abs(x) < 0.5 * 10 ** -digits) x = 0;  // never "-0" or "-0.000"
  if (Number.isInteger(x)) return x.toLocaleString("en");
  return x.toFixed(digits);
}

// -> {ok, status, data}; data is the parsed JSON body (or {detail: text} when it is not JSON)
async function api(method, path, body, headers) {
  const init = {method, headers: {...(headers || {})}};
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    return {ok: false, status: 0, data: {detail: `network error: ${err.message}`}};
  }
  const text = await response.text();
  let data;
  try {
    data = text ? JSON.parse(text) : {};
  } catch (err) {
    data = {detail: text};
  }
  return {ok: response.ok, status: response.status, data};
}

let messageTimer = null;

// a short notice in the corner; information fades after 8 s, errors stay until the next message
function showMessage(text, kind = "info") {
  const box = document.getElementById("message");
  box.textContent = text;
  box.dataset.kind = kind;
  clearTimeout(messageTimer);
  if (kind === "info") messageTimer = setTimeout(() => { box.textContent = ""; }, 8000);
}
