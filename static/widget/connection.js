// The widget's connection to Concierge: POST {server}/chat/session/ for a session token (kept in
// localStorage) and a single-use ticket, then the websocket {server}/ws/chat/?ticket=... (see
// widget/consumers.py), through the shared LiveSocket, which reconnects, pings and resumes.
// Each attempt asks for a new ticket. This file is ASCII only, as every file the widget loads.

import { LiveSocket, Refusal, socketUrl } from "../shared/socket.js";
import { currentLanguage, t } from "./i18n.js";

/** The session request: resolves to {session, ticket, thread_id, customer} or throws a Refusal. */
async function openSession(server, identity, store) {
  const body = { ...identity, language: currentLanguage() };
  const previous = store.get();
  if (previous) body.session = previous;
  let response;
  try {
    response = await fetch(`${server}/chat/session/`, {
      method: "POST",
      mode: "cors",
      credentials: "omit",
      // A CORS "simple" request (text/plain; the server parses the body as JSON whatever its
      // type): a shop on another origin needs no preflight, and the endpoint answers none.
      headers: { "Content-Type": "text/plain;charset=UTF-8" },
      body: JSON.stringify(body),
    });
  } catch {
    throw new Refusal("network");
  }
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    /* not JSON: a proxy's error page */
  }
  if (!response.ok || !payload || !payload.ticket) {
    const error = (payload && payload.error) || {};
    const message = error.message || t("The chat is unavailable right now.");
    if (response.status === 429) throw new Refusal(error.code, message, { retryAfterMs: 60000 });
    if (response.status === 400 || response.status === 403) throw new Refusal(error.code, message, { fatal: true });
    throw new Refusal(error.code || "unavailable", message);
  }
  store.set(payload.session);
  return payload;
}

/**
 * A LiveSocket to the customer's conversation (not started: call start()). `onSession(payload)`
 * hears every session the server grants, before its socket opens.
 */
export function chatSocket({ server, identity }, store, { onEvent, onChange, onSession }) {
  return new LiveSocket({
    async url() {
      const session = await openSession(server, identity, store);
      onSession(session);
      return socketUrl(server, "/ws/chat/", `ticket=${encodeURIComponent(session.ticket)}`);
    },
    onEvent,
    onChange,
    refusalFor(code) {
      if (code === 4003) return new Refusal("origin_not_allowed", t("This site may not embed the chat."), { fatal: true });
      if (code === 4004) {
        store.clear(); // the thread is gone: the next session starts a new one
        return new Refusal("thread_gone");
      }
      return null; // 4001 (a stale ticket) too: the next attempt brings a new one
    },
    // Deltas are filtered by the server against the hello's snapshot; a final message shown twice
    // replaces itself.
    replaySafe: ["delta", "message"],
  });
}
