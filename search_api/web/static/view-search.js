// The search view: a query in any of the three languages, filters, results grouped by type, more on demand.

import { h, replace } from "./dom.js";
import { nameOf } from "./catalog.js";
import { ResultList } from "./results.js";
import { pause, queryString, startingDelay } from "./api.js";
import { LANGS } from "./strings.js";

const PAGE = 10;
const EXPORT_MAX = 100; // the API's default most results per request: an export holds at most this many
const MULTI = ["type", "lang"];
const SINGLE = ["group", "region", "subject", "grade", "technology"];
const FACETS = ["type", "lang", "technology", "region", "subject", "grade"];
const FACET_VALUES = 6; // values shown per facet
const EXAMPLES = [
  ["kk", "жас мұғалімдерге тәлімгерлік"],
  ["ru", "проектный метод в сельской школе"],
  ["ky", "сынчыл ой жүгүртүү стратегиялары"],
];

/** The query and filters an address holds (`#/search?q=...&type=experience&lang=kk`). */
export function readParams(query) {
  const params = { q: (query.get("q") || "").trim() };
  for (const name of MULTI) params[name] = query.getAll(name).filter(Boolean);
  for (const name of SINGLE) params[name] = query.get(name) || "";
  return params;
}

function toHash(params) {
  const search = new URLSearchParams();
  if (params.q) search.set("q", params.q);
  for (const name of MULTI) for (const value of params[name]) search.append(name, value);
  for (const name of SINGLE) if (params[name]) search.set(name, params[name]);
  return `#/search?${search}`;
}

function filtersOf(params) {
  const filters = {};
  for (const name of [...MULTI, ...SINGLE]) {
    const value = params[name];
    if (Array.isArray(value) ? value.length : value) filters[name] = value;
  }
  return filters;
}

/** How many filters the search has (the summary's count; "nothing close" under filters says so). */
function activeFilters(params) {
  return Object.keys(filtersOf(params)).length;
}

function checks(app, name, values, chosen, label) {
  return h("fieldset", {},
    h("legend", {}, app.t(label)),
    h("div", { class: "checks" }, values.map(([value, text, lang]) =>
      h("label", {}, h("input", { type: "checkbox", name, value, form: "search-form", checked: chosen.includes(value) }),
        h("span", { lang }, text)))));
}

function select(app, name, label, options, chosen) {
  const id = `filter-${name}`;
  const control = h("select", { id, name, form: "search-form" }, h("option", { value: "" }, app.t("filter_any")), options);
  control.value = chosen;
  return h("div", { class: "field" }, h("label", { for: id }, app.t(label)), control);
}

function option(value, text, chosen) {
  return h("option", { value, selected: value === chosen }, text);
}

function filterPanel(app, catalog, params) {
  const lang = app.lang;
  const regions = ["KZ", "KG"].map((country) =>
    h("optgroup", { label: app.t(country === "KZ" ? "country_kz" : "country_kg") },
      catalog.regions.filter((r) => r.country === country)
        .map((r) => option(r.id, nameOf(r.labels, lang, r.id), params.region))));
  const subjects = [...catalog.subjects].sort((a, b) => nameOf(a.labels, lang).localeCompare(nameOf(b.labels, lang), lang))
    .map((s) => option(s.id, nameOf(s.labels, lang, s.id), params.subject));
  const groups = catalog.groups.map((g) => option(g.id, nameOf(g.labels, lang, g.id), params.group));
  const grades = Array.from({ length: 12 }, (_, n) =>
    option(String(n), n === 0 ? app.t("grade_0") : app.t("grade_n", { n }), params.grade));
  const active = activeFilters(params);
  const details = h("details", { class: "filters", open: window.innerWidth >= 896 },
    h("summary", {}, active ? app.t("filters_active", { n: active }) : app.t("filters")),
    checks(app, "type", ["experience", "technology", "document"].map((v) => [v, app.t(`type_${v}`)]), params.type,
      "filter_type"),
    checks(app, "lang", LANGS.map((v) => [v, app.t(`lang_${v}`)]), params.lang, "filter_lang"),
    select(app, "group", "filter_group", groups, params.group),
    select(app, "region", "filter_region", regions, params.region),
    select(app, "subject", "filter_subject", subjects, params.subject),
    select(app, "grade", "filter_grade", grades, params.grade),
    h("p", { class: "hint" }, app.t("filters_note")),
    h("button", { type: "button", class: "link clear-filters" }, app.t("filters_clear")));
  return h("aside", {}, details);
}

/** A facet value's name in the interface language. */
function facetName(app, catalog, facet, value) {
  if (facet === "type") return app.t(`type_${value}`);
  if (facet === "lang") return LANGS.includes(value) ? app.t(`lang_${value}`) : value;
  if (facet === "technology") return catalog.tech(value, app.lang);
  if (facet === "region") return catalog.region(value, app.lang);
  if (facet === "subject") return catalog.subject(value, app.lang);
  if (facet === "grade") return value === "0" ? app.t("grade_0") : app.t("grade_n", { n: value });
  return value;
}

/** Facet counts of the current query as buttons; choosing one narrows the search to that value. */
function facetBlock(app, catalog, facets, choose) {
  // a type or language facet with one value narrows nothing; any technology, region, subject or grade does
  const useful = (facet) => Object.keys(facets?.[facet] || {}).length > (facet === "type" || facet === "lang" ? 1 : 0);
  const rows = FACETS.filter(useful).map((facet) => h("div", { class: "facet", dataset: { facet } },
      h("span", { class: "facet-name" }, `${app.t(`filter_${facet}`)}:`),
      Object.entries(facets[facet]).slice(0, FACET_VALUES).map(([value, count]) =>
        h("button", { type: "button", class: "chip", dataset: { facet, value },
          onclick: () => choose(facet, value) },
          facetName(app, catalog, facet, value), " ", h("span", { class: "count" }, `(${count})`)))));
  return rows.length ? h("div", { class: "facets", role: "group", "aria-label": app.t("facets_title") },
    h("p", { class: "facets-title" }, app.t("facets_title")), rows) : null;
}

/**
 * The search's API address for a file of the results shown so far (from the first, at most EXPORT_MAX), with
 * titles in the page's language.
 */
function exportHref(app, current, shown, format) {
  return `${app.api.base}/api/v1/search${queryString({ q: current.q, k: Math.min(Math.max(shown, PAGE), EXPORT_MAX),
    offset: 0, ...filtersOf(current), group_by: "item", format, ui_lang: app.lang })}`;
}

function readForm(form) {
  const data = new FormData(form);
  const params = { q: String(data.get("q") || "").trim() };
  for (const name of MULTI) params[name] = data.getAll(name).map(String);
  for (const name of SINGLE) params[name] = String(data.get(name) || "");
  return params;
}

async function intro(app) {
  const examples = h("p", { class: "examples" }, h("span", {}, app.t("examples")),
    EXAMPLES.map(([lang, text]) => h("button", { type: "button", lang, dataset: { example: text } }, text)));
  const box = h("div", { class: "intro" }, h("p", {}, app.t("search_intro")), examples);
  try {
    const stats = await app.api.stats();
    const docs = stats.documents || {};
    box.append(h("p", { class: "hint" }, app.t("stats_line", {
      experiences: docs.experience ?? stats.experiences ?? 0, technologies: docs.technology ?? 0,
      documents: docs.document ?? 0,
    })));
  } catch {
    /* the counts are a nicety; the search works without them */
  }
  return box;
}

/** The search page for the address's query and filters (runs the search when there is a query). */
export async function renderSearch(app, { query }) {
  const catalog = await app.catalog();
  const params = readParams(query);
  app.lastSearch = params.q ? toHash(params) : null;
  const input = h("input", { id: "q", name: "q", type: "search", value: params.q, autocomplete: "off",
    placeholder: app.t("search_placeholder"), spellcheck: "false" });
  const form = h("form", { id: "search-form", class: "search-form", role: "search" },
    h("label", { for: "q" }, app.t("search_label")),
    h("div", { class: "search-row" }, input, h("button", { type: "submit", class: "primary" }, app.t("search_button"))));
  const status = h("p", { id: "result-status", class: "status", role: "status", "aria-live": "polite" });
  const suggestion = h("p", { class: "did-you-mean", hidden: true });
  const csv = h("a", { class: "export-csv", download: "", type: "text/csv" }, "CSV");
  const ris = h("a", { class: "export-ris", download: "", type: "application/x-research-info-systems" }, "RIS");
  const exports = h("p", { class: "export-links", hidden: true }, `${app.t("export_label")} `, csv, " · ", ris);
  const facets = h("div", { class: "facet-area" });
  const technology = h("input", { type: "hidden", hidden: true, name: "technology", form: "search-form",
    value: params.technology });
  const error = h("div", { class: "error-box", role: "alert" });
  const groups = h("div", { class: "result-groups" });
  const more = h("button", { type: "button", class: "secondary more", hidden: true }, app.t("results_more"));
  const list = new ResultList(groups, { lang: app.lang, catalog }, { grouped: true });
  let searchId = null; // this answer in the search log: opening a result tells it (docs/analytics.md)
  groups.addEventListener("click", (event) => {
    if (event.target.closest("a")) app.api.opened(searchId, event.target.closest(".card")?.dataset.docId);
  });
  const aside = filterPanel(app, catalog, params);
  const start = params.q ? null : await intro(app);
  let current = params;
  let next = null;
  let ticket = 0;

  async function run(offset) {
    const mine = ++ticket;
    error.replaceChildren();
    more.hidden = true;
    exports.hidden = true;
    if (offset === 0) {
      suggestion.hidden = true;
      facets.replaceChildren();
    }
    if (!current.q) {
      list.clear();
      status.textContent = app.t("query_needed");
      return;
    }
    try {
      const page = await searchWhenReady(mine, offset);
      if (!page) return;
      if (offset === 0) searchId = page.search_id ?? null;
      if (offset === 0) list.clear();
      const added = list.add(page.results);
      if (offset > 0) added?.querySelector("a")?.focus();
      next = page.next_offset;
      more.hidden = next === null || next === undefined;
      const total = page.total ?? list.size;
      // under a filter "nothing close" is about what the filter keeps: removing filters may find something
      status.textContent = page.no_close_match
        ? app.t(activeFilters(current) ? "no_close_match_filtered" : "no_close_match")
        : list.size ? app.t(page.total_is_estimate ? "results_total_estimate" : "results_total", { n: total })
          : app.t("no_results");
      status.dataset.state = list.size ? "results" : "empty";
      csv.href = exportHref(app, current, offset + PAGE, "csv");
      ris.href = exportHref(app, current, offset + PAGE, "ris");
      exports.hidden = !list.size;
      if (offset === 0 && page.did_you_mean) {
        replace(suggestion, `${app.t("did_you_mean")} `,
          h("button", { type: "button", class: "link", lang: "", onclick: () => {
            input.value = page.did_you_mean;
            submit();
          } }, page.did_you_mean));
        suggestion.hidden = false;
      }
      if (offset === 0) replace(facets, facetBlock(app, catalog, page.facets, narrow));
    } catch (err) {
      if (mine !== ticket) return;
      status.textContent = "";
      status.dataset.state = "error";
      replace(error, h("strong", {}, `${app.t("error")}: `), err.detail || err.message,
        err.field ? ` (${app.t("error_field", { field: err.field })})` : "");
    }
  }

  /**
   * The page of results once the service answers it; null if superseded. A worker still warming up answers 503
   * "starting" even after another worker said ready (`serve --workers N`): the page says so, waits Retry-After
   * and asks again.
   */
  async function searchWhenReady(mine, offset) {
    for (;;) {
      if (!(await serviceReady(mine))) return null;
      status.textContent = app.t("searching");
      status.dataset.state = "searching";
      try {
        const page = await app.api.search(current.q, filtersOf(current), offset, PAGE);
        return mine === ticket ? page : null;
      } catch (err) {
        const delay = startingDelay(err);
        if (delay === null) throw err;
        if (mine !== ticket) return null;
        app.api.warm = false;
        status.textContent = app.t("service_starting");
        status.dataset.state = "starting";
        await pause(delay);
      }
    }
  }

  /** Wait while the service starts (saying so) instead of sending a search that would hang; false if superseded. */
  async function serviceReady(mine) {
    for (;;) {
      const state = await app.api.readiness();
      if (mine !== ticket) return false;
      if (state.ready) return true;
      status.textContent = app.t("service_starting");
      status.dataset.state = "starting";
      await pause(state.retryAfter);
      if (mine !== ticket) return false;
    }
  }

  function narrow(facet, value) {
    if (facet === "type" || facet === "lang") {
      for (const box of aside.querySelectorAll(`input[name=${facet}]`)) box.checked = box.value === value;
    } else if (facet === "technology") {
      technology.value = value;
    } else {
      const control = aside.querySelector(`select[name=${facet}]`);
      if (control) control.value = value;
    }
    submit();
  }

  function submit() {
    current = readForm(form);
    app.remember(toHash(current));
    const summary = aside.querySelector("summary");
    const active = activeFilters(current);
    summary.textContent = active ? app.t("filters_active", { n: active }) : app.t("filters");
    start?.remove();
    run(0);
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  aside.addEventListener("change", () => {
    if (input.value.trim()) submit();
  });
  aside.querySelector(".clear-filters").addEventListener("click", () => {
    for (const box of aside.querySelectorAll("input[type=checkbox]")) box.checked = false;
    for (const control of aside.querySelectorAll("select")) control.value = "";
    technology.value = "";
    submit();
  });
  more.addEventListener("click", () => run(next));
  start?.addEventListener("click", (event) => {
    const example = event.target.closest("[data-example]");
    if (!example) return;
    input.value = example.dataset.example;
    submit();
  });

  const view = h("div", { class: "search-view" },
    h("h1", {}, app.t("search_title")), form, technology,
    h("div", { class: "search-layout" }, aside,
      h("div", { class: "search-results" }, start, status, exports, suggestion, error, facets, groups, more)));
  if (params.q) setTimeout(() => run(0), 0);
  return view;
}
