// The widget's look: its stylesheet, linked inside the shadow root, and the shop's accent colour
// with a readable text colour on it. No inline style: both work under a shop's strict CSP (the
// colours are set through the CSSOM, which style-src does not restrict).
// This file is ASCII only, as every file the widget loads.

import { el } from "../shared/dom.js";

/** A <link> to the stylesheet; `root` stays hidden until it has loaded, so nobody sees the widget unstyled. */
export function stylesheetLink(href, root) {
  const link = el("link", { rel: "stylesheet", href });
  link.addEventListener("load", () => (root.hidden = false), { once: true });
  link.addEventListener("error", () => console.error(`Concierge chat: could not load ${href}`));
  return link;
}

/** White or near-black text, whichever reads better on `color` (WCAG contrast against white). */
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
  return 1.05 / (luminance + 0.05) >= 4.5 ? "#ffffff" : "#111827";
}

/** The shop's data-accent on the widget. `probe` is any element of the widget already in the page. */
export function applyAccent(host, accent, probe) {
  if (!accent) return;
  host.style.setProperty("--cw-accent", accent);
  host.style.setProperty("--cw-on-accent", textColorOn(accent, probe));
}
