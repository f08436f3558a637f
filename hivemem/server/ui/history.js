// An entry's history (SPEC §20): its retained versions, newest first, a diff of one of them
// against the current value, and "restore this version" as a compare-and-set write on the
// version the diff was made against (a change made meanwhile is never overwritten: the
// server refuses the write with a conflict, shown here). Diffs are computed here and
// rendered as text nodes only.

import { ApiError, api, seg } from "./api.js";
import { fill, h, preview, when } from "./dom.js";

/** Versions per page ("Older versions" fetches the next, by revision). */
const PAGE = 50;
/** Above this many line pairs the diff stops looking for the shortest edit (it stays correct). */
const DIFF_BUDGET = 4_000_000;

/** JSON with object keys sorted at every level, so that a diff shows changed keys, not moves. */
export function canonical(value) {
  const sort = (v) => {
    if (Array.isArray(v)) return v.map(sort);
    if (v && typeof v === "object") {
      const out = {};
      for (const k of Object.keys(v).sort()) out[k] = sort(v[k]);
      return out;
    }
    return v;
  };
  const text = JSON.stringify(sort(value), null, 2);
  return text === undefined ? String(value) : text;
}

/**
 * A line diff of two texts: [{op: " " | "-" | "+", line}], "-" lines of `a`, "+" of `b`.
 * The common head and tail are cut first; the middle is the longest common subsequence of
 * lines (a table of at most DIFF_BUDGET cells; beyond it, the middle is all removed, then
 * all added — still a correct diff, only not the shortest).
 */
export function diffLines(a, b) {
  const x = a.split("\n");
  const y = b.split("\n");
  let head = 0;
  while (head < x.length && head < y.length && x[head] === y[head]) head++;
  let tail = 0;
  while (tail < x.length - head && tail < y.length - head && x[x.length - 1 - tail] === y[y.length - 1 - tail]) tail++;
  const xs = x.slice(head, x.length - tail);
  const ys = y.slice(head, y.length - tail);
  const out = x.slice(0, head).map((line) => ({ op: " ", line }));
  const n = xs.length;
  const m = ys.length;
  if (n * m > DIFF_BUDGET) {
    for (const line of xs) out.push({ op: "-", line });
    for (const line of ys) out.push({ op: "+", line });
  } else {
    // lcs[i][j]: the longest common subsequence of xs[i..] and ys[j..] (one flat array).
    const w = m + 1;
    const lcs = new Uint32Array((n + 1) * w);
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        lcs[i * w + j] = xs[i] === ys[j] ? lcs[(i + 1) * w + j + 1] + 1 : Math.max(lcs[(i + 1) * w + j], lcs[i * w + j + 1]);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n && j < m) {
      if (xs[i] === ys[j]) { out.push({ op: " ", line: xs[i] }); i++; j++; }
      else if (lcs[(i + 1) * w + j] >= lcs[i * w + j + 1]) out.push({ op: "-", line: xs[i++] });
      else out.push({ op: "+", line: ys[j++] });
    }
    while (i < n) out.push({ op: "-", line: xs[i++] });
    while (j < m) out.push({ op: "+", line: ys[j++] });
  }
  for (const line of x.slice(x.length - tail)) out.push({ op: " ", line });
  return out;
}

/** The diff as a <pre> of one line element per line (text only). */
function diffBlock(rows) {
  const cls = { " ": "same", "-": "del", "+": "add" };
  return h("pre", { class: "json diff", id: "diff", tabindex: "0" },
    rows.map(({ op, line }) => h("span", { class: cls[op] }, `${op} ${line}\n`)));
}

/**
 * The history section of an entry's view.
 *
 * @param ctx the view's context (status bar)
 * @param ns the namespace
 * @param key the entry's key
 * @param {{current: () => object, canWrite: boolean, restored: (entry: object) => void}} opts
 *   `current()` answers the entry as the view shows it now; `restored(entry)` hands the
 *   entry a restore wrote back to the view.
 * @returns {{node: Element, onEvent: (ev: object) => void, loaded: Promise}} `loaded`
 *   settles when the first page of versions is on screen.
 */
export function historySection(ctx, ns, key, opts) {
  const path = `v1/namespaces/${seg(ns)}/history/${seg(key)}`;
  const tbody = h("tbody");
  const info = h("p", { class: "muted", id: "history-info" });
  const older = h("button", { type: "button", id: "history-older", hidden: true }, "Older versions");
  const panel = h("div", { id: "diff-panel" });
  const notices = h("div", { id: "history-notices" });
  let last = null; // the revision of the oldest version listed
  let more = false;
  let chosen = null; // {version, base}: the version compared, and the current entry it was compared to

  function row(v) {
    const compare = h("button", {
      type: "button", class: "compare", disabled: v.deleted,
      "aria-label": `Compare version ${v.version} (revision ${v.revision}) with the current value`,
    }, "Compare");
    compare.addEventListener("click", () => guard(() => show(v)));
    return h("tr", { dataset: { revision: v.revision, version: v.version } },
      h("td", { class: "num" }, v.version),
      h("td", { class: "num" }, v.revision),
      h("td", { class: "clip", title: v.agent_id }, v.agent_id),
      h("td", null, when(v.updated_at)),
      h("td", { class: "preview mono", title: v.deleted ? null : preview(v.value, 400) },
        v.deleted ? h("em", null, "deleted") : h("div", { class: "clamp" }, preview(v.value, 300))),
      h("td", null, compare));
  }

  async function load(before) {
    const { versions } = await api("GET", path, { query: { limit: PAGE, before } });
    if (before === undefined) tbody.replaceChildren();
    tbody.append(...versions.map(row));
    more = versions.length === PAGE;
    last = versions.length ? versions[versions.length - 1].revision : last;
    older.hidden = !more;
    const n = tbody.rows.length;
    info.textContent = n
      ? `${n} version${n === 1 ? "" : "s"}, newest first${more ? "; older ones follow" : " (all that are retained)"}.`
      : "No retained history.";
  }
  older.addEventListener("click", () => guard(() => load(last)));

  function show(v) {
    // No live entry (deleted, expired): compare with nothing; a restore then creates it.
    const base = opts.current() || { version: 0, value: undefined };
    chosen = { version: v, base };
    const rows = diffLines(canonical(v.value), base.version ? canonical(base.value) : "");
    const changes = rows.filter((r) => r.op !== " ").length;
    notices.replaceChildren();
    const parts = [
      h("h3", { id: "diff-h" }, base.version
        ? `Version ${v.version} → current version ${base.version}`
        : `Version ${v.version} → no current value`),
      h("p", { class: "muted", id: "diff-summary" }, changes
        ? `“-” lines are version ${v.version}'s, “+” lines the current value's (${changes} line${changes === 1 ? "" : "s"} differ).`
        : `Version ${v.version} holds the current value.`),
      diffBlock(rows),
    ];
    if (opts.canWrite) {
      const restore = h("button", { type: "button", class: "primary", id: "restore" }, `Restore version ${v.version}`);
      restore.addEventListener("click", () => guard(() => doRestore(restore)));
      parts.push(h("div", { class: "row" }, restore,
        h("span", { class: "muted" }, base.version
          ? `Writes version ${v.version}'s value as a new version, only if the entry is still at version ${base.version}.`
          : `Writes version ${v.version}'s value back, only if the key still holds no value.`)));
    }
    fill(panel, parts);
    panel.querySelector("#diff-h").scrollIntoView({ block: "nearest" });
  }

  async function doRestore(button) {
    const { version: v, base } = chosen;
    button.disabled = true;
    let saved;
    try {
      saved = await api("PUT", `v1/namespaces/${seg(ns)}/entries/${seg(key)}`, {
        body: { value: v.value, expected_version: base.version },
      });
    } catch (exc) {
      button.disabled = false;
      if (exc instanceof ApiError && exc.status === 409) {
        const now = exc.details.current_version;
        fill(notices, h("div", { class: "notice conflict", id: "restore-conflict", role: "alert" },
          `Not restored: the entry changed since this comparison — it was ${base.version ? `version ${base.version}` : "absent"}, it is now `
          + (now ? `version ${now}` : "deleted")
          + ". Nothing was overwritten. Compare again against the current value to restore."));
        return;
      }
      throw exc;
    }
    chosen = null;
    panel.replaceChildren();
    notices.replaceChildren();
    opts.restored(saved);
    ctx.status(`Restored version ${v.version} of ${key} as version ${saved.version}`, "ok");
    await load(undefined);
  }

  async function guard(fn) {
    try {
      await fn();
    } catch (exc) {
      ctx.status(exc instanceof ApiError ? exc.describe() : exc.message, "error");
    }
  }

  let timer = null;
  function onEvent(ev) {
    if (ev.key !== key || !/^memory:/.test(ev.type)) return;
    timer ??= setTimeout(() => { timer = null; guard(() => load(undefined)); }, 150);
    if (chosen && ev.type === "memory:write" && ev.version > chosen.base.version) {
      fill(notices, h("div", { class: "notice warn", id: "history-changed" },
        `${ev.agent_id} changed this entry to version ${ev.version} after this comparison (against ${chosen.base.version ? `version ${chosen.base.version}` : "no value"}); `
        + "restoring it now will be refused. Compare again to restore."));
    }
  }

  const node = h("section", { "aria-labelledby": "history-h", id: "history" },
    h("h2", { id: "history-h" }, "History"),
    h("div", { class: "table-wrap" },
      h("table", { id: "versions", class: "grid versions" },
        h("thead", null, h("tr", null,
          [["Version", "w6 num"], ["Revision", "w7 num"], ["By", "w8"], ["Updated", "w8"], ["Value"], ["", "w7"]]
            .map(([title, c]) => h("th", { scope: "col", class: c || null }, title)))),
        tbody)),
    h("div", { class: "pager" }, older, info),
    notices, panel);
  const loaded = guard(() => load(undefined));
  return { node, onEvent, loaded };
}
