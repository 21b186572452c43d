// The widget's options, read from the shop's script tag, and the session token it keeps in the
// shop's localStorage so a conversation survives page loads.
// This file is ASCII only (non-ASCII text as \u escapes), as every file the widget loads.

/**
 * What the shop's <script> tag asks for. All optional: data-server (defaults to the script's own
 * origin), data-email or data-external-id with data-signature (the shop backend's HMAC of it),
 * data-title, data-accent (any CSS colour), data-language (en, de, fr or es; else the browser's).
 */
export function readOptions(script) {
  const data = script.dataset;
  const server = (data.server || new URL(script.src, location.href).origin).replace(/\/+$/, "");
  const identity = data.email
    ? { email: data.email.trim(), signature: (data.signature || "").trim() }
    : data.externalId
      ? { external_id: data.externalId.trim(), signature: (data.signature || "").trim() }
      : {};
  return {
    server,
    identity,
    title: (data.title || "").trim(), // none: "Chat with us" in the widget's language (app.js)
    language: (data.language || "").trim(),
    accent: data.accent && window.CSS && CSS.supports("color", data.accent) ? data.accent : "",
    // The stylesheet sits beside the script (same server, same version).
    stylesheet: new URL("concierge-widget.css", script.src).href,
    // One conversation per server and identity: Alice's chat is not an anonymous visitor's.
    storageKey: `concierge:session:${server}|${identity.email || identity.external_id || "anonymous"}`,
  };
}

/** The session token in localStorage. Storage may be blocked (privacy mode, a sandboxed frame):
 * then the chat just doesn't survive reloads. */
export function sessionStore(key) {
  return {
    get() {
      try {
        return localStorage.getItem(key) || "";
      } catch {
        return "";
      }
    },
    set(value) {
      try {
        localStorage.setItem(key, value);
      } catch {
        /* blocked: see above */
      }
    },
    clear() {
      try {
        localStorage.removeItem(key);
      } catch {
        /* blocked: see above */
      }
    },
  };
}
