/*
 * Concierge chat widget: a launcher button and a chat panel, embedded with one tag.
 *
 *   <script src="https://support.example/static/widget/concierge-widget.js"
 *           data-server="https://support.example" data-email="..." data-signature="..." defer></script>
 *
 * Options (all optional): data-server (defaults to the script's own origin), data-email or
 * data-external-id with data-signature (the shop backend's HMAC of it), data-title, data-accent.
 *
 * Everything lives in a shadow root, so the shop's CSS can't reach in and ours can't leak out.
 * Message text only ever reaches the page through textContent / text nodes: the small markdown
 * renderer below builds DOM nodes itself and no markup in any message is ever interpreted.
 * Protocol: POST {server}/chat/session/ for a session token (kept in localStorage) and a
 * single-use ticket, then the websocket {server}/ws/chat/?ticket=... (see support/consumers.py).
 */
(() => {
  "use strict";
  // This file is ASCII only (non-ASCII text as \u escapes): it works even where a proxy or CDN
  // serves it without a charset.

  const script =
    document.currentScript || document.querySelector('script[src*="concierge-widget.js"]');
  if (!script || window.__conciergeWidget) return; // loaded twice: the first copy wins
  window.__conciergeWidget = true;

  // --- configuration from the script tag ------------------------------------------------------

  const data = script.dataset;
  const SERVER = (data.server || new URL(script.src, location.href).origin).replace(/\/+$/, "");
  const IDENTITY = data.email
    ? { email: data.email.trim(), signature: (data.signature || "").trim() }
    : data.externalId
      ? { external_id: data.externalId.trim(), signature: (data.signature || "").trim() }
      : {};
  const TITLE = (data.title || "Chat with us").trim();
  const ACCENT = data.accent && window.CSS && CSS.supports("color", data.accent) ? data.accent : "";
  // One conversation per server and identity: Alice's chat is not an anonymous visitor's.
  const STORAGE_KEY = `concierge:session:${SERVER}|${IDENTITY.email || IDENTITY.external_id || "anonymous"}`;

  const TYPING_EVERY_MS = 3000;
  const PING_EVERY_MS = 20000;
  const PONG_TIMEOUT_MS = 10000;
  const HELLO_TIMEOUT_MS = 15000;
  const AGENT_TYPING_MS = 6000;
  const MAX_BACKOFF_MS = 30000;

  const store = {
    get() {
      try {
        return localStorage.getItem(STORAGE_KEY) || "";
      } catch {
        return ""; // storage blocked (privacy mode, sandboxed frame): the chat just won't survive reloads
      }
    },
    set(value) {
      try {
        localStorage.setItem(STORAGE_KEY, value);
      } catch {
        /* see get() */
      }
    },
    clear() {
      try {
        localStorage.removeItem(STORAGE_KEY);
      } catch {
        /* see get() */
      }
    },
  };

  // --- DOM helpers ----------------------------------------------------------------------------

  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === false || value == null) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) if (child != null) node.append(child);
    return node;
  }

  const SVG_NS = "http://www.w3.org/2000/svg";
  const ICONS = {
    chat: "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z",
    close: "M6 6l12 12M18 6L6 18",
    send: "M4 12l16-8-6 16-2.5-6.5L4 12z",
    down: "M6 9l6 6 6-6",
  };

  function icon(name) {
    const svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.setAttribute("class", `icon icon-${name}`);
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", ICONS[name]);
    svg.append(path);
    return svg;
  }

  function newClientId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16)); // randomUUID needs a secure context
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function formatTime(seconds) {
    const date = new Date(seconds * 1000);
    const time = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    if (date.toDateString() === new Date().toDateString()) return time;
    return `${date.toLocaleDateString([], { month: "short", day: "numeric" })}, ${time}`;
  }

  // --- safe markdown: paragraphs, **bold**, *italic*, `code`, links, lists ---------------------

  const SAFE_PROTOCOLS = new Set(["http:", "https:", "mailto:"]);

  function safeUrl(raw) {
    const candidate = raw.trim();
    if (!/^(https?:\/\/|mailto:)/i.test(candidate)) return null; // no relative, javascript:, data: ...
    try {
      const url = new URL(candidate);
      return SAFE_PROTOCOLS.has(url.protocol) ? url.href : null;
    } catch {
      return null;
    }
  }

  function link(href) {
    return h("a", { href, target: "_blank", rel: "noopener noreferrer nofollow" });
  }

  const isSpace = (ch) => ch === undefined || /\s/.test(ch);
  const isWordChar = (ch) => ch !== undefined && /[\p{L}\p{N}]/u.test(ch);

  function canOpen(text, at, width, ch) {
    if (isSpace(text[at + width])) return false;
    return ch !== "_" || !isWordChar(text[at - 1]); // snake_case is not emphasis
  }

  /** Index of the marker closing an emphasis opened before `from`, or -1. */
  function findClose(text, from, marker) {
    const ch = marker[0];
    for (let j = from + 1; j < text.length; j++) {
      if (text[j] !== ch) continue;
      if (marker.length === 1 && (text[j + 1] === ch || text[j - 1] === ch)) {
        while (text[j + 1] === ch) j++; // a double marker inside single emphasis: skip it whole
        continue;
      }
      if (marker.length === 2 && text[j + 1] !== ch) continue;
      if (isSpace(text[j - 1])) continue;
      if (ch === "_" && isWordChar(text[j + marker.length])) continue;
      return j;
    }
    return -1;
  }

  /**
   * Append `text` with inline markdown to `parent` as DOM nodes. While `streaming`, an emphasis
   * or code span still waiting for its closing marker is shown as if closed, so the answer
   * doesn't flash asterisks as it arrives.
   */
  function appendInline(parent, text, streaming, inLink = false) {
    let plain = "";
    const flush = () => {
      if (plain) parent.append(document.createTextNode(plain));
      plain = "";
    };
    const wrap = (tag, inner) => {
      flush();
      const node = h(tag);
      appendInline(node, inner, streaming, inLink);
      parent.append(node);
    };
    let i = 0;
    while (i < text.length) {
      const ch = text[i];
      const rest = text.slice(i);
      if (ch === "\\" && /^\\[\\`*_[\]()#+\-.!<>]/.test(rest)) {
        plain += text[i + 1];
        i += 2;
        continue;
      }
      if (streaming && /^[*_`]+$/.test(rest)) break; // a marker whose partner hasn't arrived yet
      if (ch === "`") {
        const end = text.indexOf("`", i + 1);
        if (end > i + 1 || (end === -1 && streaming)) {
          flush();
          parent.append(h("code", { text: text.slice(i + 1, end === -1 ? text.length : end) }));
          i = end === -1 ? text.length : end + 1;
          continue;
        }
      }
      if ((ch === "*" || ch === "_") && text[i + 1] === ch) {
        if (canOpen(text, i, 2, ch)) {
          const end = findClose(text, i + 2, ch + ch);
          if (end !== -1 || streaming) {
            wrap("strong", text.slice(i + 2, end === -1 ? text.length : end));
            i = end === -1 ? text.length : end + 2;
            continue;
          }
        }
        plain += ch + ch;
        i += 2;
        continue;
      }
      if (ch === "*" || ch === "_") {
        if (canOpen(text, i, 1, ch)) {
          const end = findClose(text, i, ch);
          if (end !== -1 || (streaming && ch === "*")) {
            wrap("em", text.slice(i + 1, end === -1 ? text.length : end));
            i = end === -1 ? text.length : end + 1;
            continue;
          }
        }
        plain += ch;
        i += 1;
        continue;
      }
      if (ch === "[" && !inLink) {
        const match = /^\[([^\]\n]+)\]\(\s*<?((?:[^()\s<>]|\([^()\s<>]*\))+)>?\s*\)/.exec(rest);
        if (match) {
          const href = safeUrl(match[2]);
          flush();
          if (href) {
            const anchor = link(href);
            appendInline(anchor, match[1], streaming, true);
            parent.append(anchor);
          } else {
            appendInline(parent, match[1], streaming, inLink); // an unsafe target: keep the words only
          }
          i += match[0].length;
          continue;
        }
      }
      if (ch === "<" && !inLink) {
        const match = /^<((?:https?:\/\/|mailto:)[^\s<>]+)>/i.exec(rest);
        const href = match && safeUrl(match[1]);
        if (href) {
          flush();
          const anchor = link(href);
          anchor.textContent = match[1];
          parent.append(anchor);
          i += match[0].length;
          continue;
        }
      }
      if (!inLink && (ch === "h" || ch === "H") && (i === 0 || /[\s(]/.test(text[i - 1]))) {
        const match = /^https?:\/\/[^\s<>"]+/i.exec(rest);
        if (match) {
          let raw = match[0].replace(/[.,;:!?'"*_\]]+$/, "");
          if (raw.endsWith(")") && !raw.includes("(")) raw = raw.slice(0, -1);
          const href = safeUrl(raw);
          if (href) {
            flush();
            const anchor = link(href);
            anchor.textContent = raw;
            parent.append(anchor);
            i += raw.length;
            continue;
          }
        }
      }
      plain += ch;
      i += 1;
    }
    flush();
  }

  /** The markdown of an answer as a DocumentFragment (never parsed as HTML). */
  function renderMarkdown(text, streaming) {
    const fragment = document.createDocumentFragment();
    const lines = text.replace(/\r\n?/g, "\n").split("\n");
    let paragraph = null;
    let list = null;
    const endParagraph = () => {
      if (!paragraph) return;
      const p = h("p");
      paragraph.forEach((line, k) => {
        if (k) p.append(h("br"));
        appendInline(p, line, streaming);
      });
      fragment.append(p);
      paragraph = null;
    };
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      if (/^\s*```/.test(line)) {
        endParagraph();
        list = null;
        const body = [];
        while (++i < lines.length && !/^\s*```/.test(lines[i])) body.push(lines[i]);
        fragment.append(h("pre", null, h("code", { text: body.join("\n") })));
        continue;
      }
      if (!line.trim()) {
        endParagraph();
        list = null;
        continue;
      }
      const item = /^\s{0,3}(?:([-*+])|(\d{1,9})[.)])\s+(.*)$/.exec(line);
      if (item) {
        endParagraph();
        const ordered = item[2] !== undefined;
        if (!list || list.ordered !== ordered) {
          const node = h(ordered ? "ol" : "ul");
          if (ordered && item[2] !== "1") node.setAttribute("start", String(parseInt(item[2], 10)));
          fragment.append(node);
          list = { node, ordered, last: null };
        }
        list.last = h("li");
        appendInline(list.last, item[3], streaming);
        list.node.append(list.last);
        continue;
      }
      if (list && /^\s+\S/.test(line)) {
        list.last.append(h("br"));
        appendInline(list.last, line.trim(), streaming);
        continue;
      }
      list = null;
      const heading = /^\s{0,3}#{1,6}\s+(.*)$/.exec(line);
      if (heading) {
        endParagraph();
        const strong = h("strong");
        appendInline(strong, heading[1], streaming);
        fragment.append(h("p", null, strong));
        continue;
      }
      (paragraph ||= []).push(line);
    }
    endParagraph();
    return fragment;
  }

  // --- styles -------------------------------------------------------------------------------

  // The stylesheet sits beside this script (same server, same version). The widget stays hidden
  // until it has loaded, so the shop's visitors never see it unstyled.
  const STYLESHEET = new URL("concierge-widget.css", script.src).href;

  /** White or near-black text, whichever reads better on the shop's accent colour. */
  function textColorOn(color, probe) {
    probe.style.color = color;
    const rgb = getComputedStyle(probe).color.match(/[\d.]+/g);
    probe.style.color = "";
    if (!rgb || rgb.length < 3) return "#ffffff";
    const [r, g, b] = rgb.slice(0, 3).map((v) => {
      const c = Number(v) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    const luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    return (1.05 / (luminance + 0.05)) >= 4.5 ? "#ffffff" : "#111827";
  }

  // --- the view -----------------------------------------------------------------------------

  const host = document.createElement("concierge-chat");
  const shadow = host.attachShadow({ mode: "open" });

  const ui = {};
  ui.badge = h("span", { class: "badge", "aria-hidden": "true", hidden: true });
  ui.launcher = h(
    "button",
    { class: "launcher", type: "button", "aria-expanded": "false", "aria-controls": "cw-panel", "aria-label": TITLE },
    icon("chat"),
    icon("down"),
    ui.badge,
  );
  ui.title = h("h2", { class: "title", id: "cw-title", text: TITLE });
  ui.status = h("p", { class: "status", "data-state": "connecting", text: "Ask about orders, tracking and returns" });
  ui.close = h("button", { class: "icon-button", type: "button", "aria-label": "Close chat" }, icon("close"));
  ui.bannerText = h("span", { class: "banner-text" });
  ui.bannerAction = h("button", { type: "button", hidden: true });
  ui.banner = h("div", { class: "banner", role: "status", hidden: true }, ui.bannerText, ui.bannerAction);
  ui.connText = h("span", { class: "banner-text" });
  ui.connRetry = h("button", { type: "button", text: "Retry now" });
  ui.conn = h("div", { class: "banner", "data-kind": "connection", hidden: true }, ui.connText, ui.connRetry);
  ui.log = h("div", {
    class: "log",
    role: "log",
    "aria-live": "polite",
    "aria-relevant": "additions",
    "aria-label": "Conversation",
    tabindex: "0",
  });
  ui.typingText = h("span");
  ui.typing = h(
    "div",
    { class: "typing", hidden: true },
    h("span", { class: "dots", "aria-hidden": "true" }, h("span"), h("span"), h("span")),
    ui.typingText,
  );
  ui.noticeText = h("span", { class: "notice-text" });
  ui.noticeClose = h("button", { type: "button", text: "Dismiss" });
  ui.notice = h("div", { class: "notice", role: "alert", hidden: true }, ui.noticeText, ui.noticeClose);
  ui.input = h("textarea", {
    class: "input",
    rows: "1",
    "aria-label": "Message",
    placeholder: "Type your message\u2026",
    autocomplete: "off",
  });
  ui.send = h("button", { class: "send", type: "submit", "aria-label": "Send message", disabled: true }, icon("send"));
  ui.form = h("form", { class: "composer" }, ui.input, ui.send);
  ui.panel = h(
    "section",
    { class: "panel", id: "cw-panel", role: "dialog", "aria-labelledby": "cw-title", hidden: true },
    h(
      "header",
      { class: "head" },
      h("div", { class: "head-text" }, ui.title, ui.status),
      ui.close,
    ),
    ui.banner,
    ui.conn,
    ui.log,
    ui.typing,
    ui.notice,
    ui.form,
  );
  ui.root = h("div", { class: "root", hidden: true }, ui.launcher, ui.panel);
  const stylesheet = h("link", { rel: "stylesheet", href: STYLESHEET });
  stylesheet.addEventListener("load", () => (ui.root.hidden = false), { once: true });
  stylesheet.addEventListener("error", () => console.error(`Concierge chat: could not load ${STYLESHEET}`));
  shadow.append(stylesheet, ui.root);

  // --- conversation state and rendering ----------------------------------------------------

  const state = {
    open: false,
    unread: 0,
    messages: new Map(), // id -> {data, node, streaming}
    pending: new Map(), // client_id -> {text, node, createdAt}
    dirty: new Set(), // ids of streaming messages to re-render on the next frame
    activities: [], // activity lines still running, oldest first
    runActive: false,
    agentTyping: null, // {name, until}
    customerName: "",
    mode: "assistant",
    pinned: true, // the log follows the newest message until the customer scrolls up
  };

  function nearBottom() {
    return ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 80;
  }

  /** Run a DOM change in the log, keeping it pinned to the newest message if it was. */
  function inLog(change) {
    const follow = state.pinned || nearBottom();
    change();
    if (follow) ui.log.scrollTop = ui.log.scrollHeight;
  }

  function authorOf(message) {
    if (message.role === "user") return "You";
    if (message.author === "agent") return message.author_name || "Support team";
    return "Assistant";
  }

  function messageNode(message, { streaming = false, pending = false } = {}) {
    const kind = message.role === "user" ? "customer" : message.author === "agent" ? "agent" : "assistant";
    const bubble = h("div", { class: "bubble" });
    if (kind === "customer") {
      bubble.textContent = message.text; // customers' text is shown exactly as typed, never as markup
    } else {
      bubble.append(renderMarkdown(message.text, streaming));
      if (streaming) addCaret(bubble);
    }
    const meta = h("div", { class: "meta" }, h("span", { text: authorOf(message) }));
    if (pending) {
      meta.append(" \u00b7 ", h("span", { class: "state", text: "Sending\u2026" }));
    } else if (message.created_at) {
      const when = new Date(message.created_at * 1000);
      meta.append(" \u00b7 ", h("time", { datetime: when.toISOString(), title: when.toLocaleString(), text: formatTime(message.created_at) }));
    }
    const node = h("div", { class: `msg from-${kind}` }, meta, bubble);
    if (message.id) node.dataset.id = message.id;
    if (streaming) node.setAttribute("aria-hidden", "true"); // announced once, when complete
    if (pending) node.classList.add("is-pending");
    return node;
  }

  function addCaret(bubble) {
    let target = bubble.lastElementChild || bubble;
    if (target.tagName === "UL" || target.tagName === "OL") target = target.lastElementChild || target;
    if (target.tagName === "PRE") target = bubble;
    target.append(h("span", { class: "caret", "aria-hidden": "true" }));
  }

  function clearEmptyState() {
    const empty = ui.log.querySelector(".empty");
    if (empty) empty.remove();
  }

  function renderEmptyState() {
    if (ui.log.querySelector(".msg")) return;
    const greeting = state.customerName ? `Hi ${state.customerName.split(" ")[0]}!` : "Hi there!";
    ui.log.append(
      h(
        "div",
        { class: "empty" },
        h("strong", { text: greeting }),
        "Ask about an order's status, a parcel's tracking or a return. A person from our team can take over any time.",
      ),
    );
  }

  /** Show a message that is complete (from hello, a final event, or an ack). */
  function putFinal(message, { announce }) {
    const known = state.messages.get(message.id);
    const node = messageNode(message);
    inLog(() => {
      clearEmptyState();
      // A fresh node (not a changed one) is an "addition" to the live region, so the finished
      // answer is read once; the streaming node it replaces was hidden from screen readers.
      if (known && known.node.isConnected) known.node.replaceWith(node);
      else ui.log.append(node);
    });
    state.dirty.delete(message.id);
    state.messages.set(message.id, { data: message, node, streaming: false });
    const isAnswer = message.role !== "user";
    if (announce && isAnswer && !(known && !known.streaming) && !state.open) setUnread(state.unread + 1);
  }

  function startStreaming(message) {
    if (state.messages.has(message.id)) return;
    const node = messageNode(message, { streaming: true });
    inLog(() => {
      clearEmptyState();
      ui.log.append(node);
    });
    state.messages.set(message.id, { data: { ...message }, node, streaming: true });
    updateTyping();
  }

  function appendDelta(id, text) {
    let entry = state.messages.get(id);
    if (!entry) {
      // The start of this answer came before our snapshot; its deltas still tell us it exists.
      startStreaming({ id, role: "assistant", author: "assistant", author_name: "", text: "", created_at: Date.now() / 1000 });
      entry = state.messages.get(id);
    }
    if (!entry.streaming) return; // already final
    entry.data.text += text;
    state.dirty.add(id);
    if (state.dirty.size === 1) requestAnimationFrame(flushStreaming);
  }

  /** Re-render the streaming bubbles once per frame, however many deltas arrived. */
  function flushStreaming() {
    const ids = [...state.dirty];
    state.dirty.clear();
    inLog(() => {
      for (const id of ids) {
        const entry = state.messages.get(id);
        if (!entry || !entry.streaming) continue;
        const bubble = entry.node.querySelector(".bubble");
        bubble.replaceChildren(renderMarkdown(entry.data.text, true));
        addCaret(bubble);
      }
    });
  }

  function finishStreaming() {
    for (const entry of state.messages.values()) {
      if (entry.streaming) putFinal(entry.data, { announce: false });
    }
  }

  function showPending(clientId, text) {
    const node = messageNode({ role: "user", text }, { pending: true });
    inLog(() => {
      clearEmptyState();
      ui.log.append(node);
    });
    ui.log.scrollTop = ui.log.scrollHeight; // your own message always scrolls into view
    state.pending.set(clientId, { text, node });
  }

  function setPendingLabel(label) {
    for (const { node } of state.pending.values()) {
      const target = node.querySelector(".meta .state");
      if (target) target.textContent = label;
    }
  }

  /** A customer message the server confirms (ack, or the thread's own event for it). */
  function confirmCustomerMessage(message, clientId) {
    let pendingId = clientId && state.pending.has(clientId) ? clientId : null;
    if (!pendingId && !state.messages.has(message.id)) {
      // The event can come before the ack: match the oldest pending message with the same text.
      for (const [id, entry] of state.pending) {
        if (entry.text.trim() === message.text) {
          pendingId = id;
          break;
        }
      }
    }
    if (pendingId) {
      const { node } = state.pending.get(pendingId);
      state.pending.delete(pendingId);
      if (state.messages.has(message.id)) {
        node.remove(); // already shown (the hello after a reconnect had it)
        return;
      }
      // Updated in place, not replaced: a new node would be read out again as an addition.
      node.classList.remove("is-pending");
      node.dataset.id = message.id;
      const when = new Date(message.created_at * 1000);
      node.querySelector(".meta .state").replaceWith(
        h("time", { datetime: when.toISOString(), title: when.toLocaleString(), text: formatTime(message.created_at) }),
      );
      state.messages.set(message.id, { data: message, node, streaming: false });
      return;
    }
    if (!state.messages.has(message.id)) putFinal(message, { announce: false }); // sent from another tab
  }

  function addActivity(label, status) {
    if (status === "started") {
      const node = h(
        "div",
        { class: "activity", "data-status": "started" },
        h("span", { class: "mark", "aria-hidden": "true" }),
        h("span", { text: label || "Working on it\u2026" }),
      );
      inLog(() => {
        clearEmptyState();
        ui.log.append(node);
      });
      state.activities.push(node);
      return;
    }
    const node = state.activities.shift(); // finished events name no call: they end in start order
    if (!node) return;
    node.dataset.status = status === "failed" ? "failed" : "finished";
    const text = node.lastElementChild;
    text.textContent = text.textContent.replace(/\u2026$/, ""); // no longer going on
    node.querySelector(".mark").textContent = status === "failed" ? "\u2715" : "\u2713";
  }

  function updateTyping() {
    const streaming = [...state.messages.values()].some((m) => m.streaming);
    const agent = state.agentTyping && state.agentTyping.until > Date.now() ? state.agentTyping : null;
    let label = "";
    if (agent) label = `${agent.name || "Our team"} is typing\u2026`;
    else if (state.runActive && !streaming) label = "The assistant is writing\u2026";
    ui.typingText.textContent = label;
    ui.typing.hidden = !label;
  }

  function setUnread(count) {
    state.unread = count;
    ui.badge.hidden = count === 0;
    ui.badge.textContent = count > 9 ? "9+" : String(count);
    ui.launcher.setAttribute(
      "aria-label",
      count ? `${TITLE} (${count} unread ${count === 1 ? "message" : "messages"})` : TITLE,
    );
  }

  function showNotice(text) {
    ui.noticeText.textContent = text;
    ui.notice.hidden = !text;
  }

  function setBanner(kind, text, action) {
    ui.banner.hidden = !text;
    ui.banner.dataset.kind = kind || "";
    ui.bannerText.textContent = text || "";
    ui.bannerAction.hidden = !action;
    if (action) {
      ui.bannerAction.textContent = action.label;
      ui.bannerAction.onclick = action.run;
    }
  }

  function applyMode(mode, name) {
    state.mode = mode;
    if (mode === "waiting_human") setBanner("waiting", "A person from our team will join shortly.");
    else if (mode === "human") setBanner("agent", name ? `${name} from our team has joined the chat.` : "You're chatting with our team.");
    else if (mode === "closed")
      setBanner("closed", "This conversation has ended.", { label: "Start a new chat", run: () => connection.restart() });
    else setBanner("", "");
  }

  function setStatus(kind, text) {
    ui.status.dataset.state = kind;
    ui.status.textContent = text;
  }

  function renderHello(hello) {
    // Rebuilding the list must not make screen readers read the whole history again.
    ui.log.setAttribute("aria-live", "off");
    state.messages.clear();
    state.dirty.clear();
    state.activities = [];
    ui.log.replaceChildren();
    state.customerName = hello.customer ? hello.customer.name : "";
    for (const message of hello.messages) putFinal(message, { announce: false });
    if (hello.streaming) {
      startStreaming({ id: hello.streaming.id, role: "assistant", author: "assistant", author_name: "", text: "", created_at: Date.now() / 1000 });
      appendDelta(hello.streaming.id, hello.streaming.text);
    }
    for (const { node } of state.pending.values()) ui.log.append(node);
    renderEmptyState();
    state.runActive = Boolean(hello.busy);
    updateTyping();
    const lastAgent = [...hello.messages].reverse().find((m) => m.author === "agent");
    applyMode(hello.mode, lastAgent && lastAgent.author_name);
    ui.log.scrollTop = ui.log.scrollHeight;
    requestAnimationFrame(() => ui.log.setAttribute("aria-live", "polite"));
  }

  // --- the connection ---------------------------------------------------------------------

  class Refused extends Error {
    constructor(code, message, { retryAfterMs = 0, fatal = false } = {}) {
      super(message);
      Object.assign(this, { code, retryAfterMs, fatal });
    }
  }

  const connection = {
    socket: null,
    ready: false, // hello received: messages can go out
    everConnected: false,
    attempts: 0,
    retryTimer: 0,
    pingTimer: 0,
    pongTimer: 0,
    helloTimer: 0,
    holdUntil: 0, // a 429's wait: no early retries before it
    lastTypingAt: 0,
    stopped: "", // why the server refused us for good (identity, origin): no more retries
    connecting: false,

    start() {
      if (this.socket || this.connecting || this.stopped) return;
      this.connecting = true;
      clearTimeout(this.retryTimer);
      setStatus(this.everConnected ? "reconnecting" : "connecting", this.everConnected ? "Reconnecting\u2026" : "Connecting\u2026");
      this.openSession()
        .then((session) => this.openSocket(session.ticket))
        .catch((error) => {
          this.connecting = false;
          this.fail(error);
        });
    },

    /** Start over in a new thread (after the old one was closed): the server opens one. */
    restart() {
      this.stopped = "";
      if (this.socket) this.drop(this.socket);
      this.attempts = 0;
      this.retryNow();
    },

    async openSession() {
      const body = { ...IDENTITY };
      const previous = store.get();
      if (previous) body.session = previous;
      let response;
      try {
        response = await fetch(`${SERVER}/chat/session/`, {
          method: "POST",
          mode: "cors",
          credentials: "omit",
          // A CORS "simple" request (text/plain; the server parses the body as JSON whatever its
          // type): a shop on another origin needs no preflight, and the endpoint answers none.
          headers: { "Content-Type": "text/plain;charset=UTF-8" },
          body: JSON.stringify(body),
        });
      } catch {
        throw new Refused("network", "");
      }
      let payload = null;
      try {
        payload = await response.json();
      } catch {
        /* not JSON: a proxy's error page */
      }
      if (!response.ok || !payload || !payload.ticket) {
        const error = (payload && payload.error) || {};
        const message = error.message || "The chat is unavailable right now.";
        if (response.status === 429) throw new Refused(error.code, message, { retryAfterMs: 60000 });
        if (response.status === 400 || response.status === 403) throw new Refused(error.code, message, { fatal: true });
        throw new Refused(error.code || "unavailable", message);
      }
      store.set(payload.session);
      if (payload.customer) state.customerName = payload.customer.name;
      return payload;
    },

    openSocket(ticket) {
      const url = new URL(`${SERVER}/ws/chat/`);
      url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
      url.search = `ticket=${encodeURIComponent(ticket)}`;
      const socket = new WebSocket(url.href);
      this.socket = socket;
      // A proxy can hold a socket open without ever passing anything through.
      this.helloTimer = setTimeout(() => this.drop(socket, new Refused("no_hello", "")), HELLO_TIMEOUT_MS);
      socket.onmessage = (event) => {
        if (socket !== this.socket) return;
        clearTimeout(this.pongTimer);
        let message;
        try {
          message = JSON.parse(event.data);
        } catch {
          return;
        }
        if (message && typeof message === "object") handleEvent(message);
      };
      socket.onclose = (event) => {
        if (socket !== this.socket) return; // already dropped
        if (event.code === 4003) {
          this.drop(socket, new Refused("origin_not_allowed", "This site may not embed the chat.", { fatal: true }));
        } else if (event.code === 4004) {
          store.clear(); // the thread is gone: the next session starts a new one
          this.drop(socket, new Refused("thread_gone", ""));
        } else {
          this.drop(socket, new Refused("closed", "")); // 4001 (a stale ticket) too: a new one comes
        }
      };
    },

    /** Forget a socket now (a dead one may take minutes to report its close), then retry unless told not to. */
    drop(socket, error = null) {
      if (socket !== this.socket) return;
      this.socket = null;
      this.ready = false;
      this.connecting = false;
      clearInterval(this.pingTimer);
      clearTimeout(this.pongTimer);
      clearTimeout(this.helloTimer);
      socket.onmessage = socket.onclose = null;
      if (socket.readyState <= WebSocket.OPEN) socket.close();
      if (error) this.fail(error);
    },

    /** The hello arrived: the connection is usable. */
    opened() {
      clearTimeout(this.helloTimer);
      this.connecting = false;
      this.ready = true;
      this.everConnected = true;
      this.attempts = 0;
      ui.conn.hidden = true;
      setStatus("online", state.customerName ? `Signed in as ${state.customerName}` : "We usually answer right away");
      setPendingLabel("Sending\u2026");
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => this.ping(), PING_EVERY_MS);
      // Messages typed while offline, or sent but never acknowledged, go (again) under the same
      // client_id: the server stores each once.
      for (const [clientId, entry] of state.pending) this.send({ type: "message", text: entry.text, client_id: clientId });
    },

    ping() {
      if (!this.send({ type: "ping" })) return;
      clearTimeout(this.pongTimer);
      // A half-open connection (a laptop waking up, a changed network) only shows as silence.
      const socket = this.socket;
      this.pongTimer = setTimeout(() => this.drop(socket, new Refused("silent", "")), PONG_TIMEOUT_MS);
    },

    send(message) {
      if (!this.socket || !this.ready || this.socket.readyState !== WebSocket.OPEN) return false;
      this.socket.send(JSON.stringify(message));
      return true;
    },

    typing() {
      const now = Date.now();
      if (now - this.lastTypingAt < TYPING_EVERY_MS) return;
      if (this.send({ type: "typing" })) this.lastTypingAt = now;
    },

    fail(error) {
      // A streaming answer stays as it is: the next hello carries on from the server's snapshot.
      state.runActive = false;
      state.agentTyping = null;
      updateTyping();
      if (error.fatal) {
        this.stopped = error.message;
        finishStreaming();
        setStatus("offline", "Chat unavailable");
        ui.conn.hidden = true;
        for (const clientId of [...state.pending.keys()]) restorePending(clientId);
        showNotice(error.message);
        return;
      }
      if (error.message) showNotice(error.message);
      const delay =
        error.retryAfterMs ||
        Math.min(MAX_BACKOFF_MS, 1000 * 2 ** this.attempts) * (0.7 + Math.random() * 0.3);
      this.attempts += 1;
      this.holdUntil = error.retryAfterMs ? Date.now() + delay : 0;
      setStatus(this.everConnected ? "reconnecting" : "connecting", this.everConnected ? "Reconnecting\u2026" : "Connecting\u2026");
      setPendingLabel("Waiting for connection\u2026");
      if (this.everConnected || this.attempts > 1) {
        ui.connText.textContent = this.everConnected
          ? "Connection lost. Reconnecting\u2026"
          : "Can't reach the chat. Trying again\u2026";
        ui.conn.hidden = false;
      }
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => this.start(), delay);
    },

    retryNow() {
      if (this.socket || this.connecting || this.stopped || Date.now() < this.holdUntil) return;
      clearTimeout(this.retryTimer);
      this.start();
    },
  };

  // --- events from the server -------------------------------------------------------------

  let helloSeq = 0;

  function handleEvent(event) {
    if (event.type === "hello") {
      helloSeq = typeof event.seq === "number" ? event.seq : 0;
      renderHello(event);
      connection.opened();
      return;
    }
    // Events published before the hello are already in it (the consumer subscribes first). Deltas
    // are filtered by the server against the snapshot; replaying a final message is harmless.
    const stale = typeof event.seq === "number" && event.seq <= helloSeq;
    if (stale && !["delta", "message"].includes(event.type)) return;
    switch (event.type) {
      case "message_started":
        if (event.message.role === "user") confirmCustomerMessage(event.message);
        else if (event.message.status === "in_progress") startStreaming({ ...event.message, text: event.message.text || "" });
        else putFinal(event.message, { announce: true });
        break;
      case "delta":
        appendDelta(event.id, event.text || "");
        break;
      case "message":
      case "agent_message": {
        const message = event.message || event;
        if (event.type === "agent_message") {
          message.role ||= "assistant";
          message.author ||= "agent";
          message.id ||= `agent-${event.seq || Date.now()}`;
          message.created_at ||= Math.floor(Date.now() / 1000);
        }
        if (message.role === "user") confirmCustomerMessage(message);
        else putFinal(message, { announce: true });
        if (message.author === "agent") state.agentTyping = null;
        updateTyping();
        break;
      }
      case "ack":
        showNotice("");
        confirmCustomerMessage(event.message, event.client_id);
        break;
      case "error":
        onError(event);
        break;
      case "run":
        state.runActive = event.state === "thinking" || event.state === "waiting";
        if (!state.runActive) finishStreaming();
        if (event.state === "failed") showNotice(event.message || "Sorry, something went wrong. Please try again.");
        updateTyping();
        break;
      case "activity":
        addActivity(event.label, event.status);
        break;
      case "handoff":
        state.mode = "waiting_human";
        setBanner("waiting", event.message || "A person from our team will join shortly.");
        break;
      case "agent_joined":
        applyMode("human", event.name);
        break;
      case "agent_left":
        setBanner("agent", `${event.name || "Our team member"} has left the chat.`);
        break;
      case "conversation_mode":
        applyMode(event.mode, event.name);
        if (event.mode === "assistant" && event.name) setBanner("agent", `${event.name} handed you back to the assistant.`);
        break;
      case "typing":
        if (event.who === "agent") {
          state.agentTyping = { name: event.name, until: Date.now() + AGENT_TYPING_MS };
          updateTyping();
          setTimeout(updateTyping, AGENT_TYPING_MS + 50);
        }
        break;
      default:
        break; // pong, and whatever a newer server adds
    }
  }

  /** Nothing the customer typed is lost: a refused message goes back into the box. */
  function restorePending(clientId) {
    const entry = state.pending.get(clientId);
    if (!entry) return;
    state.pending.delete(clientId);
    entry.node.remove();
    const current = ui.input.value;
    ui.input.value = current.trim() ? `${entry.text}\n${current}` : entry.text;
    autoSize();
    renderEmptyState();
  }

  function onError(event) {
    if (event.client_id) restorePending(event.client_id);
    showNotice(event.message || "That didn't work. Please try again.");
  }

  // --- user actions -----------------------------------------------------------------------

  function autoSize() {
    ui.input.style.height = "auto";
    ui.input.style.height = `${Math.min(ui.input.scrollHeight + 2, 132)}px`;
    ui.send.disabled = !ui.input.value.trim();
  }

  function submit() {
    const text = ui.input.value.trim();
    if (!text) return;
    if (connection.stopped) {
      showNotice(connection.stopped); // the text stays in the box
      return;
    }
    const clientId = newClientId();
    ui.input.value = "";
    autoSize();
    showNotice("");
    showPending(clientId, text);
    if (!connection.send({ type: "message", text, client_id: clientId })) {
      setPendingLabel("Waiting for connection\u2026");
      connection.start();
    }
  }

  function openPanel() {
    state.open = true;
    ui.panel.hidden = false;
    ui.launcher.setAttribute("aria-expanded", "true");
    setUnread(0);
    connection.start(); // first open of a new visitor: the session (and thread) starts now
    if (connection.stopped) showNotice(connection.stopped);
    ui.log.scrollTop = ui.log.scrollHeight;
    ui.input.focus();
  }

  function closePanel() {
    state.open = false;
    ui.panel.hidden = true;
    ui.launcher.setAttribute("aria-expanded", "false");
    ui.launcher.focus();
  }

  ui.launcher.addEventListener("click", () => (state.open ? closePanel() : openPanel()));
  ui.close.addEventListener("click", closePanel);
  ui.noticeClose.addEventListener("click", () => {
    showNotice("");
    ui.input.focus();
  });
  ui.connRetry.addEventListener("click", () => connection.retryNow());
  ui.launcher.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && state.open) closePanel();
  });
  ui.panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      closePanel();
    }
  });
  ui.input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  ui.input.addEventListener("input", () => {
    autoSize();
    if (ui.input.value.trim()) connection.typing();
  });
  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
    ui.input.focus();
  });
  // Keep the newest message in view when the panel changes size (phone keyboard, rotation, a
  // growing input box), unless the customer scrolled up to read. Only the customer unpins it: a
  // resize fires scroll events too, at arbitrary offsets.
  let userScrolledAt = 0;
  const byUser = () => (userScrolledAt = Date.now());
  for (const type of ["wheel", "touchmove", "keydown", "pointerdown"]) {
    ui.log.addEventListener(type, byUser, { passive: true });
  }
  ui.log.addEventListener(
    "scroll",
    () => {
      if (nearBottom()) state.pinned = true;
      else if (Date.now() - userScrolledAt < 1000) state.pinned = false;
    },
    { passive: true },
  );
  if (window.ResizeObserver) {
    new ResizeObserver(() => state.pinned && (ui.log.scrollTop = ui.log.scrollHeight)).observe(ui.log);
  }
  window.addEventListener("online", () => connection.retryNow());
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") connection.retryNow();
  });

  // --- boot -------------------------------------------------------------------------------

  function mount() {
    document.body.append(host);
    if (ACCENT) {
      host.style.setProperty("--cw-accent", ACCENT);
      host.style.setProperty("--cw-on-accent", textColorOn(ACCENT, ui.title));
    }
    renderEmptyState();
    // A returning visitor reconnects at once (answers arriving while the panel is closed raise
    // the badge); a new one gets a session only when they open the chat, so page views don't
    // create empty conversations.
    if (store.get()) connection.start();
  }

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
