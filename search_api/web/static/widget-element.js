// <pedkb-search>: the search box a portal embeds. It lives in a shadow root with its own styles, calls pedkb's
// API across origins (CORS) and links results to pedkb's page. Attributes: api, lang, type, region, subject,
// grade, group, technology, filter-lang (comma-separated for several values), k, and `similar` (a second tab:
// "similar projects" for a pasted description or a file, which is read by pedkb and not stored).

import { Api, pause, startingDelay } from "./api.js";
import { CARD_CSS } from "./card-style.js";
import { Catalog } from "./catalog.js";
import { h, replace } from "./dom.js";
import { ResultList } from "./results.js";
import { similarPanel } from "./similar-panel.js";
import { DEFAULT_LANG, pickLang, t } from "./strings.js";
import { WIDGET_CSS } from "./widget-style.js";

export const FILTERS = ["type", "region", "subject", "grade", "group", "technology"];

function styleSheets(shadow) {
  try {
    shadow.adoptedStyleSheets = [WIDGET_CSS, CARD_CSS].map((css) => {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      return sheet;
    });
  } catch {
    shadow.append(h("style", {}, WIDGET_CSS + CARD_CSS)); // browsers without constructable style sheets
  }
}

function list(value) {
  return String(value || "").split(",").map((s) => s.trim()).filter(Boolean);
}

/** Define <pedkb-search> once; `root` is where pedkb is (the widget script's own folder). */
export function defineWidget(root) {
  if (customElements.get("pedkb-search")) return;

  class PedkbSearch extends HTMLElement {
    static get observedAttributes() {
      return ["lang", "api", ...FILTERS, "filter-lang", "k", "similar"];
    }

    connectedCallback() {
      if (!this.shadowRoot) this.build();
    }

    attributeChangedCallback() {
      if (this.shadowRoot) this.build();
    }

    get uiLang() {
      return pickLang(this.getAttribute("lang")) || pickLang(document.documentElement.lang) || DEFAULT_LANG;
    }

    get apiBase() {
      return (this.getAttribute("api") || root).replace(/\/+$/, "");
    }

    /** The fixed filters the portal set. */
    filters() {
      const filters = {};
      for (const name of FILTERS) if (list(this.getAttribute(name)).length) filters[name] = list(this.getAttribute(name));
      const langs = list(this.getAttribute("filter-lang"));
      if (langs.length) filters.lang = langs;
      return filters;
    }

    build() {
      const shadow = this.shadowRoot || this.attachShadow({ mode: "open" });
      shadow.replaceChildren();
      styleSheets(shadow);
      const lang = this.uiLang;
      const api = new Api(this.apiBase, lang);
      const k = Math.min(Math.max(Number(this.getAttribute("k")) || 5, 1), 50);
      const input = h("input", { id: "q", type: "search", autocomplete: "off", placeholder: t(lang, "search_placeholder") });
      const form = h("form", { role: "search", "aria-label": t(lang, "widget_label") },
        h("label", { for: "q" }, t(lang, "search_label")),
        h("div", { class: "row" }, input, h("button", { type: "submit", class: "go" }, t(lang, "search_button"))));
      const status = h("p", { class: "status", role: "status", "aria-live": "polite" });
      const error = h("div", { class: "error", role: "alert" });
      const box = h("div", { class: "list" });
      const more = h("button", { type: "button", class: "more", hidden: true }, t(lang, "results_more"));
      const home = `${this.apiBase}/`;
      let results = null;
      let next = null;
      let query = "";
      let ticket = 0;
      let catalog = null; // names of technologies, fetched with the first search
      const searchBox = h("div", { class: "tab-search" }, form, status, error, box, more);
      let content = [searchBox];
      if (this.hasAttribute("similar") && this.getAttribute("similar") !== "false") {
        const similarBox = h("div", { class: "tab-similar", hidden: true },
          similarPanel({ api, lang, catalog: () => (catalog ||= Catalog.load(api).catch(() => null)), linkBase: home,
            newTab: true, idPrefix: "w-sim-", headingLevel: 3, memory: {} }));
        const tabs = [["search", "widget_tab_search", searchBox], ["similar", "widget_tab_similar", similarBox]];
        const buttons = tabs.map(([name, label, panel]) => {
          const button = h("button", { type: "button", class: "tab", dataset: { tab: name },
            "aria-pressed": String(name === "search") }, t(lang, label));
          button.addEventListener("click", () => {
            for (const [other, , otherPanel] of tabs) otherPanel.hidden = other !== name;
            for (const b of buttons) b.setAttribute("aria-pressed", String(b === button));
          });
          return button;
        });
        content = [h("div", { class: "tabs", role: "group", "aria-label": t(lang, "widget_label") }, buttons),
          searchBox, similarBox];
      }
      shadow.append(h("div", { class: "pk", lang, part: "box" }, content,
        h("p", { class: "foot" }, h("a", { href: home, target: "_blank", rel: "noopener" }, "pedkb"))));

      // A worker still loading its model answers 503 "starting" with Retry-After (`serve --workers N` starts
      // them one by one): the widget says so, waits and asks again instead of showing an error. null: superseded.
      const searchWhenStarted = async (mine, offset) => {
        for (;;) {
          try {
            return await api.search(query, this.filters(), offset, k);
          } catch (err) {
            const delay = startingDelay(err);
            if (delay === null || mine !== ticket) throw err;
            status.textContent = t(lang, "service_starting");
            status.dataset.state = "starting";
            await pause(delay);
            if (mine !== ticket) return null;
            status.textContent = t(lang, "searching");
            status.dataset.state = "searching";
          }
        }
      };

      const run = async (offset) => {
        const mine = ++ticket;
        error.replaceChildren();
        more.hidden = true;
        status.textContent = t(lang, "searching");
        status.dataset.state = "searching";
        catalog ||= Catalog.load(api).catch(() => null);
        try {
          const [page, names] = await Promise.all([searchWhenStarted(mine, offset), catalog]);
          if (mine !== ticket || !page) return;
          if (!results) results = new ResultList(box, { lang, catalog: names, linkBase: home, newTab: true }, { grouped: false });
          if (offset === 0) results.clear();
          const added = results.add(page.results);
          if (offset > 0) added?.querySelector("a")?.focus();
          next = page.next_offset;
          more.hidden = next === null || next === undefined;
          const total = page.total ?? results.size;
          status.textContent = page.no_close_match ? t(lang, "no_close_match")
            : results.size ? t(lang, page.total_is_estimate ? "results_total_estimate" : "results_total", { n: total })
              : t(lang, "no_results");
          status.dataset.state = results.size ? "results" : "empty";
        } catch (err) {
          if (mine !== ticket) return;
          status.textContent = "";
          status.dataset.state = "error";
          replace(error, `${t(lang, "error")}: ${err.detail || err.message}`);
        }
      };
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        query = input.value.trim();
        if (!query) {
          status.textContent = t(lang, "query_needed");
          return;
        }
        run(0);
      });
      more.addEventListener("click", () => run(next));
    }
  }

  customElements.define("pedkb-search", PedkbSearch);
}
