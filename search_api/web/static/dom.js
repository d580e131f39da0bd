// DOM building without innerHTML: every text from the API becomes a text node; only <mark> is ours.

/**
 * An element: h("a", {href: "#/", class: "x", onclick: fn, lang: "kk"}, "text", child, [more]).
 * Props starting with "on" become listeners; null/false props and children are skipped.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name in el && typeof value !== "string") el[name] = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

/** Append strings (as text), nodes and nested arrays of them to `el`. */
export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Remove every child of `el`, then append `children`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/**
 * The snippet as nodes: plain text, with the API's [start, end) highlight spans (in code points, as Python counts)
 * wrapped in <mark>. Nothing from the API is parsed as HTML.
 */
export function marked(text, highlights = []) {
  const chars = Array.from(text || "");
  const out = document.createDocumentFragment();
  let last = 0;
  const spans = [...highlights].filter((s) => Array.isArray(s) && s.length === 2).sort((a, b) => a[0] - b[0]);
  for (const [start, end] of spans) {
    if (start < last || end <= start || end > chars.length) continue;
    if (start > last) out.append(chars.slice(last, start).join(""));
    out.append(h("mark", {}, chars.slice(start, end).join("")));
    last = end;
  }
  if (last < chars.length) out.append(chars.slice(last).join(""));
  return out;
}

/** The last path component of a source such as "upload/report.pdf" or "/srv/docs/guide.docx". */
export function basename(source) {
  const parts = String(source || "").split(/[\\/]/);
  return parts[parts.length - 1] || String(source || "");
}
