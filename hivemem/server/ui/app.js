// hivemem web UI: log in, route (#/...), render views, keep one live event feed open.

import { ApiError, api, clearToken, getToken, setToken } from "./api.js";
import { field, fill, h } from "./dom.js";
import { EventFeed } from "./stream.js";
import {
  auditView, conversationView, conversationsView, entryView, namespaceView, namespacesView, statsView,
} from "./views.js";
import { coordinationView } from "./coordination.js";
import { webhooksView } from "./webhooks.js";
import { memoriesHomeView, memoriesView, memoryView } from "./memories.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const who = document.getElementById("who");
const logout = document.getElementById("logout");
const statusBar = document.getElementById("status");

let me = null; // GET /v1/whoami of the token in use
let feed = null; // the open event stream, if the view shows a namespace
let handlers = null; // the current view's event handlers
let generation = 0; // bumps on every navigation: late renders of older views are dropped
let statusTimer = null;
const WHO_KEY = "hivemem.whoami";

function status(text, kind) {
  clearTimeout(statusTimer);
  statusBar.textContent = text;
  statusBar.className = "status " + (kind || "");
  statusBar.hidden = false;
  statusBar.dataset.kind = kind || "";
  if (kind === "ok") statusTimer = setTimeout(() => { statusBar.hidden = true; }, 4000);
}

function clearStatus() {
  if (statusBar.dataset.kind === "error") statusBar.hidden = true;
}

/** Follow a namespace's events for the current view (one stream at a time, reused). */
function follow(ns, since, viewHandlers) {
  handlers = viewHandlers;
  if (feed && feed.ns === ns && feed.state !== "closed") {
    handlers.onState?.(feed.state);
    return;
  }
  feed?.stop();
  feed = new EventFeed(ns, since, {
    onEvent: (ev) => handlers?.onEvent?.(ev),
    onState: (s, detail) => handlers?.onState?.(s, detail),
    onGap: (msg) => handlers?.onGap?.(msg),
    onError: (err) => handlers?.onError?.(err),
  });
}

function stopFeed() {
  feed?.stop();
  feed = null;
  handlers = null;
}

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, q] = raw.split("?", 2);
  const parts = path.split("/").filter(Boolean).map((p) => {
    try { return decodeURIComponent(p); } catch { return p; }
  });
  return { parts, query: new URLSearchParams(q || "") };
}

function showLogin(message) {
  stopFeed();
  me = null;
  sessionStorage.removeItem(WHO_KEY);
  nav.hidden = true;
  logout.hidden = true;
  who.textContent = "";
  const token = h("input", { id: "token", name: "token", type: "password", autocomplete: "off", required: true, spellcheck: "false" });
  const form = h("form", { id: "login" },
    h("p", null, field("Token", token)),
    h("p", null, h("button", { class: "primary", type: "submit" }, "Log in")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    setToken(token.value.trim());
    sessionStorage.removeItem(WHO_KEY);
    try {
      await whoami();
    } catch (exc) {
      clearToken();
      status(exc instanceof ApiError && exc.status === 401 ? "This token is unknown or revoked." : exc.message, "error");
      token.select();
      return;
    }
    clearStatus();
    if (!location.hash || location.hash === "#/login") location.hash = "#/";
    else route();
  });
  fill(main, h("section", { class: "login" },
    h("h1", null, "Log in to hivemem"),
    h("p", { class: "muted" }, "Paste a token (hivemem token create AGENT). It is kept in this tab only, until you log out or close it."),
    message ? h("p", { class: "notice error" }, message) : "",
    form));
  main.dataset.view = "login";
  token.focus();
  ready();
}

/** Who the token acts for: asked once at login, then kept beside the token (it only picks
 * which controls to show; the server checks every request anyway). */
async function whoami() {
  const kept = sessionStorage.getItem(WHO_KEY);
  if (kept) {
    me = JSON.parse(kept);
  } else {
    me = await api("GET", "v1/whoami");
    sessionStorage.setItem(WHO_KEY, JSON.stringify({ agent: me.agent, role: me.role }));
  }
  who.textContent = `${me.agent} · ${me.role}`;
  nav.hidden = false;
  logout.hidden = false;
}

function ready() {
  performance.mark("hivemem:ready");
  document.body.dataset.ready = String(generation);
}

function markNav(name) {
  for (const a of nav.querySelectorAll("a")) {
    if (a.dataset.nav === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

async function route() {
  const mine = ++generation;
  delete document.body.dataset.ready;
  if (!getToken()) return showLogin();
  try {
    if (!me) await whoami();
  } catch (exc) {
    if (exc instanceof ApiError && exc.status === 401) {
      clearToken();
      return showLogin("Your token was refused (unknown or revoked). Log in again.");
    }
    status(exc.message, "error");
    return;
  }
  const { parts, query } = parseHash();
  const [top, a, b, c] = parts;
  const ctx = {
    me,
    status,
    follow: (ns, since, hs) => { if (mine === generation) follow(ns, since, hs); },
    reload: () => route(),
  };
  let render;
  let view;
  let keepFeed = false;
  if (!top || top === "login" || (top === "ns" && !a)) {
    view = "namespaces"; markNav("ns"); render = () => namespacesView(ctx);
  } else if (top === "ns" && b === "coordination" && c === undefined) {
    view = "coordination"; markNav("ns"); keepFeed = true; render = () => coordinationView(ctx, a);
  } else if (top === "ns" && b === "e" && c !== undefined) {
    view = "entry"; markNav("ns"); keepFeed = true; render = () => entryView(ctx, a, c);
  } else if (top === "ns") {
    view = "namespace"; markNav("ns"); keepFeed = true; render = () => namespaceView(ctx, a);
  } else if (top === "webhooks") {
    view = "webhooks"; markNav("webhooks"); render = () => webhooksView(ctx);
  } else if (top === "audit") {
    view = "audit"; markNav("audit"); render = () => auditView(ctx, query);
  } else if (top === "stats") {
    view = "stats"; markNav("stats"); render = () => statsView(ctx);
  } else if (top === "memories" && a !== undefined && b === "m" && c !== undefined) {
    view = "memory"; markNav("memories"); render = () => memoryView(ctx, a, c);
  } else if (top === "memories" && a !== undefined) {
    view = "memories"; markNav("memories"); render = () => memoriesView(ctx, a, query);
  } else if (top === "memories") {
    view = "memories-home"; markNav("memories"); render = () => memoriesHomeView(ctx);
  } else if (top === "conversations" && a !== undefined) {
    view = "conversation"; markNav("conversations"); render = () => conversationView(ctx, a, query);
  } else if (top === "conversations") {
    view = "conversations"; markNav("conversations"); render = () => conversationsView(ctx, query);
  } else {
    view = "missing"; markNav(""); render = async () => h("p", { class: "notice warn" }, "No such page. ", h("a", { href: "#/" }, "Namespaces"));
  }
  if (!keepFeed) stopFeed();
  else handlers = null; // the old view's handlers go; the new view installs its own
  let node;
  try {
    node = await render();
  } catch (exc) {
    if (mine !== generation) return;
    if (exc instanceof ApiError && exc.status === 401) {
      clearToken();
      return showLogin("Your token was refused (unknown or revoked). Log in again.");
    }
    node = h("p", { class: "notice error", id: "view-error" }, exc instanceof ApiError ? exc.describe() : String(exc.message || exc));
  }
  if (mine !== generation) return;
  fill(main, node);
  main.dataset.view = view;
  document.title = `hivemem · ${view}`;
  ready();
}

logout.addEventListener("click", () => {
  clearToken();
  status("Logged out", "ok");
  location.hash = "#/login";
  showLogin();
});

document.addEventListener("keydown", (e) => {
  const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName);
  if (e.key === "/" && !typing && !e.ctrlKey && !e.metaKey && !e.altKey) {
    const prefix = document.getElementById("prefix") || document.getElementById("mem-query");
    if (prefix) {
      e.preventDefault();
      prefix.focus();
      prefix.select();
    }
  }
});

window.addEventListener("hashchange", () => {
  clearStatus();
  route();
});
route();
