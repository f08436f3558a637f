// The page side of tests/ui/_layout.py: measure the layout, answer its problems.
(opts) => {
  const problems = [];
  const TOL = 1;  // px: borders of neighbours may touch
  const ignored = (el) => opts.ignore && el.closest(opts.ignore);
  const name = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += "#" + el.id;
    else if (typeof el.className === "string" && el.className.trim()) {
      s += "." + el.className.trim().split(/\s+/).join(".");
    }
    const text = (el.getAttribute("aria-label") || el.textContent || el.name || "").trim();
    return text ? `${s} "${text.slice(0, 40)}${text.length > 40 ? "…" : ""}"` : s;
  };
  // Rendered: not display:none, not visibility:hidden, not inside a closed <details>.
  const shown = (el) => !ignored(el) && el.getClientRects().length > 0
    && el.checkVisibility({ contentVisibilityAuto: true, visibilityProperty: true });
  // The part of a box left visible by the ancestors that clip their overflow (page coords).
  const clipCache = new Map();
  const clipOf = (el) => {
    if (clipCache.has(el)) return clipCache.get(el);
    let box = { l: -Infinity, t: -Infinity, r: Infinity, b: Infinity };
    const parent = el.parentElement;
    if (parent && parent !== document.documentElement) {
      box = { ...clipOf(parent) };
      const cs = getComputedStyle(parent);
      const r = parent.getBoundingClientRect();
      if (cs.overflowX !== "visible") { box.l = Math.max(box.l, r.left + scrollX); box.r = Math.min(box.r, r.right + scrollX); }
      if (cs.overflowY !== "visible") { box.t = Math.max(box.t, r.top + scrollY); box.b = Math.min(box.b, r.bottom + scrollY); }
    }
    clipCache.set(el, box);
    return box;
  };
  const rectsOf = (el) => {
    const clip = clipOf(el);
    const out = [];
    const inline = getComputedStyle(el).display === "inline";
    for (const r of inline ? el.getClientRects() : [el.getBoundingClientRect()]) {
      const box = {
        l: Math.max(r.left + scrollX, clip.l), t: Math.max(r.top + scrollY, clip.t),
        r: Math.min(r.right + scrollX, clip.r), b: Math.min(r.bottom + scrollY, clip.b),
      };
      if (box.r - box.l > TOL && box.b - box.t > TOL) out.push(box);
    }
    return out;
  };

  // --- overlap -------------------------------------------------------------------------
  const controls = [...document.querySelectorAll(opts.controls)].filter(shown);
  const panels = [...document.querySelectorAll(opts.panels)].filter(shown);
  const boxes = [];
  for (const el of new Set([...controls, ...panels])) {
    for (const box of rectsOf(el)) boxes.push({ el, ...box });
  }
  boxes.sort((a, b) => a.t - b.t);
  const overlaps = new Set();
  for (let i = 0; i < boxes.length; i++) {
    const a = boxes[i];
    for (let j = i + 1; j < boxes.length && boxes[j].t < a.b - TOL; j++) {
      const b = boxes[j];
      if (a.el === b.el || Math.min(a.r, b.r) - Math.max(a.l, b.l) <= TOL) continue;
      if (a.el.contains(b.el) || b.el.contains(a.el)) continue;
      const pair = `overlap: ${name(a.el)} and ${name(b.el)}`;
      if (!overlaps.has(pair)) { overlaps.add(pair); problems.push(pair); }
    }
  }

  // --- columns -------------------------------------------------------------------------
  for (const table of document.querySelectorAll("table")) {
    if (!shown(table)) continue;
    for (const th of table.querySelectorAll("thead th")) {
      const text = th.textContent.trim();
      if (!text) continue;
      const cs = getComputedStyle(th);
      const inner = th.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
      const range = document.createRange();
      range.selectNodeContents(th);
      const rects = [...range.getClientRects()];
      const width = Math.max(...rects.map((r) => r.right)) - Math.min(...rects.map((r) => r.left));
      const lines = new Set(rects.map((r) => Math.round(r.top))).size;
      if (lines > 1 || width > inner + 0.5 || th.scrollWidth > th.clientWidth + TOL) {
        problems.push(`column narrower than its header: ${name(table)} "${text}" (${inner.toFixed(0)} px for ${width.toFixed(0)} px)`);
      }
    }
    let spills = 0;
    for (const td of table.querySelectorAll("td")) {
      if (td.scrollWidth <= td.clientWidth + TOL) continue;
      const cs = getComputedStyle(td);
      if (cs.overflowX !== "visible" && cs.textOverflow === "ellipsis") continue;
      if (spills++ < 3) problems.push(`cell wider than its column: ${name(table)} ${name(td)}`);
    }
  }

  // --- keys ----------------------------------------------------------------------------
  for (const el of document.querySelectorAll(opts.keySelector)) {
    if (!shown(el)) continue;
    const text = el.textContent.trim();
    if (text.length <= opts.minChars) continue;
    // Line boxes of its text: the widest line tells how many characters a line holds.
    const lines = new Map();
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const range = document.createRange();
      range.selectNodeContents(node);
      for (const r of range.getClientRects()) {
        if (r.width > 0) lines.set(Math.round(r.top), (lines.get(Math.round(r.top)) || 0) + r.width);
      }
    }
    if (lines.size < 2) continue;
    const widths = [...lines.values()];
    const perLine = text.length * Math.max(...widths) / widths.reduce((a, b) => a + b, 0);
    if (perLine < opts.minChars) {
      problems.push(`text squeezed to ${perLine.toFixed(1)} chars a line: ${name(el)}`);
    }
  }

  // --- page overflow -------------------------------------------------------------------
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth + TOL) {
    const wide = [...document.body.querySelectorAll("*")]
      .filter((el) => shown(el) && rectsOf(el).some((b) => b.r > root.clientWidth + scrollX + TOL))
      .filter((el, _, all) => !all.some((o) => o !== el && el.contains(o)))
      .slice(0, 3).map(name);
    problems.push(`page scrolls sideways (${root.scrollWidth} px in ${root.clientWidth} px): ${wide.join(", ")}`);
  }

  // --- reachable -----------------------------------------------------------------------
  for (const el of controls) {
    el.scrollIntoView({ block: "center", inline: "center" });
    // The centre of each of its boxes (a wrapped link has one per line) until one is hit.
    let hit = null;
    for (const r of el.getClientRects()) {
      hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
      if (hit && (hit === el || el.contains(hit))) break;
    }
    if (!hit || !(hit === el || el.contains(hit))) {
      problems.push(`not reachable: ${name(el)} is covered by ${hit ? name(hit) : "nothing (off screen)"}`);
    }
  }
  for (const el of document.querySelectorAll("*")) {
    if (el.scrollLeft) el.scrollLeft = 0;
    if (el.scrollTop) el.scrollTop = 0;
  }
  scrollTo(0, 0);
  return { problems, controls: controls.length, panels: panels.length };
}
