// A namespace's coordination state (SPEC §19): held locks with their fencing tokens, task
// queues with their counts and dead letters, and the agents present. Read-only: the view
// reads the listing routes and reloads when the namespace's stream announces a lock, task
// or presence event (or on "Refresh"). Every string from the server is rendered as text.

import { ApiError, api, seg } from "./api.js";
import { expiry, fill, h, preview, when } from "./dom.js";

/** Locks per listing page (each "More" button fetches the next page). */
const PAGE = 100;
/** Queues per page: each costs a one-row scan, two round trips on Redis (docs/benchmarks.md). */
const QUEUE_PAGE = 25;
/** Dead letters shown for a queue (its count says how many there are in all). */
const DEAD_SHOWN = 100;
/** Event types that change what this view shows. */
const COORD_EVENT = /^(lock|task|presence):/;

const nsPath = (ns) => `v1/namespaces/${seg(ns)}`;

/** The tabs of a namespace's pages (entries, coordination); `current` is marked. */
export function namespaceTabs(ns, current) {
  const tab = (href, name, label) => h("a", { href, "aria-current": name === current ? "page" : null }, label);
  return h("nav", { class: "tabs", "aria-label": "Namespace pages" },
    tab(`#/ns/${seg(ns)}`, "entries", "Entries"),
    tab(`#/ns/${seg(ns)}/coordination`, "coordination", "Locks, queues, presence"));
}

function table(id, cls, columns, body) {
  return h("div", { class: "table-wrap" },
    h("table", { id, class: `grid ${cls}` },
      h("thead", null, h("tr", null, columns.map(([title, c]) => h("th", { scope: "col", class: c || null }, title)))),
      body));
}

export async function coordinationView(ctx, ns) {
  const info = await api("GET", nsPath(ns));
  const liveBadge = h("span", { class: "badge", id: "live-state" }, "connecting");
  const updated = h("span", { class: "muted", id: "coord-updated" });
  const refresh = h("button", { type: "button", id: "coord-refresh" }, "Refresh");

  // -- locks
  const lockBody = h("tbody");
  const lockInfo = h("p", { class: "muted", id: "locks-info" });
  const lockMore = h("button", { type: "button", id: "locks-more", hidden: true }, "More locks");
  let lockCursor = null;
  let soonest = Infinity; // the earliest expiry of a hold on screen (Unix seconds)
  function lockRow(lk) {
    if (lk.expires_at) soonest = Math.min(soonest, lk.expires_at);
    return h("tr", { dataset: { lock: lk.name } },
      h("td", { class: "key" }, lk.name),
      h("td", { class: "clip", title: lk.holder }, lk.holder),
      h("td", { class: "num token" }, lk.token),
      h("td", { title: lk.expires_at ? when(lk.expires_at) : null }, expiry(lk.expires_at)),
      h("td", { class: "clip mono", title: lk.lease_id }, lk.lease_id));
  }
  async function loadLocks(cursor) {
    const page = await api("GET", `${nsPath(ns)}/locks`, { query: { limit: PAGE, cursor } });
    if (!cursor) {
      lockBody.replaceChildren();
      soonest = Infinity;
    }
    lockBody.append(...page.items.map(lockRow));
    lockCursor = page.next_cursor;
    lockMore.hidden = !lockCursor;
    const n = lockBody.rows.length;
    lockInfo.textContent = n ? `${n} held lock${n === 1 ? "" : "s"}${lockCursor ? " shown; more follow" : ""}.` : "No lock is held.";
  }
  lockMore.addEventListener("click", () => guard(() => loadLocks(lockCursor)));

  // -- queues
  const queueBody = h("tbody");
  const queueInfo = h("p", { class: "muted", id: "queues-info" });
  const queueMore = h("button", { type: "button", id: "queues-more", hidden: true }, "More queues");
  const deadPanel = h("div", { id: "dead-panel", "aria-live": "polite" });
  let queueCursor = null;
  let deadQueue = null; // the queue whose dead letters are shown
  function queueRow(q) {
    const show = h("button", {
      type: "button", "aria-label": `Dead letters of ${q.name}`, disabled: q.dead === 0, "aria-pressed": String(deadQueue === q.name),
    }, "Dead letters");
    show.addEventListener("click", () => guard(async () => {
      deadQueue = deadQueue === q.name ? null : q.name;
      await loadDead();
      for (const b of queueBody.querySelectorAll("button[aria-pressed]")) b.setAttribute("aria-pressed", "false");
      if (deadQueue) show.setAttribute("aria-pressed", "true");
    }));
    return h("tr", { dataset: { queue: q.name } },
      h("td", { class: "key" }, q.name),
      h("td", { class: "num ready" }, q.ready),
      h("td", { class: "num delayed" }, q.delayed),
      h("td", { class: "num claimed" }, q.claimed),
      h("td", { class: "num dead" }, q.dead),
      h("td", null, show));
  }
  async function loadQueues(cursor) {
    const page = await api("GET", `${nsPath(ns)}/queues`, { query: { limit: QUEUE_PAGE, cursor } });
    if (!cursor) queueBody.replaceChildren();
    queueBody.append(...page.items.map(queueRow));
    queueCursor = page.next_cursor;
    queueMore.hidden = !queueCursor;
    const n = queueBody.rows.length;
    queueInfo.textContent = n ? `${n} queue${n === 1 ? "" : "s"}${queueCursor ? " shown; more follow" : ""}.` : "No queue yet.";
  }
  queueMore.addEventListener("click", () => guard(() => loadQueues(queueCursor)));
  async function loadDead() {
    if (!deadQueue) return fill(deadPanel);
    const { items } = await api("GET", `${nsPath(ns)}/queues/${seg(deadQueue)}/dead`, { query: { limit: DEAD_SHOWN } });
    fill(deadPanel,
      h("h3", { id: "dead-h" }, `Dead letters of ${deadQueue}`),
      h("p", { class: "muted" }, items.length
        ? `${items.length} task${items.length === 1 ? "" : "s"}, oldest death first${items.length === DEAD_SHOWN ? ` (the first ${DEAD_SHOWN})` : ""}.`
        : "None."),
      items.length ? table("dead-letters", "dead-letters",
        [["Task"], ["Value"], ["Attempts", "w6 num"], ["Priority", "w6 num"], ["Put", "w8"]],
        h("tbody", null, items.map((t) => h("tr", { dataset: { task: t.id } },
          h("td", { class: "clip mono", title: t.id }, t.id),
          h("td", { class: "preview mono", title: preview(t.value, 400) }, h("div", { class: "clamp" }, preview(t.value, 300))),
          h("td", { class: "num" }, t.attempts),
          h("td", { class: "num" }, t.priority),
          h("td", null, when(t.enqueued_at)))))) : "");
  }

  // -- presence
  const presenceBody = h("tbody");
  const presenceInfo = h("p", { class: "muted", id: "presence-info" });
  async function loadPresence() {
    const { items } = await api("GET", `${nsPath(ns)}/presence`);
    fill(presenceBody, items.map((p) => h("tr", { dataset: { agent: p.agent_id } },
      h("td", { class: "key" }, p.agent_id),
      h("td", null, when(p.since)),
      h("td", { class: "preview mono", title: preview(p.info, 400) }, h("div", { class: "clamp" }, preview(p.info, 300))))));
    const n = items.length;
    presenceInfo.textContent = n ? `${n} agent${n === 1 ? "" : "s"} present.` : "Nobody is present.";
  }

  async function guard(fn) {
    try {
      await fn();
    } catch (exc) {
      ctx.status(exc instanceof ApiError ? exc.describe() : exc.message, "error");
    }
  }

  let loading = null;
  let again = false;
  /** Reload everything; calls during a reload run once more after it (never in parallel). */
  async function reload() {
    if (loading) { again = true; return loading; }
    loading = (async () => {
      do {
        again = false;
        await Promise.all([loadLocks(null), loadQueues(null), loadPresence()]);
        await loadDead();
        updated.textContent = `Updated ${when(Date.now() / 1000)}`;
      } while (again);
      expireSoon();
    })();
    try { await loading; } finally { loading = null; }
    return undefined;
  }
  refresh.addEventListener("click", () => guard(reload));

  // A hold ends at its expiry whether or not a sweep announces it (lock:expired comes only
  // when the store sweeps): reload then, while this view is on screen.
  let expiryTimer = null;
  function expireSoon() {
    clearTimeout(expiryTimer);
    if (soonest === Infinity) return;
    const ms = Math.max(0, soonest * 1000 - Date.now()) + 250;
    if (ms > 3_600_000) return;
    expiryTimer = setTimeout(() => { if (root.isConnected) guard(reload); }, ms);
  }

  await reload();
  let timer = null;
  ctx.follow(ns, info.revision, {
    onEvent: (ev) => {
      if (!COORD_EVENT.test(ev.type)) return;
      // At most one reload per 150 ms however busy the queues are (never postponed forever).
      timer ??= setTimeout(() => { timer = null; guard(reload); }, 150);
    },
    onState: (s, detail) => {
      liveBadge.textContent = s;
      liveBadge.className = "badge " + (s === "live" ? "live" : s === "closed" ? "down" : "");
      if (s === "closed" && detail) ctx.status(`Live events stopped: ${detail}`, "error");
    },
    onGap: () => guard(reload),
    onError: (err) => ctx.status(`Live events: ${err.message}`, "error"),
  });

  const root = h("section", null,
    h("h1", null, h("span", { class: "name" }, ns), " ", liveBadge),
    namespaceTabs(ns, "coordination"),
    h("div", { class: "row" }, refresh, updated),
    h("section", { "aria-labelledby": "locks-h" },
      h("h2", { id: "locks-h" }, "Locks"),
      h("p", { class: "muted" }, "Held locks with their fencing token: a write fenced with an older token is refused."),
      table("locks", "locks", [["Lock"], ["Holder", "p20"], ["Token", "w7 num"], ["Expires", "w7"], ["Lease", "p20"]], lockBody),
      h("div", { class: "pager" }, lockMore, lockInfo)),
    h("section", { "aria-labelledby": "queues-h" },
      h("h2", { id: "queues-h" }, "Queues"),
      table("queues", "queues", [["Queue"], ["Ready", "w6 num"], ["Delayed", "w6 num"], ["Claimed", "w6 num"], ["Dead", "w6 num"], ["", "w8"]], queueBody),
      h("div", { class: "pager" }, queueMore, queueInfo),
      deadPanel),
    h("section", { "aria-labelledby": "presence-h" },
      h("h2", { id: "presence-h" }, "Present agents"),
      table("presence", "presence", [["Agent"], ["Since", "w8"], ["Info", "p40"]], presenceBody),
      presenceInfo));
  return root;
}
