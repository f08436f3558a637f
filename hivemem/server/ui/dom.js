// DOM helpers. Everything the server sends (keys, values, agent ids, messages) is
// attacker-controlled: it only ever reaches the page as text nodes, attribute values or
// form values, never as HTML.

/** Build an element: h("a", {href: "#/", class: "x", onclick: fn}, "text", child...). */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "value" || name === "checked" || name === "selected") el[name] = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  add(el, children);
  return el;
}

function add(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/** Replace an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  add(el, children);
  return el;
}

/** A local date-time for Unix seconds. */
export function when(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const d = new Date(seconds * 1000);
  return d.toLocaleString(undefined, { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}

/** "in 5 m" / "expired" for an expiry time. */
export function expiry(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const left = seconds - Date.now() / 1000;
  if (left <= 0) return "expired";
  if (left < 120) return `in ${Math.round(left)} s`;
  if (left < 7200) return `in ${Math.round(left / 60)} min`;
  if (left < 172800) return `in ${Math.round(left / 3600)} h`;
  return when(seconds);
}

/** A one-line preview of a JSON value. */
export function preview(value, max = 90) {
  let text = JSON.stringify(value);
  if (text === undefined) text = String(value);
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}

export function pretty(value) {
  return JSON.stringify(value, null, 2);
}

/** A labelled form control. */
export function field(label, control) {
  return h("label", null, label, control);
}

/** A <select> of options [value, text]; `current` selected. */
export function select(name, options, current) {
  return h("select", { name }, options.map(([value, text]) => h("option", { value, selected: value === current }, text)));
}
