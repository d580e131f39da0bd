// /embed?lang=ru&type=experience&region=...: the widget alone, for an <iframe> on another site.

import { defineWidget } from "./widget-element.js";

const ATTRIBUTES = {
  lang: "lang", type: "type", region: "region", subject: "subject", grade: "grade", group: "group",
  technology: "technology", filter_lang: "filter-lang", k: "k",
};
const root = new URL(".", location.href).href;
defineWidget(root);
const params = new URLSearchParams(location.search);
const element = document.createElement("pedkb-search");
element.setAttribute("api", root);
for (const [param, attribute] of Object.entries(ATTRIBUTES)) {
  const values = params.getAll(param).filter(Boolean);
  if (values.length) element.setAttribute(attribute, values.join(","));
}
document.documentElement.lang = element.uiLang || params.get("lang") || "kk";
document.getElementById("pedkb-embed").append(element);
