// The supervisor's Analyst page: ask a question, watch the answer come (polled until its run rests),
// with the code that ran in a collapsible block and the charts inline. An ES module, no build step.
// Everything the server sends is put in as text (answers through the shared markdown renderer), never
// as HTML; charts load from the console's own chart route, which checks they are this supervisor's.

import { el } from "../shared/dom.js";
import { renderMarkdown } from "../shared/markdown.js";

const state = JSON.parse(document.getElementById("console-state")?.textContent || "{}");
const list = document.getElementById("exchanges");
const form = document.getElementById("ask-form");
const textarea = document.getElementById("question");
const askButton = document.getElementById("ask-button");
const askError = document.getElementById("ask-error");
const POLL_MS = state.poll_ms || 700;
const POLL_GIVE_UP_MS = 5 * 60 * 1000;

function csrfToken() {
  return form.querySelector("input[name=csrfmiddlewaretoken]")?.value || "";
}

/** The answer's text with each sandbox:/mnt/data/... link it names turned into that file's download. */
function withDownloads(x) {
  let text = x.answer;
  for (const file of x.files || []) text = text.split(file.link).join(new URL(file.url, location.origin).href);
  return text;
}

/** One question and its answer as an <li>, drawn afresh from the server's view of it. */
function exchangeItem(x) {
  const item = el("li", { class: "exchange", dataset: { run: x.run_id, status: x.status } });
  item.append(el("p", { class: "question" }, el("span", { class: "visually-hidden", text: "You asked: " }), x.question));
  for (const c of x.code) {
    const block = el(
      "details",
      { class: "code" },
      el("summary", { text: "Code the Analyst ran" }),
      el("pre", {}, el("code", { text: c.input })),
    );
    if (c.logs) block.append(el("pre", { class: "logs", text: c.logs }));
    item.append(block);
  }
  for (const image of x.images) {
    item.append(el("img", { class: "chart", src: image.url, alt: `A chart the Analyst drew for: ${x.question}` }));
  }
  if (x.answer) item.append(el("div", { class: "answer msg-text md" }, renderMarkdown(withDownloads(x), { server: location.origin })));
  if (x.error) item.append(el("p", { class: "error", text: x.error }));
  if (!x.done) item.append(el("p", { class: "working", text: "Working on it\u2026" }));
  return item;
}

function show(x) {
  document.getElementById("no-exchanges")?.remove();
  const fresh = exchangeItem(x);
  const existing = list.querySelector(`li[data-run="${CSS.escape(x.run_id)}"]`);
  if (existing) existing.replaceWith(fresh);
  else list.append(fresh);
  return fresh;
}

function busy(on) {
  const off = on || state.offered === false; // no sandbox here: nothing to ask (the page says why)
  askButton.disabled = off;
  for (const b of form.querySelectorAll("button.suggestion")) b.disabled = off;
}

/** Ask the server how the question stands until its run rests; redraw it each time it changes. */
async function follow(x) {
  const started = Date.now();
  let last = JSON.stringify(x);
  busy(true);
  try {
    while (!x.done && Date.now() - started < POLL_GIVE_UP_MS) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      let response;
      try {
        response = await fetch(x.poll_url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      } catch {
        continue; // the server is restarting, say: ask again
      }
      if (response.status === 401 || response.status === 403 || response.status === 404) {
        askError.textContent = "This question is no longer available: reload the page.";
        askError.hidden = false;
        return;
      }
      if (!response.ok) continue;
      x = (await response.json()).exchange;
      const now = JSON.stringify(x);
      if (now !== last) show(x);
      last = now;
    }
  } finally {
    busy(false);
  }
}

async function ask(question) {
  askError.hidden = true;
  busy(true);
  let payload = {};
  try {
    const response = await fetch(state.ask_url, {
      method: "POST",
      body: new URLSearchParams({ question }),
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
    });
    try {
      payload = await response.json();
    } catch {
      payload = {};
    }
    if (!response.ok) throw new Error(payload.error?.message || `That didn't work (HTTP ${response.status}).`);
  } catch (error) {
    askError.textContent = error.message;
    askError.hidden = false;
    busy(false);
    return;
  }
  textarea.value = "";
  show(payload.exchange).scrollIntoView({ block: "nearest" });
  await follow(payload.exchange);
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const question = (event.submitter?.classList.contains("suggestion") ? event.submitter.value : textarea.value).trim();
  if (!question) {
    textarea.focus();
    return;
  }
  ask(question);
});

textarea.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    form.requestSubmit(askButton);
  }
});

// Answers drawn by the server are redrawn as the console draws messages (markdown); one still
// being worked on when the page loaded is followed.
for (const x of state.exchanges || []) show(x);
const pending = (state.exchanges || []).find((x) => !x.done);
if (pending) follow(pending);
