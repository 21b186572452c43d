// The agent console, live: the queue and open conversations over the /ws/console/ socket.
// An ES module with no build step and no framework. Whatever a customer or an agent typed reaches
// the page through text nodes only, never as HTML; messages are drawn by the markdown renderer the
// customer's widget uses (static/shared/), so agents see what the customer sees, sources included.

import { el } from "../shared/dom.js";
import { renderMarkdown } from "../shared/markdown.js";
import { LiveSocket, Refusal, socketUrl } from "../shared/socket.js";

const state = JSON.parse(document.getElementById("console-state")?.textContent || "{}");
const page = document.querySelector(".console")?.dataset.page;
const me = state.me || {};

const PRIORITY_RANK = { urgent: 0, high: 1, normal: 2, low: 3 };
const SUMMARY_LISTS = ["verified_orders", "actions_taken", "open_items"];
const SUMMARY_TEXTS = ["problem", "customer", "mood", "suggested_next_step"];
const ESCALATION_LABELS = {
  waiting: "Waiting for an agent",
  assigned: "Assigned",
  resolved: "Resolved",
  handed_back: "Handed back to the assistant",
};
const MODE_LABELS = {
  assistant: "Assistant answers",
  waiting_human: "Waiting for a human",
  human: "A human answers",
  closed: "Closed",
};
const TYPING_SHOWN_MS = 4000;
const TYPING_SEND_EVERY_MS = 1500;
const KNOWLEDGE_POLL_MS = 2000;

// --- small helpers -----------------------------------------------------------------------------

function csrfToken() {
  const field = document.querySelector("input[name=csrfmiddlewaretoken]");
  if (field) return field.value;
  const cookie = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="));
  return cookie ? decodeURIComponent(cookie.split("=")[1]) : "";
}

/** POST form fields with the CSRF header; resolves to the JSON answer or throws its message. */
async function post(url, fields = {}) {
  // URL-encoded, not FormData: an empty multipart body is refused by Django's parser.
  const body = new URLSearchParams(fields);
  const response = await fetch(url, {
    method: "POST",
    body,
    credentials: "same-origin",
    headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
  });
  let payload = {};
  try {
    payload = await response.json();
  } catch {
    payload = {};
  }
  if (!response.ok) throw new Error(payload.error?.message || `That didn't work (HTTP ${response.status}).`);
  return payload;
}

function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

function since(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

const now = () => Date.now() / 1000;
const timeOf = (unix) => new Date(unix * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

function conversationUrl(threadId) {
  return `/console/conversations/${encodeURIComponent(threadId)}/`;
}

/** The SLA cell: time left until a person should have joined, red once breached. */
function renderSla(node, escalation) {
  if (!node) return;
  if (escalation.status !== "waiting") {
    node.textContent = "person joined";
    node.className = "sla sla-met";
    return;
  }
  const left = escalation.sla_due_at - now();
  node.textContent = left >= 0 ? `${clock(left)} left` : `breached ${clock(-left)} ago`;
  node.className = left >= 0 ? (left < 60 ? "sla sla-soon" : "sla") : "sla sla-breached";
}

// --- messages and the socket --------------------------------------------------------------------

/** An answer's markdown with its sources, linked to this server's help pages (as the widget shows them). */
function markdownOf(text, { streaming = false, citations = [] } = {}) {
  return renderMarkdown(text, { streaming, citations, server: location.origin });
}

/** The photos a customer attached, as thumbnails that open full size (served to agents only). */
function imagesOf(m) {
  if (!m.images || !m.images.length) return [];
  const links = m.images.map((id) => {
    const url = `/console/images/${encodeURIComponent(id)}/`;
    return el(
      "a",
      { href: url, target: "_blank", rel: "noopener", title: "Open the full-size photo" },
      el("img", { src: url, alt: "Photo the customer attached", loading: "lazy" }),
    );
  });
  return [el("div", { class: "msg-images" }, ...links)];
}

/** A message's text: the customer's as typed, the assistant's and agents' as markdown (as the widget shows them). */
function messageBody(m) {
  if (m.author === "customer") return el("div", { class: "msg-text", text: m.text });
  const streaming = m.status === "in_progress";
  return el("div", { class: "msg-text md" }, markdownOf(m.text, { streaming, citations: m.citations }));
}

/** The console's live socket: `onEvent` hears every event; threads passed to watch() are watched again after a reconnect. */
function consoleSocket(onEvent) {
  const status = document.getElementById("live-status");
  const show = (value, label) => {
    if (!status) return;
    status.dataset.state = value;
    status.textContent = label;
  };
  const watched = new Set();
  const socket = new LiveSocket({
    url: () => socketUrl(location.origin, "/ws/console/"),
    onEvent,
    onChange({ phase, everConnected }) {
      if (phase === "live") {
        show("live", "live");
        for (const threadId of watched) socket.send({ type: "watch", thread_id: threadId });
      } else if (phase === "stopped") show("offline", "signed out");
      else if (phase === "retrying" || everConnected) show("offline", "reconnecting…");
    },
    // Signed out, or no longer console staff: reconnecting would not help.
    refusalFor: (code) => (code === 4001 || code === 4003 ? new Refusal("signed_out", "", { fatal: true }) : null),
  });
  socket.watch = (threadId) => {
    watched.add(threadId);
    socket.send({ type: "watch", thread_id: threadId });
  };
  return socket;
}

// --- keyboard shortcuts ------------------------------------------------------------------------

// The conversations of the list the agent last looked at (the queue or the inbox), in its order, so
// j/k on a conversation page move through that list; and the list's own address, for u.
const LIST_KEY = "console.list";
const LIST_URL_KEY = "console.list-url";

function rememberList(hrefs) {
  try {
    sessionStorage.setItem(LIST_KEY, JSON.stringify(hrefs));
    sessionStorage.setItem(LIST_URL_KEY, location.pathname + location.search);
  } catch {
    // storage refused (private mode, quota): j/k on a conversation then say there is no list
  }
}

function rememberedList() {
  try {
    const list = JSON.parse(sessionStorage.getItem(LIST_KEY) || "[]");
    return Array.isArray(list) ? list.filter((href) => typeof href === "string" && href.startsWith("/console/")) : [];
  } catch {
    return [];
  }
}

const LIST_SHORTCUTS = [
  ["/", "Search conversations"],
  ["j / k", "Move down / up the list"],
  ["Enter or o", "Open the selected conversation"],
  ["?", "Show or hide these shortcuts"],
];
const CONVERSATION_SHORTCUTS = [
  ["r", "Reply: go to the message box"],
  ["t", "Take over (claim) the conversation"],
  ["e", "Resolve the conversation"],
  ["n", "Write an internal note"],
  ["g", "Add a tag"],
  ["j / k", "Next / previous conversation of the list you came from"],
  ["u", "Back to that list"],
  ["?", "Show or hide these shortcuts"],
];

/** Whether a key press belongs to a field being typed in (shortcuts never fire there). */
function typingIn(target) {
  return (
    target instanceof HTMLElement &&
    (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))
  );
}

let toastTimer = null;
/** A short line at the bottom of the screen saying what a shortcut did or why it could not. */
function toast(text) {
  let node = document.getElementById("shortcut-toast");
  if (!node) {
    node = el("p", { id: "shortcut-toast", class: "shortcut-toast", role: "status" });
    document.body.append(node);
  }
  node.textContent = text;
  node.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    node.hidden = true;
  }, 3000);
}

function shortcutsDialog(entries) {
  const dialog = el(
    "dialog",
    { id: "shortcuts", class: "shortcuts", "aria-labelledby": "shortcuts-title" },
    el("h2", { id: "shortcuts-title", text: "Keyboard shortcuts" }),
    el(
      "dl",
      {},
      entries.flatMap(([keys, what]) => [
        el("dt", {}, keys.split(" ").map((k) => (k.length <= 5 && k !== "or" && k !== "/" ? el("kbd", { text: k }) : ` ${k} `))),
        el("dd", { text: what }),
      ]),
    ),
    el("p", { class: "hint", text: "Shortcuts never fire while you type in a field; Esc leaves the field." }),
    el("form", { method: "dialog" }, el("button", { type: "submit", text: "Close" })),
  );
  document.body.append(dialog);
  return dialog;
}

/** Listen for single-key shortcuts: `handlers` maps a key to what it does. */
function useShortcuts(handlers, entries) {
  const help = shortcutsDialog(entries);
  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    if (typingIn(event.target)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    if (event.key === "?") {
      event.preventDefault();
      if (help.open) help.close();
      else help.showModal();
      return;
    }
    if (help.open) return;
    // Enter on a focused link or button is that control's own.
    if (event.key === "Enter" && event.target instanceof Element && event.target.closest("a, button, summary")) return;
    const handler = handlers[event.key];
    if (handler) {
      event.preventDefault();
      handler();
    }
  });
}

/** j/k/Enter over a table's rows (each with a link to a conversation), / to its search field. */
function listShortcuts(rowsOf, search) {
  let selected = -1;
  const select = (index) => {
    const rows = rowsOf();
    if (!rows.length) return;
    selected = Math.max(0, Math.min(rows.length - 1, index));
    rows.forEach((row, i) => row.classList.toggle("selected", i === selected));
    rows[selected].setAttribute("aria-selected", "true");
    rows[selected].scrollIntoView({ block: "nearest" });
  };
  const open = () => {
    const link = rowsOf()[selected]?.querySelector("a[href]");
    if (link) location.href = link.getAttribute("href");
  };
  useShortcuts(
    {
      "/": () => {
        search?.focus();
        search?.select();
      },
      j: () => select(selected + 1),
      k: () => select(selected - 1),
      Enter: open,
      o: open,
    },
    LIST_SHORTCUTS,
  );
}

// --- what every page keeps: the queue, for the count in the navigation --------------------------

const queue = new Map((state.queue || []).map((e) => [e.id, e]));
// Requests for approval waiting for a decision (every one: the hello and each approval event list them all).
let approvals = state.approvals || [];

function applyEscalation(view) {
  if (view.status === "waiting" || view.status === "assigned") queue.set(view.id, view);
  else queue.delete(view.id);
}

function renderQueueCount() {
  const badge = document.getElementById("queue-count");
  if (!badge) return;
  const waiting = [...queue.values()].filter((e) => e.status === "waiting").length;
  const deciding = approvals.filter((a) => a.expires_at > now()).length;
  const total = waiting + deciding;
  badge.textContent = String(total);
  badge.hidden = total === 0;
  badge.title = `${waiting} waiting for a person, ${deciding} waiting for approval`;
}

// --- the queue page ----------------------------------------------------------------------------

function queuePage() {
  const rows = document.getElementById("queue-rows");
  const empty = document.getElementById("queue-empty");
  const status = document.getElementById("queue-status");
  const fresh = new Set();
  const deciding = new Set(); // approvals whose decision is on its way: their buttons stay disabled
  const filter = document.getElementById("queue-filter");
  const shows = (e) =>
    !filter?.value ||
    (filter.value === "mine" && e.assigned_to === me.username) ||
    (filter.value === "unassigned" && e.status === "waiting");
  filter?.addEventListener("change", () => render());

  function row(e) {
    const claim =
      e.status === "waiting"
        ? el("button", { type: "button", class: "primary small", dataset: { claim: e.thread_id, escalation: e.id } }, "Claim")
        : null;
    return el(
      "tr",
      { class: `prio-row prio-row-${e.priority}${fresh.has(e.id) ? " fresh" : ""}`, dataset: { escalation: e.id } },
      el("td", {}, el("span", { class: `badge prio-${e.priority}`, text: e.priority })),
      el(
        "td",
        { class: "headline-cell" },
        el("a", { href: conversationUrl(e.thread_id), class: "headline", text: e.headline }),
        el("div", {
          class: "muted small",
          text: [e.trigger_label, e.customer || "Anonymous visitor", e.customer_email].filter(Boolean).join(" · "),
        }),
      ),
      el("td", { class: "waiting", dataset: { since: e.created_at } }, since(now() - e.created_at)),
      el("td", {}, el("span", { class: "sla", dataset: { sla: e.id } })),
      el("td", { class: e.assigned_to ? "assignee" : "assignee muted", text: e.assigned_to_name || e.assigned_to || "unassigned" }),
      el("td", { class: "row-actions" }, el("a", { href: conversationUrl(e.thread_id), class: "button small" }, "Open"), claim),
    );
  }

  /** A request for approval: work any agent can decide from here, before it expires. */
  function approvalRow(a) {
    const busy = deciding.has(a.id);
    const button = (decision, label, extra = "") =>
      el("button", { type: "button", class: `small ${extra}`.trim(), disabled: busy, dataset: { decide: decision, approval: a.id } }, label);
    return el(
      "tr",
      { class: "approval-row", dataset: { approval: a.id } },
      el("td", {}, el("span", { class: "badge approval-badge", text: "approval" })),
      el(
        "td",
        { class: "headline-cell" },
        el("a", { href: conversationUrl(a.thread_id), class: "headline", text: a.summary }),
        el("div", { class: "muted small", text: `The assistant asks a person to approve · ${a.customer || "Anonymous visitor"}` }),
      ),
      el("td", { class: "waiting", dataset: { since: a.created_at } }, since(now() - a.created_at)),
      el("td", {}, el("span", { class: "sla", dataset: { deadline: a.id } })),
      el("td", { class: "assignee muted", text: "any agent" }),
      el(
        "td",
        { class: "row-actions" },
        button("approve", "Approve", "primary"),
        button("decline", "Decline"),
        el("a", { href: conversationUrl(a.thread_id), class: "button small" }, "Open"),
      ),
    );
  }

  function render() {
    const sorted = [...queue.values()].filter(shows).sort(
      (a, b) =>
        (PRIORITY_RANK[a.priority] ?? 2) - (PRIORITY_RANK[b.priority] ?? 2) || a.created_at - b.created_at || a.id - b.id,
    );
    // Approvals are any agent's to decide: they show unless the agent asked for their own conversations.
    const waitingApprovals = approvals.filter((a) => a.expires_at > now() && filter?.value !== "mine");
    rows.replaceChildren(...waitingApprovals.map(approvalRow), ...sorted.map(row));
    empty.hidden = sorted.length + waitingApprovals.length > 0;
    tick();
    renderQueueCount();
    rememberList([...rows.querySelectorAll("a.headline")].map((a) => a.getAttribute("href")));
  }

  function tick() {
    for (const e of queue.values()) {
      const cell = rows.querySelector(`[data-sla="${e.id}"]`);
      renderSla(cell, e);
      const waiting = cell?.closest("tr")?.querySelector(".waiting");
      if (waiting) waiting.textContent = since(now() - e.created_at);
    }
    for (const a of approvals) {
      const cell = rows.querySelector(`[data-deadline="${a.id}"]`);
      if (!cell) continue;
      const left = a.expires_at - now();
      if (left <= 0) {
        render(); // past its deadline: no longer anyone's to decide
        return;
      }
      cell.textContent = `decide within ${clock(left)}`;
      cell.className = left < 3600 ? "sla sla-soon" : "sla";
      const waiting = cell.closest("tr")?.querySelector(".waiting");
      if (waiting) waiting.textContent = since(now() - a.created_at);
    }
  }

  function say(text, { error = false } = {}) {
    status.textContent = text;
    status.className = error ? "queue-status queue-status-error" : "queue-status";
    status.hidden = !text;
  }

  async function decide(button) {
    const id = Number(button.dataset.approval);
    const approval = approvals.find((a) => a.id === id);
    const fields = { decision: button.dataset.decide };
    if (fields.decision === "decline") {
      const reason = window.prompt("Decline this request. Why? The customer reads this (optional):", "");
      if (reason === null) return;
      fields.note = reason;
    }
    deciding.add(id);
    render();
    try {
      const answer = await post(`/console/approvals/${id}/decide/`, fields);
      approvals = approvals.filter((a) => a.id !== id);
      const done = answer.approval?.status === "approved" ? "Approved" : "Declined";
      say(`${done}: ${approval?.summary || "the request"}. The customer was told in their chat.`);
    } catch (error) {
      say(error.message, { error: true });
    } finally {
      deciding.delete(id);
      render();
    }
  }

  listShortcuts(() => [...rows.querySelectorAll("tr")], document.getElementById("inbox-q"));

  rows.addEventListener("click", async (event) => {
    const decision = event.target.closest("button[data-decide]");
    if (decision) {
      await decide(decision);
      return;
    }
    const button = event.target.closest("button[data-claim]");
    if (!button) return;
    button.disabled = true;
    try {
      await post(`${conversationUrl(button.dataset.claim)}claim/`, { escalation: button.dataset.escalation });
      location.href = conversationUrl(button.dataset.claim);
    } catch (error) {
      button.disabled = false;
      button.textContent = "Claim";
      button.title = error.message;
      alert(error.message);
    }
  });

  render();
  setInterval(tick, 1000);

  return (message) => {
    if (message.type === "hello") {
      render(); // the queue and the approvals were taken from it already
    } else if (message.type === "staff") {
      if (message.event === "escalation.created") {
        const id = message.data.id;
        fresh.add(id);
        setTimeout(() => fresh.delete(id), 4000);
      }
      if (message.event.startsWith("escalation.") || message.approvals) render();
    }
  };
}

// --- one conversation --------------------------------------------------------------------------

function authorLabel(m) {
  if (m.author === "customer") return m.author_name || "Customer";
  if (m.author === "agent") return `${m.author_name || "Agent"} (agent)`;
  return m.author_name || "Assistant";
}

function messageItem(m) {
  return el(
    "li",
    { class: `msg msg-${m.author}${m.status === "in_progress" ? " streaming" : ""}`, dataset: { id: m.id } },
    el(
      "div",
      { class: "msg-meta" },
      el("span", { class: "who", text: authorLabel(m) }),
      " ",
      el("time", { datetime: new Date(m.created_at * 1000).toISOString(), text: timeOf(m.created_at) }),
      m.status === "incomplete" ? el("span", { class: "tag", text: "cut off" }) : null,
    ),
    messageBody(m),
    imagesOf(m),
  );
}

function toolItem(call) {
  const failed = /"error"\s*:/.test(call.output || "");
  return el(
    "li",
    { class: `tool ${failed ? "tool-failed" : "tool-completed"}`, dataset: { call: call.call_id } },
    el(
      "details",
      {},
      el(
        "summary",
        {},
        el("span", { class: "tool-icon", "aria-hidden": "true", text: "⚙" }),
        " ",
        el("span", { class: "tool-name", text: call.name }),
        " ",
        el("span", { class: "tool-state", text: failed ? "failed" : "completed" }),
      ),
      el(
        "div",
        { class: "tool-body" },
        el("h3", { text: "Arguments" }),
        el("pre", { text: call.arguments }),
        el("h3", { text: failed ? "Error" : "Result" }),
        el("pre", { text: call.output || "(no result yet)" }),
      ),
    ),
  );
}

function conversationPage(socket) {
  const threadId = state.thread_id;
  const timeline = document.getElementById("timeline");
  const typing = document.getElementById("typing");
  const activity = document.getElementById("activity");
  const changed = document.getElementById("changed");
  const replyForm = document.getElementById("reply-form");
  const replyText = document.getElementById("reply-text");
  const composerStatus = document.getElementById("composer-status");
  const noteForm = document.getElementById("note-form");
  const notes = document.getElementById("notes");
  const sla = document.getElementById("sla");
  let escalation = state.escalation;
  let typingTimer = null;

  // The server renders text as typed; the assistant's (and agents') markdown is shown formatted,
  // with the sources an answer cited (state.citations, by message id).
  for (const body of timeline.querySelectorAll(".msg-assistant .msg-text, .msg-agent .msg-text")) {
    const citations = (state.citations || {})[body.closest("li[data-id]")?.dataset.id] || [];
    body.replaceChildren(markdownOf(body.textContent.trim(), { citations }));
    body.classList.add("md");
  }

  // Times rendered by the server are UTC; show them in the agent's own time zone.
  for (const time of timeline.querySelectorAll("time[datetime]")) {
    time.textContent = timeOf(Date.parse(time.getAttribute("datetime")) / 1000);
  }

  const nearBottom = () => timeline.scrollHeight - timeline.scrollTop - timeline.clientHeight < 80;
  const toBottom = () => {
    timeline.scrollTop = timeline.scrollHeight;
  };
  toBottom();

  function append(node) {
    const stick = nearBottom();
    timeline.querySelector(":scope > li.empty")?.remove();
    timeline.append(node);
    if (stick) toBottom();
  }

  const streamed = new Map(); // id -> the text so far of an answer shown streaming

  function showMessage(m) {
    const existing = timeline.querySelector(`li[data-id="${CSS.escape(m.id)}"]`);
    if (existing && !existing.classList.contains("streaming") && m.status === "in_progress") return; // already final
    if (m.status === "in_progress") streamed.set(m.id, m.text || "");
    else streamed.delete(m.id);
    if (existing) {
      existing.replaceWith(messageItem(m));
      return;
    }
    append(messageItem(m));
    if (m.author === "customer") hideTyping();
  }

  /** More of a streaming answer: redrawn whole, so its markdown shows as it arrives. */
  function appendDelta(id, text) {
    const body = timeline.querySelector(`li.streaming[data-id="${CSS.escape(id)}"] .msg-text`);
    if (!body || !streamed.has(id)) return;
    const stick = nearBottom();
    streamed.set(id, streamed.get(id) + text);
    body.replaceChildren(markdownOf(streamed.get(id), { streaming: true }));
    if (stick) toBottom();
  }

  function showTyping(text) {
    typing.textContent = text;
    typing.hidden = false;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(hideTyping, TYPING_SHOWN_MS);
  }

  function hideTyping() {
    typing.hidden = true;
    clearTimeout(typingTimer);
  }

  function showSummary(summary) {
    if (!summary) return;
    document.getElementById("headline").textContent = summary.headline || "Conversation";
    document.title = `${summary.headline || "Conversation"} · Concierge console`;
    for (const key of SUMMARY_TEXTS) {
      const node = document.querySelector(`[data-summary="${key}"]`);
      if (node) node.textContent = summary[key] || "";
    }
    document.querySelector('[data-summary="mood"]')?.setAttribute("data-mood", summary.mood || "");
    for (const key of SUMMARY_LISTS) {
      const node = document.querySelector(`[data-summary="${key}"]`);
      if (node) node.replaceChildren(...(summary[key] || []).map((item) => el("li", { text: item })));
    }
    document.querySelector(".summary dl")?.removeAttribute("hidden");
    const note = document.getElementById("summary-state");
    if (note) note.textContent = "updated just now";
  }

  function showEscalation(view) {
    escalation = view;
    const status = document.getElementById("esc-status");
    const assignee = document.getElementById("esc-assignee");
    if (status) status.textContent = ESCALATION_LABELS[view.status] || view.status;
    if (assignee) assignee.textContent = view.assigned_to ? `with ${view.assigned_to_name || view.assigned_to}` : "unassigned";
    renderSla(sla, view);
    // Which actions this agent has depends on who holds it now: offer a reload rather than guess.
    const shown = state.escalation;
    changed.hidden = Boolean(
      shown && shown.id === view.id && shown.status === view.status && shown.assigned_to === view.assigned_to,
    );
  }

  function showApprovals(list) {
    const section = document.getElementById("thread-approvals");
    if (!section) return;
    const mine = list.filter((a) => a.thread_id === threadId);
    const shown = [...section.querySelectorAll("[data-approval]")].map((li) => Number(li.dataset.approval));
    const same = shown.length === mine.length && mine.every((a) => shown.includes(a.id));
    if (same) return;
    section.querySelector("ul").replaceChildren(
      ...mine.map((a) =>
        el(
          "li",
          { class: "approval", dataset: { approval: a.id } },
          el("p", { text: a.summary }),
          el(
            "form",
            { method: "post", action: `/console/approvals/${a.id}/decide/` },
            el("input", { type: "hidden", name: "csrfmiddlewaretoken", value: csrfToken() }),
            el("input", { type: "hidden", name: "next", value: location.pathname }),
            el("input", {
              type: "text",
              name: "note",
              maxlength: 500,
              placeholder: "Reason the customer reads, if you decline",
              "aria-label": "Reason, if you decline",
            }),
            el("button", { type: "submit", name: "decision", value: "approve", class: "primary", text: "Approve" }),
            " ",
            el("button", { type: "submit", name: "decision", value: "decline", text: "Decline" }),
          ),
        ),
      ),
    );
    section.hidden = mine.length === 0;
  }

  function addNote(note) {
    if (notes.querySelector(`[data-note="${note.id}"]`)) return;
    notes.append(
      el(
        "li",
        { dataset: { note: note.id } },
        el("span", { class: "who", text: note.author }),
        " ",
        el("time", { text: "just now" }),
        el("div", { class: "note-text", text: note.text }),
      ),
    );
  }

  if (sla && escalation) {
    renderSla(sla, escalation);
    setInterval(() => renderSla(sla, escalation), 1000);
  }

  if (replyForm) {
    let lastTyping = 0;
    replyText.addEventListener("input", () => {
      const t = Date.now();
      if (replyText.value.trim() && t - lastTyping > TYPING_SEND_EVERY_MS) {
        lastTyping = t;
        socket.send({ type: "typing", thread_id: threadId });
      }
    });
    replyText.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        replyForm.requestSubmit();
      }
    });
    replyForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = replyText.value.trim();
      if (!text) return;
      const send = document.getElementById("send");
      send.disabled = true;
      composerStatus.textContent = "Sending…";
      try {
        const answer = await post(replyForm.action, { text, escalation: escalation?.id ?? "" });
        replyText.value = "";
        composerStatus.textContent = "";
        showMessage(answer.message);
      } catch (error) {
        composerStatus.textContent = error.message;
      } finally {
        send.disabled = false;
        replyText.focus();
      }
    });
    document.getElementById("canned")?.addEventListener("change", (event) => {
      const option = event.target.selectedOptions[0];
      if (option?.dataset.text) {
        const start = replyText.selectionStart ?? replyText.value.length;
        const end = replyText.selectionEnd ?? start;
        replyText.setRangeText(option.dataset.text, start, end, "end");
        replyText.focus();
      }
      event.target.value = "";
    });
    document.getElementById("suggest")?.addEventListener("click", async (event) => {
      const button = event.currentTarget;
      button.disabled = true;
      composerStatus.textContent = "Drafting a reply…";
      try {
        const answer = await post(button.dataset.url);
        replyText.value = answer.text;
        composerStatus.textContent = "Suggested by AI: check and edit it before sending.";
        replyText.focus();
      } catch (error) {
        composerStatus.textContent = error.message;
      } finally {
        button.disabled = false;
      }
    });
  }

  noteForm?.addEventListener("submit", async (event) => {
    event.preventDefault();
    const field = noteForm.querySelector("textarea");
    const text = field.value.trim();
    if (!text) return;
    try {
      const answer = await post(noteForm.action, { text });
      field.value = "";
      addNote(answer.note);
    } catch (error) {
      alert(error.message);
    }
  });

  socket.watch(threadId);
  conversationShortcuts(replyText);

  return (message) => {
    if (message.type === "staff") {
      const data = message.data || {};
      if (message.event.startsWith("escalation.") && data.thread_id === threadId) {
        showEscalation(data);
        if (message.event === "escalation.summary" && data.headline) {
          document.getElementById("headline").textContent = data.headline;
        }
      } else if (message.event === "note.added" && data.thread_id === threadId) {
        addNote(data);
      }
      if (message.approvals) showApprovals(message.approvals);
      return;
    }
    if (message.thread_id !== threadId) return;
    switch (message.type) {
      case "watching":
        for (const m of message.messages) showMessage(m);
        document.getElementById("conversation").dataset.live = "watching";
        break;
      case "message":
      case "message_started":
        showMessage(message.message);
        break;
      case "delta":
        appendDelta(message.id, message.text || "");
        break;
      case "typing":
        if (message.who === "customer") showTyping("The customer is typing…");
        else if (message.who === "agent" && message.username !== me.username) showTyping(`${message.name} is typing…`);
        break;
      case "activity":
        activity.textContent = message.label || "";
        activity.hidden = !message.label || message.status === "finished" || message.status === "failed";
        break;
      case "run":
        if (message.state !== "thinking") activity.hidden = true;
        break;
      case "tool_calls":
        for (const call of message.calls) {
          if (!timeline.querySelector(`li[data-call="${CSS.escape(call.call_id)}"]`)) append(toolItem(call));
        }
        break;
      case "summary":
        showSummary(message.summary);
        break;
      case "conversation": {
        const mode = document.getElementById("mode");
        const current =
          { "conversation.escalated": "waiting_human", "agent.joined": "human" }[message.event] || message.data.mode;
        if (mode && current) {
          mode.textContent = MODE_LABELS[current] || current;
          mode.className = `badge mode-${current}`;
        }
        break;
      }
      default:
        break;
    }
  };
}

/** r, t, e, n, g, j/k, u and ? on a conversation page. */
function conversationShortcuts(replyText) {
  const press = (id, missing) => () => {
    const button = document.getElementById(id);
    if (button && !button.disabled) button.click();
    else toast(missing);
  };
  const focus = (id, missing) => () => {
    const field = document.getElementById(id);
    if (field) field.focus();
    else toast(missing);
  };
  const move = (step) => () => {
    const list = rememberedList();
    const at = list.indexOf(location.pathname);
    const next = at === -1 ? undefined : list[at + step];
    if (next) location.href = next;
    else if (at === -1) toast("Open a conversation from the queue or the conversations list to move through it.");
    else toast(step > 0 ? "This is the last conversation of the list." : "This is the first conversation of the list.");
  };
  useShortcuts(
    {
      r: () => (replyText ? replyText.focus() : toast("Claim this conversation to reply to the customer.")),
      t: press("claim", "There is nothing to take over: this conversation is yours, or not waiting for a person."),
      e: press("resolve", "Only whoever has this conversation can resolve it."),
      n: focus("note-text", "Notes are not available here."),
      g: focus("tag-input", "Tags are not available here."),
      j: move(1),
      k: move(-1),
      u: () => {
        location.href = sessionStorage.getItem(LIST_URL_KEY) || "/console/";
      },
    },
    CONVERSATION_SHORTCUTS,
  );
}

// --- the inbox: every conversation, searched and filtered ------------------------------------------

function inboxPage() {
  const form = document.getElementById("inbox-filters");
  const rows = () => [...document.querySelectorAll("#inbox tbody tr[data-thread]")];
  // A filter applies as soon as it is chosen (the Filter button is there without JavaScript).
  for (const select of form?.querySelectorAll("select") || []) {
    select.addEventListener("change", () => form.requestSubmit());
  }
  // Fields left empty stay out of the address (?q=mug, not ?q=mug&mode=&assignee=…); a disabled
  // field is not submitted, and the page that loads next has them all enabled again.
  form?.addEventListener("submit", () => {
    for (const field of form.elements) {
      if (field.name && !field.value) field.disabled = true;
    }
  });
  window.addEventListener("pageshow", () => {
    for (const field of form?.elements || []) field.disabled = false;
  });
  rememberList(rows().map((row) => row.querySelector("a[href]")?.getAttribute("href")).filter(Boolean));
  listShortcuts(rows, document.getElementById("inbox-q"));
  return () => {};
}

// --- the knowledge page ---------------------------------------------------------------------------

/** While files are being read, ask the server how they stand every few seconds and update their rows. */
function knowledgePage() {
  const reading = document.getElementById("reading");
  const readingText = document.getElementById("reading-text");
  const changed = document.getElementById("files-changed");
  const rows = () => [...document.querySelectorAll("#files tr[data-file]")];

  function update(file) {
    const row = document.querySelector(`#files tr[data-file="${CSS.escape(file.file_id)}"]`);
    if (!row) return false;
    row.dataset.status = file.status;
    const badge = row.querySelector('[data-field="status"]');
    badge.textContent = file.status_label;
    badge.className = `badge file-${file.status}`;
    row.querySelector('[data-field="chunks"]').textContent = String(file.chunks);
    const error = row.querySelector('[data-field="error"]');
    error.replaceChildren(file.error, file.error_code ? " " : "", file.error_code ? el("code", { text: file.error_code }) : "");
    error.hidden = !file.error;
    return true;
  }

  async function poll() {
    try {
      const response = await fetch(state.files_url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.status === 401 || response.status === 403) return; // signed out: the reload link is there
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const { files } = await response.json();
      const known = files.map(update);
      changed.hidden = known.every(Boolean) && files.length === rows().length;
      const left = files.filter((f) => f.status === "in_progress").length;
      readingText.textContent = `Reading ${left} file${left === 1 ? "" : "s"}…`;
      reading.hidden = left === 0;
      if (left) setTimeout(poll, KNOWLEDGE_POLL_MS);
    } catch {
      setTimeout(poll, KNOWLEDGE_POLL_MS * 3); // the server is restarting, say: try again later
    }
  }

  if (rows().some((row) => row.dataset.status === "in_progress")) setTimeout(poll, KNOWLEDGE_POLL_MS);
  return () => {};
}

// A form that asks first (removing a file): its data-confirm is the question.
document.addEventListener("submit", (event) => {
  const question = event.target.dataset?.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});

// --- start -------------------------------------------------------------------------------------

if (page && state.me) {
  let handle = () => {};
  const socket = consoleSocket((message) => {
    if (message.type === "hello") {
      queue.clear();
      for (const e of message.queue) queue.set(e.id, e);
      approvals = message.approvals || [];
    } else if (message.type === "staff" && message.event.startsWith("escalation.")) {
      applyEscalation(message.data);
    }
    if (message.type === "staff" && message.approvals) approvals = message.approvals;
    renderQueueCount();
    handle(message);
  });
  if (page === "queue") handle = queuePage();
  else if (page === "conversation") handle = conversationPage(socket);
  else if (page === "knowledge") handle = knowledgePage();
  else if (page === "conversations") handle = inboxPage();
  renderQueueCount();
  socket.start();
}
