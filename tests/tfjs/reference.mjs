// TF.js reference outputs for whole models.
//
//   node reference.mjs SPEC.json
//
// SPEC.json: {"cases": [{"name", "model": "/path/model.json",
//   "input": {"file": "x.f32", "shape": [...]}, "outputs": ["node", ...],
//   "cpu_check": true, "layers": false}, ...]}
// Runs every case on TF.js's pure-JS CPU backend: the reference (its
// kernels compute in JavaScript doubles where they can; the wasm backend's
// XNNPACK differs from it by up to ~1e-4 relative on CenterNet's `wh`, too
// much to serve as the reference). Cases with "wasm_check" also run on the
// wasm backend, and the difference is printed for comparison. With
// "layers", every node's value is written too (debugging divergences).
// Writes the tensors next to SPEC.json and SPEC.expected.json describing
// them (the format tests/unit/tfjs/tfjs_check.c reads).
import fs from 'node:fs';
import path from 'node:path';
import { tf, useBackend, loadModel, readF32, writeTensor } from './common.mjs';

const specFile = process.argv[2];
if (!specFile) {
  console.error('usage: node reference.mjs SPEC.json');
  process.exit(2);
}
const spec = JSON.parse(fs.readFileSync(specFile, 'utf8'));
const dir = path.dirname(specFile);
const safe = (s) => s.replace(/[^A-Za-z0-9_.-]+/g, '_');

function allNodeNames(modelJson) {
  const json = JSON.parse(fs.readFileSync(modelJson, 'utf8'));
  return json.modelTopology.node
    .filter((n) => n.op !== 'Const' && n.op !== 'Placeholder' && n.op !== 'NoOp')
    .map((n) => n.name);
}

async function runCase(model, c) {
  const input = tf.tensor(readF32(path.resolve(dir, c.input.file)), c.input.shape, 'float32');
  const names = c.outputs;
  let result = model.execute(input, names);
  if (!Array.isArray(result)) result = [result];
  input.dispose();
  return result;
}

function maxRelDiff(a, b) {
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i]));
    if (!(d <= worst)) worst = d;   // NaN counts as the worst
  }
  return worst;
}

const models = new Map();
async function modelFor(file) {
  if (!models.has(file)) models.set(file, await loadModel(file));
  return models.get(file);
}

const out = { cases: [] };
await useBackend('cpu');
const refValues = new Map();
for (const c of spec.cases) {
  const model = await modelFor(c.model);
  if (!c.outputs) c.outputs = model.outputs.map((o) => o.name);
  const tensors = await runCase(model, c);
  const expected = [];
  for (let i = 0; i < tensors.length; i++) {
    const file = path.join(dir, `${safe(c.name)}.out${i}.bin`);
    expected.push(await writeTensor(tensors[i], file, { node: c.outputs[i] }));
  }
  if (c.wasm_check) refValues.set(c.name, await Promise.all(tensors.map((t) => t.data())));
  const entry = { ...c, outputs: expected };
  if (c.layers) {
    const names = allNodeNames(c.model);
    const input = tf.tensor(readF32(path.resolve(dir, c.input.file)), c.input.shape, 'float32');
    const values = model.execute(input, names);
    entry.layers = [];
    for (let i = 0; i < names.length; i++) {
      const file = path.join(dir, `${safe(c.name)}.layer${i}.bin`);
      entry.layers.push(await writeTensor(values[i], file, { node: names[i] }));
    }
    tf.dispose(values);
    input.dispose();
  }
  tf.dispose(tensors);
  out.cases.push(entry);
}

// For comparison: how far the wasm backend is from the reference.
const checks = spec.cases.filter((c) => c.wasm_check);
if (checks.length) {
  for (const m of models.values()) m.dispose();
  models.clear();
  await useBackend('wasm');
  for (const c of checks) {
    const model = await modelFor(c.model);
    const tensors = await runCase(model, c);
    const ref = refValues.get(c.name);
    for (let i = 0; i < tensors.length; i++) {
      const d = maxRelDiff(await tensors[i].data(), ref[i]);
      console.log(`${c.name} ${c.outputs[i]}: TF.js wasm vs cpu, max relative diff ` +
                  `${d.toExponential(2)}`);
    }
    tf.dispose(tensors);
  }
}
const outFile = specFile.replace(/\.json$/, '') + '.expected.json';
fs.writeFileSync(outFile, JSON.stringify(out, null, 1));
