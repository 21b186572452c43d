// The conversation's log in the widget: finished messages, the answer still streaming in (redrawn
// once per frame), the customer's messages waiting for the server's ack, and the assistant's
// activity lines. It keeps the newest message in view unless the customer scrolled up to read.
// Customers' text is shown exactly as typed; answers go through the shared markdown renderer, their
// citations as numbered links to the server's help pages.
// This file is ASCII only (non-ASCII text as \u escapes), as every file the widget loads.

import { el } from "../shared/dom.js";
import { renderMarkdown } from "../shared/markdown.js";
import { photoStrip } from "./attachments.js";
import { t } from "./i18n.js";

function formatTime(seconds) {
  const date = new Date(seconds * 1000);
  const time = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  if (date.toDateString() === new Date().toDateString()) return time;
  return `${date.toLocaleDateString([], { month: "short", day: "numeric" })}, ${time}`;
}

function timeNode(seconds) {
  const when = new Date(seconds * 1000);
  return el("time", { datetime: when.toISOString(), title: when.toLocaleString(), text: formatTime(seconds) });
}

function authorOf(message) {
  if (message.role === "user") return t("You");
  if (message.author === "agent") return message.author_name || t("Support team");
  return t("Assistant");
}

/** The blinking caret at the end of a streaming answer, inside its last block. */
function addCaret(bubble) {
  let target = bubble.lastElementChild || bubble;
  if (target.tagName === "UL" || target.tagName === "OL" || target.tagName === "BLOCKQUOTE") {
    target = target.lastElementChild || target;
  }
  if (target.tagName === "PRE") target = bubble;
  target.append(el("span", { class: "caret", "aria-hidden": "true" }));
}

function messageNode(message, { streaming = false, pending = false, server = "", photos = [], loadImage = null } = {}) {
  const kind = message.role === "user" ? "customer" : message.author === "agent" ? "agent" : "assistant";
  const bubble = el("div", { class: "bubble" });
  if (kind === "customer") {
    bubble.textContent = message.text; // shown exactly as typed, never as markup
    const images = photos.length ? photos : (message.images || []).map((id) => ({ id }));
    if (images.length) {
      const strip = photoStrip(images, loadImage);
      if (message.text) strip.classList.add("after-text");
      bubble.append(strip);
    }
  } else {
    bubble.append(
      renderMarkdown(message.text, { streaming, citations: message.citations, server, sourcesTitle: t("Sources") }),
    );
    if (streaming) addCaret(bubble);
  }
  const meta = el("div", { class: "meta" }, el("span", { text: authorOf(message) }));
  if (pending) meta.append(" \u00b7 ", el("span", { class: "state", text: t("Sending\u2026") }));
  else if (message.created_at) meta.append(" \u00b7 ", timeNode(message.created_at));
  const node = el("div", { class: `msg from-${kind}` }, meta, bubble);
  if (message.id) node.dataset.id = message.id;
  if (streaming) node.setAttribute("aria-hidden", "true"); // announced once, when complete
  if (pending) node.classList.add("is-pending");
  return node;
}

export class MessageLog {
  /**
   * `log` is the view's log element. onAnswer() hears of each new answer (to count it unread),
   * onStreaming() of an answer starting or ending to stream (the typing line depends on it).
   * `server` is Concierge's origin, where an answer's sources link.
   */
  constructor(log, { onAnswer, onStreaming, server = "", loadImage = null }) {
    Object.assign(this, { log, onAnswer, onStreaming, server, loadImage });
    this.messages = new Map(); // id -> {data, node, streaming}
    this.pending = new Map(); // client_id -> {text, node}
    this.dirty = new Set(); // ids of streaming messages to redraw on the next frame
    this.activities = []; // activity lines still running, oldest first
    this.pinned = true; // the log follows the newest message until the customer scrolls up
    this.followScrolling();
  }

  get streaming() {
    return [...this.messages.values()].some((m) => m.streaming);
  }

  nearBottom() {
    return this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 80;
  }

  toBottom() {
    this.log.scrollTop = this.log.scrollHeight;
  }

  /** Run a change to the log, keeping it pinned to the newest message if it was. */
  change(run) {
    const follow = this.pinned || this.nearBottom();
    run();
    if (follow) this.toBottom();
  }

  add(node) {
    this.change(() => {
      this.log.querySelector(".empty")?.remove();
      this.log.append(node);
    });
  }

  /** Keep the newest message in view when the panel changes size (a phone keyboard, rotation, a
   * growing input box), unless the customer scrolled up to read. Only the customer unpins it: a
   * resize fires scroll events too, at arbitrary offsets. */
  followScrolling() {
    let userScrolledAt = 0;
    const byUser = () => (userScrolledAt = Date.now());
    for (const type of ["wheel", "touchmove", "keydown", "pointerdown"]) {
      this.log.addEventListener(type, byUser, { passive: true });
    }
    const onScroll = () => {
      if (this.nearBottom()) this.pinned = true;
      else if (Date.now() - userScrolledAt < 1000) this.pinned = false;
    };
    this.log.addEventListener("scroll", onScroll, { passive: true });
    if (window.ResizeObserver) new ResizeObserver(() => this.pinned && this.toBottom()).observe(this.log);
  }

  /** The greeting, while there is no message. */
  showEmptyState(customerName) {
    if (this.log.querySelector(".msg")) return;
    const greeting = customerName ? t("Hi {name}!", { name: customerName.split(" ")[0] }) : t("Hi there!");
    const text = t("Ask about an order's status, a parcel's tracking or a return. A person from our team can take over any time.");
    this.log.append(el("div", { class: "empty" }, el("strong", { text: greeting }), text));
  }

  /** The conversation from a hello: everything shown is replaced, messages still pending stay. */
  replaceWith(messages, streaming) {
    // Rebuilding the list must not make screen readers read the whole history again.
    this.log.setAttribute("aria-live", "off");
    this.messages.clear();
    this.dirty.clear();
    this.activities = [];
    this.log.replaceChildren();
    for (const message of messages) this.putFinal(message, { announce: false });
    if (streaming) {
      this.startStreaming({ id: streaming.id, role: "assistant", author: "assistant", text: "", created_at: Date.now() / 1000 });
      this.appendDelta(streaming.id, streaming.text);
    }
    for (const { node } of this.pending.values()) this.log.append(node);
    this.toBottom();
    requestAnimationFrame(() => this.log.setAttribute("aria-live", "polite"));
  }

  /** Show a message that is complete (from a hello, a final event, or an ack). */
  putFinal(message, { announce }) {
    const known = this.messages.get(message.id);
    const node = messageNode(message, { server: this.server, loadImage: this.loadImage });
    this.change(() => {
      this.log.querySelector(".empty")?.remove();
      // A fresh node (not a changed one) is an "addition" to the live region, so the finished
      // answer is read once; the streaming node it replaces was hidden from screen readers.
      if (known && known.node.isConnected) known.node.replaceWith(node);
      else this.log.append(node);
    });
    this.dirty.delete(message.id);
    this.messages.set(message.id, { data: message, node, streaming: false });
    if (announce && message.role !== "user" && !(known && !known.streaming)) this.onAnswer();
  }

  startStreaming(message) {
    if (this.messages.has(message.id)) return;
    const node = messageNode(message, { streaming: true, server: this.server });
    this.add(node);
    this.messages.set(message.id, { data: { ...message, text: message.text || "" }, node, streaming: true });
    this.onStreaming();
  }

  appendDelta(id, text) {
    let entry = this.messages.get(id);
    if (!entry) {
      // The start of this answer came before our snapshot; its deltas still tell us it exists.
      this.startStreaming({ id, role: "assistant", author: "assistant", text: "", created_at: Date.now() / 1000 });
      entry = this.messages.get(id);
    }
    if (!entry.streaming) return; // already final
    entry.data.text += text;
    this.dirty.add(id);
    if (this.dirty.size === 1) requestAnimationFrame(() => this.redrawStreaming());
  }

  /** Redraw the streaming bubbles once per frame, however many deltas arrived. */
  redrawStreaming() {
    const ids = [...this.dirty];
    this.dirty.clear();
    this.change(() => {
      for (const id of ids) {
        const entry = this.messages.get(id);
        if (!entry || !entry.streaming) continue;
        const bubble = entry.node.querySelector(".bubble");
        bubble.replaceChildren(renderMarkdown(entry.data.text, { streaming: true }));
        addCaret(bubble);
      }
    });
  }

  /** Take an answer off the screen: it was cut off and its run is writing it again. */
  withdraw(id) {
    const entry = this.messages.get(id);
    if (!entry) return;
    this.messages.delete(id);
    this.dirty.delete(id);
    this.change(() => entry.node.remove());
    this.onStreaming();
  }

  /** Answers still streaming stay as they are, as final (the next hello carries on from the server's snapshot). */
  finishStreaming() {
    for (const entry of this.messages.values()) {
      if (entry.streaming) this.putFinal(entry.data, { announce: false });
    }
    this.onStreaming();
  }

  /** A message on its way; `photos` are the attached photos ({url, id}) it carries. */
  showPending(clientId, text, photos = []) {
    const node = messageNode({ role: "user", text }, { pending: true, photos });
    this.add(node);
    this.toBottom(); // your own message always scrolls into view
    this.pending.set(clientId, { text, node, photos });
  }

  setPendingLabel(label) {
    for (const { node } of this.pending.values()) {
      const target = node.querySelector(".meta .state");
      if (target) target.textContent = label;
    }
  }

  /** Take a pending message back out of the log: {text, photos}, or undefined if there is no such message. */
  takeBack(clientId) {
    const entry = this.pending.get(clientId);
    if (!entry) return undefined;
    this.pending.delete(clientId);
    entry.node.remove();
    return { text: entry.text, photos: entry.photos };
  }

  /** A customer message the server confirms (an ack, or the thread's own event for it). */
  confirm(message, clientId) {
    let pendingId = clientId && this.pending.has(clientId) ? clientId : null;
    if (!pendingId && !this.messages.has(message.id)) {
      // The event can come before the ack: match the oldest pending message with the same text.
      for (const [id, entry] of this.pending) {
        if (entry.text.trim() === message.text) {
          pendingId = id;
          break;
        }
      }
    }
    if (!pendingId) {
      if (!this.messages.has(message.id)) this.putFinal(message, { announce: false }); // sent from another tab
      return;
    }
    const { node } = this.pending.get(pendingId);
    this.pending.delete(pendingId);
    if (this.messages.has(message.id)) {
      node.remove(); // already shown (the hello after a reconnect had it)
      return;
    }
    // Updated in place, not replaced: a new node would be read out again as an addition.
    node.classList.remove("is-pending");
    node.dataset.id = message.id;
    node.querySelector(".meta .state").replaceWith(timeNode(message.created_at));
    this.messages.set(message.id, { data: message, node, streaming: false });
  }

  /** An activity line ("Looking up order A1001..."): started, then finished or failed, in start order. */
  addActivity(label, status) {
    if (status === "started") {
      const node = el(
        "div",
        { class: "activity", "data-status": "started" },
        el("span", { class: "mark", "aria-hidden": "true" }),
        el("span", { text: label || t("Working on it\u2026") }),
      );
      this.add(node);
      this.activities.push(node);
      return;
    }
    const node = this.activities.shift(); // finished events name no call: they end in start order
    if (!node) return;
    node.dataset.status = status === "failed" ? "failed" : "finished";
    const text = node.lastElementChild;
    text.textContent = text.textContent.replace(/\u2026$/, ""); // no longer going on
    node.querySelector(".mark").textContent = status === "failed" ? "\u2715" : "\u2713";
  }
}
