// Shared by the reference scripts: loading a graph model from disk into
// TF.js without tfjs-node (tf.io.fromMemory), and writing tensors as raw
// little-endian files described in JSON.
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

// Quiet the "install tfjs-node" banner: it is not wanted here.
const warn = console.warn;
console.warn = (...args) => {
  if (String(args[0] ?? '').includes('tfjs-node')) return;
  warn(...args);
};

export { tf };

export async function useBackend(name) {
  await tf.setBackend(name);
  await tf.ready();
  if (tf.getBackend() !== name) throw new Error(`TF.js backend ${name} is not available`);
}

// model.json + its shards (each group's paths concatenated, groups in
// order), exactly what tf.loadGraphModel would fetch.
export function readArtifacts(modelJson) {
  const json = JSON.parse(fs.readFileSync(modelJson, 'utf8'));
  const dir = path.dirname(modelJson);
  const weightSpecs = [];
  const chunks = [];
  for (const group of json.weightsManifest ?? []) {
    weightSpecs.push(...group.weights);
    for (const p of group.paths) chunks.push(fs.readFileSync(path.join(dir, p)));
  }
  const all = Buffer.concat(chunks);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  return {
    modelTopology: json.modelTopology,
    weightSpecs,
    weightData,
    format: json.format,
    signature: json.signature,
    userDefinedMetadata: json.userDefinedMetadata,
  };
}

export async function loadModel(modelJson) {
  return tf.loadGraphModel(tf.io.fromMemory(readArtifacts(modelJson)));
}

export function readF32(file) {
  const b = fs.readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

// Writes a tensor's values; returns its JSON description.
export async function writeTensor(t, file, extra = {}) {
  let data = await t.data();
  // the CPU backend may hand back another typed array than the dtype's
  // (an int32 cast to float32 can keep its Int32Array)
  if (t.dtype === 'float32' && !(data instanceof Float32Array)) data = Float32Array.from(data);
  if (t.dtype === 'int32' && !(data instanceof Int32Array)) data = Int32Array.from(data);
  let bytes;
  if (t.dtype === 'bool') bytes = Buffer.from(Uint8Array.from(data));
  else bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  fs.writeFileSync(file, bytes);
  return { ...extra, dtype: t.dtype, shape: t.shape, file: path.basename(file) };
}

export function writeRaw(file, typed) {
  fs.writeFileSync(file, Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength));
}
