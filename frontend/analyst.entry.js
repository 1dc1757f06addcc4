// The try-it page's diagram: the diagram tried, with each deadline's due date drawn on its timer and
// each task's completion on the task (the same labels are in the tables above, for screen readers).
import NavigatedViewer from "bpmn-js/lib/NavigatedViewer";
import { addControls, openReadable } from "./diagram-view.js";

async function start() {
  const container = document.getElementById("try-diagram");
  const data = document.getElementById("try-data");
  if (!container || !data) return;
  const { xml, marks, done } = JSON.parse(data.textContent);
  const viewer = new NavigatedViewer({ container });
  await viewer.importXML(xml);
  const canvas = viewer.get("canvas");
  const registry = viewer.get("elementRegistry");
  const overlays = viewer.get("overlays");
  for (const id of done) if (registry.get(id)) canvas.addMarker(id, "marker-done");
  for (const [id, labels] of Object.entries(marks)) {
    if (!registry.get(id)) continue;
    labels.forEach((label, index) => {
      const html = document.createElement("div");
      html.className = "try-mark" + (label.includes("missed") ? " try-mark--missed" : "");
      html.textContent = label;
      overlays.add(id, "try-mark", { position: { bottom: -4 - 18 * index, left: 0 }, html });
    });
  }
  openReadable(viewer, Object.keys(marks));
  addControls(viewer, container, { name: "diagram" });
  container.setAttribute("data-ready", "true");
  container.removeAttribute("aria-busy");
}

start().catch((error) => {
  const container = document.getElementById("try-diagram");
  if (container) {
    container.removeAttribute("aria-busy");
    container.textContent = "The diagram could not be shown: " + error.message;
  }
});
