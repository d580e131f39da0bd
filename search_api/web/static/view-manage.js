// The methodist's section: the API key (kept for this tab only), document upload with progress, new experiences.

import { h, replace } from "./dom.js";
import { gapsLink } from "./view-gaps.js";

function keyPanel(app, onChange) {
  const input = h("input", { id: "api-key", type: "password", autocomplete: "off", name: "key",
    "aria-describedby": "api-key-hint api-key-error" });
  const error = h("p", { id: "api-key-error", class: "error-box", role: "alert" });
  const message = h("p", { class: "status", role: "status", "aria-live": "polite" });
  const save = h("button", { type: "submit", class: "primary" }, app.t("key_save"));
  const forget = h("button", { type: "button", class: "secondary", hidden: !app.key() }, app.t("key_forget"));
  const form = h("form", { class: "inline-form" },
    h("div", { class: "field" }, h("label", { for: "api-key" }, app.t("key_label")), input, error), save, forget);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = input.value.trim();
    if (!value) return input.focus();
    error.replaceChildren();
    input.removeAttribute("aria-invalid");
    save.disabled = true;
    message.textContent = app.t("key_checking");
    try {
      await app.api.checkKey(value); // the server says at once whether this key may write
    } catch (err) {
      message.textContent = "";
      error.textContent = err.detail || err.message;
      input.setAttribute("aria-invalid", "true");
      return input.focus();
    } finally {
      save.disabled = false;
    }
    app.setKey(value);
    input.value = "";
    forget.hidden = false;
    message.textContent = app.t("key_saved");
    onChange();
  });
  forget.addEventListener("click", () => {
    app.setKey(null);
    forget.hidden = true;
    error.replaceChildren();
    message.textContent = app.t("key_forgotten");
    onChange();
    input.focus();
  });
  if (app.key()) message.textContent = app.t("key_saved");
  return h("section", { class: "panel", "aria-labelledby": "key-title" },
    h("h2", { id: "key-title" }, app.t("key_title")), form,
    h("p", { id: "api-key-hint", class: "hint" }, app.t("key_hint")), message);
}

function outcomeTable(app, report) {
  return h("div", { class: "table-wrap" }, h("table", { class: "upload-report" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, app.t("file")), h("th", { scope: "col" }, app.t("status")),
      h("th", { scope: "col" }, app.t("message")))),
    h("tbody", {}, report.files.map((file) => h("tr", { dataset: { status: file.status } },
      h("td", {}, file.doc_id && file.status !== "failed"
        ? h("a", { href: `#/document/${encodeURIComponent(file.doc_id)}` }, file.filename) : file.filename),
      h("td", { class: `status-${file.status}` }, app.t(`status_${file.status}`)),
      h("td", {}, file.message))))));
}

function uploadPanel(app) {
  const files = h("input", { id: "upload-files", type: "file", multiple: true, name: "files",
    accept: ".pdf,.docx,.txt,.md,.markdown,.html,.htm" });
  const button = h("button", { type: "submit", class: "primary" }, app.t("upload_button"));
  const progress = h("progress", { max: "100", value: "0", hidden: true, "aria-labelledby": "upload-status" });
  const status = h("p", { id: "upload-status", class: "status", role: "status", "aria-live": "polite" });
  const error = h("div", { class: "error-box", role: "alert" });
  const report = h("div", { class: "upload-result" });
  const form = h("form", { class: "upload-form" },
    h("div", { class: "field" }, h("label", { for: "upload-files" }, app.t("upload_files")), files), button);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.replaceChildren();
    report.replaceChildren();
    if (!files.files.length) {
      error.textContent = app.t("upload_choose");
      return files.focus();
    }
    button.disabled = true;
    progress.hidden = false;
    progress.value = 0;
    status.dataset.state = "sending";
    status.textContent = app.t("upload_progress", { p: 0 });
    try {
      const result = await app.api.upload([...files.files], (fraction) => {
        if (fraction === null) {
          progress.removeAttribute("value"); // an indeterminate bar: the server is ingesting
          status.dataset.state = "processing";
          status.textContent = app.t("upload_processing");
        } else if (status.dataset.state === "sending") {
          progress.value = Math.round(fraction * 100);
          status.textContent = app.t("upload_progress", { p: Math.round(fraction * 100) });
        }
      });
      status.dataset.state = "done";
      status.textContent = app.t("upload_done", result);
      replace(report, outcomeTable(app, result));
      form.reset();
    } catch (err) {
      status.dataset.state = "error";
      status.textContent = "";
      replace(error, h("strong", {}, `${app.t("error")}: `), err.detail || err.message);
    } finally {
      button.disabled = false;
      progress.hidden = true;
    }
  });
  return h("section", { class: "panel", "aria-labelledby": "upload-title" },
    h("h2", { id: "upload-title" }, app.t("upload_title")), form, progress, status, error, report);
}

/** The methodist's page: key, upload and a way to add an experience. */
export async function renderManage(app) {
  const writes = h("div", {});
  const needKey = h("p", { class: "notice" }, app.t("key_needed"));
  function refresh() {
    if (app.key()) {
      replace(writes, uploadPanel(app),
        h("section", { class: "panel", "aria-labelledby": "exp-title" },
          h("h2", { id: "exp-title" }, app.t("experiences_title")),
          h("p", {}, h("a", { class: "button", href: "#/experience/new" }, app.t("new_experience")))),
        gapsLink(app));
    } else {
      replace(writes, needKey);
    }
  }
  refresh();
  return h("div", {},
    h("h1", {}, app.t("nav_manage")),
    h("p", { class: "intro" }, app.t("manage_intro")),
    keyPanel(app, refresh), writes);
}
