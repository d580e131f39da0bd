// Search results as cards, grouped by type (the page) or in one list (the widget). Shared by both.

import { titleIn } from "./catalog.js";
import { basename, h, marked } from "./dom.js";
import { t } from "./strings.js";

export const TYPES = ["experience", "technology", "document"];
// Below this OCR confidence a page is flagged (ingest/document.py LOW_OCR_CONFIDENCE).
export const LOW_OCR_CONFIDENCE = 0.6;

/** A language badge: the code for the eye, the language's name for a screen reader. */
export function langBadge(code, lang) {
  const known = ["kk", "ru", "ky", "en"].includes(code);
  return h("span", { class: `badge lang-${known ? code : "other"}`, title: known ? t(lang, `lang_${code}`) : code },
    h("span", { "aria-hidden": "true" }, String(code || "?").toUpperCase()),
    h("span", { class: "vh" }, known ? t(lang, `lang_${code}`) : code));
}

/** "Scanned text" on a passage read by OCR; the engine's confidence in its title, a warning when it is low. */
export function scannedBadge(result, lang) {
  if (!result.ocr) return null;
  const n = result.ocr_confidence == null ? "?" : Math.round(result.ocr_confidence * 100);
  const low = result.ocr_confidence != null && result.ocr_confidence < LOW_OCR_CONFIDENCE;
  return h("span", { class: low ? "badge scanned scanned-low" : "badge scanned",
    title: t(lang, low ? "scanned_text_low" : "scanned_text_title", { n }) }, t(lang, "scanned_text"));
}

/** The kind of a result as a coloured tag. */
export function typeTag(type, lang) {
  return h("span", { class: `tag tag-${type}` }, t(lang, `type_${type}`));
}

/** The address of a result's own page on pedkb (`base` is "" on the page itself). */
export function resultHref(result, base = "") {
  const id = encodeURIComponent(result.doc_id);
  if (result.type === "experience") return `${base}#/experience/${id}`;
  if (result.type === "technology") return `${base}#/technology/${encodeURIComponent(techId(result))}`;
  return `${base}#/document/${id}?chunk=${encodeURIComponent(result.chunk_id)}`;
}

function techId(result) {
  return String(result.doc_id).replace(/^tech:/, "");
}

function titleOf(result, catalog, lang) {
  if (result.type === "technology" && catalog) return catalog.tech(techId(result), lang);
  return titleIn(result, lang, basename(result.source) || result.doc_id)[0];
}

/** The snippet without a leading copy of the title (experience passages start with it), spans shifted. */
export function withoutTitle(snippet, highlights, title) {
  const chars = Array.from(snippet || "");
  const head = Array.from(title || "");
  if (!head.length || chars.slice(0, head.length).join("") !== title) return [snippet, highlights];
  let cut = head.length;
  while (cut < chars.length && /\s/.test(chars[cut])) cut += 1;
  if (cut >= chars.length) return [snippet, highlights];
  const spans = (highlights || []).filter(([start]) => start >= cut).map(([start, end]) => [start - cut, end - cut]);
  return [chars.slice(cut).join(""), spans];
}

/** One result: type, language, page, linked title, highlighted snippet, technologies and source. */
export function resultCard(result, ctx) {
  const { lang, catalog, linkBase = "", newTab = false, showType = true } = ctx;
  const isTech = result.type === "technology";
  const techs = (result.technologies || []).filter((id) => !isTech || id !== techId(result));
  const extra = [];
  if (techs.length && catalog) {
    const label = result.type === "document" ? "suggested_technologies" : "technologies";
    extra.push(h("span", { class: "card-techs" }, `${t(lang, label)}: `,
      techs.map((id, i) => [i ? ", " : "", catalog.tech(id, lang)])));
  }
  if (result.type === "document" && result.source) {
    extra.push(h("span", { class: "card-source" }, `${t(lang, "source")}: ${basename(result.source)}`));
  }
  const [snippet, spans] = result.type === "experience" ? withoutTitle(result.snippet, result.highlights, result.title)
    : [result.snippet, result.highlights];
  const link = h("a", {
    href: resultHref(result, linkBase), lang: isTech ? lang : result.lang,
    target: newTab ? "_blank" : null, rel: newTab ? "noopener" : null,
  }, titleOf(result, catalog, lang));
  return h("li", { class: `card card-${result.type}`, dataset: { docId: result.doc_id, type: result.type } },
    h("div", { class: "card-meta" },
      showType ? typeTag(result.type, lang) : null,
      h("span", { class: "card-langs" }, langBadge(result.lang, lang)),
      result.page ? h("span", { class: "page" }, t(lang, "page_n", { n: result.page })) : null,
      scannedBadge(result, lang)),
    h("h3", { class: "card-title" }, link),
    h("p", { class: "snippet", lang: result.lang }, marked(snippet, spans)),
    result.matched_passages ? h("p", { class: "more-passages" },
      t(lang, "more_passages", { n: result.matched_passages })) : null,
    extra.length ? h("p", { class: "card-extra" }, extra.map((e, i) => [i ? " · " : "", e])) : null);
}

/** Cards added page after page; an item found again (a technology in another language) adds a badge, not a card. */
export class ResultList {
  constructor(container, ctx, { grouped = true } = {}) {
    this.container = container;
    this.ctx = ctx;
    this.grouped = grouped;
    this.clear();
  }

  clear() {
    this.seen = new Map();
    this.cards = [];
    this.size = 0;
    this.lists = new Map();
    this.container.replaceChildren();
    if (!this.grouped) {
      this.flat = h("ol", { class: "results" });
      this.container.append(this.flat);
    }
  }

  listFor(type) {
    if (!this.grouped) return this.flat;
    if (!this.lists.has(type)) {
      const id = `group-${type}`;
      const count = h("span", { class: "group-count" });
      const list = h("ol", { class: "results" });
      const section = h("section", { class: `result-group group-${type}`, "aria-labelledby": id },
        h("h2", { id }, t(this.ctx.lang, `group_${type}`), " ", count), list);
      list.count = count;
      const order = TYPES.indexOf(type);
      const after = [...this.lists.entries()].find(([other]) => TYPES.indexOf(other) > order);
      this.container.insertBefore(section, after ? after[1].closest("section") : null);
      this.lists.set(type, list);
    }
    return this.lists.get(type);
  }

  /** Add a page of results; returns the first new card (to move the focus there after "more"). */
  add(results) {
    const first = this.cards.length;
    for (const result of results) {
      // one card per item: the API answers one result per item; a passage list (group_by=passage) is folded the same way
      const key = result.doc_id;
      const card = this.seen.get(key);
      if (card) {
        if (!card.querySelector(`.lang-${result.lang}`)) {
          card.querySelector(".card-langs").append(" ", langBadge(result.lang, this.ctx.lang));
        }
        continue;
      }
      const made = resultCard(result, { ...this.ctx, showType: this.ctx.showType ?? !this.grouped });
      this.seen.set(key, made);
      this.cards.push(made);
      this.listFor(result.type).append(made);
      this.size += 1;
    }
    if (this.grouped) {
      for (const list of this.lists.values()) list.count.textContent = `(${list.children.length})`;
    }
    return this.cards[first] || null;
  }
}
