// What every diagram on the site shares: it opens readable (the whole diagram when it is legible at that
// size, else at a legible zoom on the elements that matter), and real buttons beside it zoom in, zoom out
// and fit it, so it can be read with a keyboard and at any width. The modeller adds undo and redo.

export const READABLE = 0.7;
const MARGIN = 16;

export function button(label, text, action) {
  const element = document.createElement("button");
  element.type = "button";
  element.className = "button button--secondary button--small";
  element.textContent = text;
  if (label !== text) element.setAttribute("aria-label", label);
  element.addEventListener("click", action);
  return element;
}

// The whole diagram inside the canvas, `left` pixels clear on the left (the modeller's palette).
export function fit(canvas, left = MARGIN) {
  const { inner, outer } = canvas.viewbox();
  if (!inner.width || !inner.height) return canvas.zoom("fit-viewport", "auto");
  const scale = Math.min((outer.width - left - MARGIN) / inner.width, (outer.height - 2 * MARGIN) / inner.height, 1);
  canvas.viewbox({ x: inner.x - left / scale, y: inner.y - MARGIN / scale,
                   width: outer.width / scale, height: outer.height / scale });
  return scale;
}

// Fit the diagram; if that makes it too small to read, show it at a readable zoom instead, centred on
// the first task among `focus` (element ids), else the first of them, else from the diagram's start.
export function openReadable(viewer, focus = [], left = MARGIN) {
  const canvas = viewer.get("canvas");
  if (fit(canvas, left) >= READABLE) return;
  const registry = viewer.get("elementRegistry");
  const { inner, outer } = canvas.viewbox();
  const width = outer.width / READABLE, height = outer.height / READABLE;
  const candidates = focus.map((id) => registry.get(id)).filter(Boolean);
  const element = candidates.find((e) => /Task$/.test(e.type)) || candidates[0];   // a task before a watcher
  const start = { x: inner.x - left / READABLE, y: inner.y - MARGIN / READABLE };   // never blank above or left
  const x = element ? Math.max(start.x, element.x + element.width / 2 - width / 2) : start.x;
  const y = element ? Math.max(start.y, element.y + element.height / 2 - height / 2) : start.y;
  canvas.viewbox({ x, y, width, height });
}

// Zoom in, zoom out and fit buttons in a toolbar placed before `container`; returns the toolbar.
export function addControls(viewer, container, { name = "diagram", left = () => MARGIN } = {}) {
  const canvas = viewer.get("canvas");
  const zoomScroll = viewer.get("zoomScroll");
  const bar = document.createElement("div");
  bar.className = "diagram-controls";
  bar.setAttribute("role", "toolbar");
  bar.setAttribute("aria-label", "Zoom the " + name);
  bar.append(
    button("Zoom in", "Zoom in", () => zoomScroll.stepZoom(1)),
    button("Zoom out", "Zoom out", () => zoomScroll.stepZoom(-1)),
    button("Fit the whole " + name, "Fit", () => fit(canvas, left())),
  );
  container.before(bar);
  return bar;
}
