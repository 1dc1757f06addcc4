#!/usr/bin/env node
// The modeller checks every landlord diagram must pass, with the same libraries a modeller uses.
//
//   node tools/check_diagrams.mjs [--out DIR] [--json] [FILE.bpmn ...]
//
// For each diagram (default: processes/*/*.bpmn):
//   1. import it with bpmn-moddle and the Camunda extension (what bpmn-js and Camunda Modeler
//      read): any import warning fails;
//   2. check the interchange (DI): every flow element (also inside subprocesses), boundary
//      event, lane, participant, message flow and artifact has a BPMNShape with bounds, or a
//      BPMNEdge with at least two waypoints, so nothing is invisible in a modeller;
//   3. lint it with bpmnlint, using .bpmnlintrc (bpmnlint:recommended): any error or warning
//      fails;
//   4. round trip: export it again with bpmn-moddle's toXML into DIR/<landlord>/<file>.bpmn
//      (a temporary folder unless --out is given), import the export again (no warnings, the
//      same element ids). tests/integration/test_diagram_tooling.py deploys those exports and checks that
//      every scenario's timeline is unchanged.
//
// Exit status 0 when every diagram passes, 1 otherwise. --json prints one JSON report.

import { createRequire } from 'node:module';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const { BpmnModdle } = require('bpmn-moddle');
const camundaDescriptor = require('camunda-bpmn-moddle/resources/camunda.json');
const Linter = require('bpmnlint/lib/linter');
const NodeResolver = require('bpmnlint/lib/resolver/node-resolver');

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function parseArgs(argv) {
  const options = { out: null, json: false, files: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--json') {
      options.json = true;
    } else if (arg === '--out') {
      options.out = argv[++i];
    } else if (arg.startsWith('--out=')) {
      options.out = arg.slice('--out='.length);
    } else if (arg === '--help' || arg === '-h') {
      console.log('usage: node tools/check_diagrams.mjs [--out DIR] [--json] [FILE.bpmn ...]');
      process.exit(0);
    } else {
      options.files.push(resolve(arg));
    }
  }
  return options;
}

function defaultDiagrams() {
  const processes = join(ROOT, 'processes');
  const files = [];
  for (const landlord of readdirSync(processes).sort()) {
    const folder = join(processes, landlord);
    if (!statSync(folder).isDirectory()) continue;
    for (const name of readdirSync(folder).sort()) {
      if (name.endsWith('.bpmn')) files.push(join(folder, name));
    }
  }
  return files;
}

function newModdle() {
  return new BpmnModdle({ camunda: camundaDescriptor });
}

async function importXml(xml) {
  try {
    const { rootElement, warnings = [] } = await newModdle().fromXML(xml, 'bpmn:Definitions');
    return { definitions: rootElement, warnings: warnings.map(describeWarning) };
  } catch (error) {
    return { definitions: null, warnings: [`cannot import: ${error.message.split('\n')[0]}`] };
  }
}

function describeWarning(warning) {
  const id = warning.element && warning.element.id;
  return `${id ? id + ': ' : ''}${warning.message.split('\n')[0]}`;
}

// --- interchange (DI) ------------------------------------------------------------------------

// Everything a modeller draws, found by walking the semantic model.
function drawnElements(definitions) {
  const found = [];
  const visitContainer = (container) => {
    for (const element of container.flowElements || []) {
      if (element.$instanceOf('bpmn:DataObject')) continue; // drawn through its references
      found.push(element);
      if (element.$instanceOf('bpmn:SubProcess')) visitContainer(element);
    }
    for (const artifact of container.artifacts || []) found.push(artifact);
    for (const laneSet of container.laneSets || []) visitLaneSet(laneSet);
  };
  const visitLaneSet = (laneSet) => {
    for (const lane of laneSet.lanes || []) {
      found.push(lane);
      if (lane.childLaneSet) visitLaneSet(lane.childLaneSet);
    }
  };
  for (const root of definitions.rootElements || []) {
    if (root.$instanceOf('bpmn:Collaboration')) {
      for (const participant of root.participants || []) found.push(participant);
      for (const flow of root.messageFlows || []) found.push(flow);
      for (const artifact of root.artifacts || []) found.push(artifact);
    } else if (root.$instanceOf('bpmn:Process')) {
      visitContainer(root);
    }
  }
  return found;
}

function isEdgeElement(element) {
  return ['bpmn:SequenceFlow', 'bpmn:MessageFlow', 'bpmn:Association', 'bpmn:DataInputAssociation',
    'bpmn:DataOutputAssociation'].some((type) => element.$instanceOf(type));
}

function checkInterchange(definitions) {
  const problems = [];
  const shapes = new Map();
  const edges = new Map();
  for (const diagram of definitions.diagrams || []) {
    const plane = diagram.plane;
    if (!plane) {
      problems.push(`${diagram.id}: a BPMNDiagram without a plane`);
      continue;
    }
    for (const di of plane.planeElement || []) {
      const target = di.bpmnElement;
      if (!target) {
        problems.push(`${di.id}: ${di.$type} points at no element`);
        continue;
      }
      const map = di.$instanceOf('bpmndi:BPMNEdge') ? edges : shapes;
      if (map.has(target.id)) problems.push(`${target.id}: drawn twice (${map.get(target.id).id}, ${di.id})`);
      map.set(target.id, di);
    }
  }
  const elements = drawnElements(definitions);
  for (const element of elements) {
    if (isEdgeElement(element)) {
      const edge = edges.get(element.id);
      if (!edge) {
        problems.push(`${element.id}: ${element.$type} has no BPMNEdge`);
      } else if (!edge.waypoint || edge.waypoint.length < 2) {
        problems.push(`${element.id}: its BPMNEdge has fewer than two waypoints`);
      } else if (edge.waypoint.some((p) => !Number.isFinite(p.x) || !Number.isFinite(p.y))) {
        problems.push(`${element.id}: its BPMNEdge has a waypoint without x and y`);
      }
    } else {
      const shape = shapes.get(element.id);
      const bounds = shape && shape.bounds;
      if (!shape) {
        problems.push(`${element.id}: ${element.$type} has no BPMNShape`);
      } else if (!bounds || !(bounds.width > 0) || !(bounds.height > 0)
                 || !Number.isFinite(bounds.x) || !Number.isFinite(bounds.y)) {
        problems.push(`${element.id}: its BPMNShape has no bounds with a size`);
      }
    }
  }
  return { problems, drawn: elements.length };
}

// --- bpmnlint -------------------------------------------------------------------------------

function lintConfig() {
  const path = join(ROOT, '.bpmnlintrc');
  if (!existsSync(path)) {
    throw new Error(`${path} is missing`);
  }
  return JSON.parse(readFileSync(path, 'utf-8'));
}

async function lint(definitions, config) {
  const linter = new Linter({ config, resolver: new NodeResolver() });
  const results = await linter.lint(definitions);
  const reports = [];
  for (const [rule, entries] of Object.entries(results)) {
    for (const entry of entries) {
      reports.push({ rule, category: entry.category, id: entry.id || '', message: entry.message });
    }
  }
  return reports;
}

// --- the round trip -------------------------------------------------------------------------

function ids(definitions) {
  const seen = new Set();
  const visit = (element) => {
    if (!element || typeof element !== 'object' || seen.has(element)) return;
    seen.add(element);
    for (const [key, value] of Object.entries(element)) {
      if (key.startsWith('$')) continue;
      if (Array.isArray(value)) value.forEach((item) => item && item.$type && visit(item));
      else if (value && value.$type && key !== 'bpmnElement' && !key.endsWith('Ref')) visit(value);
    }
  };
  visit(definitions);
  return [...seen].map((element) => element.id).filter(Boolean).sort();
}

async function roundTrip(definitions, file, outDir) {
  const problems = [];
  const { xml } = await newModdle().toXML(definitions, { format: true });
  const landlord = basename(dirname(file));
  const target = join(outDir, landlord, basename(file));
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, xml, 'utf-8');
  const again = await importXml(xml);
  problems.push(...again.warnings.map((w) => `after export: ${w}`));
  if (again.definitions) {
    const before = ids(definitions);
    const after = ids(again.definitions);
    const lost = before.filter((id) => !after.includes(id));
    const gained = after.filter((id) => !before.includes(id));
    if (lost.length) problems.push(`after export: elements lost: ${lost.join(', ')}`);
    if (gained.length) problems.push(`after export: elements added: ${gained.join(', ')}`);
    problems.push(...checkInterchange(again.definitions).problems.map((p) => `after export: ${p}`));
  }
  return { exported: target, problems };
}

// --- main -----------------------------------------------------------------------------------

async function checkDiagram(file, config, outDir) {
  const report = { file: relative(ROOT, file), importWarnings: [], interchange: [], lint: [], roundTrip: [] };
  const xml = readFileSync(file, 'utf-8');
  const imported = await importXml(xml);
  report.importWarnings = imported.warnings;
  if (!imported.definitions) {
    report.ok = false;
    return report;
  }
  const interchange = checkInterchange(imported.definitions);
  report.interchange = interchange.problems;
  report.drawnElements = interchange.drawn;
  report.lint = await lint(imported.definitions, config);
  const trip = await roundTrip(imported.definitions, file, outDir);
  report.exported = trip.exported;
  report.roundTrip = trip.problems;
  report.ok = !report.importWarnings.length && !report.interchange.length && !report.lint.length
    && !report.roundTrip.length;
  return report;
}

function printReport(report) {
  const status = report.ok ? 'ok  ' : 'FAIL';
  console.log(`${status} ${report.file}` + (report.drawnElements ? ` (${report.drawnElements} elements drawn)` : ''));
  for (const warning of report.importWarnings) console.log(`     import warning: ${warning}`);
  for (const problem of report.interchange) console.log(`     interchange: ${problem}`);
  for (const entry of report.lint) {
    console.log(`     bpmnlint ${entry.category === 'warn' ? 'warning' : entry.category}: ${entry.id} ${entry.message} (${entry.rule})`);
  }
  for (const problem of report.roundTrip) console.log(`     round trip: ${problem}`);
  if (report.exported) console.log(`     exported to ${report.exported}`);
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const files = options.files.length ? options.files : defaultDiagrams();
  const outDir = options.out ? resolve(options.out) : mkdtempSync(join(tmpdir(), 'diagram-round-trip-'));
  mkdirSync(outDir, { recursive: true });
  const config = lintConfig();
  const reports = [];
  for (const file of files) {
    reports.push(await checkDiagram(file, config, outDir));
  }
  const ok = reports.length > 0 && reports.every((r) => r.ok);
  if (options.json) {
    console.log(JSON.stringify({ ok, outDir, diagrams: reports }, null, 2));
  } else {
    reports.forEach(printReport);
    console.log(ok ? `${reports.length} diagrams pass the modeller checks`
      : (reports.length ? 'some diagrams fail the modeller checks' : 'no diagrams found'));
  }
  process.exit(ok ? 0 : 1);
}

main().catch((error) => {
  console.error(error);
  process.exit(2);
});
