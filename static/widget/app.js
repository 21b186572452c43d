// The chat widget, put together: what the server's events do to the conversation, what the
// customer's clicks and keys do, and the boot. The entry script (concierge-widget.js) imports this
// module and calls start() with its own <script> element.
// This file is ASCII only (non-ASCII text as \u escapes), as every file the widget loads.

import { AttachError, Attachments } from "./attachments.js";
import { chatSocket } from "./connection.js";
import { loadCatalogue, t } from "./i18n.js";
import { MessageLog } from "./messages.js";
import { readOptions, sessionStore } from "./options.js";
import { endChatButton, RatingCard } from "./rating.js";
import { applyAccent } from "./theme.js";
import { ChatView } from "./view.js";

const TYPING_EVERY_MS = 3000;
const AGENT_TYPING_MS = 6000;

function newClientId() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16)); // randomUUID needs a secure context
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Start the widget that `script` (the shop's tag) asks for, in its language (see i18n.js). */
export async function start(script) {
  const options = readOptions(script);
  await loadCatalogue(options.server, options.language);
  options.title ||= t("Chat with us");
  const store = sessionStore(options.storageKey);
  const view = new ChatView(options);
  const state = {
    open: false,
    unread: 0,
    runActive: false,
    agentTyping: null, // {name, until}
    customerName: "",
    lastTypingAt: 0,
    sending: false, // photos are uploading for the message being sent
  };
  const attach = new Attachments({
    form: view.form,
    input: view.input,
    server: options.server,
    store,
    showError: (text) => view.showNotice(text),
    onChange: () => {
      view.attached = attach.count;
      view.autoSize();
    },
  });
  const log = new MessageLog(view.log, {
    onAnswer: () => !state.open && setUnread(state.unread + 1),
    onStreaming: () => updateTyping(),
    server: options.server,
    loadImage: (id) => attach.load(id),
  });
  const socket = chatSocket(options, store, {
    onEvent: handleEvent,
    onChange: connectionChanged,
    onSession: (session) => {
      if (session.customer) state.customerName = session.customer.name;
      attach.setLimits(session.limits);
    },
  });

  const rating = new RatingCard((frame) => socket.send(frame));
  const endChat = endChatButton(() => socket.send({ type: "end" }));
  view.close.before(endChat);

  function setUnread(count) {
    state.unread = count;
    view.setUnread(count);
  }

  function updateTyping() {
    const agent = state.agentTyping && state.agentTyping.until > Date.now() ? state.agentTyping : null;
    if (agent) view.setTyping(t("{name} is typing\u2026", { name: agent.name || t("Our team") }));
    else view.setTyping(state.runActive && !log.streaming ? t("The assistant is writing\u2026") : "");
  }

  function applyMode(mode, name) {
    view.setComposerOpen(mode !== "closed");
    endChat.hidden = mode !== "assistant"; // with a person, the person closes it
    // An ended conversation: the closing message and its rating, in the panel only then.
    if (mode === "closed" && !rating.element.isConnected) view.panel.insertBefore(rating.element, view.notice);
    if (mode !== "closed") rating.element.remove();
    rating.show(mode === "closed", rating.rating);
    attach.setEnabled(mode !== "closed");
    if (mode === "waiting_human") {
      view.setBanner("waiting", t("A person from our team will join shortly."));
    } else if (mode === "human") {
      view.setBanner("agent", name ? t("{name} from our team has joined the chat.", { name }) : t("You're chatting with our team."));
    } else if (mode === "closed") {
      const startOver = { label: t("Start a new chat"), run: () => socket.restart() };
      view.setBanner("closed", t("This conversation has ended."), startOver);
    } else {
      view.setBanner("", "");
    }
  }

  /** Nothing the customer typed is lost: a refused message goes back into the box. */
  function restorePending(clientId) {
    const taken = log.takeBack(clientId);
    if (taken === undefined) return;
    const { text, photos } = taken;
    if (photos.length) attach.restore(photos);
    const current = view.input.value;
    view.input.value = current.trim() ? `${text}\n${current}` : text;
    view.autoSize();
    log.showEmptyState(state.customerName);
  }

  // --- the connection --------------------------------------------------------------------------

  function connectionChanged({ phase, everConnected, attempts, refusal }) {
    const connecting = () =>
      view.setStatus(everConnected ? "reconnecting" : "connecting", everConnected ? t("Reconnecting\u2026") : t("Connecting\u2026"));
    if (phase === "connecting") {
      connecting();
      return;
    }
    if (phase === "live") {
      view.showConnectionProblem("");
      view.setStatus("online", state.customerName ? t("Signed in as {name}", { name: state.customerName }) : t("We usually answer right away"));
      log.setPendingLabel(t("Sending\u2026"));
      // Messages typed while offline, or sent but never acknowledged, go (again) under the same
      // client_id: the server stores each once.
      for (const [clientId, entry] of log.pending) {
        const images = entry.photos.map((photo) => photo.id);
        socket.send({ type: "message", text: entry.text, client_id: clientId, images });
      }
      return;
    }
    // A streaming answer stays as it is: the next hello carries on from the server's snapshot.
    state.runActive = false;
    state.agentTyping = null;
    updateTyping();
    if (phase === "stopped") {
      log.finishStreaming();
      view.setStatus("offline", t("Chat unavailable"));
      view.showConnectionProblem("");
      for (const clientId of [...log.pending.keys()]) restorePending(clientId);
      view.showNotice(refusal.message);
      return;
    }
    if (refusal.message) view.showNotice(refusal.message);
    connecting();
    log.setPendingLabel(t("Waiting for connection\u2026"));
    if (everConnected || attempts > 1) {
      view.showConnectionProblem(
        everConnected ? t("Connection lost. Reconnecting\u2026") : t("Can't reach the chat. Trying again\u2026"),
      );
    }
  }

  // --- events from the server (those the hello already covered are dropped by the socket) ----

  function handleEvent(event) {
    switch (event.type) {
      case "hello": {
        state.customerName = event.customer ? event.customer.name : "";
        log.replaceWith(event.messages, event.streaming);
        log.showEmptyState(state.customerName);
        state.runActive = Boolean(event.busy);
        updateTyping();
        const lastAgent = [...event.messages].reverse().find((m) => m.author === "agent");
        rating.rating = event.rating || null;
        applyMode(event.mode, lastAgent && lastAgent.author_name);
        // Resent after the server lost events (Redis restarted): how the run we waited on ended.
        if (event.run) handleEvent(event.run);
        break;
      }
      case "message_started":
        // An answer its run writes again (a worker died mid-answer, a retry said something else)
        // takes the cut-off one's place: the same words are not shown twice.
        for (const id of event.replaces || []) log.withdraw(id);
        if (event.message.role === "user") log.confirm(event.message);
        else if (event.message.status === "in_progress") log.startStreaming(event.message);
        else log.putFinal(event.message, { announce: true });
        break;
      case "delta":
        log.appendDelta(event.id, event.text || "");
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
        if (message.role === "user") log.confirm(message);
        else log.putFinal(message, { announce: true });
        if (message.author === "agent") state.agentTyping = null;
        updateTyping();
        break;
      }
      case "ack":
        view.showNotice("");
        log.confirm(event.message, event.client_id);
        break;
      case "rating":
        rating.update(event.rating);
        break;
      case "error":
        if (event.client_id) restorePending(event.client_id);
        else if (rating.busy) rating.refused();
        view.showNotice(event.message || t("That didn't work. Please try again."));
        break;
      case "run":
        state.runActive = event.state === "thinking" || event.state === "waiting";
        if (!state.runActive) log.finishStreaming();
        if (event.state === "failed") view.showNotice(event.message || t("Sorry, something went wrong. Please try again."));
        updateTyping();
        break;
      case "activity":
        log.addActivity(event.label, event.status);
        break;
      case "handoff":
        endChat.hidden = true;
        view.setBanner("waiting", event.message || t("A person from our team will join shortly."));
        break;
      case "agent_joined":
        applyMode("human", event.name);
        break;
      case "agent_left":
        view.setBanner("agent", t("{name} has left the chat.", { name: event.name || t("Our team member") }));
        break;
      case "conversation_mode":
        applyMode(event.mode, event.name);
        if (event.mode === "assistant" && event.name) {
          view.setBanner("agent", t("{name} handed you back to the assistant.", { name: event.name }));
        }
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

  // --- the customer's actions ------------------------------------------------------------------

  async function submit() {
    const text = view.input.value.trim();
    if ((!text && !attach.count) || state.sending) return;
    if (socket.stopped) {
      view.showNotice(socket.stopped.message); // the text stays in the box
      return;
    }
    let images = [];
    if (attach.count) {
      state.sending = true;
      try {
        images = await attach.upload(); // the text and the photos stay until they are uploaded
      } catch (error) {
        view.showNotice(error instanceof AttachError ? error.message : String(error));
        return;
      } finally {
        state.sending = false;
      }
    }
    const sent = view.input.value.trim(); // with whatever was typed while the photos uploaded
    const clientId = newClientId();
    view.input.value = "";
    view.autoSize();
    view.showNotice("");
    log.showPending(clientId, sent, attach.take());
    if (!socket.send({ type: "message", text: sent, client_id: clientId, images })) {
      log.setPendingLabel(t("Waiting for connection\u2026"));
      socket.start();
    }
  }

  function sendTyping() {
    const now = Date.now();
    if (now - state.lastTypingAt < TYPING_EVERY_MS) return;
    if (socket.send({ type: "typing" })) state.lastTypingAt = now;
  }

  function openPanel() {
    state.open = true;
    view.setOpen(true);
    setUnread(0);
    socket.start(); // a new visitor's first open: the session (and thread) starts now
    if (socket.stopped) view.showNotice(socket.stopped.message);
    log.toBottom();
    view.input.focus();
  }

  function closePanel() {
    state.open = false;
    view.setOpen(false);
    view.launcher.focus();
  }

  view.launcher.addEventListener("click", () => (state.open ? closePanel() : openPanel()));
  view.close.addEventListener("click", closePanel);
  view.noticeClose.addEventListener("click", () => {
    view.showNotice("");
    view.input.focus();
  });
  view.connRetry.addEventListener("click", () => socket.retryNow());
  view.launcher.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && state.open) closePanel();
  });
  view.panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      closePanel();
    }
  });
  view.input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  view.input.addEventListener("input", () => {
    view.autoSize();
    if (view.input.value.trim()) sendTyping();
  });
  view.form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
    view.input.focus();
  });

  // --- boot ------------------------------------------------------------------------------------

  document.body.append(view.host);
  applyAccent(view.host, options.accent, view.title);
  log.showEmptyState(state.customerName);
  // A returning visitor reconnects at once (answers arriving while the panel is closed raise the
  // badge); a new one gets a session only when they open the chat, so page views don't create
  // empty conversations.
  if (store.get()) socket.start();
}
