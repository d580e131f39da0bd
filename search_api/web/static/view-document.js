// A document: its passages in order with their language and page, the one a result pointed at marked.

import { titleIn } from "./catalog.js";
import { basename, h } from "./dom.js";
import { langBadge } from "./results.js";

/** The document page; `?chunk=N` marks and scrolls to that passage. */
export async function renderDocument(app, { id, query }) {
  const doc = await app.api.document(id);
  const target = Number(query.get("chunk"));
  const chunks = doc.chunk_list.map((chunk) =>
    h("li", { class: chunk.chunk_id === target ? "target" : null, id: `chunk-${chunk.chunk_id}`,
      tabindex: chunk.chunk_id === target ? "-1" : null },
    h("div", { class: "card-meta" }, langBadge(chunk.lang, app.lang),
      chunk.page ? h("span", { class: "page" }, app.t("page_n", { n: chunk.page })) : null),
    h("p", { lang: chunk.lang }, chunk.text)));
  if (Number.isFinite(target)) {
    setTimeout(() => document.getElementById(`chunk-${target}`)?.scrollIntoView({ block: "center" }), 0);
  }
  return h("div", {},
    h("a", { class: "back", href: app.lastSearch || "#/" }, app.t("back")),
    h("article", { class: "item document" },
      h("div", { class: "item-meta" }, h("span", { class: "tag tag-document" }, app.t("document")),
        doc.languages.map((lang) => langBadge(lang, app.lang)),
        h("span", { class: "hint" }, `${doc.format.toUpperCase()} · ${app.t("passages", { n: doc.chunks })}`)),
      h("h1", {}, titleIn(doc, app.lang, basename(doc.source))[0]),
      h("p", { class: "hint" }, `${app.t("source")}: ${basename(doc.source)}`),
      h("h2", {}, app.t("document_text")),
      h("ol", { class: "chunks" }, chunks)));
}
