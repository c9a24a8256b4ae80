// The assistant's chat panel: POST /chat with the conversation id it was given, the chosen user (with the API key
// when the service has one); each answer shows its text, its items (click: similar items, and a click for the
// user) and what it cites.
"use strict";

const chat = {conversation: null, busy: false};

function chatBubble(role, children) {
  const log = $("chat-log");
  const bubble = el("li", {class: `chat-msg chat-${role}`}, children);
  log.append(bubble);
  log.scrollTop = log.scrollHeight;
  return bubble;
}

function citationText(citations) {
  const parts = citations.map((c) => c.kind === "faq" ? `FAQ “${c.id}”` : c.kind === "graph" ? "knowledge graph"
    : c.kind === "history" ? `your #${c.id}` : `#${c.id}${c.field ? ` (${c.field})` : ""}`);
  return parts.length ? `Sources: ${[...new Set(parts)].join(", ")}` : "No sources: nothing was looked up";
}

async function sendChat(message) {
  if (chat.busy || !message) return;
  chat.busy = true;
  $("chat-send").disabled = true;
  chatBubble("user", message);
  const body = {message};
  if (chat.conversation) body.conversation_id = chat.conversation;
  if (state.user) body.user_id = state.user;
  const r = await api("POST", "/chat", body, writeHeaders());
  if (!r.ok) {
    chatBubble("error", `The assistant could not answer (${r.status}): ${r.data.detail}`);
  } else {
    chat.conversation = r.data.conversation_id;
    const items = r.data.items.map((item) => el("button", {type: "button", class: "chat-item",
      dataset: {itemId: item.item_id}, onclick: () => selectItem(item.item_id, item.title)}, item.title));
    chatBubble("assistant", [
      el("div", {class: "chat-text", lang: r.data.language === "zh" ? "zh" : "en"}, r.data.text),
      items.length ? el("div", {class: "chat-items"}, items) : null,
      el("div", {class: "chat-meta", dataset: {intent: r.data.intent, followUp: String(r.data.follow_up)}},
        `${r.data.intent}${r.data.follow_up ? " (follow-up)" : ""} · ${citationText(r.data.citations)}`)]);
  }
  const log = $("chat-log");
  log.dataset.turns = String(Number(log.dataset.turns) + 1);
  chat.busy = false;
  $("chat-send").disabled = false;
}

function toggleChat(open) {
  $("chat-panel").hidden = !open;
  $("chat-open").setAttribute("aria-expanded", String(open));
  if (open) $("chat-input").focus();
}

$("chat-open").addEventListener("click", () => toggleChat($("chat-panel").hidden));
$("chat-close").addEventListener("click", () => toggleChat(false));
$("chat-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = $("chat-input");
  const message = input.value.trim();
  input.value = "";
  sendChat(message);
});
