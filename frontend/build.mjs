// Bundles every frontend/*.entry.js into src/workflow_app/web/static/build/ (and copies the
// libraries' own CSS there), so pages load only our own assets.
import { build } from "esbuild";
import { cpSync, mkdirSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "src", "workflow_app", "web", "static", "build");
mkdirSync(out, { recursive: true });

const entries = readdirSync(join(root, "frontend")).filter((f) => f.endsWith(".entry.js"));
await build({
  entryPoints: entries.map((f) => join(root, "frontend", f)),
  outdir: out,
  entryNames: "[name]",
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2020",
  loader: { ".svg": "text" },
  logLevel: "warning",
});

const css = [
  "bpmn-js/dist/assets/diagram-js.css",
  "bpmn-js/dist/assets/bpmn-js.css",
  "bpmn-js/dist/assets/bpmn-font/css/bpmn-embedded.css",
  "@bpmn-io/form-js/dist/assets/form-js.css",
  "@bpmn-io/properties-panel/dist/assets/properties-panel.css",
];
for (const file of css) {
  cpSync(join(root, "node_modules", file), join(out, file.split("/").pop()));
}
console.log(`built ${entries.length} bundle(s) into ${out}`);
