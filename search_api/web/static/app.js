// The search page: interface language, API key, hash routes and the frame around the views.

import { Api } from "./api.js";
import { CARD_CSS } from "./card-style.js";
import { Catalog } from "./catalog.js";
import { h, replace } from "./dom.js";
import { DEFAULT_LANG, UI_LANGS, pickLang, t } from "./strings.js";
import { renderDocument } from "./view-document.js";
import { renderEditor } from "./view-editor.js";
import { renderExperience } from "./view-experience.js";
import { renderGaps } from "./view-gaps.js";
import { renderManage } from "./view-manage.js";
import { renderSearch } from "./view-search.js";
import { renderSimilar } from "./view-similar.js";
import { renderTechnology, renderTree } from "./view-technology.js";

const LANG_STORE = "pedkb.lang";
const KEY_STORE = "pedkb.key";

// [pattern of the hash path, the nav entry it belongs to, the view]
const ROUTES = [
  [/^\/(search)?$/, "search", renderSearch],
  [/^\/experience\/new$/, "manage", renderEditor],
  [/^\/experience\/([^/]+)\/edit$/, "manage", renderEditor],
  [/^\/experience\/([^/]+)$/, "search", renderExperience],
  [/^\/technology\/([^/]+)$/, "tree", renderTechnology],
  [/^\/tree$/, "tree", renderTree],
  [/^\/document\/([^/]+)$/, "search", renderDocument],
  [/^\/manage$/, "manage", renderManage],
  [/^\/gaps$/, "manage", renderGaps],
  [/^\/similar$/, "similar", renderSimilar],
];

function stored(storage, name) {
  try {
    return storage.getItem(name);
  } catch {
    return null; // storage may be disabled; the page still works for this visit
  }
}

function store(storage, name, value) {
  try {
    if (value === null) storage.removeItem(name);
    else storage.setItem(name, value);
  } catch {
    /* not remembered, nothing else to do */
  }
}

function initialLang() {
  const remembered = pickLang(stored(localStorage, LANG_STORE));
  const preferred = (navigator.languages || [navigator.language]).map(pickLang).find(Boolean);
  return remembered || preferred || DEFAULT_LANG;
}

/** What every view gets: the language, the API, names of ids, the key, navigation. */
export const app = {
  lang: initialLang(),
  main: null,
  lastSearch: null,
  catalogPromise: null,
  api: null,
  t(key, values) {
    return t(this.lang, key, values);
  },
  catalog() {
    if (!this.catalogPromise) {
      this.catalogPromise = Catalog.load(this.api);
      this.catalogPromise.catch(() => { this.catalogPromise = null; });
    }
    return this.catalogPromise;
  },
  key() {
    return stored(sessionStorage, KEY_STORE);
  },
  setKey(value) {
    store(sessionStorage, KEY_STORE, value || null);
    showKeyState();
  },
  /** Change the address without rendering again (a search records its query this way). */
  remember(hash) {
    this.lastSearch = hash;
    if (location.hash !== hash) history.pushState(null, "", hash);
  },
  go(hash) {
    if (location.hash === hash) render();
    else location.hash = hash;
  },
};
app.api = new Api("", app.lang, () => app.key());

function showKeyState() {
  document.querySelector(".key-state").hidden = !app.key();
}

function translateFrame() {
  document.documentElement.lang = app.lang;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = app.t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-label]")) {
    el.setAttribute("aria-label", app.t(el.dataset.i18nLabel));
  }
  for (const button of document.querySelectorAll(".lang-switch button")) {
    button.setAttribute("aria-pressed", String(button.dataset.lang === app.lang));
  }
}

function setLang(lang) {
  if (!UI_LANGS.includes(lang) || lang === app.lang) return;
  app.lang = lang;
  app.api.lang = lang;
  store(localStorage, LANG_STORE, lang);
  translateFrame();
  render({ keepFocus: true });
}

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, query = ""] = raw.split("?");
  return { path, query: new URLSearchParams(query) };
}

let renderCount = 0;

/** Render the view the address names; a newer navigation wins over a slower older one. */
async function render({ keepFocus = false } = {}) {
  const ticket = ++renderCount;
  const { path, query } = parseHash();
  const route = ROUTES.map(([pattern, nav, view]) => [path.match(pattern), nav, view]).find(([m]) => m);
  for (const link of document.querySelectorAll(".site-nav a")) {
    if (route && link.dataset.route === route[1]) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const main = app.main;
  const loading = setTimeout(() => {
    if (ticket === renderCount) replace(main, h("p", { class: "status", role: "status" }, app.t("loading")));
  }, 150);
  let view;
  try {
    if (!route) throw new Error(app.t("not_found_page"));
    const [match, , renderView] = route;
    const id = match[1] && !/^search$/.test(match[1]) ? decodeURIComponent(match[1]) : null;
    view = await renderView(app, { id, query });
  } catch (error) {
    view = errorView(error);
  } finally {
    clearTimeout(loading);
  }
  if (ticket !== renderCount) return;
  replace(main, view);
  const heading = main.querySelector("h1");
  document.title = heading ? `${heading.textContent} — pedkb` : "pedkb";
  if (!keepFocus && heading && renderCount > 1) {
    heading.tabIndex = -1;
    heading.focus();
  }
  main.dispatchEvent(new CustomEvent("pedkb:view", { bubbles: true }));
}

function errorView(error) {
  return h("div", {},
    h("h1", {}, app.t("error")),
    h("div", { class: "error-box", role: "alert" }, error.detail || error.message),
    h("p", {}, h("a", { href: "#/" }, app.t("back"))));
}

function start() {
  app.main = document.getElementById("main");
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(CARD_CSS);
  document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
  for (const button of document.querySelectorAll(".lang-switch button")) {
    button.addEventListener("click", () => setLang(button.dataset.lang));
  }
  translateFrame();
  showKeyState();
  window.addEventListener("hashchange", () => render());
  render();
}

start();
