// A small client of the pedkb REST API (/api/v1), usable from the page and from a widget on another origin.

import { t } from "./strings.js";

/**
 * An API error: HTTP status, the API's error kind, its localised detail, the field at fault, and `errors`: every
 * invalid field ([{error, detail, field}]) when the API reported several (else the one).
 */
export class ApiError extends Error {
  constructor(status, kind, detail, field = null, errors = null) {
    super(detail);
    this.status = status;
    this.kind = kind;
    this.detail = detail;
    this.field = field;
    this.errors = Array.isArray(errors) && errors.length ? errors : [{ error: kind, detail, field }];
  }
}

/** Query parameters with repeated keys for lists, leaving out empty values. */
export function queryString(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item !== null && item !== undefined && item !== "") search.append(name, String(item));
    }
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

async function errorOf(response, lang) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const detail = body && typeof body.detail === "string" ? body.detail : `${t(lang, "error")} ${response.status}`;
  const error = new ApiError(response.status, body?.error || "http_error", detail, body?.field ?? null,
    body?.problems);
  error.retryAfter = Number(response.headers.get("Retry-After")) || null;
  return error;
}

/**
 * The seconds to wait before asking again when `error` says the answering worker is still starting (503
 * "starting", with its Retry-After), else null.
 */
export function startingDelay(error) {
  return error?.status === 503 && error.kind === "starting" ? error.retryAfter || 1 : null;
}

/** Wait `seconds`, five at most (a Retry-After longer than that is asked again sooner). */
export function pause(seconds) {
  return new Promise((resolve) => { setTimeout(resolve, Math.min(seconds, 5) * 1000); });
}

export class Api {
  /** `base`: where pedkb is ("" for the same origin); `lang`: the interface language; `key`: a function. */
  constructor(base = "", lang = "ru", key = () => null) {
    this.base = String(base || "").replace(/\/+$/, "");
    this.lang = lang;
    this.key = key;
    this.cache = new Map();
  }

  headers(write, json, key = null) {
    const headers = { Accept: "application/json", "Accept-Language": this.lang };
    if (json) headers["Content-Type"] = "application/json";
    const sent = key || (write ? this.key() : null);
    if (sent) headers["X-API-Key"] = sent;
    return headers;
  }

  async request(method, path, { params = {}, body = undefined, write = false, key = null } = {}) {
    let response;
    try {
      response = await fetch(this.base + path + queryString(params), {
        method,
        headers: this.headers(write, body !== undefined, key),
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit",
      });
    } catch {
      throw new ApiError(0, "network", t(this.lang, "error_network"));
    }
    if (!response.ok) throw await errorOf(response, this.lang);
    return response.status === 204 ? null : response.json();
  }

  /** A GET whose answer does not change while the page is open (the vocabulary). */
  cached(path) {
    if (!this.cache.has(path)) {
      const promise = this.request("GET", path);
      promise.catch(() => this.cache.delete(path));
      this.cache.set(path, promise);
    }
    return this.cache.get(path);
  }

  /**
   * Whether the service answers searches yet: {ready: true}, or {ready: false, retryAfter: seconds} while it
   * starts (503 "starting"); rejects with the API's error when the model failed to load. Once ready, stays ready.
   */
  async readiness() {
    if (this.warm) return { ready: true };
    try {
      await this.request("GET", "/api/v1/health/ready");
    } catch (error) {
      const delay = startingDelay(error);
      if (delay !== null) return { ready: false, retryAfter: delay };
      throw error;
    }
    this.warm = true;
    return { ready: true };
  }

  search(q, filters = {}, offset = 0, k = 10) {
    return this.request("GET", "/api/v1/search", { params: { q, k, offset, ...filters } });
  }
  stats() { return this.request("GET", "/api/v1/stats"); }
  technologies() { return this.cached("/api/v1/technologies"); }
  vocabulary() { return this.cached("/ui/vocabulary.json"); }
  technology(id) { return this.request("GET", `/api/v1/technologies/${encodeURIComponent(id)}`); }
  experience(id) { return this.request("GET", `/api/v1/experiences/${encodeURIComponent(id)}`); }
  experiences(params = {}) { return this.request("GET", "/api/v1/experiences", { params }); }
  similarTo(id, k = 6) {
    return this.request("GET", `/api/v1/experiences/${encodeURIComponent(id)}/similar`, { params: { k } });
  }
  /** The gap report for methodists (needs the key): `params` since, lang. */
  gaps(params = {}) { return this.request("GET", "/api/v1/gaps", { params, write: true }); }
  /** The same report as CSV text. */
  async gapsCsv(params = {}) {
    let response;
    try {
      response = await fetch(`${this.base}/api/v1/gaps${queryString({ ...params, format: "csv" })}`,
        { headers: { ...this.headers(true, false), Accept: "text/csv" }, credentials: "omit" });
    } catch {
      throw new ApiError(0, "network", t(this.lang, "error_network"));
    }
    if (!response.ok) throw await errorOf(response, this.lang);
    return response.text();
  }
  /** Tell the search log which result of the answer `searchId` was opened; fire and forget, sends no key. */
  opened(searchId, itemId) {
    if (!searchId || !itemId) return;
    fetch(`${this.base}/api/v1/search-log/${encodeURIComponent(searchId)}/open`, {
      method: "POST", keepalive: true, credentials: "omit",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify({ item_id: itemId }),
    }).catch(() => {});
  }
  /** Resolves when `key` may write; rejects with the API's error (401, 403 wrong key, 429 too many tries). */
  checkKey(key) { return this.request("GET", "/api/v1/access", { key }); }
  document(id) { return this.request("GET", `/api/v1/documents/${encodeURIComponent(id)}`); }
  /** Experiences and documents close to a free text (`/similar`). */
  similarText(text, k = 10) { return this.request("POST", "/api/v1/similar", { body: { text, k } }); }
  /** The same for a file, read by the server and not stored: {filename, title, chars, truncated, similar, technologies}. */
  async similarFile(file, k = 10) {
    const form = new FormData();
    form.append("file", file, file.name);
    let response;
    try {
      response = await fetch(`${this.base}/api/v1/similar/file${queryString({ k })}`, {
        method: "POST", headers: this.headers(false, false), body: form, credentials: "omit",
      });
    } catch {
      throw new ApiError(0, "network", t(this.lang, "error_network"));
    }
    if (!response.ok) throw await errorOf(response, this.lang);
    return response.json();
  }
  classify(text, k = 3) { return this.request("POST", "/api/v1/classify", { body: { text, k } }); }
  createExperience(record) { return this.request("POST", "/api/v1/experiences", { body: record, write: true }); }
  /** Record a lifecycle transition {stage, evidence_kind, evidence, by, date?, document?, reason?} (needs the key). */
  recordStage(id, body) {
    return this.request("POST", `/api/v1/experiences/${encodeURIComponent(id)}/stage`, { body, write: true });
  }
  updateExperience(id, record) {
    return this.request("PUT", `/api/v1/experiences/${encodeURIComponent(id)}`, { body: record, write: true });
  }

  /**
   * Upload files with XMLHttpRequest so the sending can be followed: onProgress(fraction) while sending,
   * then onProgress(null) once everything is sent and the server is ingesting.
   */
  upload(files, onProgress = () => {}) {
    return new Promise((resolve, reject) => {
      const form = new FormData();
      for (const file of files) form.append("files", file, file.name);
      const xhr = new XMLHttpRequest();
      xhr.open("POST", `${this.base}/api/v1/documents`);
      for (const [name, value] of Object.entries(this.headers(true, false))) xhr.setRequestHeader(name, value);
      xhr.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable) onProgress(event.loaded / event.total);
      });
      xhr.upload.addEventListener("load", () => onProgress(null));
      xhr.addEventListener("error", () => reject(new ApiError(0, "network", t(this.lang, "error_network"))));
      xhr.addEventListener("load", () => {
        let body = null;
        try {
          body = JSON.parse(xhr.responseText);
        } catch {
          body = null;
        }
        if (xhr.status >= 200 && xhr.status < 300 && body) resolve(body);
        else reject(new ApiError(xhr.status, body?.error || "http_error",
          body?.detail || `${t(this.lang, "error")} ${xhr.status}`, body?.field ?? null));
      });
      xhr.send(form);
    });
  }
}
