// An experience: every field, its technologies, its lifecycle timeline, similar projects in any language, and its
// schema.org JSON-LD (from the API) embedded for search engines and harvesters.

import { titleIn } from "./catalog.js";
import { basename, h, replace } from "./dom.js";
import { langBadge, typeTag, withoutTitle } from "./results.js";

const INNOVATION = ["scale", "significance", "origin", "novelty"];

/** "5, 6, 7" with 0 named as preschool. */
export function gradesText(app, grades) {
  return grades.map((n) => (n === 0 ? app.t("grade_0") : String(n))).join(", ");
}

function fact(label, value, lang = null) {
  return [h("dt", {}, label), h("dd", { lang }, value)];
}

function textSection(app, name, text, lang) {
  return h("section", {}, h("h2", {}, app.t(name)), h("p", { lang }, text));
}

export function similarCard(app, catalog, item) {
  const href = item.type === "experience" ? `#/experience/${encodeURIComponent(item.doc_id)}`
    : `#/document/${encodeURIComponent(item.doc_id)}`;
  const shared = item.shared_technologies.map((id) => catalog.tech(id, app.lang));
  const [title, titleLang] = titleIn(item, app.lang, item.doc_id);
  const [passage] = withoutTitle(item.passage, [], item.title);
  return h("li", { class: `card card-${item.type}`, dataset: { docId: item.doc_id, type: item.type } },
    h("div", { class: "card-meta" }, typeTag(item.type, app.lang), item.lang ? langBadge(item.lang, app.lang) : null),
    h("h3", { class: "card-title" }, h("a", { href, lang: titleLang || item.lang }, title)),
    shared.length ? h("p", { class: "reason" }, `${app.t("shared_technologies")}: ${shared.join(", ")}`) : null,
    h("p", { class: "snippet", lang: item.lang },
      h("span", { class: "vh" }, `${app.t("closest_passage")}: `), passage));
}

/** The lifecycle history as a timeline, oldest step first. */
function timeline(app, catalog, exp) {
  const L = app.lang;
  const evidence = { report: app.t("evidence_report"), seminar: app.t("evidence_seminar"),
    publication: app.t("evidence_publication") };
  const steps = exp.history.map((step) => h("li", { class: "timeline-step", dataset: { stage: step.stage } },
    h("time", { datetime: step.date }, step.date),
    h("p", { class: "timeline-stage" }, step.previous ? `${catalog.value("stage", step.previous, L)} → ` : "",
      h("strong", {}, catalog.value("stage", step.stage, L))),
    h("p", {}, `${app.t("history_by")}: `, h("span", { class: "timeline-by" }, step.by)),
    h("p", {}, `${evidence[step.evidence_kind]}: `, h("span", { class: "timeline-evidence" }, step.evidence)),
    step.document ? h("p", {}, h("a", { href: `#/document/${encodeURIComponent(step.document)}` },
      app.t("history_document"))) : null,
    step.reason ? h("p", { class: "timeline-reason" }, `${app.t("history_reason")}: `, step.reason) : null));
  return h("section", { class: "lifecycle", "aria-labelledby": "lifecycle-title" },
    h("h2", { id: "lifecycle-title" }, app.t("history_title")),
    steps.length ? h("ol", { class: "timeline" }, steps) : h("p", { class: "notice" }, app.t("history_none")));
}

const EVIDENCE_KINDS = ["report", "seminar", "publication"];

function stageField(name, label, control, hint = null) {
  control.id = `stage-${name}`;
  control.name = name;
  if (hint) control.setAttribute("aria-describedby", `stage-${name}-hint`);
  return h("div", { class: "field", dataset: { field: name } }, h("label", { for: control.id }, label), control,
    hint ? h("p", { class: "hint", id: `stage-${name}-hint` }, hint) : null);
}

/** Each problem the API reported beside its field (tied to it by aria-describedby); the rest in the alert box. */
function showStageErrors(form, box, errors) {
  for (const el of form.querySelectorAll(".field-error")) el.remove();
  for (const el of form.querySelectorAll("[aria-invalid]")) {
    el.removeAttribute("aria-invalid");
    const hint = el.getAttribute("aria-describedby")?.split(" ").filter((id) => id.endsWith("-hint")).join(" ");
    if (hint) el.setAttribute("aria-describedby", hint);
    else el.removeAttribute("aria-describedby");
  }
  const rest = [];
  let first = null;
  for (const error of errors) {
    const container = form.querySelector(`[data-field="${CSS.escape(String(error.field || ""))}"]`);
    if (!container || container.querySelector(".field-error")) {
      if (!container) rest.push(error.detail);
      continue;
    }
    const control = container.querySelector("input, select, textarea");
    const id = `stage-${error.field}-error`;
    const detail = String(error.detail || "");  // beside its field: the API's "field: " prefix is not needed
    container.append(h("p", { class: "field-error", id }, detail.startsWith(`${error.field}: `)
      ? detail.slice(error.field.length + 2) : detail));
    control.setAttribute("aria-invalid", "true");
    control.setAttribute("aria-describedby", [control.getAttribute("aria-describedby"), id].filter(Boolean).join(" "));
    first ||= control;
  }
  replace(box, rest.length ? h("p", {}, rest.join(" ")) : null);
  first?.focus();
}

/**
 * The API's refusal of the step itself (field "stage": its detail names stage ids in English) in the page's words:
 * the page knows the order and the current stage. A skip or a step back without a reason is also said beside the
 * reason; anything else keeps the API's detail.
 */
function stageProblems(app, catalog, exp, body, errors) {
  const order = catalog.values("stage").map((s) => s.id);
  const from = order.indexOf(exp.stage);
  const to = order.indexOf(body.stage);
  return errors.flatMap((error) => {
    if (error.field !== "stage" || from < 0 || to < 0) return [error];
    if (to === from) return [{ ...error, detail: app.t("stage_err_same") }];
    if (to === from + 1 || body.reason) return [error];
    const name = (id) => catalog.value("stage", id, app.lang);
    const detail = to > from ? app.t("stage_err_skip", { skipped: order.slice(from + 1, to).map(name).join(", ") })
      : app.t("stage_err_back", { stage: name(exp.stage) });
    return [{ ...error, detail }, { field: "reason", error: "missing_field", detail: app.t("stage_err_reason") }];
  });
}

/**
 * With the API key: record the next lifecycle transition (any stage; a skip or a step back needs a reason, which
 * the API checks). `done(exp)` gets the updated experience.
 */
function stageForm(app, catalog, exp, done) {
  const L = app.lang;
  const stages = catalog.values("stage");
  const at = stages.findIndex((s) => s.id === exp.stage);
  const stage = h("select", {}, stages.map((s) => h("option", { value: s.id }, catalog.value("stage", s.id, L))));
  stage.value = stages[Math.min(at + 1, stages.length - 1)]?.id || "";
  const kind = h("select", {}, EVIDENCE_KINDS.map((k) => h("option", { value: k }, app.t(`evidence_${k}`))));
  const box = h("div", { class: "error-box", role: "alert" });
  const status = h("p", { class: "status", role: "status", "aria-live": "polite" });
  const form = h("form", { class: "stage-form", novalidate: true },
    h("h3", {}, app.t("stage_form_title")),
    stageField("stage", app.t("stage_next"), stage),
    stageField("evidence_kind", app.t("stage_evidence_kind"), kind),
    stageField("evidence", app.t("stage_evidence"), h("textarea", { rows: 2, maxlength: 2000 })),
    stageField("by", app.t("history_by"), h("input", { type: "text", maxlength: 200, autocomplete: "name" })),
    stageField("date", app.t("stage_date"), h("input", { type: "date" }), app.t("stage_date_hint")),
    stageField("document", app.t("history_document"), h("input", { type: "text", maxlength: 200 }),
      app.t("stage_document_hint")),
    stageField("reason", app.t("history_reason"), h("textarea", { rows: 2, maxlength: 2000 }),
      app.t("stage_reason_hint")),
    box, h("button", { type: "submit", class: "primary" }, app.t("stage_submit")), status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const body = {};
    for (const [name, value] of data.entries()) {
      const text = String(value).trim();
      if (text) body[name] = text;
    }
    status.textContent = app.t("stage_saving");
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const updated = await app.api.recordStage(exp.id, body);
      status.textContent = app.t("stage_saved");
      done(updated);
    } catch (error) {
      status.textContent = "";
      showStageErrors(form, box, stageProblems(app, catalog, exp, body,
        error.errors || [{ detail: error.detail || error.message }]));
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

/** The lifecycle timeline and, with the key, the form recording the next step (both redrawn after a step). */
function lifecycle(app, catalog, exp, onStage) {
  const section = timeline(app, catalog, exp);
  if (!app.key()) {
    section.append(h("p", { class: "hint stage-key-hint" }, app.t("stage_key_hint"), " ",
      h("a", { href: "#/manage" }, app.t("stage_key_link"))));
    return section;
  }
  section.append(stageForm(app, catalog, exp, (updated) => {
    onStage(updated);
    const next = lifecycle(app, catalog, updated, onStage);
    section.replaceWith(next);
    next.querySelector(".stage-form .status").textContent = app.t("stage_saved");
    next.querySelector("h2")?.setAttribute("tabindex", "-1");
    next.querySelector("h2")?.focus();
  }));
  return section;
}

/** The experience's JSON-LD from the API, as a script element (a text node: nothing is parsed as HTML). */
async function linkedData(app, id, article) {
  try {
    const response = await fetch(`${app.api.base}/api/v1/experiences/${encodeURIComponent(id)}`,
      { headers: { Accept: "application/ld+json" } });
    if (response.ok) article.append(h("script", { type: "application/ld+json" }, await response.text()));
  } catch {
    /* the page works without it */
  }
}

/** Documents have no title of their own: name them by their file. */
export async function nameDocuments(app, items) {
  await Promise.all(items.filter((item) => item.type === "document" && !item.title && !item.titles).map(async (item) => {
    try {
      item.title = basename((await app.api.document(item.doc_id)).source);
    } catch {
      /* keep the id */
    }
  }));
  return items;
}

async function fillSimilar(app, catalog, id, box) {
  try {
    const items = await nameDocuments(app, await app.api.similarTo(id, 6));
    if (!items.length) replace(box, h("p", { class: "notice" }, app.t("similar_none")));
    else replace(box, h("ol", { class: "results" }, items.map((item) => similarCard(app, catalog, item))));
  } catch (error) {
    replace(box, h("div", { class: "error-box", role: "alert" }, error.detail || error.message));
  }
}

/** The experience page; similar projects are filled in when they arrive. */
export async function renderExperience(app, { id }) {
  const [exp, catalog] = await Promise.all([app.api.experience(id), app.catalog()]);
  const lang = exp.language;
  const L = app.lang;
  const technologies = h("ul", { class: "chips" }, exp.technologies.map((tech) =>
    h("li", {}, h("a", { href: `#/technology/${encodeURIComponent(tech)}` }, catalog.tech(tech, L)))));
  const innovation = h("dl", { class: "facts" },
    INNOVATION.map((kind) => fact(catalog.kindName(kind, L), catalog.value(kind, exp.innovation[kind], L))));
  const dissemination = exp.dissemination.length ? h("section", {},
    h("h2", {}, catalog.kindName("dissemination", L)),
    h("ul", { class: "chips" }, exp.dissemination.map((d) => h("li", {}, h("span", {}, catalog.value("dissemination", d, L))))))
    : null;
  const stageFact = fact(catalog.kindName("stage", L), catalog.value("stage", exp.stage, L));
  const similar = h("div", { class: "similar-list", "aria-live": "polite" },
    h("p", { class: "status" }, app.t("loading")));
  const article = h("article", { class: "item experience" },
    h("div", { class: "item-meta" }, typeTag("experience", L), langBadge(lang, L),
      exp.sample ? h("span", { class: "tag tag-document" }, app.t("sample")) : null),
    h("h1", { lang }, exp.title),
    h("p", { class: "lead", lang }, exp.summary),
    h("dl", { class: "facts" },
      fact(app.t("author"), exp.author, lang),
      fact(app.t("organisation"), exp.organisation, lang),
      fact(app.t("region"), catalog.region(exp.region, L)),
      fact(app.t("subject"), catalog.subject(exp.subject, L)),
      fact(app.t("grades"), gradesText(app, exp.grades)),
      fact(app.t("year"), String(exp.year)),
      fact(catalog.kindName("experience_kind", L), catalog.value("experience_kind", exp.experience_kind, L)),
      stageFact,
      fact(app.t("language"), app.t(`lang_${lang}`))),
    h("section", {}, h("h2", {}, app.t("technologies")), technologies),
    textSection(app, "problem", exp.problem, lang),
    textSection(app, "goal", exp.goal, lang),
    textSection(app, "method", exp.method, lang),
    h("section", {}, h("h2", {}, app.t("stages")), h("ol", { lang }, exp.stages.map((s) => h("li", {}, s)))),
    textSection(app, "results", exp.results, lang),
    h("section", {}, h("h2", {}, app.t("innovation")), innovation),
    dissemination,
    lifecycle(app, catalog, exp, (updated) => { stageFact[1].textContent = catalog.value("stage", updated.stage, L); }),
    app.key() ? h("p", { class: "actions" },
      h("a", { class: "button", href: `#/experience/${encodeURIComponent(exp.id)}/edit` }, app.t("edit"))) : null);
  fillSimilar(app, catalog, exp.id, similar);
  linkedData(app, exp.id, article);
  return h("div", {},
    h("a", { class: "back", href: app.lastSearch || "#/" }, app.t("back")),
    h("div", { class: "two-col" }, article,
      h("section", { class: "similar", "aria-labelledby": "similar-title" },
        h("h2", { id: "similar-title" }, app.t("similar_projects")), similar)));
}
