// The JSON API of the server that served this page. The token lives in sessionStorage
// (gone when the tab closes) and travels only in the Authorization header, never in a URL.

const TOKEN_KEY = "hivemem.token";

/** The base URL of the API: the folder of this page (so a server mounted under a prefix works). */
export const BASE = new URL(".", document.baseURI);

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** An error answered by the server: its HTTP status, error code, message and details. */
export class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || `HTTP ${status}`);
    this.status = status;
    this.code = err.code || "http_" + status;
    this.details = err;
  }

  /** A sentence for the user. */
  describe() {
    if (this.status === 403) return `Denied: ${this.message}`;
    if (this.status === 401) return `Not logged in: ${this.message}`;
    if (this.status === 409) return `Conflict: ${this.message}`;
    return this.message;
  }
}

/** Encode one path segment (keys may hold "/", "?", "#", "%"...). */
export const seg = (s) => encodeURIComponent(s);

/** A URL of the API, with query parameters (empty ones left out). */
export function url(path, query) {
  const u = new URL(path, BASE);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== "") u.searchParams.set(k, String(v));
  }
  return u;
}

export function authHeaders(extra) {
  const headers = { ...(extra || {}) };
  const token = getToken();
  if (token) headers.Authorization = "Bearer " + token;
  return headers;
}

/** Call the API; answer the parsed JSON or throw ApiError. */
export async function api(method, path, { query, body, signal } = {}) {
  const init = { method, headers: authHeaders({ Accept: "application/json" }), signal, cache: "no-store" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url(path, query), init);
  } catch (exc) {
    if (exc.name === "AbortError") throw exc;
    throw new ApiError(0, { error: { code: "network", message: "the server does not answer (" + exc.message + ")" } });
  }
  let data = null;
  const text = await response.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { error: { message: text.slice(0, 200) } };
    }
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}
