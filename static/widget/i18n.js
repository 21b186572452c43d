// The widget's own strings in the customer's language: a catalogue ({English: translation}) from
// Concierge's {server}/chat/i18n/, for the embed's data-language, else the browser's languages,
// else English. Strings are marked with t(), the English text being the key; {placeholders} are
// filled as text, never as markup. Without the catalogue (a network error, an old server) the widget
// speaks English.
// This file is ASCII only (non-ASCII text as \u escapes), as every file the widget loads.

const LOAD_TIMEOUT_MS = 5000;
let catalog = {};
let current = "en";

/** `text` in the widget's language, with {placeholders} filled from `values`. */
export function t(text, values = {}) {
  const translated = Object.prototype.hasOwnProperty.call(catalog, text) ? catalog[text] : text;
  return translated.replace(/\{(\w+)\}/g, (match, name) => (name in values ? String(values[name]) : match));
}

/** The language the widget shows ("en", "de", ...): what the server chose from those asked for. */
export function currentLanguage() {
  return current;
}

/** The languages to ask for, best first: the embed's option, then the browser's. */
export function wantedLanguages(option) {
  const browser = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
  return [option, ...browser].filter((code) => typeof code === "string" && code.trim());
}

/** Load the catalogue for `option` (data-language) or the browser's languages; resolves to the language shown. */
export async function loadCatalogue(server, option) {
  const wanted = wantedLanguages(option).join(",").slice(0, 200);
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), LOAD_TIMEOUT_MS);
  try {
    const response = await fetch(`${server}/chat/i18n/?languages=${encodeURIComponent(wanted)}`, {
      mode: "cors",
      credentials: "omit",
      signal: abort.signal,
    });
    const payload = response.ok ? await response.json() : null;
    if (payload && typeof payload.catalog === "object" && typeof payload.language === "string") {
      catalog = payload.catalog || {};
      current = payload.language;
    }
  } catch {
    /* unreachable or not JSON: English it is */
  } finally {
    clearTimeout(timer);
  }
  return current;
}
