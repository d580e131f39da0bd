// Add or edit an experience (needs the API key). Every invalid field the API reports is shown at once beside the
// field, in the page's language; the form is kept as a draft in this browser until it is saved.

import { h, replace } from "./dom.js";
import { nameOf } from "./catalog.js";
import { LANGS } from "./strings.js";

const DRAFT_STORE = "pedkb.draft."; // + "new" or the experience id
// Fields chosen from a list (the message says "choose"), and lists needing at least one item.
const CHOSEN = new Set(["language", "region", "subject", "experience_kind", "stage", "innovation.scale",
  "innovation.significance", "innovation.origin", "innovation.novelty", "dissemination"]);
const LISTS = new Set(["grades", "technologies", "stages"]);

const TEXTS = ["summary", "problem", "goal", "method", "results"];
const INNOVATION = ["scale", "significance", "origin", "novelty"];
const EMPTY = {
  id: "", language: "", title: "", summary: "", problem: "", goal: "", method: "", stages: [], results: "",
  dissemination: [], author: "", organisation: "", region: "", subject: "", grades: [], technologies: [],
  innovation: { scale: "", significance: "", origin: "", novelty: "" }, experience_kind: "", stage: "", year: 2025,
  sample: false,
};

function field(id, label, control, hint = null) {
  control.id = id;
  if (hint) control.setAttribute("aria-describedby", `${id}-hint`);
  control.dataset.describedby = hint ? `${id}-hint` : "";
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
    language: text("language"), title: text("title"),
    stages: text("stages").split("\n").map((s) => s.trim()).filter(Boolean),
    dissemination: data.getAll("dissemination").map(String), author: text("author"),
    organisation: text("organisation"), region: text("region"), subject: text("subject"),
    grades: data.getAll("grades").map(Number), technologies: data.getAll("technologies").map(String),
    innovation: Object.fromEntries(INNOVATION.map((k) => [k, text(`innovation.${k}`)])),
    experience_kind: text("experience_kind"), stage: text("stage"), year: Number(text("year")) || 0,
    sample: Boolean(base.sample),
  };
  if (!base.id && text("id")) record.id = text("id"); // left empty: the server makes an id from the title
  for (const name of TEXTS) record[name] = text(name);
  return record;
}

function readDraft(key) {
  try {
    const draft = JSON.parse(localStorage.getItem(DRAFT_STORE + key) || "null");
    return draft && typeof draft === "object" && draft.record ? draft : null;
  } catch {
    return null; // no storage, or not ours
  }
}

function writeDraft(key, record) {
  try {
    if (record === null) localStorage.removeItem(DRAFT_STORE + key);
    else localStorage.setItem(DRAFT_STORE + key, JSON.stringify({ saved: new Date().toISOString(), record }));
  } catch {
    /* storage full or disabled: the form itself still holds the text */
  }
}

/** The page's sentence for one API error about `base` (a field without its [index]); the API's own otherwise. */
function errorText(app, error, base) {
  const kind = error.error;
  if (base === "id" && (kind === "invalid_value" || kind === "too_long")) return app.t("err_id");
  if (base === "id" && kind === "conflict") return app.t("err_id_taken");
  if (base === "year" && ["too_small", "too_large", "invalid_value", "missing_field"].includes(kind)) {
    return app.t("err_year", { min: 2015, max: 2026 });
  }
  if (["missing_field", "empty_value", "too_short"].includes(kind) || (kind === "invalid_value" && CHOSEN.has(base))) {
    if (LISTS.has(base)) return app.t(base === "stages" ? "err_stages" : "err_choose_one");
    return app.t(CHOSEN.has(base) ? "err_choose" : "err_required");
  }
  if (kind === "too_long") return app.t("err_too_long");
  return error.detail;
}

/** The control and the box of a field name ("title", "technologies[1]", "innovation.scale"). */
function locate(form, name) {
  const base = String(name || "").replace(/\[\d+\]$/, "");
  const control = form.querySelector(`[name="${CSS.escape(base)}"]`);
  const box = form.querySelector(`[data-field="${CSS.escape(base)}"]`);
  const container = box && box.matches("fieldset, .tech-picker") ? box : control?.closest(".field, fieldset");
  return { base, control, container };
}

function clearErrors(form) {
  for (const el of form.querySelectorAll(".field-error")) el.remove();
  for (const el of form.querySelectorAll("[aria-invalid]")) {
    el.removeAttribute("aria-invalid");
    el.setAttribute("aria-describedby", el.dataset.describedby || "");
    if (!el.dataset.describedby) el.removeAttribute("aria-describedby");
  }
}

/**
 * Show every error beside its field (a message tied to the control by aria-describedby) and list them all in the
 * alert box as links to the fields; the first invalid control gets the focus.
 */
function showErrors(app, form, box, errors) {
  clearErrors(form);
  const listed = [];
  const seen = new Set();
  let first = null;
  for (const error of errors) {
    const { base, control, container } = locate(form, error.field);
    const message = errorText(app, error, base);
    if (!container || seen.has(base)) {
      if (!container) listed.push(h("li", {}, message));
      continue;
    }
    seen.add(base);
    const id = `err-${base.replace(/[^a-z0-9]/gi, "-")}`;
    const note = h("p", { class: "field-error", id }, message);
    container.append(note);
    const target = container.matches("fieldset, .tech-picker") ? container.querySelector("input") : control;
    for (const el of container.matches("fieldset, .tech-picker") ? [container] : [control]) {
      el.setAttribute("aria-invalid", "true");
      el.setAttribute("aria-describedby", [el.dataset.describedby, id].filter(Boolean).join(" "));
    }
    const label = container.querySelector("legend, label")?.textContent || base;
    const name = container.matches(".tech-picker") ? app.t("technologies") : label;
    listed.push(h("li", {}, h("a", { href: `#${id}`, onclick: (event) => {
      event.preventDefault();
      target?.focus();
    } }, name), `: ${message}`));
    first ||= target;
  }
  replace(box, h("p", {}, h("strong", {}, app.t("err_summary", { n: listed.length }))), h("ul", {}, listed));
  (first || box).focus?.();
}

/** The form for a new experience (`#/experience/new`) or an existing one (`#/experience/ID/edit`). */
export async function renderEditor(app, { id }) {
  const L = app.lang;
  if (!app.key()) {
    return h("div", {}, h("h1", {}, app.t(id ? "edit_experience" : "new_experience")),
      h("p", { class: "notice" }, app.t("key_needed"), " ", h("a", { href: "#/manage" }, app.t("nav_manage"))));
  }
  const draftKey = id || "new";
  const [catalog, stored] = await Promise.all([app.catalog(),
    id ? app.api.experience(id) : Promise.resolve({ ...EMPTY, language: LANGS.includes(L) ? L : "" })]);
  const draft = readDraft(draftKey);
  const exp = draft ? { ...stored, ...draft.record, id: stored.id || draft.record.id || "" } : stored;
  const input = (name, value, extra = {}) => h("input", { type: "text", name, value, ...extra });
  const area = (name, value, rows = 4) => h("textarea", { name, rows: String(rows) }, value);
  const regions = ["KZ", "KG"].map((country) => h("optgroup", { label: app.t(country === "KZ" ? "country_kz" : "country_kg") },
    catalog.regions.filter((r) => r.country === country).map((r) => h("option", { value: r.id }, nameOf(r.labels, L, r.id)))));
  const subjects = catalog.subjects.map((s) => h("option", { value: s.id }, nameOf(s.labels, L, s.id)));
  const status = h("p", { class: "status", role: "status", "aria-live": "polite" });
  const error = h("div", { class: "error-box", role: "alert", tabindex: "-1", id: "editor-errors" });
  const suggestion = h("p", { class: "hint", "aria-live": "polite" });
  const picker = techPicker(app, catalog, exp.technologies);
  const suggest = h("button", { type: "button", class: "secondary" }, app.t("suggest_technologies"));
  const save = h("button", { type: "submit", class: "primary" }, app.t("save"));
  const discard = h("button", { type: "button", class: "secondary small" }, app.t("draft_discard"));
  const draftNote = draft ? h("div", { class: "notice draft-note", role: "status" },
    app.t("draft_restored", { time: new Date(draft.saved).toLocaleString(L) }), " ", discard) : null;
  const form = h("form", { class: "panel editor", novalidate: true },
    id ? null : field("f-id", app.t("field_id_optional"), input("id", exp.id || "", { autocomplete: "off" }),
      app.t("field_id_hint")),
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
        app.t("cancel"))),
    h("p", { class: "hint" }, app.t("draft_hint")));

  const keep = () => writeDraft(draftKey, { ...readRecord(form, stored), id: form.elements.id?.value || undefined });
  form.addEventListener("input", keep);
  form.addEventListener("change", keep);
  discard.addEventListener("click", () => {
    writeDraft(draftKey, null);
    app.go(location.hash);
  });
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
      keep();
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
    const record = readRecord(form, stored);
    keep(); // a failed save (an error, the network, a closed tab) loses nothing
    try {
      const saved = id ? await app.api.updateExperience(id, record) : await app.api.createExperience(record);
      writeDraft(draftKey, null);
      clearErrors(form);
      status.textContent = app.t("saved");
      app.go(`#/experience/${encodeURIComponent(saved.id)}`);
    } catch (err) {
      status.textContent = "";
      const errors = err.kind === "conflict" && !id ? [{ error: "conflict", field: "id", detail: err.detail }]
        : err.errors || [{ error: err.kind, detail: err.detail || err.message, field: err.field }];
      showErrors(app, form, error, errors);
    } finally {
      save.disabled = false;
    }
  });
  return h("div", {},
    h("a", { class: "back", href: id ? `#/experience/${encodeURIComponent(id)}` : "#/manage" }, `← ${app.t("cancel")}`),
    h("h1", {}, app.t(id ? "edit_experience" : "new_experience")),
    id ? h("p", { class: "hint" }, id) : null, draftNote, form);
}
