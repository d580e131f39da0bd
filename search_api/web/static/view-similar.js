// The methodist's "similar projects" page (#/similar): a description or a file in, similar past projects out.
// The file is read by the server and forgotten; adding it to the knowledge base is a separate, explicit step that
// needs the API key.

import { h, replace } from "./dom.js";
import { similarPanel } from "./similar-panel.js";

const memory = {}; // the last text, file and answer, kept while the page is open (a language switch re-renders)

function addFile(app, file) {
  const status = h("p", { class: "status", role: "status", "aria-live": "polite" });
  const error = h("div", { class: "error-box", role: "alert" });
  if (!app.key()) {
    return h("section", { class: "panel sim-add" }, h("h2", {}, app.t("sim_add_title")),
      h("p", { class: "notice" }, app.t("sim_add_needs_key"), " ", h("a", { href: "#/manage" }, app.t("nav_manage"))));
  }
  const button = h("button", { type: "button", class: "secondary" }, app.t("sim_add_button", { name: file.name }));
  button.addEventListener("click", async () => {
    button.disabled = true;
    error.replaceChildren();
    status.textContent = app.t("upload_processing");
    try {
      const report = await app.api.upload([file]);
      const [outcome] = report.files;
      replace(status, app.t("sim_added", { name: outcome.filename }), " ",
        outcome.doc_id ? h("a", { href: `#/document/${encodeURIComponent(outcome.doc_id)}` }, app.t("sim_open_document"))
          : null);
    } catch (err) {
      status.textContent = "";
      replace(error, h("strong", {}, `${app.t("error")}: `), err.detail || err.message);
      button.disabled = false;
    }
  });
  return h("section", { class: "panel sim-add" }, h("h2", {}, app.t("sim_add_title")),
    h("p", { class: "hint" }, app.t("sim_add_hint")), h("p", { class: "actions" }, button), status, error);
}

/** The page: a heading, what it does, the form and the answer (kept across language switches). */
export async function renderSimilar(app) {
  return h("div", { class: "similar-page" },
    h("h1", {}, app.t("sim_title")),
    h("p", { class: "intro" }, app.t("sim_intro")),
    similarPanel({ api: app.api, lang: app.lang, catalog: () => app.catalog(), memory, idPrefix: "sim-",
      extra: (file) => addFile(app, file) }));
}
