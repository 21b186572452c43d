// The widget's frame: a launcher button and a chat panel in a shadow root (the shop's CSS can't
// reach in, ours can't leak out), and what the panel shows around the conversation: the status
// line, the banners, the notice, the unread badge and the typing line. No conversation logic.
// This file is ASCII only (non-ASCII text as \u escapes), as every file the widget loads.

import { el } from "../shared/dom.js";
import { currentLanguage, t } from "./i18n.js";
import { stylesheetLink } from "./theme.js";

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

export class ChatView {
  /** The whole widget, built but not yet in the page: append `host` to the body. */
  constructor({ title, stylesheet }) {
    this.titleText = title;
    this.badge = el("span", { class: "badge", "aria-hidden": "true", hidden: true });
    this.launcher = el(
      "button",
      { class: "launcher", type: "button", "aria-expanded": "false", "aria-controls": "cw-panel", "aria-label": title },
      icon("chat"),
      icon("down"),
      this.badge,
    );
    this.title = el("h2", { class: "title", id: "cw-title", text: title });
    this.status = el("p", { class: "status", "data-state": "connecting", text: t("Ask about orders, tracking and returns") });
    this.close = el("button", { class: "icon-button", type: "button", "aria-label": t("Close chat") }, icon("close"));
    this.bannerText = el("span", { class: "banner-text" });
    this.bannerAction = el("button", { type: "button", hidden: true });
    this.banner = el("div", { class: "banner", role: "status", hidden: true }, this.bannerText, this.bannerAction);
    this.connText = el("span", { class: "banner-text" });
    this.connRetry = el("button", { type: "button", text: t("Retry now") });
    this.conn = el("div", { class: "banner", "data-kind": "connection", hidden: true }, this.connText, this.connRetry);
    this.log = el("div", {
      class: "log",
      role: "log",
      "aria-live": "polite",
      "aria-relevant": "additions",
      "aria-label": t("Conversation"),
      tabindex: "0",
    });
    this.typingText = el("span");
    this.typing = el(
      "div",
      { class: "typing", hidden: true },
      el("span", { class: "dots", "aria-hidden": "true" }, el("span"), el("span"), el("span")),
      this.typingText,
    );
    this.noticeText = el("span", { class: "notice-text" });
    this.noticeClose = el("button", { type: "button", text: t("Dismiss") });
    this.notice = el("div", { class: "notice", role: "alert", hidden: true }, this.noticeText, this.noticeClose);
    this.input = el("textarea", {
      class: "input",
      rows: "1",
      "aria-label": t("Message"),
      placeholder: t("Type your message\u2026"),
      autocomplete: "off",
    });
    this.send = el("button", { class: "send", type: "submit", "aria-label": t("Send message"), disabled: true }, icon("send"));
    this.form = el("form", { class: "composer" }, this.input, this.send);
    this.panel = el(
      "section",
      { class: "panel", id: "cw-panel", role: "dialog", "aria-labelledby": "cw-title", hidden: true },
      el("header", { class: "head" }, el("div", { class: "head-text" }, this.title, this.status), this.close),
      this.banner,
      this.conn,
      this.log,
      this.typing,
      this.notice,
      this.form,
    );
    this.root = el("div", { class: "root", lang: currentLanguage(), hidden: true }, this.launcher, this.panel);
    this.host = document.createElement("concierge-chat");
    this.host.attachShadow({ mode: "open" }).append(stylesheetLink(stylesheet, this.root), this.root);
  }

  setOpen(open) {
    this.panel.hidden = !open;
    this.launcher.setAttribute("aria-expanded", String(open));
  }

  /** The line under the title: `kind` is connecting, reconnecting, online or offline. */
  setStatus(kind, text) {
    this.status.dataset.state = kind;
    this.status.textContent = text;
  }

  /** A dismissable notice above the box ("" hides it). */
  showNotice(text) {
    this.noticeText.textContent = text;
    this.notice.hidden = !text;
  }

  /** The conversation's banner (waiting for a person, an agent joined, closed), with an optional button. */
  setBanner(kind, text, action = null) {
    this.banner.hidden = !text;
    this.banner.dataset.kind = kind || "";
    this.bannerText.textContent = text || "";
    this.bannerAction.hidden = !action;
    if (action) {
      this.bannerAction.textContent = action.label;
      this.bannerAction.onclick = action.run;
    }
  }

  /** The connection's trouble, with its "Retry now" button ("" hides it). */
  showConnectionProblem(text) {
    this.connText.textContent = text;
    this.conn.hidden = !text;
  }

  setUnread(count) {
    this.badge.hidden = count === 0;
    this.badge.textContent = count > 9 ? "9+" : String(count);
    const unread = count === 1 ? t("{title} (1 unread message)", { title: this.titleText }) : t("{title} ({count} unread messages)", { title: this.titleText, count });
    const label = count ? unread : this.titleText;
    this.launcher.setAttribute("aria-label", label);
  }

  setTyping(label) {
    this.typingText.textContent = label;
    this.typing.hidden = !label;
  }

  /** The message box grows with its text, up to a limit; Send is enabled only with something to send
   * (text, or `attached` photos). */
  autoSize() {
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight + 2, 132)}px`;
    this.send.disabled = this.input.disabled || !(this.input.value.trim() || this.attached);
  }

  /** Whether the conversation takes messages: an ended one says so in the box, which keeps its text. */
  setComposerOpen(open) {
    this.input.disabled = !open;
    this.input.placeholder = open ? t("Type your message\u2026") : t("This conversation has ended");
    this.autoSize();
  }
}
