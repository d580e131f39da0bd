// Add or edit an experience (needs the API key); the API's error names the field, which gets the focus.

import { h, replace } from "./dom.js";
import { nameOf } from "./catalog.js";
import { LANGS } from "./strings.js";

const TEXTS = ["summary", "problem", "goal", "method", "results"];
const INNOVATION = ["scale", "significance", "origin", "novelty"];
const EMPTY = {
  id: "", language: "kk", title: "", summary: "", problem: "", goal: "", method: "", stages: [], results: "",
  dissemination: [], author: "", organisation: "", region: "", subject: "", grades: [], technologies: [],
  innovation: { scale: "", significance: "", origin: "", novelty: "" }, experience_kind: "", stage: "", year: 2025,
  sample: false,
};

function field(id, label, control, hint = null) {
  control.id = id;
  if (hint) control.setAttribute("aria-describedby", `${id}-hint`);
  return h("div", { class: "field" }, h("label", { for: id }, label), control,
    hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null);
}

function choice(app, name, options, value) {
  const control = h("select", { name, dataset: { field: name } },
    h("option", { value: "" }, `— ${app.t("choose")} —`), options);
  control.value = value || "";
  return control;
}

function valueOptions(catalog, kind, lang) {
  return catalog.values(kind).map((v) => h("option", { value: v.id }, nameOf(v.labels, lang, v.id)));
}

function boxes(name, items, chosen, legend, lang = null) {
  return h("fieldset", { dataset: { field: name } }, h("legend", {}, legend),
    h("div", { class: "checks" }, items.map(([value, text]) =>
      h("label", {}, h("input", { type: "checkbox", name, value, checked: chosen.includes(value) }),
        h("span", { lang }, text)))));
}

function techPicker(app, catalog, chosen) {
  return h("div", { class: "tech-picker", dataset: { field: "technologies" }, role: "group",
    "aria-labelledby": "technologies-label" },
  catalog.groups.map((group) => boxes("technologies",
    group.technologies.map((t) => [t.id, nameOf(t.labels, app.lang, t.id)]), chosen, nameOf(group.labels, app.lang))));
}

function readRecord(form, base) {
  const data = new FormData(form);
  const text = (name) => String(data.get(name) || "").trim();
  const record = {
    ...(base.id ? {} : { id: text("id") }),
    language: text("language"), title: text("title"),
    stages: text("stages").split("\n").map((s) => s.trim()).filter(Boolean),
    dissemination: data.getAll("dissemination").map(String), author: text("author"),
    organisation: text("organisation"), region: text("region"), subject: text("subject"),
    grades: data.getAll("grades").map(Number), technologies: data.getAll("technologies").map(String),
    innovation: Object.fromEntries(INNOVATION.map((k) => [k, text(`innovation.${k}`)])),
    experience_kind: text("experience_kind"), stage: text("stage"), year: Number(text("year")) || 0,
    sample: Boolean(base.sample),
  };
  for (const name of TEXTS) record[name] = text(name);
  return record;
}

/** Focus the control the API's error names ("title", "technologies[1]", "innovation.scale"). */
function markField(form, name) {
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  if (!name) return;
  const base = name.replace(/\[\d+\]$/, "");
  const el = form.querySelector(`[name="${CSS.escape(base)}"]`) || form.querySelector(`[data-field="${CSS.escape(base)}"]`);
  if (!el) return;
  el.setAttribute("aria-invalid", "true");
  (el.matches("input, select, textarea") ? el : el.querySelector("input, select, textarea"))?.focus();
}

/** The form for a new experience (`#/experience/new`) or an existing one (`#/experience/ID/edit`). */
export async function renderEditor(app, { id }) {
  const L = app.lang;
  if (!app.key()) {
    return h("div", {}, h("h1", {}, app.t(id ? "edit_experience" : "new_experience")),
      h("p", { class: "notice" }, app.t("key_needed"), " ", h("a", { href: "#/manage" }, app.t("nav_manage"))));
  }
  const [catalog, exp] = await Promise.all([app.catalog(), id ? app.api.experience(id) : Promise.resolve(EMPTY)]);
  const input = (name, value, extra = {}) => h("input", { type: "text", name, value, ...extra });
  const area = (name, value, rows = 4) => h("textarea", { name, rows: String(rows) }, value);
  const regions = ["KZ", "KG"].map((country) => h("optgroup", { label: app.t(country === "KZ" ? "country_kz" : "country_kg") },
    catalog.regions.filter((r) => r.country === country).map((r) => h("option", { value: r.id }, nameOf(r.labels, L, r.id)))));
  const subjects = catalog.subjects.map((s) => h("option", { value: s.id }, nameOf(s.labels, L, s.id)));
  const status = h("p", { class: "status", role: "status", "aria-live": "polite" });
  const error = h("div", { class: "error-box", role: "alert" });
  const suggestion = h("p", { class: "hint", "aria-live": "polite" });
  const picker = techPicker(app, catalog, exp.technologies);
  const suggest = h("button", { type: "button", class: "secondary" }, app.t("suggest_technologies"));
  const save = h("button", { type: "submit", class: "primary" }, app.t("save"));
  const form = h("form", { class: "panel editor", novalidate: true },
    id ? null : field("f-id", app.t("field_id"), input("id", "", { pattern: "[a-z0-9]+(-[a-z0-9]+)*", required: true })),
    h("div", { class: "grid-2" },
      field("f-language", app.t("language"), h("select", { name: "language" },
        LANGS.map((lang) => h("option", { value: lang, selected: exp.language === lang }, app.t(`lang_${lang}`))))),
      field("f-year", app.t("year"), input("year", String(exp.year), { type: "number", min: "2015", max: "2026" }))),
    field("f-title", app.t("field_title"), input("title", exp.title)),
    TEXTS.map((name) => field(`f-${name}`, app.t(name), area(name, exp[name], name === "summary" ? 3 : 5))),
    field("f-stages", app.t("stages"), area("stages", exp.stages.join("\n"), 5), app.t("stages_hint")),
    h("div", { class: "grid-2" },
      field("f-author", app.t("author"), input("author", exp.author)),
      field("f-organisation", app.t("organisation"), input("organisation", exp.organisation)),
      field("f-region", app.t("region"), choice(app, "region", regions, exp.region)),
      field("f-subject", app.t("subject"), choice(app, "subject", subjects, exp.subject))),
    boxes("grades", Array.from({ length: 12 }, (_, n) => [String(n), n === 0 ? app.t("grade_0") : String(n)]),
      exp.grades.map(String), app.t("grades")),
    h("h2", { id: "technologies-label" }, app.t("technologies")),
    h("p", { class: "actions" }, suggest), suggestion, picker,
    h("h2", {}, app.t("innovation")),
    h("div", { class: "grid-2" },
      INNOVATION.map((kind) => field(`f-${kind}`, catalog.kindName(kind, L),
        choice(app, `innovation.${kind}`, valueOptions(catalog, kind, L), exp.innovation[kind]))),
      field("f-kind", app.t("experience_kind"),
        choice(app, "experience_kind", valueOptions(catalog, "experience_kind", L), exp.experience_kind)),
      field("f-stage", app.t("stage"), choice(app, "stage", valueOptions(catalog, "stage", L), exp.stage))),
    boxes("dissemination", catalog.values("dissemination").map((v) => [v.id, nameOf(v.labels, L, v.id)]),
      exp.dissemination, app.t("dissemination")),
    error, status,
    h("p", { class: "actions" }, save,
      h("a", { class: "button secondary", href: id ? `#/experience/${encodeURIComponent(id)}` : "#/manage" },
        app.t("cancel"))));

  suggest.addEventListener("click", async () => {
    const text = ["title", ...TEXTS].map((name) => form.elements[name].value).join("\n").trim();
    if (!text) return;
    suggestion.textContent = app.t("loading");
    try {
      const found = await app.api.classify(text, 3);
      for (const item of found) {
        const box = picker.querySelector(`input[value="${CSS.escape(item.technology_id)}"]`);
        if (box) box.checked = true;
      }
      suggestion.textContent = app.t("suggested", { list: found.map((s) => catalog.tech(s.technology_id, L)).join(", ") });
    } catch (err) {
      suggestion.textContent = err.detail || err.message;
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.replaceChildren();
    save.disabled = true;
    status.textContent = app.t("saving");
    try {
      const record = readRecord(form, exp);
      const saved = id ? await app.api.updateExperience(id, record) : await app.api.createExperience(record);
      status.textContent = app.t("saved");
      app.go(`#/experience/${encodeURIComponent(saved.id)}`);
    } catch (err) {
      status.textContent = "";
      replace(error, h("strong", {}, `${app.t("error")}: `), err.detail || err.message,
        err.field ? ` (${app.t("error_field", { field: err.field })})` : "");
      markField(form, err.field);
    } finally {
      save.disabled = false;
    }
  });
  return h("div", {},
    h("a", { class: "back", href: id ? `#/experience/${encodeURIComponent(id)}` : "#/manage" }, `← ${app.t("cancel")}`),
    h("h1", {}, app.t(id ? "edit_experience" : "new_experience")),
    id ? h("p", { class: "hint" }, id) : null, form);
}
