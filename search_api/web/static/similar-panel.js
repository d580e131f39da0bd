// "Similar projects": paste a project description or drop a file (read by the server, not stored) and see the
// experiences and documents close to it in every language, why each matches, and the technologies of the text.
// Shared by the page (view-similar.js) and the widget (<pedkb-search similar>).

import { nameOf, titleIn } from "./catalog.js";
import { basename, h, replace } from "./dom.js";
import { langBadge, typeTag } from "./results.js";
import { t } from "./strings.js";

export const SIMILAR_K = 8;
const TECHNOLOGIES_K = 5;
export const FILE_TYPES = ".pdf,.docx,.txt,.md,.markdown,.html,.htm";

/** Documents without a title are named by their file (one request each, at most SIMILAR_K). */
async function nameDocuments(api, items) {
  await Promise.all(items.filter((item) => item.type === "document" && !item.title && !item.titles).map(async (item) => {
    try {
      item.title = basename((await api.document(item.doc_id)).source);
    } catch {
      /* keep the id */
    }
  }));
  return items;
}

/** Ask the API: a file goes to /similar/file, a text to /similar and /classify. */
export async function analyse(api, { text, file }) {
  if (file) {
    const answer = await api.similarFile(file, SIMILAR_K);
    return { ...answer, similar: await nameDocuments(api, answer.similar) };
  }
  const [similar, technologies] = await Promise.all([api.similarText(text, SIMILAR_K), api.classify(text, TECHNOLOGIES_K)]);
  return { similar: await nameDocuments(api, similar), technologies, chars: text.length, truncated: false };
}

function techName(catalog, suggestion, lang) {
  return catalog ? catalog.tech(suggestion.technology_id, lang) : nameOf(suggestion.labels, lang, suggestion.technology_id);
}

function itemHref(item, base) {
  const id = encodeURIComponent(item.doc_id);
  return item.type === "experience" ? `${base}#/experience/${id}` : `${base}#/document/${id}`;
}

/** One similar item: kind, language, title in the reader's language, why it matches, its best passage. */
function similarItem(item, ctx) {
  const { lang, catalog, linkBase, newTab } = ctx;
  const [title, titleLang] = titleIn(item, lang, item.doc_id);
  const shared = (item.shared_technologies || []).map((id) => (catalog ? catalog.tech(id, lang) : id));
  return h("li", { class: `card card-${item.type}`, dataset: { docId: item.doc_id, type: item.type } },
    h("div", { class: "card-meta" }, typeTag(item.type, lang), item.lang ? langBadge(item.lang, lang) : null,
      h("span", { class: "score" }, t(lang, "sim_score", { n: Math.round(Math.max(0, item.score) * 100) }))),
    h("h3", { class: "card-title" }, h("a", { href: itemHref(item, linkBase), lang: titleLang || item.lang,
      target: newTab ? "_blank" : null, rel: newTab ? "noopener" : null }, title)),
    h("p", { class: "reason" }, h("strong", {}, `${t(lang, "sim_why")} `),
      shared.length ? `${t(lang, "shared_technologies")}: ${shared.join(", ")}.` : t(lang, "sim_why_text")),
    h("p", { class: "snippet" }, h("span", { class: "passage-label" }, `${t(lang, "sim_best_passage")}: `),
      h("q", { lang: item.lang }, item.passage)));
}

/** The answer: what was read, the technologies of the text, the similar items (or that there are none). */
export function renderAnswer(answer, ctx) {
  const { lang, catalog, linkBase = "", headingLevel = 2 } = ctx;
  const heading = `h${headingLevel}`;
  const read = answer.filename ? h("p", { class: "hint sim-read" },
    t(lang, answer.truncated ? "sim_file_read_truncated" : "sim_file_read",
      { name: answer.filename, n: answer.chars.toLocaleString(lang) })) : null;
  const techs = answer.technologies.length
    ? h("ul", { class: "chips sim-techs" }, answer.technologies.map((s) => h("li", {},
      h("a", { href: `${linkBase}#/technology/${encodeURIComponent(s.technology_id)}`,
        target: ctx.newTab ? "_blank" : null, rel: ctx.newTab ? "noopener" : null }, techName(catalog, s, lang)))))
    : h("p", { class: "notice" }, t(lang, "sim_no_technologies"));
  const items = answer.similar.length
    ? h("ol", { class: "results sim-results" }, answer.similar.map((item) => similarItem(item, ctx)))
    : h("p", { class: "notice" }, t(lang, "similar_none"));
  return [read,
    h("section", { class: "sim-section", "aria-labelledby": `${ctx.idPrefix}techs-title` },
      h(heading, { id: `${ctx.idPrefix}techs-title` }, t(lang, "sim_technologies")), techs),
    h("section", { class: "sim-section", "aria-labelledby": `${ctx.idPrefix}items-title` },
      h(heading, { id: `${ctx.idPrefix}items-title` }, t(lang, "sim_results")),
      h("p", { class: "hint" }, t(lang, "sim_results_hint")), items)];
}

/**
 * The form and its answer. ctx: {api, lang, catalog(): Promise<Catalog|null>, linkBase, newTab, idPrefix,
 * headingLevel, memory: an object kept between renders ({text, file, answer}), extra(file): nodes under the answer}.
 */
export function similarPanel(ctx) {
  const { api, lang, memory = {}, idPrefix = "sim-" } = ctx;
  const id = (name) => `${idPrefix}${name}`;
  const text = h("textarea", { id: id("text"), name: "text", rows: "7", "aria-describedby": id("text-hint") },
    memory.text || "");
  // The browser's own file button speaks the browser's language, not the page's: it is hidden, ours opens it.
  const files = h("input", { id: id("file"), type: "file", name: "file", accept: FILE_TYPES, class: "vh",
    tabindex: "-1", "aria-hidden": "true" });
  const pick = h("button", { type: "button", class: "secondary", "aria-describedby": `${id("file-label")} ${id("file-hint")}` },
    t(lang, "sim_file_choose"));
  const chosen = h("p", { class: "hint sim-chosen", "aria-live": "polite" });
  const clear = h("button", { type: "button", class: "secondary small", hidden: true }, t(lang, "sim_file_clear"));
  const drop = h("div", { class: "dropzone" },
    h("p", { class: "label", id: id("file-label") }, t(lang, "sim_file_label")), files, pick,
    h("p", { class: "hint", id: id("file-hint") }, t(lang, "sim_file_hint")), chosen, clear);
  const button = h("button", { type: "submit", class: "primary" }, t(lang, "sim_button"));
  const status = h("p", { class: "status", role: "status", "aria-live": "polite" });
  const error = h("div", { class: "error-box error", role: "alert" });
  const answerBox = h("div", { class: "sim-answer" });
  const form = h("form", { class: "similar-form" },
    h("div", { class: "field" }, h("label", { for: id("text") }, t(lang, "sim_text_label")), text,
      h("p", { class: "hint", id: id("text-hint") }, t(lang, "sim_text_hint"))),
    drop, h("p", { class: "hint" }, t(lang, "sim_not_stored")), h("p", { class: "actions" }, button));

  let file = memory.file || null;
  const showFile = () => {
    chosen.textContent = file ? t(lang, "sim_file_chosen", { name: file.name }) : "";
    clear.hidden = !file;
  };
  const choose = (picked) => {
    file = picked || null;
    memory.file = file;
    showFile();
  };
  files.addEventListener("change", () => choose(files.files[0]));
  pick.addEventListener("click", () => files.click());
  clear.addEventListener("click", () => {
    files.value = "";
    choose(null);
    pick.focus();
  });
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    const dropped = event.dataTransfer?.files?.[0];
    if (dropped) choose(dropped);
  });
  showFile();

  const show = async (answer) => {
    const catalog = await ctx.catalog().catch(() => null);
    replace(answerBox, renderAnswer(answer, { ...ctx, catalog, idPrefix }),
      ctx.extra && answer.filename && file ? ctx.extra(file) : null);
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.replaceChildren();
    memory.text = text.value;
    const input = { text: text.value.trim(), file };
    if (!input.text && !input.file) {
      error.textContent = t(lang, "sim_needed");
      text.focus();
      return;
    }
    button.disabled = true;
    status.dataset.state = "working";
    status.textContent = t(lang, file ? "sim_reading_file" : "sim_working");
    try {
      const answer = await analyse(api, input);
      memory.answer = answer;
      await show(answer);
      status.dataset.state = "done";
      status.textContent = t(lang, "sim_found", { n: answer.similar.length, t: answer.technologies.length });
    } catch (err) {
      status.dataset.state = "error";
      status.textContent = "";
      replace(error, h("strong", {}, `${t(lang, "error")}: `), err.detail || err.message);
    } finally {
      button.disabled = false;
    }
  });
  if (memory.answer) {
    show(memory.answer).then(() => {
      status.dataset.state = "done";
      status.textContent = t(lang, "sim_found", { n: memory.answer.similar.length, t: memory.answer.technologies.length });
    });
  }
  return h("div", { class: "similar-panel" }, h("div", { class: "panel sim-input" }, form),
    h("div", { class: "sim-output" }, status, error, answerBox));
}
