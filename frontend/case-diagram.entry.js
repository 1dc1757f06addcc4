// The case page's diagram: the complaint's own definition version in a bpmn-js viewer, with the
// elements already done and where the complaint waits now marked (and listed for screen readers); it
// opens readable on where the complaint waits, with zoom and fit buttons.
import NavigatedViewer from "bpmn-js/lib/NavigatedViewer";
import { addControls, openReadable } from "./diagram-view.js";

async function start() {
  const container = document.getElementById("case-diagram");
  if (!container) return;
  const response = await fetch(container.dataset.source, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error("the diagram could not be loaded (" + response.status + ")");
  const { xml, done, current } = await response.json();
  const viewer = new NavigatedViewer({ container });
  await viewer.importXML(xml);
  const canvas = viewer.get("canvas");
  const registry = viewer.get("elementRegistry");
  for (const id of done) if (registry.get(id)) canvas.addMarker(id, "marker-done");
  for (const id of current) if (registry.get(id)) canvas.addMarker(id, "marker-current");
  openReadable(viewer, [...current, ...done.slice(-1)]);
  addControls(viewer, container, { name: "diagram" });
  container.setAttribute("data-ready", "true");
  container.removeAttribute("aria-busy");
}

start().catch((error) => {
  const container = document.getElementById("case-diagram");
  if (container) {
    container.removeAttribute("aria-busy");
    container.textContent = "The diagram could not be shown: " + error.message;
  }
});
