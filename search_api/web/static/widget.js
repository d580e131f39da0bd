/*
 * pedkb search widget. On a portal's page:
 *   <script src="https://PEDKB/widget.js" data-pedkb-url="https://PEDKB" data-lang="kk" data-type="experience"></script>
 * puts a search box right after the script tag (or into data-target="#some-id"). Without data-* options the script
 * only defines <pedkb-search api="https://PEDKB" lang="ru" type="experience"></pedkb-search> for the page to use.
 * The box lives in a shadow root with its own styles: the portal's page is not restyled.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.src) return;
  var root = new URL(".", script.src).href;
  var OPTIONS = {
    pedkbUrl: "api", lang: "lang", type: "type", region: "region", subject: "subject", grade: "grade",
    group: "group", technology: "technology", filterLang: "filter-lang", k: "k", similar: "similar",
  };

  function place(module) {
    module.defineWidget(root);
    var names = Object.keys(OPTIONS).filter(function (name) { return script.dataset[name] !== undefined; });
    if (!names.length) return;
    var element = document.createElement("pedkb-search");
    names.forEach(function (name) { element.setAttribute(OPTIONS[name], script.dataset[name]); });
    var target = script.dataset.target ? document.querySelector(script.dataset.target) : null;
    if (target) target.appendChild(element);
    else script.parentNode.insertBefore(element, script.nextSibling);
  }

  import(root + "ui/widget-element.js").then(place, function (error) {
    console.error("pedkb widget: could not load " + root + "ui/widget-element.js", error);
  });
})();
