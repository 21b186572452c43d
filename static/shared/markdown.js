// The Markdown the assistant and agents write, as DOM nodes: one renderer for the customer's widget
// and the agent's console, so both see a message the same way.
//
// Blocks: paragraphs (a single newline is a line break), bulleted and numbered lists, > quotes,
// ``` code blocks, # headings (shown as a bold line). Inline: **bold**, *italic* (and the
// underscore forms), `code`, [links](https://...), <https://...> and bare https:// addresses.
// Links go only to http:, https: and mailto: and open in a new tab without a referrer; any other
// target keeps its words and loses the link. Nothing is ever parsed as HTML: markup in a message
// is shown as the text it is.
// Citations: an answer that quotes the shop's documents carries a citation for each marker it
// quoted ({text: "\u30100:1\u2020returns.md\u3011", file_id}). Each such marker becomes a small
// numbered link [1] to <server>/help/files/<file_id>/ (the document's help page), and a "Sources"
// list under the message names each document once, numbered alike, in order of first citation.
// While an answer streams, its citations are not known yet: markers are left out until it is
// complete. A marker no citation names stays text.
// This file is ASCII only: the widget loads it, on shops' pages, from another origin.

import { el } from "./dom.js";

const SAFE_PROTOCOLS = new Set(["http:", "https:", "mailto:"]);

/** An absolute http(s) or mailto URL, normalised, or null for anything else (relative, javascript:, data:...). */
export function safeUrl(raw) {
  const candidate = raw.trim();
  if (!/^(https?:\/\/|mailto:)/i.test(candidate)) return null;
  try {
    const url = new URL(candidate);
    return SAFE_PROTOCOLS.has(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}

function link(href) {
  return el("a", { href, target: "_blank", rel: "noopener noreferrer nofollow" });
}

// --- citations -----------------------------------------------------------------------------------

const MARKER = /^\u3010[^\u3010\u3011]{1,200}\u3011/; // \u3010 and \u3011 are the marker's brackets
const PARTIAL_MARKER = /^\u3010[^\u3010\u3011]{0,200}$/;

/** A source's name from its file's: "returns.md" reads "Returns", "shipping_rates.md" "Shipping rates". */
export function sourceLabel(filename) {
  const stem = String(filename ?? "").trim().replace(/\.[A-Za-z0-9]{1,10}$/, "");
  const words = stem.replace(/[-_]+/g, " ").replace(/\s+/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/**
 * The sources of `citations`, numbered per file in order of first citation, and each marker's
 * source: {byMarker: Map(marker text -> source), sources: [{number, href, label}]}. A source's
 * href is null when `server` does not make an absolute http(s) address.
 */
function citationIndex(citations, server) {
  const byMarker = new Map();
  const byFile = new Map();
  const sources = [];
  for (const citation of Array.isArray(citations) ? citations : []) {
    if (!citation || typeof citation.text !== "string" || typeof citation.file_id !== "string") continue;
    let source = byFile.get(citation.file_id);
    if (!source) {
      const number = sources.length + 1;
      const dagger = citation.text.lastIndexOf("\u2020"); // the file's name follows the dagger
      const label = dagger === -1 ? "" : sourceLabel(citation.text.slice(dagger + 1, -1));
      source = {
        number,
        href: safeUrl(`${server}/help/files/${encodeURIComponent(citation.file_id)}/`),
        label: label || `Source ${number}`,
      };
      byFile.set(citation.file_id, source);
      sources.push(source);
    }
    byMarker.set(citation.text, source);
  }
  return { byMarker, sources };
}

function sourceLink(source, attrs, ...children) {
  if (!source.href) return children;
  return el("a", { href: source.href, target: "_blank", rel: "noopener noreferrer nofollow", ...attrs }, ...children);
}

/** [n] where the answer quotes a source. */
function citationNode(source) {
  const label = { title: source.label, "aria-label": `Source ${source.number}: ${source.label}` };
  return el("sup", { class: "cite" }, sourceLink(source, label, `[${source.number}]`));
}

/** The list under an answer: each source once, numbered as its [n]. */
function sourcesNode(sources, title) {
  return el(
    "div",
    { class: "sources" },
    el("p", { class: "sources-title", text: title }),
    el("ol", {}, sources.map((source) => el("li", {}, sourceLink(source, {}, source.label)))),
  );
}

// --- inline: emphasis, code, links ---------------------------------------------------------------

const isSpace = (ch) => ch === undefined || /\s/.test(ch);
const isWordChar = (ch) => ch !== undefined && /[\p{L}\p{N}]/u.test(ch);

function canOpen(text, at, width, ch) {
  if (isSpace(text[at + width])) return false;
  return ch !== "_" || !isWordChar(text[at - 1]); // snake_case is not emphasis
}

/** Index of the marker closing an emphasis opened before `from`, or -1. */
function findClose(text, from, marker) {
  const ch = marker[0];
  for (let j = from + 1; j < text.length; j++) {
    if (text[j] !== ch) continue;
    if (marker.length === 1 && (text[j + 1] === ch || text[j - 1] === ch)) {
      while (text[j + 1] === ch) j++; // a double marker inside single emphasis: skip it whole
      continue;
    }
    if (marker.length === 2 && text[j + 1] !== ch) continue;
    if (isSpace(text[j - 1])) continue;
    if (ch === "_" && isWordChar(text[j + marker.length])) continue;
    return j;
  }
  return -1;
}

/**
 * Append `text` with inline markdown to `parent` as DOM nodes. While `ctx.streaming`, an emphasis
 * or code span still waiting for its closing marker is shown as if closed, so an answer doesn't
 * flash asterisks as it arrives. `ctx.cites` maps citation markers to their sources.
 */
function appendInline(parent, text, ctx, inLink = false) {
  const { streaming } = ctx;
  let plain = "";
  const flush = () => {
    if (plain) parent.append(document.createTextNode(plain));
    plain = "";
  };
  const wrap = (tag, inner) => {
    flush();
    const node = el(tag);
    appendInline(node, inner, ctx, inLink);
    parent.append(node);
  };
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    const rest = text.slice(i);
    if (ch === "\\" && /^\\[\\`*_[\]()#+\-.!<>]/.test(rest)) {
      plain += text[i + 1];
      i += 2;
      continue;
    }
    if (streaming && /^[*_`]+$/.test(rest)) break; // a marker whose partner hasn't arrived yet
    if (ch === "`") {
      const end = text.indexOf("`", i + 1);
      if (end > i + 1 || (end === -1 && streaming)) {
        flush();
        parent.append(el("code", { text: text.slice(i + 1, end === -1 ? text.length : end) }));
        i = end === -1 ? text.length : end + 1;
        continue;
      }
    }
    if ((ch === "*" || ch === "_") && text[i + 1] === ch) {
      if (canOpen(text, i, 2, ch)) {
        const end = findClose(text, i + 2, ch + ch);
        if (end !== -1 || streaming) {
          wrap("strong", text.slice(i + 2, end === -1 ? text.length : end));
          i = end === -1 ? text.length : end + 2;
          continue;
        }
      }
      plain += ch + ch;
      i += 2;
      continue;
    }
    if (ch === "*" || ch === "_") {
      if (canOpen(text, i, 1, ch)) {
        const end = findClose(text, i, ch);
        if (end !== -1 || (streaming && ch === "*")) {
          wrap("em", text.slice(i + 1, end === -1 ? text.length : end));
          i = end === -1 ? text.length : end + 1;
          continue;
        }
      }
      plain += ch;
      i += 1;
      continue;
    }
    if (ch === "[" && !inLink) {
      const match = /^\[([^\]\n]+)\]\(\s*<?((?:[^()\s<>]|\([^()\s<>]*\))+)>?\s*\)/.exec(rest);
      if (match) {
        const href = safeUrl(match[2]);
        flush();
        if (href) {
          const anchor = link(href);
          appendInline(anchor, match[1], ctx, true);
          parent.append(anchor);
        } else {
          appendInline(parent, match[1], ctx, inLink); // an unsafe target: keep the words only
        }
        i += match[0].length;
        continue;
      }
    }
    if (ch === "<" && !inLink) {
      const match = /^<((?:https?:\/\/|mailto:)[^\s<>]+)>/i.exec(rest);
      const href = match && safeUrl(match[1]);
      if (href) {
        flush();
        parent.append(el("a", { href, target: "_blank", rel: "noopener noreferrer nofollow", text: match[1] }));
        i += match[0].length;
        continue;
      }
    }
    if (!inLink && (ch === "h" || ch === "H") && (i === 0 || /[\s(]/.test(text[i - 1]))) {
      const match = /^https?:\/\/[^\s<>"]+/i.exec(rest);
      if (match) {
        let raw = match[0].replace(/[.,;:!?'"*_\]]+$/, ""); // sentence punctuation is not the address's
        if (raw.endsWith(")") && !raw.includes("(")) raw = raw.slice(0, -1);
        const href = safeUrl(raw);
        if (href) {
          flush();
          parent.append(el("a", { href, target: "_blank", rel: "noopener noreferrer nofollow", text: raw }));
          i += raw.length;
          continue;
        }
      }
    }
    if (ch === "\u3010") {
      const marker = MARKER.exec(rest);
      const source = marker && !inLink ? ctx.cites.get(marker[0]) : undefined;
      if (source) {
        flush();
        parent.append(citationNode(source));
        i += marker[0].length;
        continue;
      }
      if (streaming && (marker || PARTIAL_MARKER.test(rest))) {
        i += marker ? marker[0].length : rest.length; // its [n] comes with the complete answer
        continue;
      }
    }
    plain += ch;
    i += 1;
  }
  flush();
}

// --- blocks --------------------------------------------------------------------------------------

const FENCE = /^\s*```/;
const LIST_ITEM = /^\s{0,3}(?:([-*+\u2022])|(\d{1,9})[.)])\s+(.*)$/;
const QUOTE = /^\s{0,3}>\s?(.*)$/;
const HEADING = /^\s{0,3}#{1,6}\s+(.*)$/;

/** Lines as a paragraph, one <br> between each. */
function paragraph(lines, ctx) {
  const p = el("p");
  lines.forEach((line, k) => {
    if (k) p.append(el("br"));
    appendInline(p, line, ctx);
  });
  return p;
}

/**
 * A message's markdown as a DocumentFragment of DOM nodes (never parsed as HTML). With
 * `streaming`, the text is an answer still arriving: unclosed emphasis shows as closed.
 * `citations` (the message's, as the server sends them) and `server` (the origin of its help
 * pages, e.g. "https://support.example") make its markers numbered source links, listed under
 * `sourcesTitle` (the widget's, in the customer's language).
 */
export function renderMarkdown(text, { streaming = false, citations = [], server = "", sourcesTitle = "Sources" } = {}) {
  const { byMarker, sources } = citationIndex(citations, server);
  const ctx = { streaming, cites: byMarker };
  const fragment = document.createDocumentFragment();
  const lines = String(text ?? "").replace(/\r\n?/g, "\n").split("\n");
  let paragraphLines = null;
  let list = null;
  const endParagraph = () => {
    if (paragraphLines) fragment.append(paragraph(paragraphLines, ctx));
    paragraphLines = null;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (FENCE.test(line)) {
      endParagraph();
      list = null;
      const body = [];
      while (++i < lines.length && !FENCE.test(lines[i])) body.push(lines[i]);
      fragment.append(el("pre", {}, el("code", { text: body.join("\n") })));
      continue;
    }
    if (!line.trim()) {
      endParagraph();
      list = null;
      continue;
    }
    const item = LIST_ITEM.exec(line);
    if (item) {
      endParagraph();
      const ordered = item[2] !== undefined;
      if (!list || list.ordered !== ordered) {
        const start = ordered && item[2] !== "1" ? String(parseInt(item[2], 10)) : null;
        list = { node: el(ordered ? "ol" : "ul", { start }), ordered, last: null };
        fragment.append(list.node);
      }
      list.last = el("li");
      appendInline(list.last, item[3], ctx);
      list.node.append(list.last);
      continue;
    }
    if (list && /^\s+\S/.test(line)) {
      list.last.append(el("br")); // an indented line continues the item above
      appendInline(list.last, line.trim(), ctx);
      continue;
    }
    list = null;
    if (QUOTE.test(line)) {
      endParagraph();
      // Quoted lines make paragraphs of their own (a ">" alone separates them); no blocks nest in a quote.
      const quote = el("blockquote");
      let quoted = [];
      const endQuoted = () => {
        if (quoted.length) quote.append(paragraph(quoted, ctx));
        quoted = [];
      };
      for (; i < lines.length && QUOTE.test(lines[i]); i++) {
        const inner = QUOTE.exec(lines[i])[1];
        if (inner.trim()) quoted.push(inner);
        else endQuoted();
      }
      i -= 1; // the loop above stopped on the first line after the quote
      endQuoted();
      if (quote.hasChildNodes()) fragment.append(quote);
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      endParagraph();
      const strong = el("strong");
      appendInline(strong, heading[1], ctx);
      fragment.append(el("p", {}, strong));
      continue;
    }
    (paragraphLines ||= []).push(line);
  }
  endParagraph();
  if (sources.length) fragment.append(sourcesNode(sources, sourcesTitle));
  return fragment;
}
