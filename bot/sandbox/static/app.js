// The sandbox chat page: one chat per persona, kept live by server-sent events.
// Everything a person does here becomes what a Telegram user would send; the bot never knows.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  personas: [],
  current: null, // persona id
  events: null, // EventSource of the current chat
  messages: new Map(), // message_id -> element
  commands: [],
};

// -- safe rendering ---------------------------------------------------------------------------
// The server builds message HTML from Telegram entities with an allow-list and escapes all text.
// This second pass keeps only Telegram's formatting tags, in case anything else slipped in.
const ALLOWED = new Set(["B", "I", "U", "S", "CODE", "PRE", "A", "BLOCKQUOTE", "SPAN"]);
const SAFE_LINK = /^(https?:|tg:|mailto:)/i;

function sanitize(html) {
  const template = document.createElement("template");
  template.innerHTML = html;
  const clean = (node) => {
    for (const child of [...node.childNodes]) {
      if (child.nodeType === Node.TEXT_NODE) continue;
      if (child.nodeType !== Node.ELEMENT_NODE || !ALLOWED.has(child.tagName)) {
        child.replaceWith(document.createTextNode(child.textContent || ""));
        continue;
      }
      const href = child.getAttribute("href");
      const spoiler = child.classList.contains("tg-spoiler");
      for (const attr of [...child.attributes]) child.removeAttribute(attr.name);
      if (child.tagName === "A") {
        if (href && SAFE_LINK.test(href)) {
          child.setAttribute("href", href);
          child.setAttribute("target", "_blank");
          child.setAttribute("rel", "noopener noreferrer");
        }
      } else if (child.tagName === "SPAN") {
        if (!spoiler) {
          child.replaceWith(document.createTextNode(child.textContent || ""));
          continue;
        }
        child.className = "tg-spoiler";
      }
      clean(child);
    }
  };
  clean(template.content);
  return template.content;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function timeOf(unix) {
  return new Date(unix * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function sizeOf(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function fileUrl(fileId) {
  return `/api/files/${encodeURIComponent(fileId)}`;
}

function renderMessage(m) {
  const wrap = el("div", `msg ${m.from_bot ? "bot" : "user"}`);
  wrap.dataset.messageId = String(m.message_id);
  const bubble = el("div", "bubble");
  if (m.photo) {
    const box = el("a", "photo");
    box.href = fileUrl(m.photo.file_id);
    box.target = "_blank";
    const img = el("img");
    img.src = fileUrl(m.photo.file_id);
    img.alt = "photo";
    box.append(img);
    bubble.append(box);
  }
  if (m.file) {
    const link = el("a", "file");
    link.href = fileUrl(m.file.file_id);
    link.download = m.file.file_name;
    link.append(el("span", "icon", m.file.kind === "document" ? "📄" : "🎵"));
    const info = el("span");
    info.append(el("div", "fname", m.file.file_name), el("div", "fsize", sizeOf(m.file.file_size)));
    link.append(info);
    bubble.append(link);
  }
  if (m.location) {
    const { latitude, longitude } = m.location;
    bubble.append(el("div", "location", `📍 ${latitude.toFixed(5)}, ${longitude.toFixed(5)}`));
  }
  if (m.contact) {
    bubble.append(el("div", "contact", `👤 ${m.contact.first_name} · ${m.contact.phone_number}`));
  }
  if (m.sticker) bubble.append(el("div", "text", m.sticker));
  if (m.invoice) bubble.append(renderInvoice(m.invoice));
  if (m.payment) bubble.append(el("div", "payment", `✅ Payment sent: ${m.payment.amount}`));
  if (m.html) {
    const text = el("div", "text");
    text.append(sanitize(m.html));
    text.querySelectorAll(".tg-spoiler").forEach((s) =>
      s.addEventListener("click", () => s.classList.add("shown")),
    );
    bubble.append(text);
  }
  bubble.append(el("div", "meta", `${m.edited ? "edited " : ""}${timeOf(m.date)}`));
  wrap.append(bubble);
  if (m.buttons || m.invoice) wrap.append(renderInlineKeyboard(m));
  return wrap;
}

// An invoice as Telegram shows it: title, description and the total; Pay is a button below.
function renderInvoice(invoice) {
  const card = el("div", "invoice");
  card.append(
    el("div", "invoice-title", invoice.title),
    el("div", "invoice-description", invoice.description),
    el("div", "invoice-amount", invoice.amount),
  );
  return card;
}

function payButton(m, text) {
  const button = el("button", "ib pay", text);
  button.type = "button";
  if (m.invoice && m.invoice.paid) markPaid(button);
  else button.addEventListener("click", () => pay(m.message_id, button));
  return button;
}

function markPaid(button) {
  button.textContent = "✓ Paid";
  button.disabled = true;
  button.classList.add("paid");
}

function renderInlineKeyboard(m) {
  const kb = el("div", "inline-kb");
  const buttons = m.buttons || [];
  // Telegram puts a Pay button on an invoice unless the bot's own keyboard carries one.
  if (m.invoice && !buttons.some((row) => row.some((b) => b.pay))) {
    const line = el("div", "row");
    line.append(payButton(m, `Pay ${m.invoice.amount}`));
    kb.append(line);
  }
  buttons.forEach((row, r) => {
    const line = el("div", "row");
    row.forEach((b, c) => {
      if (b.pay) {
        line.append(payButton(m, b.text));
        return;
      }
      if (b.url) {
        const link = el("a", "ib", `${b.text} ↗`);
        if (SAFE_LINK.test(b.url)) link.href = b.url;
        link.target = "_blank";
        link.rel = "noopener noreferrer";
        line.append(link);
        return;
      }
      const button = el("button", "ib", b.text);
      button.type = "button";
      button.addEventListener("click", () => tap(m.message_id, r, c, button));
      line.append(button);
    });
    kb.append(line);
  });
  return kb;
}

function upsertMessage(m) {
  const node = renderMessage(m);
  const old = state.messages.get(m.message_id);
  const box = $("messages");
  box.querySelector(".empty")?.remove();
  if (old) {
    old.replaceWith(node); // an edit: same place in the chat
  } else {
    // Messages arrive in id order almost always; insert in place when they do not.
    const later = [...state.messages.entries()]
      .filter(([id]) => id > m.message_id)
      .sort(([a], [b]) => a - b)[0];
    if (later) box.insertBefore(node, later[1]);
    else box.append(node);
    scrollDown();
  }
  state.messages.set(m.message_id, node);
}

function removeMessage(id) {
  state.messages.get(id)?.remove();
  state.messages.delete(id);
}

function scrollDown() {
  const box = $("messages");
  box.scrollTop = box.scrollHeight;
}

function renderReplyKeyboard(rows) {
  const kb = $("reply-kb");
  kb.replaceChildren();
  kb.hidden = !rows || rows.length === 0;
  (rows || []).forEach((row) => {
    const line = el("div", "row");
    row.forEach((b) => {
      const button = el("button", "rk", b.text);
      button.type = "button";
      button.addEventListener("click", () => act("press", { text: b.text }));
      line.append(button);
    });
    kb.append(line);
  });
}

function renderCommands(commands) {
  state.commands = commands || [];
  $("menu-btn").hidden = state.commands.length === 0;
  const list = $("commands");
  list.replaceChildren();
  state.commands.forEach((c) => {
    const item = el("button", "cmd");
    item.type = "button";
    item.append(el("span", "c", `/${c.command}`), el("span", "d", c.description));
    item.addEventListener("click", () => {
      list.hidden = true;
      act("text", { text: `/${c.command}` });
    });
    list.append(item);
  });
  if (state.commands.length === 0) list.hidden = true;
}

function applySnapshot(snapshot) {
  state.messages.clear();
  const box = $("messages");
  box.replaceChildren();
  if (snapshot.messages.length === 0) {
    box.append(el("div", "empty", "No messages here yet. Say /start to the bot."));
  }
  snapshot.messages.forEach(upsertMessage);
  renderReplyKeyboard(snapshot.reply_keyboard);
  renderCommands(snapshot.commands);
  scrollDown();
}

// -- talking to the sandbox -------------------------------------------------------------------
async function api(path, options = {}) {
  const response = await fetch(path, options);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

async function act(action, payload) {
  if (state.current === null) return null;
  try {
    return await api(`/api/chats/${state.current}/${action}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(payload || {}),
    });
  } catch (error) {
    toast(error.message);
    return null;
  }
}

async function tap(messageId, row, column, button) {
  button.classList.add("busy");
  const result = await act("tap", { message_id: messageId, row, column });
  button.classList.remove("busy");
  const answer = result && result.answer;
  if (answer && answer.text) {
    if (answer.show_alert) showAlert(answer.text);
    else toast(answer.text);
  }
}

// Tapping Pay: the sandbox sends the bot a pre-checkout query and, if the bot says yes, the
// payment. A refusal is shown as Telegram's payment form shows it, in the bot's own words.
async function pay(messageId, button) {
  if (button.disabled) return;
  button.disabled = true;
  button.classList.add("busy");
  const result = await act("pay", { message_id: messageId });
  button.classList.remove("busy");
  if (result && result.ok) {
    markPaid(button);
    return;
  }
  button.disabled = false;
  if (result) showAlert(result.error || "The payment did not go through.");
}

async function upload(kind, file) {
  const form = new FormData();
  form.append("file", file, file.name);
  const caption = $("text").value.trim();
  if (caption) form.append("caption", caption);
  try {
    await api(`/api/chats/${state.current}/${kind}`, { method: "POST", body: form });
    $("text").value = "";
  } catch (error) {
    toast(error.message);
  }
}

let toastTimer = null;
function toast(text) {
  const node = $("toast");
  node.textContent = text;
  node.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (node.hidden = true), 3500);
}

function showAlert(text) {
  $("alert-text").textContent = text;
  $("alert").hidden = false;
}

// -- personas ---------------------------------------------------------------------------------
const ROLE_NAMES = { admin: "admin", doctor: "doctor", patient: "patient", new: "new user" };

function renderPersonas() {
  const list = $("personas");
  list.replaceChildren();
  state.personas.forEach((p) => {
    const item = el("li");
    const button = el("button", "persona");
    button.type = "button";
    button.dataset.role = p.role;
    button.dataset.personaId = String(p.id);
    button.setAttribute("aria-current", String(p.id === state.current));
    const info = el("span");
    info.append(el("div", "name", p.label), el("div", "role", ROLE_NAMES[p.role] || p.role));
    button.append(el("span", "dot", p.first_name.slice(0, 1).toUpperCase()), info);
    button.addEventListener("click", () => openChat(p.id));
    item.append(button);
    list.append(item);
  });
}

function openChat(id) {
  if (state.events) state.events.close();
  state.current = id;
  const persona = state.personas.find((p) => p.id === id);
  $("chat-subtitle").textContent = persona ? `bot · you are ${persona.label}` : "bot";
  renderPersonas();
  $("commands").hidden = true;
  $("attach-menu").hidden = true;
  $("location-form").hidden = true;
  $("toast").hidden = true; // an answer to one persona's tap is not news to the next
  $("alert").hidden = true;
  const source = new EventSource(`/api/chats/${id}/events`);
  state.events = source;
  const on = (name, handler) =>
    source.addEventListener(name, (event) => {
      if (state.events === source) handler(JSON.parse(event.data));
    });
  on("snapshot", applySnapshot);
  on("message", upsertMessage);
  on("deleted", (d) => removeMessage(d.message_id));
  on("keyboard", renderReplyKeyboard);
  on("commands", renderCommands);
  $("text").focus();
}

async function loadPersonas(selectId) {
  const data = await api("/api/personas");
  state.personas = data.personas;
  $("bot-name").textContent = `Clinic · @${data.bot.username}`;
  const wanted = selectId ?? state.current ?? (state.personas[0] && state.personas[0].id);
  if (wanted !== undefined && wanted !== null) openChat(wanted);
  else renderPersonas();
}

// -- wiring -----------------------------------------------------------------------------------
function wire() {
  $("composer").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = $("text");
    const text = input.value;
    if (!text.trim()) return;
    input.value = "";
    await act("text", { text });
  });
  $("menu-btn").addEventListener("click", () => {
    $("attach-menu").hidden = true;
    $("commands").hidden = !$("commands").hidden;
  });
  $("attach-btn").addEventListener("click", () => {
    $("commands").hidden = true;
    $("location-form").hidden = true;
    $("attach-menu").hidden = !$("attach-menu").hidden;
  });
  $("attach-photo").addEventListener("click", () => $("photo-file").click());
  $("attach-document").addEventListener("click", () => $("document-file").click());
  $("attach-contact").addEventListener("click", () => {
    $("attach-menu").hidden = true;
    act("contact");
  });
  $("attach-location").addEventListener("click", () => {
    $("attach-menu").hidden = true;
    $("location-form").hidden = false;
  });
  $("location-form").addEventListener("submit", (event) => {
    event.preventDefault();
    $("location-form").hidden = true;
    act("location", { latitude: Number($("lat").value), longitude: Number($("lon").value) });
  });
  for (const [id, kind] of [["photo-file", "photo"], ["document-file", "document"]]) {
    $(id).addEventListener("change", async (event) => {
      const file = event.target.files[0];
      $("attach-menu").hidden = true;
      if (file) await upload(kind, file);
      event.target.value = "";
    });
  }
  $("alert-ok").addEventListener("click", () => ($("alert").hidden = true));
  $("new-user").addEventListener("click", () => {
    $("new-user-form").hidden = false;
    $("new-user").hidden = true;
    $("new-user-name").focus();
  });
  $("new-user-cancel").addEventListener("click", () => {
    $("new-user-form").hidden = true;
    $("new-user").hidden = false;
  });
  $("new-user-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = $("new-user-name").value.trim();
    if (!name) return;
    try {
      const persona = await api("/api/personas", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ name }),
      });
      $("new-user-name").value = "";
      $("new-user-form").hidden = true;
      $("new-user").hidden = false;
      await loadPersonas(persona.id);
    } catch (error) {
      toast(error.message);
    }
  });
}

wire();
loadPersonas().catch((error) => toast(`Sandbox not reachable: ${error.message}`));
