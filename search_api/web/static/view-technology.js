// A technology (its group, its description in three languages, its experiences) and the classification tree.

import { h } from "./dom.js";
import { nameOf } from "./catalog.js";
import { langBadge } from "./results.js";
import { LANGS, SELF_NAMES } from "./strings.js";

function experienceCard(app, catalog, exp) {
  return h("li", { class: "card card-experience", dataset: { docId: exp.id, type: "experience" } },
    h("div", { class: "card-meta" }, langBadge(exp.language, app.lang),
      h("span", { class: "page" }, String(exp.year))),
    h("h3", { class: "card-title" },
      h("a", { href: `#/experience/${encodeURIComponent(exp.id)}`, lang: exp.language }, exp.title)),
    h("p", { class: "snippet", lang: exp.language }, exp.summary),
    h("p", { class: "card-extra" },
      `${catalog.region(exp.region, app.lang)} · ${catalog.subject(exp.subject, app.lang)}`));
}

/** One technology with its group, descriptions in kk/ru/ky, other names and the experiences that use it. */
export async function renderTechnology(app, { id }) {
  const [detail, catalog] = await Promise.all([app.api.technology(id), app.catalog()]);
  const tech = detail.technology;
  const L = app.lang;
  const aliases = LANGS.flatMap((lang) => (tech.aliases[lang] || []).map((alias) => [lang, alias]));
  const descriptions = LANGS.filter((lang) => tech.descriptions[lang]).map((lang) =>
    h("section", { lang },
      h("h3", {}, h("span", { lang: L }, app.t(`lang_${lang}`).replace(/^./, (c) => c.toUpperCase())), " ",
        h("span", { class: "hint" }, `(${SELF_NAMES[lang]})`)),
      h("p", {}, nameOf(tech.labels, lang)), h("p", {}, tech.descriptions[lang])));
  const experiences = detail.experiences.length
    ? h("ol", { class: "results" }, detail.experiences.map((exp) => experienceCard(app, catalog, exp)))
    : h("p", { class: "notice" }, app.t("tech_experiences_none"));
  return h("div", {},
    h("a", { class: "back", href: "#/tree" }, `← ${app.t("nav_tree")}`),
    h("div", { class: "two-col" },
      h("article", { class: "item technology" },
        h("div", { class: "item-meta" }, h("span", { class: "tag tag-technology" }, app.t("technology"))),
        h("h1", {}, nameOf(tech.labels, L, tech.id)),
        h("dl", { class: "facts" },
          h("dt", {}, app.t("group")),
          h("dd", {}, h("a", { href: `#/tree?open=${encodeURIComponent(detail.group.id)}` },
            nameOf(detail.group.labels, L, detail.group.id)))),
        h("section", {}, h("h2", {}, app.t("descriptions")), h("div", { class: "descriptions" }, descriptions)),
        aliases.length ? h("section", {}, h("h2", {}, app.t("aliases")),
          h("ul", { class: "chips" }, aliases.map(([lang, alias]) => h("li", {}, h("span", { lang }, alias)))))
          : null),
      h("section", { class: "similar", "aria-labelledby": "tech-exp-title" },
        h("h2", { id: "tech-exp-title" }, app.t("tech_experiences"), " ",
          h("span", { class: "group-count" }, `(${detail.experiences.length})`)),
        experiences)));
}

/** The seven groups as expandable branches, each listing its technologies. */
export async function renderTree(app, { query }) {
  const catalog = await app.catalog();
  const L = app.lang;
  const open = query.get("open");
  const branches = catalog.groups.map((group) =>
    h("li", { id: `group-${group.id}` },
      h("details", { open: open === group.id || !open, dataset: { group: group.id } },
        h("summary", {}, nameOf(group.labels, L, group.id), " ",
          h("span", { class: "group-count" }, `(${app.t("tree_count", { n: group.technologies.length })})`)),
        h("p", { class: "desc" }, group.descriptions[L] || group.descriptions.ru || ""),
        h("ul", {}, group.technologies.map((tech) =>
          h("li", {}, h("a", { href: `#/technology/${encodeURIComponent(tech.id)}` }, nameOf(tech.labels, L, tech.id))))))));
  const tree = h("ul", { class: "tree" }, branches);
  const toggle = (value) => () => { for (const d of tree.querySelectorAll("details")) d.open = value; };
  if (open) setTimeout(() => document.getElementById(`group-${open}`)?.scrollIntoView(), 0);
  return h("div", {},
    h("h1", {}, app.t("nav_tree")),
    h("p", { class: "intro" }, app.t("tree_intro")),
    h("p", { class: "actions" },
      h("button", { type: "button", class: "secondary", onclick: toggle(true) }, app.t("expand_all")),
      h("button", { type: "button", class: "secondary", onclick: toggle(false) }, app.t("collapse_all"))),
    tree);
}
