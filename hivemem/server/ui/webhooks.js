// Webhooks (SPEC §19): the webhooks this token administers (all of them for a server
// admin), each with its most recent delivery attempts. Read-only; secrets are never shown
// (listings do not carry them). Every string from the server is rendered as text.

import { ApiError, api, seg } from "./api.js";
import { h, when } from "./dom.js";

/** Attempts shown per webhook (the server keeps its newest 100). */
const DELIVERIES = 20;

function table(props, columns, body) {
  return h("div", { class: "table-wrap" },
    h("table", { ...props, class: `grid ${props.class}` },
      h("thead", null, h("tr", null, columns.map(([title, c]) => h("th", { scope: "col", class: c || null }, title)))),
      body));
}

function deliveryRow(d) {
  const result = d.ok ? "delivered" : "failed";
  return h("tr", { dataset: { seq: d.seq, ok: String(d.ok) } },
    h("td", null, when(d.at)),
    h("td", { class: "key" }, d.namespace),
    h("td", { class: "num" }, d.first_revision === d.last_revision ? d.first_revision : `${d.first_revision}–${d.last_revision}`),
    h("td", { class: "num" }, d.events),
    h("td", { class: "num" }, d.attempt),
    h("td", { class: d.ok ? "yes" : "no" }, result),
    h("td", { class: "num status-code" }, d.status ?? "—"),
    h("td", { class: "num" }, `${Math.round(d.duration * 1000)} ms`),
    h("td", null, h("div", { class: "clamp" }, d.error ?? "")));
}

async function hookCard(hook) {
  let deliveries = [];
  let problem = null;
  try {
    ({ deliveries } = await api("GET", `v1/webhooks/${seg(hook.id)}/deliveries`, { query: { limit: DELIVERIES } }));
  } catch (exc) {
    if (!(exc instanceof ApiError)) throw exc;
    problem = exc.describe(); // removed meanwhile, or no longer ours: say so in its card
  }
  const cursors = Object.entries(hook.cursors || {}).sort(([a], [b]) => (a < b ? -1 : 1));
  const headingId = `hook-${hook.id}-h`;
  return h("article", { class: "hook", "aria-labelledby": headingId, dataset: { hook: hook.id } },
    h("h2", { id: headingId, class: "name" }, hook.url),
    h("dl", { class: "meta" },
      h("dt", null, "Id"), h("dd", { class: "mono" }, hook.id),
      h("dt", null, "State"), h("dd", { class: "hook-state" },
        h("span", { class: hook.enabled ? "yes" : "no" }, hook.enabled ? "enabled" : "disabled"),
        hook.failures ? h("span", { class: "no" }, ` · ${hook.failures} failure${hook.failures === 1 ? "" : "s"} in a row`) : ""),
      hook.last_error ? [h("dt", null, "Last error"), h("dd", null, hook.last_error)] : "",
      h("dt", null, "Namespaces"), h("dd", null, hook.namespaces.join(", ")),
      h("dt", null, "Events"), h("dd", { class: "mono" }, hook.events.join(", ")),
      h("dt", null, "Acknowledged up to"), h("dd", null, cursors.length ? cursors.map(([ns, rev]) => `${ns}: revision ${rev}`).join(" · ") : "—"),
      h("dt", null, "Owner"), h("dd", null, hook.owner),
      h("dt", null, "Created"), h("dd", null, when(hook.created_at))),
    h("h3", null, "Recent deliveries"),
    problem ? h("p", { class: "notice warn" }, problem)
      : deliveries.length
        ? table({ class: "deliveries" },
          [["Time", "w8"], ["Namespace", "p20"], ["Revisions", "w7 num"], ["Events", "w5 num"], ["Attempt", "w6 num"],
            ["Result", "w6"], ["Response", "w6 num"], ["Took", "w6 num"], ["Error"]],
          h("tbody", null, deliveries.map(deliveryRow)))
        : h("p", { class: "muted" }, "No delivery yet."));
}

export async function webhooksView(ctx) {
  const { webhooks } = await api("GET", "v1/webhooks");
  const cards = await Promise.all(webhooks.map(hookCard));
  const refresh = h("button", { type: "button", id: "webhooks-refresh", onclick: () => ctx.reload() }, "Refresh");
  return h("section", null,
    h("h1", null, "Webhooks"),
    h("p", { class: "muted" }, ctx.me.role === "admin"
      ? "Every webhook of this server, with its newest delivery attempts first."
      : "The webhooks of namespaces you administer, with their newest delivery attempts first."),
    h("div", { class: "row" }, refresh, h("span", { class: "muted", id: "webhooks-count" },
      `${webhooks.length} webhook${webhooks.length === 1 ? "" : "s"}; the last ${DELIVERIES} attempts of each.`)),
    h("div", { id: "webhooks" }, cards.length ? cards : h("p", { class: "muted" }, "No webhook you administer.")));
}
