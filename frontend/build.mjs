// Bundles every frontend/*.entry.js into src/workflow_app/web/static/build/ (and copies the
// libraries' own CSS there), so pages load only our own assets.
import { build } from "esbuild";
import { cpSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "src", "workflow_app", "web", "static", "build");
mkdirSync(out, { recursive: true });

// The Content Security Policy allows no inline style (style-src 'self'), and a few of the libraries write
// markup with style="..." attributes as strings (the properties panel's containers, bpmn-js's align and
// distribute icons), which the browser refuses. Each such attribute becomes data-library-style="N" here,
// and its declarations a rule of library-styles.css, a stylesheet of our own the modeller links.
const libraryStyles = new Map();
const inlineStylesToSheet = {
  name: "inline-styles-to-sheet",
  setup(build) {
    build.onLoad({ filter: /node_modules[\\/].*\.js$/ }, (args) => {
      const source = readFileSync(args.path, "utf8");
      if (!source.includes('style="')) return undefined;
      const contents = source.split("\n").map((line) => /^\s*(\*|\/\/)/.test(line) ? line
        : line.replace(/ style="([^"{}$]+:[^"{}$]*)"/g, (_, declarations) => {
          if (!libraryStyles.has(declarations)) libraryStyles.set(declarations, libraryStyles.size + 1);
          return ` data-library-style="${libraryStyles.get(declarations)}"`;
        })).join("\n");
      return { contents, loader: "js" };
    });
  },
};

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
  plugins: [inlineStylesToSheet],
});
writeFileSync(join(out, "library-styles.css"), [
  "/* Built by frontend/build.mjs: the libraries' inline style attributes, as rules the CSP allows. */",
  ...[...libraryStyles].map(([declarations, n]) => `[data-library-style="${n}"] { ${declarations} }`),
].join("\n") + "\n");

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
