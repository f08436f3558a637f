// The views of the UI. Each takes a context (who is logged in, where to render, how to
// report) and the route's parameters, fetches what it shows and renders it with dom.js
// (text nodes only: every string from the server is untrusted).

import { ApiError, api, seg } from "./api.js";
import { expiry, field, fill, h, pretty, preview, select, when } from "./dom.js";
import { namespaceTabs } from "./coordination.js";
import { historySection } from "./history.js";
import { holdsMemories, internalKey, memoriesHref } from "./memories.js";

const RANK = { read: 1, write: 2, admin: 3 };
const LEVELS = [["admin", "admin"], ["write", "write"], ["read", "read"], ["", "no access"]];
const STRATEGIES = ["latest-wins", "first-wins", "merge", "version", "custom"].map((s) => [s, s]);
// Suggestions only: the action filter takes any name, as the audit log records more kinds
// (memories, sessions...) than a fixed list would keep up with.
const ACTIONS = [
  "broadcast", "clear", "create_namespace", "delete", "delete_namespace", "delete_prefix",
  "expire_prefix", "get_namespace", "list", "list_insert", "list_namespaces", "list_pop",
  "list_push", "list_range", "list_remove", "read", "search", "subscribe", "transact",
  "update_namespace", "update_permissions", "watch", "write", "write_many",
];
const FEED_MAX = 100;

/** The caller's level in a namespace ("admin", "write", "read" or null). */
export function levelOf(info, me) {
  if (me.role === "admin") return "admin";
  const perms = info.permissions || {};
  if (Object.prototype.hasOwnProperty.call(perms, me.agent)) return perms[me.agent];
  return info.default_permission;
}

export const can = (level, need) => (RANK[level] || 0) >= RANK[need];
const nsHref = (ns) => `#/ns/${seg(ns)}`;
const entryHref = (ns, key) => `#/ns/${seg(ns)}/e/${seg(key)}`;
const entryPath = (ns, key) => `v1/namespaces/${seg(ns)}/entries/${seg(key)}`;

/** Parse JSON typed by the user, or throw a readable error. */
function parseJson(text, what) {
  try {
    return JSON.parse(text);
  } catch (exc) {
    throw new Error(`${what} is not valid JSON: ${exc.message}`);
  }
}

/** A number from an optional input ("" gives undefined). */
function optNumber(input, what) {
  const text = input.value.trim();
  if (!text) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n)) throw new Error(`${what} must be a number`);
  return n;
}

/** A button that asks for a second press before acting (keyboard-friendly, no dialog). */
function confirmButton(label, confirmLabel, action, props) {
  let armed = null;
  const button = h("button", { type: "button", class: "danger", ...props }, label);
  button.addEventListener("click", async () => {
    if (!armed) {
      button.textContent = confirmLabel;
      armed = setTimeout(() => { armed = null; button.textContent = label; }, 5000);
      return;
    }
    clearTimeout(armed);
    armed = null;
    button.textContent = label;
    button.disabled = true;
    try { await action(); } finally { button.disabled = false; }
  });
  return button;
}

/**
 * A data table in a sideways-scrolling wrapper. Its layout is fixed: each column keeps the
 * width its header gives it (`columns`: [title, class]), so long keys and values wrap or are
 * cut inside their own cells instead of squeezing the other columns.
 */
export function grid(props, columns, body) {
  return h("div", { class: "table-wrap" },
    h("table", { ...props, class: `grid ${props.class || ""}` },
      h("thead", null, h("tr", null, columns.map(([title, cls]) => h("th", { scope: "col", class: cls || null }, title)))),
      body));
}

/** Run an action, reporting its error in the status bar. */
export async function attempt(ctx, fn) {
  try {
    return await fn();
  } catch (exc) {
    ctx.status(exc instanceof ApiError ? exc.describe() : exc.message, "error");
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------
// Namespaces

export async function namespacesView(ctx) {
  const { namespaces } = await api("GET", "v1/namespaces");
  const rows = namespaces.map((info) => {
    const level = levelOf(info, ctx.me);
    return h("tr", null,
      h("td", { class: "key" }, h("a", { href: nsHref(info.name) }, info.name)),
      h("td", { title: info.description || null }, h("div", { class: "clamp" }, info.description || "")),
      h("td", null, level || "none"),
      h("td", null, info.conflict_strategy),
      h("td", { class: "num" }, info.ttl ?? "—"),
      h("td", { class: "num" }, info.max_entries ?? "—"),
      h("td", { class: "num" }, info.revision),
      h("td", { class: "clip", title: info.created_by }, info.created_by));
  });
  const name = h("input", { name: "name", required: true, maxlength: 128, pattern: "[A-Za-z0-9._:\\-]{1,128}", autocomplete: "off" });
  const description = h("input", { name: "description", size: 30 });
  const perm = select("default_permission", LEVELS, "write");
  const strategy = select("conflict_strategy", STRATEGIES, "latest-wins");
  const ttl = h("input", { name: "ttl", inputmode: "decimal", size: 6 });
  const form = h("form", { class: "row", id: "create-namespace" },
    field("Name", name), field("Description", description), field("Default access", perm),
    field("Conflicts", strategy), field("TTL (s)", ttl),
    h("button", { class: "primary", type: "submit" }, "Create namespace"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    attempt(ctx, async () => {
      const body = {
        name: name.value.trim(),
        description: description.value,
        default_permission: perm.value || null,
        conflict_strategy: strategy.value,
      };
      const t = optNumber(ttl, "TTL");
      if (t !== undefined) body.ttl = t;
      const info = await api("POST", "v1/namespaces", { body });
      ctx.status(`Created namespace ${info.name}`, "ok");
      location.hash = nsHref(info.name);
    });
  });
  return h("section", null,
    h("h1", null, "Namespaces"),
    namespaces.length
      ? grid({ id: "namespaces", class: "namespaces" },
        [["Name", "p25"], ["Description"], ["Your access", "w8"], ["Conflicts", "w8"], ["TTL", "w5 num"],
          ["Max entries", "w8 num"], ["Revision", "w7 num"], ["Created by", "w8"]],
        h("tbody", null, rows))
      : h("p", { class: "muted" }, "No namespace you can read."),
    h("fieldset", null, h("legend", null, "New namespace"), form));
}

// ---------------------------------------------------------------------------------------
// One namespace: config, permissions, entries, live feed

const pages = new Map(); // ns -> {prefix, limit} kept while the tab lives

export async function namespaceView(ctx, ns) {
  const state = pages.get(ns) || { prefix: "", limit: 100 };
  pages.set(ns, state);
  // The namespace first, then its entries: the live feed follows from the namespace's
  // revision, so the events it replays are those after it (never a gap before the listing;
  // a replayed write older than the row shown is ignored by its version).
  const info = await api("GET", `v1/namespaces/${seg(ns)}`);
  const first = await api("GET", `v1/namespaces/${seg(ns)}/entries`, { query: { prefix: state.prefix, limit: state.limit } });
  // A memories namespace: its records' internal bookkeeping (vectors, links) is not shown
  // as entries, nor in the feed; the Memories view shows the records (memories.js).
  const memories = await holdsMemories(ns, first.items);
  const hide = (key) => memories && internalKey(key);
  let hidden = 0;
  const level = levelOf(info, ctx.me);
  const canWrite = can(level, "write");
  const isAdmin = can(level, "admin");
  let cursors = [null]; // cursor of each page seen; the last one is the current page's
  let next = null;
  const rows = new Map(); // key -> {tr, entry}
  const tbody = h("tbody");
  const pageInfo = h("span", { class: "muted", id: "page-info" });
  const prev = h("button", { type: "button", id: "prev-page" }, "← Previous");
  const nextButton = h("button", { type: "button", id: "next-page" }, "Next →");
  const notices = h("div");
  const liveBadge = h("span", { class: "badge", id: "live-state" }, "connecting");
  const feedList = h("ol", { id: "feed" });

  function row(entry) {
    const cells = [
      h("td", { class: "key" }, h("a", { href: entryHref(ns, entry.key) }, entry.key)),
      h("td", { class: "preview mono", title: preview(entry.value, 400) }, h("div", { class: "clamp" }, preview(entry.value, 300))),
      h("td", { class: "clip", title: entry.owner }, entry.owner),
      h("td", { class: "num" }, entry.version),
      h("td", null, when(entry.updated_at)),
      h("td", null, expiry(entry.expires_at)),
    ];
    if (canWrite) {
      cells.push(h("td", null, confirmButton("Delete", "Confirm", () => removeEntry(entry.key), { "aria-label": `Delete ${entry.key}` })));
    }
    const tr = h("tr", { dataset: { key: entry.key } }, cells);
    return tr;
  }

  async function removeEntry(key) {
    const current = rows.get(key);
    await attempt(ctx, async () => {
      await api("DELETE", entryPath(ns, key), { query: { expected_version: current?.entry.version } });
      ctx.status(`Deleted ${key}`, "ok");
      drop(key);
    });
  }

  function drop(key) {
    const found = rows.get(key);
    if (found) {
      found.tr.remove();
      rows.delete(key);
      count();
    }
  }

  /** "Page 2 · 37 entries": counts the rows on screen, so live writes and deletes show. */
  function count() {
    const n = rows.size;
    pageInfo.textContent = (n
      ? `Page ${cursors.length} · ${n} entr${n === 1 ? "y" : "ies"}${next ? " · more on the next page" : ""}`
      : (state.prefix ? "No entry with this prefix." : "No entries yet."))
      + (hidden ? ` · ${hidden} internal record${hidden === 1 ? "" : "s"} of the memories hidden` : "");
  }

  function showPage(all) {
    const items = all.filter((entry) => !hide(entry.key));
    hidden = all.length - items.length;
    rows.clear();
    fill(tbody, items.map((entry) => {
      const tr = row(entry);
      rows.set(entry.key, { tr, entry });
      return tr;
    }));
    count();
    prev.disabled = cursors.length <= 1;
    nextButton.disabled = !next;
  }

  async function load(cursor) {
    const page = await api("GET", `v1/namespaces/${seg(ns)}/entries`, {
      query: { prefix: state.prefix, limit: state.limit, cursor },
    });
    next = page.next_cursor;
    showPage(page.items);
  }
  next = first.next_cursor;

  prev.addEventListener("click", () => attempt(ctx, async () => {
    if (cursors.length <= 1) return;
    cursors.pop();
    await load(cursors[cursors.length - 1]);
  }));
  nextButton.addEventListener("click", () => attempt(ctx, async () => {
    if (!next) return;
    cursors.push(next);
    await load(next);
  }));

  // Live updates: a write lands in the table when its key belongs on the page shown.
  function belongs(key) {
    if (hide(key) || !key.startsWith(state.prefix)) return false;
    const keys = [...rows.keys()];
    if (!keys.length) return true;
    if (cursors.length > 1 && key < keys[0]) return false;
    if (next && key > keys[keys.length - 1]) return false;
    return true;
  }

  const pending = new Set();
  let refreshTimer = null;
  function refreshSoon(key) {
    pending.add(key);
    refreshTimer ??= setTimeout(async () => {
      refreshTimer = null;
      const keys = [...pending].filter((k) => rows.has(k)).slice(0, 1000);
      pending.clear();
      if (!keys.length) return;
      try {
        const { results } = await api("POST", `v1/namespaces/${seg(ns)}/batch`, {
          body: { atomic: true, ops: keys.map((key) => ({ op: "get", key })) },
        });
        for (const r of results) if (r.entry) upsert(r.entry, false);
      } catch { /* the event already showed the write; the expiry shows on the next load */ }
    }, 200);
  }

  function upsert(entry, fresh) {
    const old = rows.get(entry.key);
    if (old && old.entry.version > entry.version) return;
    const tr = row(entry);
    if (fresh) tr.classList.add("fresh");
    if (old) {
      old.tr.replaceWith(tr);
    } else {
      const after = [...rows.keys()].find((k) => k > entry.key);
      if (after === undefined) tbody.append(tr);
      else rows.get(after).tr.before(tr);
    }
    rows.set(entry.key, { tr, entry });
    count();
    if (fresh) setTimeout(() => tr.classList.remove("fresh"), 1500);
  }

  function onEvent(ev) {
    if (hide(ev.key)) return;
    const item = h("li", null,
      h("span", { class: "type" }, ev.type), " ",
      ev.key !== null && ev.key !== undefined ? h("a", { href: entryHref(ns, ev.key) }, ev.key) : "",
      h("div", { class: "muted" }, `rev ${ev.revision} · ${ev.agent_id} · ${when(ev.timestamp)}`
        + (ev.version ? ` · v${ev.version}` : "")),
      ev.type === "memory:broadcast" ? h("div", { class: "mono" }, preview(ev.message, 200)) : "");
    feedList.prepend(item);
    while (feedList.children.length > FEED_MAX) feedList.lastElementChild.remove();
    if (ev.type === "memory:write" && belongs(ev.key)) {
      const old = rows.get(ev.key);
      upsert({
        key: ev.key, value: ev.value, owner: ev.agent_id, version: ev.version,
        updated_at: ev.timestamp, expires_at: old ? old.entry.expires_at : null,
      }, true);
      refreshSoon(ev.key);
    } else if (ev.type === "memory:delete" || ev.type === "memory:expired") {
      drop(ev.key);
    } else if (ev.type === "namespace:cleared") {
      rows.clear();
      tbody.replaceChildren();
      count();
    } else if (ev.type === "namespace:deleted") {
      fill(notices, h("div", { class: "notice warn" }, `Namespace ${ns} was deleted by ${ev.agent_id}.`));
    } else if (ev.type === "namespace:updated" || ev.type === "namespace:permissions_updated") {
      fill(notices, h("div", { class: "notice warn" }, `${ev.agent_id} changed this namespace's configuration. `,
        h("button", { type: "button", onclick: () => ctx.reload() }, "Reload view")));
    }
  }

  // The toolbar: prefix filter and page size.
  const prefixInput = h("input", { id: "prefix", name: "prefix", value: state.prefix, placeholder: "key prefix", autocomplete: "off", "aria-keyshortcuts": "/" });
  const limitSelect = select("limit", [["50", "50"], ["100", "100"], ["500", "500"], ["1000", "1000"]], String(state.limit));
  const filter = h("form", { class: "row", id: "filter" },
    field("Prefix (press /)", prefixInput), field("Per page", limitSelect),
    h("button", { type: "submit" }, "Filter"));
  filter.addEventListener("submit", (e) => {
    e.preventDefault();
    state.prefix = prefixInput.value;
    state.limit = Number(limitSelect.value);
    cursors = [null];
    attempt(ctx, () => load(null));
  });

  const header = [
    h("h1", null, h("span", { class: "name" }, ns), " ", h("span", { class: "badge", id: "level" }, level ? `your access: ${level}` : "no access"), " ", liveBadge),
    info.description ? h("p", null, info.description) : "",
    namespaceTabs(ns, "entries"),
    memories ? h("p", { class: "notice", id: "memories-link" }, "This namespace holds long-term memories. ",
      h("a", { href: memoriesHref(ns) }, "Search and browse them in the Memories view"),
      " (their internal records are hidden below).") : "",
  ];

  const entriesSection = h("section", { "aria-labelledby": "entries-h" },
    h("h2", { id: "entries-h" }, "Entries"),
    canWrite ? newEntryForm(ctx, ns, (entry) => { if (belongs(entry.key)) upsert(entry, true); }) : "",
    filter,
    grid({ id: "entries", class: "entries" },
      [["Key", "p25"], ["Value"], ["Owner", "w6"], ["Version", "w5 num"], ["Updated", "w7"], ["Expires", "w6"],
        ...(canWrite ? [["", "w7"]] : [])],
      tbody),
    h("div", { class: "pager" }, prev, nextButton, pageInfo));

  const root = h("div", null, header, notices,
    h("div", { class: "layout" },
      h("div", null, entriesSection, configSection(ctx, info, isAdmin)),
      h("aside", { class: "feed", "aria-label": "Live events" },
        h("h2", null, "Live events"), h("p", { class: "muted" }, "Changes to this namespace, newest first."),
        h("div", { "aria-live": "polite" }, feedList))));

  showPage(first.items);
  ctx.follow(ns, info.revision, {
    onEvent,
    onState: (s, detail) => {
      liveBadge.textContent = s;
      liveBadge.className = "badge " + (s === "live" ? "live" : s === "closed" ? "down" : "");
      if (s === "closed" && detail) ctx.status(`Live events stopped: ${detail}`, "error");
    },
    onGap: (msg) => fill(notices, h("div", { class: "notice warn" }, `Some events were missed (${msg}); the list may be stale. `,
      h("button", { type: "button", onclick: () => ctx.reload() }, "Reload view"))),
    onError: (err) => ctx.status(`Live events: ${err.message}`, "error"),
  });
  return root;
}

function newEntryForm(ctx, ns, created) {
  const key = h("input", { id: "new-key", name: "key", required: true, autocomplete: "off", size: 28 });
  const value = h("textarea", { id: "new-value", name: "value", class: "json", rows: 3 });
  value.value = "{}";
  const ttl = h("input", { id: "new-ttl", name: "ttl", inputmode: "decimal", size: 6 });
  const form = h("form", { id: "new-entry", class: "stack" },
    h("div", { class: "row" }, field("Key", key), field("TTL (s, optional)", ttl)),
    field("Value (JSON)", value),
    h("div", { class: "row" }, h("button", { class: "primary", type: "submit" }, "Create entry")));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    attempt(ctx, async () => {
      const body = { value: parseJson(value.value, "The value"), expected_version: 0 };
      const t = optNumber(ttl, "TTL");
      if (t !== undefined) body.ttl = t;
      let entry;
      try {
        entry = await api("PUT", entryPath(ns, key.value), { body });
      } catch (exc) {
        if (exc instanceof ApiError && exc.status === 409) {
          throw new Error(`Not created: key ${key.value} already exists (version ${exc.details.current_version}). Open it to edit.`);
        }
        throw exc;
      }
      ctx.status(`Created ${entry.key} (version ${entry.version})`, "ok");
      created(entry);
      key.value = "";
      key.focus();
    });
  });
  return h("details", null, h("summary", null, "New entry"), form);
}

function configSection(ctx, info, isAdmin) {
  const ns = info.name;
  const rows = Object.entries(info.permissions || {}).sort(([a], [b]) => (a < b ? -1 : 1));
  const meta = h("dl", { class: "meta" },
    h("dt", null, "Default access"), h("dd", null, info.default_permission || "no access"),
    h("dt", null, "Conflict strategy"), h("dd", null, info.conflict_strategy + (info.resolver ? ` (${info.resolver})` : "")),
    h("dt", null, "Default TTL"), h("dd", null, info.ttl === null ? "none" : `${info.ttl} s`),
    h("dt", null, "Max entries"), h("dd", null, info.max_entries ?? "no limit"),
    h("dt", null, "Created"), h("dd", null, `${when(info.created_at)} by ${info.created_by}`),
    h("dt", null, "Revision"), h("dd", null, info.revision));
  const permBody = h("tbody", null, rows.map(([agent, level]) => permRow(agent, level, isAdmin)));
  const permTable = grid({ id: "permissions" },
    [["Agent"], ["Access", "w8"], ...(isAdmin ? [["", "w7"]] : [])], permBody);
  if (!isAdmin) {
    return h("section", null, h("h2", null, "Configuration"), meta, h("h2", null, "Permissions"),
      rows.length ? permTable : h("p", { class: "muted" }, "No per-agent overrides."));
  }
  const description = h("input", { name: "description", value: info.description, size: 40 });
  const perm = select("default_permission", LEVELS, info.default_permission ?? "");
  const strategy = select("conflict_strategy", STRATEGIES, info.conflict_strategy);
  const ttl = h("input", { name: "ttl", value: info.ttl ?? "", size: 6, inputmode: "decimal" });
  const max = h("input", { name: "max_entries", value: info.max_entries ?? "", size: 7, inputmode: "numeric" });
  const configForm = h("form", { id: "ns-config" },
    h("div", { class: "row" }, field("Description", description), field("Default access", perm),
      field("Conflicts", strategy), field("TTL (s)", ttl), field("Max entries", max)),
    h("button", { type: "submit" }, "Save configuration"));
  configForm.addEventListener("submit", (e) => {
    e.preventDefault();
    attempt(ctx, async () => {
      const t = optNumber(ttl, "TTL");
      const m = optNumber(max, "Max entries");
      await api("PATCH", `v1/namespaces/${seg(ns)}`, {
        body: {
          description: description.value,
          default_permission: perm.value || null,
          conflict_strategy: strategy.value,
          ttl: t ?? null,
          max_entries: m ?? null,
        },
      });
      ctx.status("Configuration saved", "ok");
      ctx.reload();
    });
  });
  const agent = h("input", { name: "agent", placeholder: "agent id", autocomplete: "off" });
  const level = select("level", LEVELS, "read");
  const add = h("button", { type: "button" }, "Add");
  add.addEventListener("click", () => {
    if (!agent.value.trim()) return;
    permBody.append(permRow(agent.value.trim(), level.value || null, true));
    agent.value = "";
    agent.focus();
  });
  const savePerms = h("button", { type: "button", id: "save-permissions" }, "Save permissions");
  savePerms.addEventListener("click", () => attempt(ctx, async () => {
    const permissions = {};
    for (const tr of permBody.rows) {
      permissions[tr.dataset.agent] = tr.querySelector("select").value || null;
    }
    await api("PUT", `v1/namespaces/${seg(ns)}/permissions`, { body: { permissions } });
    ctx.status("Permissions saved", "ok");
    ctx.reload();
  }));
  const remove = confirmButton("Delete namespace", `Really delete ${ns} and all its entries?`, () => attempt(ctx, async () => {
    await api("DELETE", `v1/namespaces/${seg(ns)}`);
    ctx.status(`Deleted namespace ${ns}`, "ok");
    location.hash = "#/";
  }), { id: "delete-namespace" });
  return h("section", null,
    h("h2", null, "Configuration"), meta, configForm,
    h("h2", null, "Permissions"), permTable,
    h("div", { class: "row" }, field("Agent", agent), field("Access", level), add, savePerms),
    h("h2", null, "Danger zone"), remove);
}

function permRow(agent, level, editable) {
  if (!editable) return h("tr", null, h("td", null, agent), h("td", null, level || "no access"));
  const drop = h("button", { type: "button", "aria-label": `Remove ${agent}` }, "Remove");
  const tr = h("tr", { dataset: { agent } }, h("td", null, agent),
    h("td", null, select("level", LEVELS, level ?? "")), h("td", null, drop));
  drop.addEventListener("click", () => tr.remove());
  return tr;
}

// ---------------------------------------------------------------------------------------
// One entry: JSON view and editor with compare-and-set

export async function entryView(ctx, ns, key) {
  const [info, entry] = await Promise.all([
    api("GET", `v1/namespaces/${seg(ns)}`),
    api("GET", entryPath(ns, key)).catch((exc) => {
      if (exc instanceof ApiError && exc.status === 404 && exc.code === "not_found") return null;
      throw exc;
    }),
  ]);
  const canWrite = can(levelOf(info, ctx.me), "write");
  const crumbs = h("p", null, h("a", { href: nsHref(ns) }, `← ${ns}`));
  if (entry === null) {
    // Its history may still hold it: a deleted version can be restored (as a create).
    const history = historySection(ctx, ns, key, { current: () => null, canWrite, restored: () => ctx.reload() });
    await history.loaded;
    return h("section", null, crumbs, h("h1", { class: "name" }, key),
      h("p", { class: "notice warn", id: "no-entry" }, "No such key (or it expired or was deleted)."), history.node);
  }
  let shown = entry; // the stored state on screen
  let base = entry.version; // the version the editor edits
  const meta = h("dl", { class: "meta", id: "entry-meta" });
  const json = h("pre", { class: "json", id: "entry-json", tabindex: "0" });
  const notices = h("div", { id: "entry-notices" });
  function render() {
    fill(meta,
      h("dt", null, "Owner"), h("dd", null, shown.owner),
      h("dt", null, "Version"), h("dd", { id: "entry-version" }, shown.version),
      h("dt", null, "Revision"), h("dd", null, shown.revision),
      h("dt", null, "Created"), h("dd", null, when(shown.created_at)),
      h("dt", null, "Updated"), h("dd", null, when(shown.updated_at)),
      h("dt", null, "Expires"), h("dd", null, expiry(shown.expires_at)));
    json.textContent = pretty(shown.value);
  }
  render();

  const parts = [crumbs, h("h1", { class: "name" }, key), notices, meta, h("h2", null, "Value"), json];
  let editor = null;
  let baseLabel = null;
  let setBase = (v) => { base = v; };
  if (canWrite) {
    editor = h("textarea", { id: "editor", class: "json", spellcheck: "false", "aria-label": "Value (JSON)", "aria-keyshortcuts": "Control+Enter" });
    editor.value = pretty(entry.value);
    baseLabel = h("span", { id: "editing-version", class: "muted" });
    setBase = (v) => { base = v; baseLabel.textContent = `Editing version ${v} · Ctrl+Enter saves`; };
    setBase(entry.version);
    const save = h("button", { type: "button", class: "primary", id: "save" }, "Save");
    const load = h("button", { type: "button", id: "load-current" }, "Load current version");
    const remove = confirmButton("Delete", "Confirm delete", () => attempt(ctx, async () => {
      try {
        await api("DELETE", entryPath(ns, key), { query: { expected_version: base } });
      } catch (exc) {
        if (exc instanceof ApiError && exc.status === 409) return conflict(exc, "Not deleted");
        throw exc;
      }
      ctx.status(`Deleted ${key}`, "ok");
      location.hash = nsHref(ns);
    }), { id: "delete-entry" });
    async function doSave() {
      await attempt(ctx, async () => {
        const value = parseJson(editor.value, "The value");
        let saved;
        try {
          saved = await api("PUT", entryPath(ns, key), { body: { value, expected_version: base } });
        } catch (exc) {
          if (exc instanceof ApiError && exc.status === 409) return conflict(exc, "Not saved");
          throw exc;
        }
        shown = saved;
        render();
        setBase(saved.version);
        notices.replaceChildren();
        ctx.status(`Saved ${key} (version ${saved.version})`, "ok");
      });
    }
    async function conflict(exc, what) {
      // Never overwrite: show what is stored now and keep the user's text in the editor.
      const current = exc.details.current_version;
      try {
        const latest = await api("GET", entryPath(ns, key));
        shown = latest;
        render();
      } catch { /* deleted meanwhile: the notice says so */ }
      fill(notices, h("div", { class: "notice conflict", id: "conflict", role: "alert" },
        `${what}: this entry changed since you opened it — you edited version ${base}, it is now `
        + (current ? `version ${current}` : "deleted")
        + (current ? ` (by ${shown.owner})` : "")
        + ". Nothing was overwritten. The stored value is shown above; your edit is still in the editor. "
        + "Use “Load current version” to start over from it."));
    }
    save.addEventListener("click", doSave);
    editor.addEventListener("keydown", (e) => {
      if ((e.ctrlKey || e.metaKey) && (e.key === "Enter" || e.key === "s")) {
        e.preventDefault();
        doSave();
      }
    });
    load.addEventListener("click", () => attempt(ctx, async () => {
      shown = await api("GET", entryPath(ns, key));
      render();
      editor.value = pretty(shown.value);
      setBase(shown.version);
      notices.replaceChildren();
    }));
    parts.push(h("h2", null, "Edit"), editor, h("div", { class: "row" }, save, load, remove, baseLabel));
  }
  const history = historySection(ctx, ns, key, {
    current: () => shown,
    canWrite,
    restored: (saved) => {
      shown = saved;
      render();
      if (editor) editor.value = pretty(saved.value);
      setBase(saved.version);
      notices.replaceChildren();
    },
  });
  parts.push(history.node);
  await history.loaded;
  ctx.follow(ns, info.revision, {
    onEvent: (ev) => {
      history.onEvent(ev);
      if (ev.key !== key) return;
      if (ev.type === "memory:write") {
        shown = { ...shown, value: ev.value, version: ev.version, owner: ev.agent_id, updated_at: ev.timestamp, revision: ev.revision };
        render();
        if (editor && ev.version !== base) {
          fill(notices, h("div", { class: "notice warn", id: "changed" },
            `${ev.agent_id} changed this entry to version ${ev.version} while you were viewing it. `
            + `Saving your edit of version ${base} will be refused; load the current version first.`));
        }
      } else if (ev.type === "memory:delete" || ev.type === "memory:expired") {
        fill(notices, h("div", { class: "notice warn" }, `This entry was ${ev.type === "memory:delete" ? `deleted by ${ev.agent_id}` : "expired"}.`));
      }
    },
  });
  return h("section", null, parts);
}

// ---------------------------------------------------------------------------------------
// Audit log

export async function auditView(ctx, query) {
  const filters = {
    agent_id: query.get("agent_id") || "",
    namespace: query.get("namespace") || "",
    action: query.get("action") || "",
    success: query.get("success") || "",
    limit: query.get("limit") || "100",
  };
  const { items } = await api("GET", "v1/audit", { query: filters });
  const agent = h("input", { name: "agent_id", value: filters.agent_id, autocomplete: "off" });
  const ns = h("input", { name: "namespace", value: filters.namespace, autocomplete: "off" });
  const action = h("input", { name: "action", value: filters.action, list: "audit-actions", placeholder: "any", autocomplete: "off", size: 16 });
  const success = select("success", [["", "any"], ["true", "succeeded"], ["false", "failed"]], filters.success);
  const limit = select("limit", [["100", "100"], ["500", "500"], ["1000", "1000"]], filters.limit);
  const form = h("form", { class: "row", id: "audit-filters" },
    field("Agent", agent), field("Namespace", ns), field("Action", action), field("Outcome", success),
    field("Show", limit), h("button", { type: "submit" }, "Apply"),
    h("datalist", { id: "audit-actions" }, ACTIONS.map((a) => h("option", { value: a }))));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    for (const [k, el] of Object.entries({ agent_id: agent, namespace: ns, action, success, limit })) {
      if (el.value) q.set(k, el.value);
    }
    location.hash = "#/audit?" + q.toString();
  });
  return h("section", null, h("h1", null, "Audit log"), form,
    h("p", { class: "muted" }, `${items.length} record${items.length === 1 ? "" : "s"}, newest first.`),
    grid({ id: "audit", class: "audit" },
      [["Time", "w7"], ["Agent", "w8"], ["Namespace", "p20"], ["Key", "p20"], ["Action", "w10"], ["Outcome", "w6"], ["Error"]],
      h("tbody", null, items.map((r) => h("tr", null,
        h("td", null, when(r.timestamp)), h("td", { class: "clip", title: r.agent_id }, r.agent_id), h("td", { class: "key" }, r.namespace ?? ""),
        h("td", { class: "key" }, r.key ?? ""), h("td", null, r.action),
        h("td", { class: r.success ? "yes" : "no" }, r.success ? "ok" : "failed"),
        h("td", null, r.error ?? ""))))));
}

// ---------------------------------------------------------------------------------------
// Stats

export async function statsView() {
  const s = await api("GET", "v1/stats");
  const card = (label, n) => h("div", { class: "card" }, h("div", { class: "muted" }, label), h("div", { class: "n" }, n));
  const per = Object.entries(s.per_namespace || {}).sort(([a], [b]) => (a < b ? -1 : 1));
  return h("section", null, h("h1", null, "Stats"),
    h("div", { class: "cards", id: "stats" },
      card("Namespaces", s.namespaces), card("Entries", s.total_entries),
      card("Audit records", s.total_access_logs),
      s.event_streams === null || s.event_streams === undefined ? "" : card("Event streams", s.event_streams),
      card("Backend", s.backend)),
    grid({ class: "stats" },
      [["Namespace"], ["Entries", "w7 num"], ["Bytes", "w8 num"], ["Revision", "w7 num"]],
      h("tbody", null, per.map(([name, n]) => h("tr", null,
        h("td", { class: "key" }, h("a", { href: nsHref(name) }, name)),
        h("td", { class: "num" }, n.entries), h("td", { class: "num" }, n.bytes), h("td", { class: "num" }, n.revision))))));
}

// ---------------------------------------------------------------------------------------
// Conversations (SPEC §7) live in namespace "conversations": a record m/<cid> each, and
// their messages as the list c/<cid>/msg (see hivemem/conversations.py). Both are read
// with the entries route, so long conversations page like any namespace.

const CONV_NS = "conversations";

export async function conversationsView(ctx, query) {
  const cursor = query.get("cursor") || undefined;
  let page;
  try {
    page = await api("GET", `v1/namespaces/${CONV_NS}/entries`, { query: { prefix: "m/", limit: 100, cursor } });
  } catch (exc) {
    if (exc instanceof ApiError && exc.status === 404) {
      return h("section", null, h("h1", null, "Conversations"), h("p", { class: "muted" }, "No conversations yet."));
    }
    throw exc;
  }
  const rows = page.items.map((e) => {
    const cid = e.key.slice(2);
    return h("tr", null, h("td", { class: "key" }, h("a", { href: `#/conversations/${seg(cid)}` }, cid)),
      h("td", null, when(e.value && e.value.created_at)), h("td", null, e.owner), h("td", null, expiry(e.expires_at)));
  });
  return h("section", null, h("h1", null, "Conversations"),
    rows.length
      ? grid({ id: "conversations", class: "conversations" },
        [["Conversation"], ["Started", "w7"], ["By", "w8"], ["Expires", "w7"]],
        h("tbody", null, rows))
      : h("p", { class: "muted" }, "No conversations yet."),
    page.next_cursor ? h("p", null, h("a", { href: "#/conversations?cursor=" + encodeURIComponent(page.next_cursor) }, "More →")) : "");
}

export async function conversationView(ctx, cid, query) {
  // The messages are the items of the list c/<cid>/msg: entries c/<cid>/msg/<slot>, whose
  // keys sort in list order, so the entries route pages through them oldest first.
  const cursor = query.get("cursor") || undefined;
  const page = await api("GET", `v1/namespaces/${CONV_NS}/entries`, {
    query: { prefix: `c/${cid}/msg/`, limit: 200, cursor },
  });
  const here = `#/conversations/${seg(cid)}`;
  return h("section", null, h("p", null, h("a", { href: "#/conversations" }, "← Conversations")),
    h("h1", { class: "name" }, cid),
    h("p", { class: "muted" }, page.items.length
      ? `${page.items.length} message${page.items.length === 1 ? "" : "s"}${cursor ? " (continued)" : ""}, oldest first.`
      : "No messages."),
    h("div", { id: "messages" }, page.items.map(({ value: m }) => h("article", { class: "msg" },
      h("div", null, h("span", { class: "role" }, String(m && m.role)), " ", h("span", { class: "muted" }, when(m && m.timestamp))),
      h("div", { class: "content" }, m && typeof m.content === "string" ? m.content : pretty(m && m.content)),
      m && m.metadata && Object.keys(m.metadata).length
        ? h("details", null, h("summary", null, "metadata"), h("pre", { class: "json" }, pretty(m.metadata))) : ""))),
    h("div", { class: "pager" },
      cursor ? h("a", { href: here }, "← First messages") : "",
      page.next_cursor ? h("a", { href: `${here}?cursor=${encodeURIComponent(page.next_cursor)}`, id: "more-messages" }, "Later messages →") : ""));
}
