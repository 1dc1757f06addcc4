// The case page's diagram: the complaint's own definition version in a bpmn-js viewer, with the
// elements already done and where the complaint waits now marked (and listed for screen readers).
import NavigatedViewer from "bpmn-js/lib/NavigatedViewer";

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
  canvas.zoom("fit-viewport");
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
