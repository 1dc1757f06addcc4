// The analysts' in-browser modeller: bpmn-js Modeler with the properties panel for the camunda:
// extensions (Camunda 7), so deadline keys, stages, forms, roles and letters can be edited here as in
// Camunda Modeler. "Check this draft" sends the XML to the Code check; nothing is deployed from here.
import BpmnModeler from "bpmn-js/lib/Modeler";
import {
  BpmnPropertiesPanelModule,
  BpmnPropertiesProviderModule,
  CamundaPlatformPropertiesProviderModule,
} from "bpmn-js-properties-panel";
import CamundaBehaviorsModule from "camunda-bpmn-js-behaviors/lib/camunda-platform";
import camundaModdle from "camunda-bpmn-moddle/resources/camunda.json";
import { addControls, button, openReadable } from "./diagram-view.js";

// The palette floats over the canvas's left edge: the diagram opens, and is fitted, in the room beside it.
function besideThePalette(container) {
  const palette = container.querySelector(".djs-palette");
  if (!palette) return 16;
  return palette.getBoundingClientRect().right - container.getBoundingClientRect().left + 16;
}

// Undo and redo beside the zoom buttons, enabled when the command stack has something to undo or redo.
function addUndo(modeler, bar) {
  const commandStack = modeler.get("commandStack");
  const undo = button("Undo", "Undo", () => commandStack.undo());
  const redo = button("Redo", "Redo", () => commandStack.redo());
  bar.append(undo, redo);
  const update = () => {
    undo.disabled = !commandStack.canUndo();
    redo.disabled = !commandStack.canRedo();
  };
  modeler.on("commandStack.changed", update);
  update();
}

async function start() {
  const container = document.getElementById("modeller");
  if (!container) return;
  const status = document.getElementById("modeller-status");
  const modeler = new BpmnModeler({
    container: "#modeller-canvas",
    propertiesPanel: { parent: "#modeller-properties" },
    additionalModules: [
      BpmnPropertiesPanelModule,
      BpmnPropertiesProviderModule,
      CamundaPlatformPropertiesProviderModule,
      CamundaBehaviorsModule,
    ],
    moddleExtensions: { camunda: camundaModdle },
  });
  window.workflowAppModeler = modeler; // for the browser tests and the console
  const xml = JSON.parse(document.getElementById("modeller-source").textContent);
  const { warnings } = await modeler.importXML(xml);
  const canvasContainer = document.getElementById("modeller-canvas");
  openReadable(modeler, [], besideThePalette(canvasContainer));
  const bar = addControls(modeler, canvasContainer.parentElement, { name: "diagram",
                                                                    left: () => besideThePalette(canvasContainer) });
  bar.setAttribute("aria-label", "Zoom and undo");
  addUndo(modeler, bar);
  if (warnings.length) status.textContent = `Opened with ${warnings.length} warning(s) from the diagram reader.`;
  container.setAttribute("data-ready", "true");

  const form = document.getElementById("modeller-check");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { xml: saved } = await modeler.saveXML({ format: true });
    document.getElementById("modeller-xml").value = saved;
    status.textContent = "Checking the draft…";
    HTMLFormElement.prototype.submit.call(form); // no second submit event
  });

  document.getElementById("modeller-download").addEventListener("click", async (event) => {
    const { xml: saved } = await modeler.saveXML({ format: true });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([saved], { type: "application/xml" }));
    link.download = event.currentTarget.dataset.filename || "diagram.bpmn";
    document.body.appendChild(link);
    link.click();
    setTimeout(() => { URL.revokeObjectURL(link.href); link.remove(); }, 0);
  });
}

start().catch((error) => {
  const status = document.getElementById("modeller-status");
  if (status) status.textContent = "The diagram could not be opened: " + error.message;
});
