// Long-term memories (SPEC §10, §20): search a namespace's records (hybrid, or keyword when
// the server has no embedder), list them by time with their validity, open one (all its
// fields, links, relationships, supersession, slot history) and archive, restore or
// reinforce it where the token may write. Everything comes from the memories routes
// (/v1/namespaces/{ns}/memories/...), never from the namespace's entries, so the records'
// internal bookkeeping (vectors, links, indexes) never shows here.

import { ApiError, api, seg } from "./api.js";
import { fill, field, h, pretty, select, when } from "./dom.js";
import { attempt, can, grid, levelOf } from "./views.js";

/** The marker entry of a namespace that holds memories (hivemem/memories/plans.py MARKER). */
const MARKER = "_memories";
/** Where the server keeps a memories namespace's internal records, beside the records (keyed
 * by id). Entry listings of such a namespace hide them (they are bookkeeping, not entries). */
const INTERNAL = ["_v/", "_r/", "_ri/", "_p/", "_g/", "_gm/", "_mg/", "_s/"];

/** Whether a key of a memories namespace is one of its internal records. */
export function internalKey(key) {
  return typeof key === "string" && (key === MARKER || INTERNAL.some((p) => key.startsWith(p)));
}

/** Whether a namespace holds memories: a listed entry shaped as a record (a record's key
 * is its id) or internal, else its marker entry (a server that keeps those internal keys out
 * of listings has neither: then the records tell). `entries`: a page already fetched (else
 * the first few are). Never throws: a refused probe answers false. */
export async function holdsMemories(ns, entries) {
  try {
    const first = entries || (await api("GET", `v1/namespaces/${seg(ns)}/entries`, { query: { limit: 3 } })).items;
    if (first.some((e) => internalKey(e.key)
      || (e.value && typeof e.value === "object" && e.value.id === e.key && typeof e.value.content === "string"))) {
      return true;
    }
  } catch {
    return false;
  }
  try {
    const { results } = await api("POST", `v1/namespaces/${seg(ns)}/batch`, {
      body: { atomic: true, ops: [{ op: "get", key: MARKER }] },
    });
    return Boolean(results && results[0] && results[0].entry);
  } catch {
    return false;
  }
}

export const memoriesHref = (ns, query) => `#/memories/${seg(ns)}${query && String(query) ? "?" + query : ""}`;
const recordHref = (ns, id) => `#/memories/${seg(ns)}/m/${seg(id)}`;
const memPath = (ns, rest) => `v1/namespaces/${seg(ns)}/memories${rest || ""}`;

const TIERS = [["", "any (not archived)"], ["short", "short"], ["medium", "medium"], ["long", "long"], ["archived", "archived"], ["*", "any, archived too"]];
const SORTS = [["created_at", "created"], ["occurred_at", "occurred"], ["valid_from", "valid from"], ["updated_at", "updated"]];
const SIZES = [["20", "20"], ["50", "50"], ["100", "100"], ["500", "500"]];
// The fields the detail view lays out itself; any other field a server adds is listed after.
const SHOWN = new Set(["id", "namespace", "content", "metadata", "tags", "memory_type", "tier", "importance",
  "strength", "stability", "access_count", "agent_id", "source", "occurred_at", "created_at", "updated_at",
  "last_accessed_at", "valid_from", "valid_to", "supersedes", "superseded_by", "slot", "parent_id",
  "session_id", "forgotten"]);

const list = (text) => text.split(",").map((s) => s.trim()).filter(Boolean);
const num = (x, digits = 3) => (typeof x === "number" && Number.isFinite(x) ? x.toFixed(digits) : "—");

/** Unix seconds of a datetime-local value ("" gives undefined). */
function seconds(text) {
  if (!text) return undefined;
  const t = new Date(text).getTime();
  if (!Number.isFinite(t)) throw new Error(`Not a date: ${text}`);
  return t / 1000;
}

/** "2026-12-07 19:45" → how a datetime-local input shows a unix time. */
function localInput(secs) {
  if (secs === undefined || secs === null || secs === "") return "";
  const d = new Date(Number(secs) * 1000);
  if (Number.isNaN(d.getTime())) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Whether a record holds now, was superseded or has ended, and its span, as text. */
function validity(r) {
  const now = Date.now() / 1000;
  const span = `${when(r.valid_from)} → ${r.valid_to === null || r.valid_to === undefined ? "open" : when(r.valid_to)}`;
  let state = "current";
  if (r.superseded_by) state = "superseded";
  else if (r.valid_to !== null && r.valid_to !== undefined && r.valid_to <= now) state = "ended";
  else if (r.valid_from > now) state = "future";
  return { state, span };
}

function validityCell(r) {
  const v = validity(r);
  return h("td", { class: "validity" },
    h("span", { class: `badge ${v.state === "current" ? "live" : v.state === "superseded" ? "down" : ""}` }, v.state),
    h("div", { class: "muted" }, v.span));
}

function tierBadge(r) {
  return h("span", { class: `badge${r.tier === "archived" ? " down" : ""}` }, r.tier);
}

function tagList(tags) {
  return (tags || []).map((t) => h("span", { class: "badge tag" }, t));
}

// ---------------------------------------------------------------------------------------
// Which namespace

export async function memoriesHomeView(ctx) {
  const { namespaces } = await api("GET", "v1/namespaces");
  const flags = await Promise.all(namespaces.slice(0, 100).map((info) => holdsMemories(info.name)));
  const holding = namespaces.filter((_, i) => flags[i]);
  const others = namespaces.filter((info, i) => !flags[i]);
  const row = (info) => h("tr", null,
    h("td", { class: "key" }, h("a", { href: memoriesHref(info.name) }, info.name)),
    h("td", { title: info.description || null }, h("div", { class: "clamp" }, info.description || "")),
    h("td", null, levelOf(info, ctx.me) || "none"));
  const table = (id, rows) => grid({ id, class: "mem-namespaces" }, [["Namespace", "p25"], ["Description"], ["Your access", "w8"]], h("tbody", null, rows.map(row)));
  return h("section", null, h("h1", null, "Memories"),
    h("p", { class: "muted" }, "Long-term memories live in namespaces. Pick one to search its records or list them by time."),
    holding.length ? table("memory-namespaces", holding) : h("p", { class: "muted", id: "no-memories" }, "No namespace you can read holds memories yet."),
    others.length ? h("details", null, h("summary", null, `Other namespaces (${others.length})`), table("other-namespaces", others)) : "");
}

// ---------------------------------------------------------------------------------------
// One namespace: search, or the timeline

/** The filters of the form, as the search routes take them. */
function filtersOf(q) {
  const f = {};
  if (q.get("type")) f.memory_type = list(q.get("type"));
  const tier = q.get("tier") || "";
  if (tier === "*") f.include_archived = true;
  else if (tier) f.tier = [tier];
  if (q.get("tags")) f.tags = list(q.get("tags"));
  if (q.get("agent")) f.agent_id = list(q.get("agent"));
  for (const name of ["created_after", "created_before", "occurred_after", "occurred_before"]) {
    const v = q.get(name);
    if (v !== null && v !== "") f[name] = Number(v);
  }
  return f;
}

export async function memoriesView(ctx, ns, query) {
  const info = await api("GET", `v1/namespaces/${seg(ns)}`);
  const q = query;
  const text = q.get("q") || "";
  const mode = q.get("mode") || "hybrid";
  const size = Number(q.get("n") || "20");
  const superseded = q.get("superseded") === "1";
  const filters = filtersOf(q);
  const validityArgs = superseded ? { include_superseded: true } : {};

  // The form: every field is in the URL, so a search is a link and Back works.
  const qInput = h("input", { id: "mem-query", name: "q", type: "search", value: text, placeholder: "what to look for", autocomplete: "off", size: 40, "aria-keyshortcuts": "/" });
  const modeSel = select("mode", [["hybrid", "hybrid (meaning + words)"], ["keyword", "keyword (BM25)"]], mode);
  const typeIn = h("input", { name: "type", value: q.get("type") || "", placeholder: "fact, preference…", autocomplete: "off", size: 14 });
  const tierSel = select("tier", TIERS, q.get("tier") || "");
  const tagsIn = h("input", { name: "tags", value: q.get("tags") || "", placeholder: "all of: a, b", autocomplete: "off", size: 14 });
  const agentIn = h("input", { name: "agent", value: q.get("agent") || "", placeholder: "agent id", autocomplete: "off", size: 12 });
  const times = {};
  for (const [name, label] of [["created_after", "Created from"], ["created_before", "Created before"], ["occurred_after", "Occurred from"], ["occurred_before", "Occurred before"]]) {
    times[name] = [label, h("input", { name, type: "datetime-local", value: localInput(q.get(name)) })];
  }
  const supBox = h("input", { name: "superseded", type: "checkbox", checked: superseded });
  const sizeSel = select("n", SIZES, String(size));
  const sortSel = select("sort", SORTS, q.get("sort") || "created_at");
  const form = h("form", { id: "mem-search", role: "search", "aria-label": "Search memories" },
    h("div", { class: "row" },
      field("Search (press /)", qInput), field("Ranking", modeSel),
      field("Show", sizeSel), field("List sorted by", sortSel),
      h("button", { class: "primary", type: "submit" }, "Search"),
      text ? h("a", { href: memoriesHref(ns), id: "mem-clear" }, "Clear search, list by time") : ""),
    // Filters fold away until one is set (then they stay open, showing what narrows the list).
    h("details", { id: "mem-filters", open: Object.keys(filters).length > 0 || superseded },
      h("summary", null, "Filters"),
      h("div", { class: "row" },
        field("Type", typeIn), field("Tier", tierSel), field("Tags", tagsIn), field("Agent", agentIn),
        Object.values(times).map(([label, input]) => field(label, input)),
        h("label", { class: "check" }, h("span", null, supBox, " superseded too")))));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    attempt(ctx, () => {
      const out = new URLSearchParams();
      if (qInput.value.trim()) out.set("q", qInput.value.trim());
      if (modeSel.value !== "hybrid") out.set("mode", modeSel.value);
      for (const [k, el] of [["type", typeIn], ["tier", tierSel], ["tags", tagsIn], ["agent", agentIn]]) {
        if (el.value.trim()) out.set(k, el.value.trim());
      }
      for (const [name, [, input]] of Object.entries(times)) {
        const s = seconds(input.value);
        if (s !== undefined) out.set(name, String(s));
      }
      if (supBox.checked) out.set("superseded", "1");
      if (sizeSel.value !== "20") out.set("n", sizeSel.value);
      if (sortSel.value !== "created_at") out.set("sort", sortSel.value);
      location.hash = memoriesHref(ns, out);
    });
  });

  const header = h("div", null,
    h("p", null, h("a", { href: "#/memories" }, "← Memories"), " · ", h("a", { href: `#/ns/${seg(ns)}` }, "entries view")),
    h("h1", null, "Memories in ", h("span", { class: "name" }, ns), " ",
      h("span", { class: "badge", id: "level" }, `your access: ${levelOf(info, ctx.me) || "none"}`)));

  let body;
  if (text) body = await searchResults(ctx, ns, text, mode, size, filters, validityArgs);
  else body = await timeline(ctx, ns, q, size, filters, validityArgs);
  return h("section", { class: "memories" }, header, form, body);
}

/** Why hybrid search is unavailable (the server's answer), once a search learnt it. */
let noEmbedder = null;

const RESULT_COLUMNS = [["Score", "w5 num"], ["Memory"], ["Parts", "w10"], ["Type", "w7"], ["Tier", "w6"], ["Agent", "w8"], ["Valid", "w10"]];

async function searchResults(ctx, ns, text, mode, size, filters, validityArgs) {
  let ran = mode;
  let fallback = null;
  let results;
  if (mode === "hybrid" && noEmbedder !== null) {
    fallback = noEmbedder;
    ran = "keyword";
  } else if (mode === "hybrid") {
    try {
      ({ results } = await api("POST", memPath(ns, "/semantic-search"), { body: { query: text, k: size, filters, ...validityArgs } }));
    } catch (exc) {
      if (!(exc instanceof ApiError && exc.code === "embedder_unavailable")) throw exc;
      // The server's embedder is set at its start: ask once per page load, not per search.
      noEmbedder = fallback = exc.message;
      ran = "keyword";
    }
  }
  if (ran === "keyword") {
    ({ results } = await api("POST", memPath(ns, "/search"), { body: { query: text, limit: size, filters, ...validityArgs } }));
  }
  const how = ran === "hybrid"
    ? "Hybrid search: meaning (vector) and words (keyword), with context, strength and recency."
    : fallback ? "Keyword search (BM25): this server has no embedder, so hybrid search is not available." : "Keyword search (BM25).";
  const rows = results.map(({ memory: r, score, parts }) => h("tr", { dataset: { id: r.id } },
    h("td", { class: "num" }, num(score)),
    h("td", null, h("a", { class: "clamp mem-content", href: recordHref(ns, r.id) }, r.content),
      h("div", { class: "tags" }, tagList(r.tags))),
    h("td", { class: "parts" }, h("ul", { class: "parts" }, Object.entries(parts || {}).map(([k, v]) => h("li", null, h("span", { class: "muted" }, k), " ", num(v))))),
    h("td", { class: "clip", title: r.memory_type }, r.memory_type),
    h("td", null, tierBadge(r)),
    h("td", { class: "clip", title: r.agent_id }, r.agent_id),
    validityCell(r)));
  return h("section", { "aria-labelledby": "results-h" },
    h("h2", { id: "results-h" }, "Results"),
    h("p", { class: `notice ${fallback ? "warn" : ""}`, id: "search-mode", dataset: { mode: ran } }, how,
      fallback ? h("span", { class: "muted" }, ` (${fallback})`) : ""),
    h("p", { class: "muted", id: "result-count" }, `${results.length} result${results.length === 1 ? "" : "s"}, best first${results.length >= size ? ` (the first ${size})` : ""}.`),
    results.length ? grid({ id: "mem-results", class: "memories" }, RESULT_COLUMNS, h("tbody", null, rows)) : "");
}

const TIMELINE_COLUMNS = [["When", "w7"], ["Memory"], ["Type", "w7"], ["Tier", "w6"], ["Agent", "w8"], ["Valid", "w10"]];

async function timeline(ctx, ns, q, size, filters, validityArgs) {
  const sort = q.get("sort") || "created_at";
  const cursors = []; // the cursor of each page shown before this one
  const tbody = h("tbody");
  const info = h("span", { class: "muted", id: "timeline-info" });
  const prev = h("button", { type: "button", id: "mem-prev" }, "← Newer");
  const next = h("button", { type: "button", id: "mem-next" }, "Older →");
  let nextCursor = null;
  const stamp = (r) => (sort === "occurred_at" ? (r.occurred_at ?? r.created_at) : r[sort]);

  async function load(cursor) {
    const page = await api("POST", memPath(ns, "/timeline"), {
      body: { filters, sort_field: sort, limit: size, cursor: cursor ?? null, ...validityArgs },
    });
    nextCursor = page.next_cursor;
    fill(tbody, page.memories.map((r) => h("tr", { dataset: { id: r.id } },
      h("td", null, when(stamp(r))),
      h("td", null, h("a", { class: "clamp mem-content", href: recordHref(ns, r.id) }, r.content),
        h("div", { class: "tags" }, tagList(r.tags))),
      h("td", { class: "clip", title: r.memory_type }, r.memory_type),
      h("td", null, tierBadge(r)),
      h("td", { class: "clip", title: r.agent_id }, r.agent_id),
      validityCell(r))));
    const n = page.memories.length;
    info.textContent = n
      ? `Page ${cursors.length + 1} · ${n} record${n === 1 ? "" : "s"}, newest first${nextCursor ? " · more on the next page" : ""}`
      : "No records match.";
    prev.disabled = cursors.length === 0;
    next.disabled = !nextCursor;
  }
  let current = null;
  prev.addEventListener("click", () => attempt(ctx, async () => {
    if (!cursors.length) return;
    current = cursors.pop();
    await load(current);
  }));
  next.addEventListener("click", () => attempt(ctx, async () => {
    if (!nextCursor) return;
    cursors.push(current);
    current = nextCursor;
    await load(current);
  }));
  await load(null);
  return h("section", { "aria-labelledby": "timeline-h" },
    h("h2", { id: "timeline-h" }, `Timeline (by ${SORTS.find(([k]) => k === sort)?.[1] || sort})`),
    grid({ id: "mem-timeline", class: "memories timeline" }, TIMELINE_COLUMNS, tbody),
    h("div", { class: "pager" }, prev, next, info));
}

// ---------------------------------------------------------------------------------------
// One record

export async function memoryView(ctx, ns, id) {
  const [info, found] = await Promise.all([
    api("GET", `v1/namespaces/${seg(ns)}`),
    // batch-get: looking at a record in the UI is not an access (it would reinforce it).
    api("POST", memPath(ns, "/batch-get"), { body: { ids: [id] } }),
  ]);
  const crumbs = h("p", null, h("a", { href: memoriesHref(ns) }, `← Memories in ${ns}`));
  let rec = found.memories[0];
  if (!rec) {
    return h("section", null, crumbs, h("h1", { class: "name" }, id), h("p", { class: "notice warn", id: "no-memory" }, "No such memory (or it was deleted)."));
  }
  const canWrite = can(levelOf(info, ctx.me), "write");
  const meta = h("dl", { class: "meta", id: "memory-meta" });
  const content = h("div", { class: "msg" }, h("div", { class: "content", id: "memory-content" }));
  const metadata = h("div");
  const actions = h("div", { class: "row", id: "memory-actions" });
  const idLink = (other) => (other ? h("a", { href: recordHref(ns, other) }, other) : "—");

  function render() {
    const v = validity(rec);
    const rows = [
      ["Type", rec.memory_type], ["Tier", tierBadge(rec)],
      ["Importance", num(rec.importance, 2)], ["Strength", num(rec.strength, 3)],
      ["Stability", num(rec.stability, 2)], ["Accesses", rec.access_count],
      ["Agent", rec.agent_id],
      ["Tags", rec.tags && rec.tags.length ? tagList(rec.tags) : "—"],
    ];
    // source: a dict of provenance ids (empty on records that were given none).
    if (rec.source !== undefined && rec.source !== null && !(typeof rec.source === "object" && !Object.keys(rec.source).length)) {
      rows.push(["Source", typeof rec.source === "object" ? h("pre", { class: "json", id: "memory-source" }, pretty(rec.source)) : String(rec.source)]);
    }
    if (rec.occurred_at !== undefined && rec.occurred_at !== null) rows.push(["Occurred", when(rec.occurred_at)]);
    rows.push(
      ["Created", when(rec.created_at)], ["Updated", when(rec.updated_at)], ["Last accessed", when(rec.last_accessed_at)],
      ["Valid", h("span", { id: "memory-validity" }, h("span", { class: `badge ${v.state === "current" ? "live" : v.state === "superseded" ? "down" : ""}` }, v.state), " ", v.span)],
      ["Supersedes", idLink(rec.supersedes)], ["Superseded by", idLink(rec.superseded_by)],
      ["Slot", rec.slot || "—"], ["Parent", idLink(rec.parent_id)], ["Session", rec.session_id || "—"]);
    for (const [k, value] of Object.entries(rec)) {
      if (!SHOWN.has(k)) rows.push([k, typeof value === "object" && value !== null ? h("pre", { class: "json" }, pretty(value)) : String(value)]);
    }
    fill(meta, rows.map(([k, value]) => [h("dt", null, k), h("dd", null, value)]));
    content.firstChild.textContent = rec.content;
    fill(metadata, rec.metadata && Object.keys(rec.metadata).length
      ? h("pre", { class: "json", id: "memory-metadata", tabindex: "0" }, pretty(rec.metadata))
      : h("p", { class: "muted" }, "No metadata."));
    renderActions();
  }

  /** A button that posts one action on the record and shows the record it answers;
   * `body` builds the request body when pressed (null: none). A refusal shows the
   * server's error in the status bar and changes nothing on screen. */
  function act(name, label, body, done) {
    return h("button", {
      type: "button", id: `memory-${name}`,
      onclick: (e) => {
        const button = e.currentTarget;
        let payload;
        try { payload = body ? body() : undefined; } catch (exc) { ctx.status(exc.message, "error"); return; }
        button.disabled = true;
        attempt(ctx, async () => {
          rec = await api("POST", memPath(ns, `/${seg(rec.id)}/${name}`), { body: payload });
          render();
          ctx.status(done(rec), "ok");
          // Keep the keyboard where it was: on the button that replaced this one.
          document.getElementById(`memory-${{ archive: "restore", restore: "archive" }[name] || name}`)?.focus();
        }).finally(() => { button.disabled = false; });
      },
    }, label);
  }

  function renderActions() {
    if (!canWrite) {
      fill(actions, h("p", { class: "muted", id: "read-only" }, "Read-only: your access to this namespace does not allow archiving, restoring or reinforcing."));
      return;
    }
    const factor = h("input", { id: "reinforce-factor", name: "factor", inputmode: "decimal", value: "1.2", size: 5 });
    const factorValue = () => {
      const f = Number(factor.value);
      if (!factor.value.trim() || !Number.isFinite(f)) throw new Error("The factor must be a number (1 to 100)");
      return { factor: f };
    };
    fill(actions,
      rec.tier === "archived"
        ? act("restore", "Restore", null, (r) => `Restored to tier ${r.tier}`)
        : act("archive", "Archive", null, () => "Archived: searches skip it until restored"),
      field("Factor", factor),
      act("reinforce", "Reinforce", factorValue, (r) => `Reinforced: strength ${num(r.strength, 2)}, stability ${num(r.stability, 2)}`));
  }
  render();

  // Around it: children, relationships, supersession chain. Each part fails on its own.
  const part = async (fn) => { try { return await fn(); } catch (exc) { return h("p", { class: "notice error" }, exc instanceof ApiError ? exc.describe() : String(exc.message || exc)); } };
  const mini = (id, records, extra) => grid({ id, class: "memories mini" },
    [["Memory"], ...(extra ? [extra[0]] : []), ["Tier", "w6"], ["Valid", "w10"]],
    h("tbody", null, records.map((r, i) => h("tr", { dataset: { id: r.id } },
      h("td", null, h("a", { class: "clamp mem-content", href: recordHref(ns, r.id) }, r.content)),
      extra ? extra[1](r, i) : "", h("td", null, tierBadge(r)), validityCell(r)))));
  const [children, related, history] = await Promise.all([
    part(async () => {
      const { memories } = await api("GET", memPath(ns, `/${seg(id)}/children`), { query: { limit: 50 } });
      return memories.length ? mini("memory-children", memories) : h("p", { class: "muted" }, "No children.");
    }),
    part(async () => {
      const { related: rel } = await api("GET", memPath(ns, `/${seg(id)}/related`));
      return rel.length
        ? mini("memory-related", rel.map((x) => x.memory), [["Relation", "w10"], (r, i) => h("td", null,
          `${rel[i].direction === "outgoing" ? "→" : "←"} ${rel[i].relationship_type}`, h("div", { class: "muted" }, `strength ${num(rel[i].strength, 2)}`))])
        : h("p", { class: "muted" }, "No relationships.");
    }),
    part(async () => {
      if (!rec.slot) return h("p", { class: "muted" }, "Not in a slot.");
      const { memories } = await api("GET", memPath(ns, "/slot-history"), { query: { slot: rec.slot, limit: 50 } });
      return mini("memory-slot-history", memories);
    }),
  ]);
  return h("section", { class: "memory" }, crumbs,
    h("h1", { class: "name" }, `Memory ${rec.id}`),
    content, actions,
    h("div", { class: "layout" },
      h("div", null,
        h("h2", null, "Metadata"), metadata,
        h("h2", null, "Children"), children,
        h("h2", null, "Related"), related,
        h("h2", null, rec.slot ? `Slot history (${rec.slot})` : "Slot history"), history),
      h("aside", { "aria-label": "Fields" }, h("h2", null, "Fields"), meta)));
}
