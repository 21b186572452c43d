// Photos the customer attaches: the paperclip button (a file picker that offers the camera on a
// phone), pasting or dropping an image, the tray of previews above the box, the upload to
// POST {server}/chat/attachments/ (multipart: the session token and the file; no preflight), and
// reading a sent photo back (GET with the X-Concierge-Session header) to show it after a reload.
// A photo that can't go stays in the tray with the typed text: nothing the customer gave is lost.
// This file is ASCII only (non-ASCII text as \u escapes), as every file the widget loads.

import { el } from "../shared/dom.js";
import { t } from "./i18n.js";

// Every English string of the attachments, in one place for the translations.
export const ATTACH_STRINGS = {
  get attach() { return t("Attach a photo"); },
  get remove() { return t("Remove photo"); },
  get photo() { return t("Photo you attached"); },
  get photoAlt() { return t("Attached photo"); },
  get uploading() { return t("Sending photo\u2026"); },
  get notImage() { return t("That file is not a photo. Choose a PNG, JPEG or WebP image."); },
  tooLarge: (mb) => t("That photo is too large: the limit is {mb} MB.", { mb }),
  tooMany: (n) => t("You can attach up to {n} photos to one message.", { n }),
  get notConnected() { return t("The chat is still connecting. Try again in a moment."); },
  get failed() { return t("The photo couldn't be sent. Your message is still here: try again."); },
  get unavailable() { return t("Photo unavailable"); },
};

const ACCEPTED_TYPES = ["image/png", "image/jpeg", "image/webp"];
const SESSION_HEADER = "X-Concierge-Session";
const CLIP_PATH =
  "M21 11.5l-8.6 8.6a5 5 0 0 1-7.1-7.1l8.6-8.6a3.3 3.3 0 0 1 4.7 4.7l-8.6 8.6a1.7 1.7 0 0 1-2.4-2.4l7.9-7.9";

function clipIcon() {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  svg.setAttribute("class", "icon icon-clip");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", CLIP_PATH);
  svg.append(path);
  return svg;
}

/** A file as a data: URL (pages' CSPs allow data: images far more often than blob: ones). */
function dataUrl(blob) {
  return new Promise((resolve) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => resolve(null);
    reader.readAsDataURL(blob);
  });
}

/** An upload's failure, with the message to show the customer. */
export class AttachError extends Error {}

/**
 * The attach button and its tray, for the composer `form` (placed before `input`). `showError(text)`
 * tells the customer why a photo can't go; `onChange()` hears the tray change (Send's state).
 */
export class Attachments {
  constructor({ form, input, server, store, showError, onChange }) {
    Object.assign(this, { server, store, showError, onChange });
    this.limits = { image_bytes: 8 * 1024 * 1024, images_per_message: 3 }; // until a session says
    this.items = []; // {file, url, id}: id once uploaded
    this.picker = el("input", { type: "file", accept: "image/*", class: "file-input", hidden: true, tabindex: "-1" });
    this.button = el(
      "button",
      { class: "attach", type: "button", "aria-label": ATTACH_STRINGS.attach, title: ATTACH_STRINGS.attach },
      clipIcon(),
    );
    this.tray = el("div", { class: "tray", hidden: true, "aria-label": ATTACH_STRINGS.photo });
    form.insertBefore(this.button, input);
    form.append(this.picker);
    form.parentNode.insertBefore(this.tray, form);
    this.button.addEventListener("click", () => this.picker.click());
    this.picker.addEventListener("change", () => {
      this.add([...this.picker.files]);
      this.picker.value = ""; // the same photo may be picked again after removing it
    });
    input.addEventListener("paste", (event) => {
      const files = [...(event.clipboardData?.files || [])].filter((f) => f.type.startsWith("image/"));
      if (files.length) {
        event.preventDefault();
        this.add(files);
      }
    });
    form.addEventListener("dragover", (event) => event.preventDefault());
    form.addEventListener("drop", (event) => {
      event.preventDefault();
      this.add([...(event.dataTransfer?.files || [])]);
    });
  }

  get count() {
    return this.items.length;
  }

  /** The session's limits ({image_bytes, images_per_message}), from POST /chat/session/. */
  setLimits(limits) {
    if (limits) this.limits = { ...this.limits, ...limits };
  }

  setEnabled(enabled) {
    this.button.disabled = !enabled;
  }

  /** Put files in the tray, after the checks the server makes too (its word is final). */
  add(files) {
    this.showError(""); // a refusal of an earlier photo no longer applies
    for (const file of files) {
      if (this.items.length >= this.limits.images_per_message) {
        this.showError(ATTACH_STRINGS.tooMany(this.limits.images_per_message));
        break;
      }
      if (!ACCEPTED_TYPES.includes(file.type)) {
        this.showError(ATTACH_STRINGS.notImage);
        continue;
      }
      if (file.size > this.limits.image_bytes) {
        this.showError(ATTACH_STRINGS.tooLarge(Math.floor(this.limits.image_bytes / (1024 * 1024))));
        continue;
      }
      const item = { file, url: "", id: null };
      this.items.push(item);
      dataUrl(file).then((url) => {
        item.url = url || "";
        if (this.items.includes(item)) this.draw();
      });
    }
    this.draw();
  }

  /** Put photos back in the tray (a message the server refused): they are not uploaded again. */
  restore(items) {
    this.items = [...items, ...this.items].slice(0, this.limits.images_per_message);
    this.draw();
  }

  draw() {
    this.tray.replaceChildren(...this.items.map((item) => this.trayItem(item)));
    this.tray.hidden = this.items.length === 0;
    this.onChange();
  }

  trayItem(item) {
    const remove = el("button", {
      type: "button",
      class: "tray-remove",
      "aria-label": ATTACH_STRINGS.remove,
      title: ATTACH_STRINGS.remove,
      text: "\u00d7",
    });
    remove.addEventListener("click", () => {
      this.items = this.items.filter((other) => other !== item);
      this.draw();
    });
    const preview = el("img", { src: item.url || null, alt: ATTACH_STRINGS.photoAlt });
    return el("div", { class: "tray-item" }, preview, remove);
  }

  setBusy(busy) {
    this.tray.classList.toggle("is-busy", busy);
    this.tray.setAttribute("aria-busy", String(busy));
  }

  /** Upload what is not uploaded yet; the tray keeps every photo until take(). Throws AttachError. */
  async upload() {
    const token = this.store.get();
    if (!token) throw new AttachError(ATTACH_STRINGS.notConnected);
    this.setBusy(true);
    try {
      for (const item of this.items) {
        if (!item.id) item.id = await this.send(item.file, token);
      }
    } finally {
      this.setBusy(false);
    }
    return this.items.map((item) => item.id);
  }

  async send(file, token) {
    const body = new FormData();
    body.append("session", token);
    body.append("file", file, file.name || "photo");
    let response;
    try {
      response = await fetch(`${this.server}/chat/attachments/`, { method: "POST", mode: "cors", credentials: "omit", body });
    } catch {
      throw new AttachError(ATTACH_STRINGS.failed);
    }
    let payload = null;
    try {
      payload = await response.json();
    } catch {
      /* a proxy's error page */
    }
    if (!response.ok || !payload || !payload.file_id) {
      const message = payload && payload.error && payload.error.message;
      throw new AttachError(message || ATTACH_STRINGS.failed);
    }
    return payload.file_id;
  }

  /** Empty the tray, handing over its photos ({file, url, id}) to the message that carries them. */
  take() {
    const items = this.items;
    this.items = [];
    this.draw();
    return items;
  }

  /** A sent photo's bytes as a data: URL, read with the session token (null if it can't be). */
  async load(fileId) {
    const token = this.store.get();
    if (!token) return null;
    try {
      const response = await fetch(`${this.server}/chat/attachments/${encodeURIComponent(fileId)}/`, {
        mode: "cors",
        credentials: "omit",
        headers: { [SESSION_HEADER]: token },
      });
      if (!response.ok) return null;
      return await dataUrl(await response.blob());
    } catch {
      return null;
    }
  }
}

/** The photos of a message in its bubble: `urls` known now (previews), or ids to load later. */
export function photoStrip(images, load) {
  const strip = el("div", { class: "photos" });
  for (const image of images) {
    const img = el("img", { alt: ATTACH_STRINGS.photo, class: "photo" });
    if (image.url) img.src = image.url;
    else if (load) {
      load(image.id).then((url) => {
        if (url) img.src = url;
        else img.replaceWith(el("span", { class: "photo-missing", text: ATTACH_STRINGS.unavailable }));
      });
    }
    strip.append(img);
  }
  return strip;
}
