// The diagram heatmap: the landlord's deployed diagram in a bpmn-js viewer with, on each element, how
// many running complaints wait there now, how many passed through it in the chosen period and how often
// its deadline was missed, and each sequence flow drawn thicker the more complaints went along it.
// The same counts are listed in a table for screen readers and for copying.
import NavigatedViewer from "bpmn-js/lib/NavigatedViewer";
import { addControls, openReadable } from "./diagram-view.js";

function badge(kind, text, title) {
  const element = document.createElement("span");
  element.className = "heat-badge heat-badge--" + kind;
  element.textContent = text;
  element.title = title;
  return element;
}

function level(value, highest) {
  if (!value || !highest) return 0;
  return Math.min(4, 1 + Math.floor((3 * value) / highest));
}

async function start() {
  const container = document.getElementById("heatmap");
  if (!container) return;
  const response = await fetch(container.dataset.source, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error("the figures could not be loaded (" + response.status + ")");
  const data = await response.json();
  const viewer = new NavigatedViewer({ container });
  await viewer.importXML(data.xml);
  const canvas = viewer.get("canvas");
  const registry = viewer.get("elementRegistry");
  const overlays = viewer.get("overlays");

  const passedValues = Object.entries(data.passed).filter(([id]) => registry.get(id) && registry.get(id).type !== "bpmn:SequenceFlow");
  const highestPassed = Math.max(0, ...passedValues.map(([, n]) => n));
  const highestFlow = Math.max(0, ...Object.values(data.flows));
  const highestWaiting = Math.max(0, ...Object.values(data.waiting));

  for (const [id, count] of Object.entries(data.waiting)) {
    if (!registry.get(id) || !count) continue;
    canvas.addMarker(id, "heat-" + level(count, highestWaiting));
    overlays.add(id, { position: { top: -12, left: -8 }, html: badge("waiting", String(count), count + " waiting now") });
  }
  for (const [id, count] of passedValues) {
    if (!count) continue;
    overlays.add(id, { position: { bottom: 4, right: 14 }, html: badge("passed", String(count), count + " passed in the period") });
  }
  for (const [id, count] of Object.entries(data.flows)) {
    const flow = registry.get(id);
    if (!flow || !count) continue;
    canvas.addMarker(id, "flow-" + level(count, highestFlow));
    const waypoints = flow.waypoints || [];
    if (waypoints.length > 1) {
      const middle = Math.floor((waypoints.length - 1) / 2);
      const a = waypoints[middle], b = waypoints[middle + 1];
      const x = (a.x + b.x) / 2 - Math.min(a.x, ...waypoints.map((p) => p.x));
      const y = (a.y + b.y) / 2 - Math.min(a.y, ...waypoints.map((p) => p.y));
      overlays.add(id, { position: { top: y - 9, left: x - 10 }, html: badge("flow", String(count), count + " went this way") });
    }
  }
  for (const [id, figures] of Object.entries(data.missed)) {
    if (!registry.get(id) || !figures.missed) continue;
    overlays.add(id, { position: { bottom: -6, left: -14 },
      html: badge("missed", figures.missed + "/" + figures.due, figures.missed + " of " + figures.due + " missed") });
  }
  openReadable(viewer, Object.keys(data.waiting).filter((id) => data.waiting[id]));
  addControls(viewer, container, { name: "heatmap" });

  const table = document.getElementById("heatmap-table");
  if (table) {
    const ids = new Set([...Object.keys(data.waiting), ...passedValues.map(([id]) => id), ...Object.keys(data.missed)]);
    const body = document.createElement("tbody");
    const rows = Array.from(ids).filter((id) => registry.get(id)).map((id) => {
      const element = registry.get(id);
      return { id, name: (element.businessObject && element.businessObject.name) || id,
        waiting: data.waiting[id] || 0, passed: data.passed[id] || 0, missed: data.missed[id] };
    }).sort((a, b) => b.waiting - a.waiting || b.passed - a.passed || a.name.localeCompare(b.name));
    for (const row of rows) {
      const tr = body.insertRow();
      const th = document.createElement("th");
      th.scope = "row";
      th.textContent = row.name;
      tr.appendChild(th);
      for (const text of [row.waiting, row.passed, row.missed ? row.missed.missed + " of " + row.missed.due : "—"]) {
        const td = tr.insertCell();
        td.className = "num";
        td.textContent = String(text);
      }
    }
    if (!rows.length) body.insertRow().insertCell().textContent = "Nothing in this period.";
    table.replaceChild(body, table.tBodies[0]);
  }
  const version = document.querySelector("[data-heatmap-version]");
  if (version) version.textContent = "Diagram: " + data.version + ". Period: " + data.period + ".";
  container.setAttribute("data-ready", "true");
  container.removeAttribute("aria-busy");
}

start().catch((error) => {
  const container = document.getElementById("heatmap");
  if (container) {
    container.removeAttribute("aria-busy");
    container.textContent = "The diagram could not be shown: " + error.message;
  }
});
