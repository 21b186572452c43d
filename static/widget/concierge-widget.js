/*
 * Concierge chat widget: a launcher button and a chat panel, embedded with one tag.
 *
 *   <script src="https://support.example/static/widget/concierge-widget.js"
 *           data-server="https://support.example" data-email="..." data-signature="..." defer></script>
 *
 * Options (all optional): data-server (defaults to the script's own origin), data-email or
 * data-external-id with data-signature (the shop backend's HMAC of it), data-title, data-accent,
 * data-language (the widget's language: en, de, fr or es; else the browser's, else English).
 *
 * This file is only the loader the shops' tags name: it stays a classic script, so those tags keep
 * working unchanged. The widget itself is ES modules (no build step, paths under static/), imported
 * relative to this script's own URL:
 *   widget/app.js          events from the server, the customer's actions, the boot
 *   widget/connection.js   POST /chat/session/ and the /ws/chat/ socket
 *   widget/messages.js     the conversation's log: messages, streaming answers, pending sends
 *   widget/attachments.js  photos: the attach button, the tray, uploads (and its English strings)
 *   widget/view.js         the launcher and panel in a shadow root; status, banners, notices
 *   widget/theme.js        the stylesheet link and the shop's accent colour
 *   widget/options.js      the tag's options and the session token in localStorage
 *   widget/i18n.js         the widget's strings in the customer's language ({server}/chat/i18n/)
 *   shared/markdown.js     answers' markdown as DOM nodes (the console renders with it too)
 *   shared/socket.js       reconnect, ping and resume for a live socket (the console's too)
 *   shared/dom.js          building elements; text only ever as text nodes
 * On a shop's page they load cross-origin, as CORS requests: the static files are served with
 * Access-Control-Allow-Origin: * (WhiteNoise's default), and a shop's CSP needs nothing beyond
 * script-src for this origin (no inline script, no eval).
 */
(() => {
  "use strict";
  // This file is ASCII only (non-ASCII text as \u escapes): it works even where a proxy or CDN
  // serves it without a charset.

  // document.currentScript is only set while this script runs: read it now.
  const script =
    document.currentScript || document.querySelector('script[src*="concierge-widget.js"]');
  if (!script || window.__conciergeWidget) return; // loaded twice: the first copy wins
  window.__conciergeWidget = true;

  const app = new URL("app.js", script.src).href; // static/widget/app.js, beside this file
  import(app)
    .then(({ start }) => {
      if (document.body) start(script);
      else document.addEventListener("DOMContentLoaded", () => start(script), { once: true });
    })
    .catch((error) => console.error(`Concierge chat: could not load ${app}`, error));
})();
