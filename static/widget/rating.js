// The end of a conversation: the customer's "End chat" button (while the assistant has it), then a
// closing message, a one-click rating from 1 to 5 and an optional comment after it (the server's
// rules: runtime/runs/ratings.py). Offered whenever the conversation is closed (an agent resolved
// it, or the customer ended it) and not rated yet; a rating is final, its comment can be added once.
// This file is ASCII only (non-ASCII text as \u escapes), as every file the widget loads.

import { el } from "../shared/dom.js";
import { t } from "./i18n.js";

/** Every string the rating shows, in the widget's language (read when drawn: the catalogue loads first). */
export const RATING_LABELS = {
  get endChat() { return t("End chat"); },
  get endChatTitle() { return t("End this conversation"); },
  get closing() { return t("Thanks for chatting with us! This conversation is now closed."); },
  get question() { return t("How did we do?"); },
  get scores() {
    return [t("1 of 5: very poor"), t("2 of 5: poor"), t("3 of 5: okay"), t("4 of 5: good"), t("5 of 5: excellent")];
  },
  get commentLabel() { return t("Anything to add? (optional)"); },
  get commentPlaceholder() { return t("Tell us more\u2026"); },
  get send() { return t("Send comment"); },
  get sending() { return t("Sending\u2026"); },
  get thanks() { return t("Thank you for rating us!"); },
  get thanksComment() { return t("Thank you for your feedback!"); },
  yourRating: (score, scale) => t("You rated this conversation {score} of {scale}.", { score, scale }),
};

export const MAX_COMMENT_CHARS = 1000; // the server's limit (runtime.runs.ratings.MAX_COMMENT_CHARS)
const SCALE = 5;
const STAR = "\u2605";

/** The header's "End chat" button; `end()` asks the server to close the conversation. */
export function endChatButton(end) {
  const button = el("button", {
    type: "button",
    class: "end-chat",
    title: RATING_LABELS.endChatTitle,
    hidden: true,
    text: RATING_LABELS.endChat,
  });
  button.addEventListener("click", end);
  return button;
}

/** The rating card: `send(frame)` sends a frame over the socket and says whether it went. */
export class RatingCard {
  constructor(send) {
    this.send = send;
    this.rating = null; // what the server says: {score, scale, comment, comment_open}
    this.closing = el("p", { class: "rating-closing", text: RATING_LABELS.closing });
    this.question = el("p", { class: "rating-question", id: "cw-rating-q", text: RATING_LABELS.question });
    this.stars = Array.from({ length: SCALE }, (_, index) =>
      el("button", {
        type: "button",
        class: "rating-star",
        "aria-label": RATING_LABELS.scores[index],
        title: RATING_LABELS.scores[index],
        dataset: { score: String(index + 1) },
        text: STAR,
      }),
    );
    this.scale = el("div", { class: "rating-scale", role: "group", "aria-labelledby": "cw-rating-q" }, this.stars);
    this.result = el("p", { class: "rating-result", role: "status" });
    // A one-line field, not a second textarea: the message box stays the panel's only textarea.
    this.comment = el("input", {
      type: "text",
      class: "rating-comment",
      id: "cw-rating-comment",
      autocomplete: "off",
      maxlength: String(MAX_COMMENT_CHARS),
      placeholder: RATING_LABELS.commentPlaceholder,
    });
    this.sendComment = el("button", { type: "submit", class: "rating-send", text: RATING_LABELS.send });
    this.commentForm = el(
      "form",
      { class: "rating-comment-form", hidden: true },
      el("label", { class: "rating-comment-label", for: "cw-rating-comment", text: RATING_LABELS.commentLabel }),
      this.comment,
      this.sendComment,
    );
    this.element = el(
      "section",
      { class: "rating", hidden: true, "aria-label": RATING_LABELS.question },
      this.closing,
      this.question,
      this.scale,
      this.result,
      this.commentForm,
    );
    for (const star of this.stars) {
      star.addEventListener("click", () => this.rate(Number(star.dataset.score)));
      star.addEventListener("mouseenter", () => this.highlight(Number(star.dataset.score)));
    }
    this.scale.addEventListener("mouseleave", () => this.highlight(0));
    this.commentForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submitComment();
    });
  }

  /** Shown for a closed conversation (with its rating so far, or null), hidden otherwise. */
  show(closed, rating = null) {
    this.element.hidden = !closed;
    if (closed) this.update(rating);
  }

  rate(score) {
    if (this.rating || this.busy) return;
    if (this.send({ type: "rate", score })) {
      this.busy = true;
      this.highlight(score);
    }
  }

  submitComment() {
    const text = this.comment.value.trim();
    if (!text || this.busy) return;
    if (this.send({ type: "rate_comment", text })) {
      this.busy = true;
      this.sendComment.disabled = true;
      this.sendComment.textContent = RATING_LABELS.sending;
    }
  }

  /** The server's answer: the rating as it now stands. */
  update(rating) {
    this.busy = false;
    this.rating = rating;
    this.sendComment.disabled = false;
    this.sendComment.textContent = RATING_LABELS.send;
    const rated = Boolean(rating);
    this.question.hidden = rated;
    for (const star of this.stars) star.disabled = rated;
    this.highlight(rated ? rating.score : 0);
    if (!rated) {
      this.result.textContent = "";
      this.commentForm.hidden = true;
      return;
    }
    const thanks = rating.comment ? RATING_LABELS.thanksComment : RATING_LABELS.thanks;
    this.result.textContent = `${RATING_LABELS.yourRating(rating.score, rating.scale || SCALE)} ${thanks}`;
    this.commentForm.hidden = !rating.comment_open;
    if (rating.comment) this.comment.value = "";
  }

  /** The server refused (already rated, too long, ...): the typed comment stays in its box. */
  refused() {
    this.busy = false;
    this.sendComment.disabled = false;
    this.sendComment.textContent = RATING_LABELS.send;
    if (!this.rating) this.highlight(0);
  }

  highlight(score) {
    const shown = score || (this.rating ? this.rating.score : 0);
    for (const star of this.stars) star.classList.toggle("is-on", Number(star.dataset.score) <= shown);
  }
}
