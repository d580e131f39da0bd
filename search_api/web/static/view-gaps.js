// The methodist's gap report: searches and unmet searches over time (a uPlot chart served from the package), and
// the unmet searches grouped by meaning with their languages, regions and nearest technologies; CSV export.

import { h, replace } from "./dom.js";
import { LANGS } from "./strings.js";

const CHART_SCRIPT = "/ui/vendor/uplot.iife.min.js";
const CHART_STYLE = "/ui/vendor/uplot.min.css";
const DAY = 86400;
let chartLibrary = null;

/** uPlot, loaded once from the package (a classic script defining `window.uPlot`, plus its stylesheet). */
function loadChart() {
  if (!chartLibrary) {
    chartLibrary = new Promise((resolve, reject) => {
      document.head.append(h("link", { rel: "stylesheet", href: CHART_STYLE }));
      const script = h("script", { src: CHART_SCRIPT });
      script.addEventListener("load", () => resolve(window.uPlot));
      script.addEventListener("error", () => {
        chartLibrary = null;
        reject(new Error(CHART_SCRIPT));
      });
      document.head.append(script);
    });
  }
  return chartLibrary;
}

/** Seconds since the epoch of a UTC day ("2026-05-28"). */
function dayStart(day) {
  return Date.parse(`${day}T00:00:00Z`) / 1000;
}

/** Counts per day, or summed per ISO week (Monday first), as uPlot's columns [x, searches, unmet]. */
export function series(days, unit) {
  const buckets = new Map();
  for (const { day, searches, unmet } of days) {
    let x = dayStart(day);
    if (unit === "week") x -= ((new Date(x * 1000).getUTCDay() + 6) % 7) * DAY;
    const bucket = buckets.get(x) || [0, 0];
    bucket[0] += searches;
    bucket[1] += unmet;
    buckets.set(x, bucket);
  }
  const xs = [...buckets.keys()].sort((a, b) => a - b);
  return [xs, xs.map((x) => buckets.get(x)[0]), xs.map((x) => buckets.get(x)[1])];
}

function chartPanel(app, report) {
  const area = h("div", { class: "gaps-chart", role: "img", "aria-label": app.t("gaps_chart_label",
    { searches: report.searches, unmet: report.unmet }) });
  const unit = h("select", { id: "gaps-unit", name: "unit" },
    h("option", { value: "day" }, app.t("gaps_per_day")), h("option", { value: "week" }, app.t("gaps_per_week")));
  let plot = null;
  async function draw() {
    const uPlot = await loadChart();
    plot?.destroy();
    const data = series(report.days, unit.value);
    area.dataset.points = String(data[0].length);
    area.dataset.unit = unit.value;
    plot = new uPlot({
      width: Math.max(320, Math.min(area.clientWidth || 800, 1100)), height: 260,
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max) * 1.1] } },
      series: [{ label: app.t("gaps_unit") },
        { label: app.t("gaps_series_searches"), stroke: "#1d5fa8", width: 2, points: { show: true } },
        { label: app.t("gaps_series_unmet"), stroke: "#b3261e", width: 2, points: { show: true } }],
      axes: [{}, { label: app.t("gaps_axis_count") }],
    }, data, area);
  }
  unit.addEventListener("change", () => draw());
  queueMicrotask(() => draw().catch((error) => replace(area, h("p", { class: "error-box" }, error.message))));
  return h("section", { class: "panel", "aria-labelledby": "gaps-chart-title" },
    h("h2", { id: "gaps-chart-title" }, app.t("gaps_chart_title")),
    h("div", { class: "field gaps-unit" }, h("label", { for: "gaps-unit" }, app.t("gaps_unit")), unit), area);
}

function counts(map, name = (k) => k) {
  return Object.entries(map).map(([key, n]) => `${name(key)}: ${n}`).join(", ");
}

function groupTable(app, catalog, report) {
  if (!report.groups.length) return h("p", { class: "notice" }, app.t("gaps_none"));
  const region = (id) => (id ? catalog.region(id, app.lang) : app.t("gaps_no_region"));
  return h("div", { class: "table-wrap" }, h("table", { class: "gaps-table" },
    h("thead", {}, h("tr", {}, ["gaps_col_searches", "gaps_col_examples", "gaps_col_languages", "gaps_col_regions",
      "gaps_col_technologies"].map((key) => h("th", { scope: "col" }, app.t(key))))),
    h("tbody", {}, report.groups.map((group) => h("tr", {},
      h("td", {}, String(group.searches), h("br"), h("small", {}, app.t("gaps_no_match_n", { n: group.no_close_match }))),
      h("td", {}, h("ul", { class: "gaps-examples" }, group.examples.map(([text, n]) => h("li", {}, `${text} (${n})`)))),
      h("td", {}, counts(group.languages)),
      h("td", {}, counts(group.regions, region)),
      h("td", {}, group.technologies.map((tech, i) => [i ? ", " : "",
        h("a", { href: `#/technology/${encodeURIComponent(tech.id)}` }, catalog.tech(tech.id, app.lang))])))))));
}

function filterForm(app, params) {
  const since = h("input", { id: "gaps-since", name: "since", type: "date", value: params.get("since") || "" });
  const lang = h("select", { id: "gaps-lang", name: "lang" }, h("option", { value: "" }, app.t("gaps_all_languages")),
    LANGS.map((code) => h("option", { value: code, selected: params.get("lang") === code }, app.t(`lang_${code}`))));
  const form = h("form", { class: "inline-form gaps-filters" },
    h("div", { class: "field" }, h("label", { for: "gaps-since" }, app.t("gaps_since")), since),
    h("div", { class: "field" }, h("label", { for: "gaps-lang" }, app.t("gaps_lang")), lang),
    h("button", { type: "submit", class: "primary" }, app.t("gaps_show")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = new URLSearchParams();
    if (since.value) chosen.set("since", since.value);
    if (lang.value) chosen.set("lang", lang.value);
    app.go(`#/gaps${chosen.size ? `?${chosen}` : ""}`);
  });
  return form;
}

function csvButton(app, params) {
  const status = h("span", { class: "status", role: "status" });
  const button = h("button", { type: "button", class: "secondary", id: "gaps-csv" }, app.t("gaps_csv"));
  button.addEventListener("click", async () => {
    try {
      const text = await app.api.gapsCsv(params);
      const link = h("a", { href: URL.createObjectURL(new Blob([text], { type: "text/csv" })),
        download: "pedkb-gaps.csv" });
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    } catch (error) {
      status.textContent = error.detail || error.message;
    }
  });
  return h("p", {}, button, " ", status);
}

/** The gap report page (#/gaps?since=&lang=), for methodists with an API key. */
export async function renderGaps(app, { query }) {
  const title = h("h1", {}, app.t("gaps_title"));
  const intro = h("p", { class: "intro" }, app.t("gaps_intro"));
  if (!app.key()) {
    return h("div", {}, title, intro,
      h("p", { class: "notice" }, app.t("gaps_need_key"), " ", h("a", { href: "#/manage" }, app.t("nav_manage"))));
  }
  const params = Object.fromEntries([...query].filter(([name]) => name === "since" || name === "lang"));
  const [catalog, report] = await Promise.all([app.catalog(), app.api.gaps(params)]);
  return h("div", {}, title, intro, filterForm(app, query),
    h("p", { id: "gaps-summary", class: "status" }, app.t("gaps_summary",
      { searches: report.searches, unmet: report.unmet, groups: report.groups.length })),
    chartPanel(app, report),
    h("section", { class: "panel", "aria-labelledby": "gaps-groups-title" },
      h("h2", { id: "gaps-groups-title" }, app.t("gaps_groups_title")), csvButton(app, params),
      groupTable(app, catalog, report)));
}

/** The link to this page from the methodist's section. */
export function gapsLink(app) {
  return h("section", { class: "panel", "aria-labelledby": "gaps-link-title" },
    h("h2", { id: "gaps-link-title" }, app.t("gaps_title")), h("p", {}, app.t("gaps_intro")),
    h("p", {}, h("a", { class: "button", href: "#/gaps" }, app.t("gaps_open"))));
}
