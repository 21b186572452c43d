// Building DOM nodes in code, for the widget and the console. Text only ever goes in as text nodes
// or attribute values: nothing here parses HTML.
// This file is ASCII only: the widget loads it, on shops' pages, from another origin.

/**
 * An element with attributes and children. `class` sets the class, `text` the text content,
 * `dataset` the data-* attributes; false, null and undefined are skipped, true is an empty
 * attribute. Children may be nodes, strings (appended as text) or arrays of them.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}
