// Op-level references: for every op x attribute combination the tagger's
// models use (and the edge cases around them), a tiny graph model, a random
// input, and TF.js's outputs.
//
//   node gen_ops.mjs OUTDIR
//
// Single-op cases take their expected values from TF.js's op functions
// (tf.conv2d, tf.fused.conv2d, tf.image.resizeBilinear, tf.topk, ...); the
// same model is also executed by TF.js's graph executor, and the two must
// agree (that checks the NodeDef encoding means what the case says).
// Multi-node cases (fusion patterns, the loader's float16/uint8 weights,
// name:1 outputs, several shards) take the graph executor's values. Runs on
// the CPU backend. Writes OUTDIR/ops.json for tests/unit/tfjs/tfjs_check.
import fs from 'node:fs';
import path from 'node:path';
import { tf, useBackend, readArtifacts, writeTensor, writeRaw } from './common.mjs';
import { Graph, attr } from './graph_builder.mjs';

const outDir = process.argv[2];
if (!outDir) {
  console.error('usage: node gen_ops.mjs OUTDIR');
  process.exit(2);
}
fs.mkdirSync(outDir, { recursive: true });
await useBackend('cpu');

// Deterministic inputs (mulberry32).
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
let seed = 1;
const size = (shape) => shape.reduce((a, b) => a * b, 1);
function rand(shape, lo = -1, hi = 1, quantum = 0) {
  const r = rng(seed++);
  const v = new Float32Array(size(shape));
  for (let i = 0; i < v.length; i++) {
    let x = lo + (hi - lo) * r();
    if (quantum) x = Math.round(x / quantum) * quantum;
    v[i] = x;
  }
  return v;
}

const F = 'float32', I = 'int32';
const SAME = attr.s('SAME'), VALID = attr.s('VALID');
const ones4 = attr.ints([1, 1, 1, 1]);
const NHWC = attr.s('NHWC');

const cases = [];
let failures = 0;

// One case: build(g) adds nodes after the placeholder "x" and returns the
// output node names; ref(x) (optional) computes the expected tensors with
// TF.js ops, in the same order.
async function addCase(name, inputShape, build, ref, opts = {}) {
  const g = new Graph();
  g.placeholder('x', inputShape);
  const outputs = build(g);
  const dir = path.join(outDir, name);
  const modelFile = g.write(dir, opts.write ?? {});
  const input = opts.input ?? rand(inputShape, opts.lo ?? -1, opts.hi ?? 1, opts.quantum ?? 0);
  writeRaw(path.join(dir, 'input.f32'), input);
  const x = tf.tensor(input, inputShape, 'float32');
  // the graph executor
  const model = await tf.loadGraphModel(tf.io.fromMemory(readArtifacts(modelFile)));
  const modelOutputs = model.outputs.map((o) => o.name.replace(/:0$/, ''));
  let graphOut = model.execute(x, outputs);
  if (!Array.isArray(graphOut)) graphOut = [graphOut];
  let expected = graphOut;
  if (ref) {
    expected = ref(x);
    if (!Array.isArray(expected)) expected = [expected];
    for (let i = 0; i < expected.length; i++) {
      const a = await expected[i].data(), b = await graphOut[i].data();
      let worst = 0;
      for (let k = 0; k < a.length; k++) {
        const same = (Number.isNaN(a[k]) && Number.isNaN(b[k])) || a[k] === b[k];
        const d = same ? 0 : Math.abs(a[k] - b[k]) / Math.max(1, Math.abs(a[k]));
        if (!(d <= worst)) worst = d;
      }
      if (a.length !== b.length || !(worst <= 1e-5)) {
        console.error(`${name}: TF.js's op (${outputs[i]}) and graph executor disagree (${worst})`);
        failures++;
      }
    }
  }
  const outs = [];
  for (let i = 0; i < expected.length; i++)
    outs.push(await writeTensor(expected[i], path.join(dir, `out${i}.bin`), { node: outputs[i] }));
  for (const o of outs) o.file = `${name}/${o.file}`;
  cases.push({
    name, model: `${name}/model.json`, input: { file: `${name}/input.f32`, shape: inputShape },
    outputs: outs, atol: opts.atol ?? 1e-4, rtol: opts.rtol ?? 1e-4, model_outputs: modelOutputs,
  });
  tf.dispose([x, ...graphOut, ...(ref ? expected : [])]);
  model.dispose();
}

const c = (g, name, shape, values, dtype = F, quant) => g.konst(name, dtype, shape, Array.from(values), quant);

// ---- convolutions ------------------------------------------------------------

const padName = (p) => (Array.isArray(p) ? 'explicit' : p);
async function conv(name, xs, ks, cout, { stride = 1, pad = 'same', dil = 1, fused, alpha } = {}) {
  const wShape = [ks, ks, xs[3], cout];
  const w = rand(wShape), b = rand([cout]);
  const strides = attr.ints([1, stride, stride, 1]);
  const a = { strides, dilations: attr.ints([1, dil, dil, 1]), data_format: NHWC };
  if (Array.isArray(pad)) {
    a.padding = attr.s('EXPLICIT');
    a.explicit_paddings = attr.ints(pad.flat());
  } else {
    a.padding = attr.s(pad.toUpperCase());
  }
  await addCase(name, xs, (g) => {
    c(g, 'w', wShape, w);
    if (!fused) return [g.op('conv', 'Conv2D', ['x', 'w'], a)];
    c(g, 'b', [cout], b);
    const ops = fused === 'linear' ? ['BiasAdd'] : ['BiasAdd', { relu: 'Relu', relu6: 'Relu6', leakyrelu: 'LeakyRelu', sigmoid: 'Sigmoid' }[fused]];
    const fa = { ...a, fused_ops: attr.strs(ops), num_args: attr.i(1), epsilon: attr.f(0) };
    if (alpha !== undefined) fa.leakyrelu_alpha = attr.f(alpha);
    return [g.op('conv', '_FusedConv2D', ['x', 'w', 'b'], fa)];
  }, (x) => {
    const filter = tf.tensor(w, wShape);
    if (!fused) return tf.conv2d(x, filter, [stride, stride], pad, 'NHWC', [dil, dil]);
    return tf.fused.conv2d({
      x, filter, strides: [stride, stride], pad, dilations: [dil, dil], bias: tf.tensor(b, [cout]),
      activation: fused, leakyreluAlpha: alpha ?? 0.2,
    });
  });
}

await conv('conv_same_3x3_s1_odd', [1, 7, 9, 5], 3, 6);
await conv('conv_valid_3x3_s2', [1, 9, 8, 4], 3, 8, { stride: 2, pad: 'valid' });
await conv('conv_same_3x3_s2_odd', [1, 9, 7, 3], 3, 16, { stride: 2 });
await conv('conv_same_5x5_s2', [2, 11, 10, 4], 5, 12, { stride: 2, fused: 'relu' });
await conv('conv_1x1_s1_pointwise', [1, 6, 5, 16], 1, 64, { fused: 'linear' });
await conv('conv_1x1_narrow_n4', [1, 8, 8, 128], 1, 4, { fused: 'linear' });
await conv('conv_1x1_blas', [1, 6, 6, 200], 1, 100, { fused: 'relu6' });
await conv('conv_1x1_small_n20', [1, 5, 7, 24], 1, 20, { fused: 'relu' });
await conv('conv_1x1_s2', [1, 9, 9, 8], 1, 8, { stride: 2 });
await conv('conv_dilation2', [1, 12, 11, 3], 3, 5, { dil: 2 });
await conv('conv_explicit_pads', [1, 8, 9, 3], 3, 7, { pad: [[0, 0], [1, 2], [2, 0], [0, 0]] });
await conv('conv_fused_leakyrelu', [1, 8, 8, 6], 3, 10, { fused: 'leakyrelu', alpha: 0.1 });
await conv('conv_fused_sigmoid', [1, 6, 6, 4], 3, 9, { fused: 'sigmoid' });
await conv('conv_first_layer_k27', [1, 33, 31, 3], 3, 16, { stride: 2, fused: 'linear' });
await conv('conv_direct_5x5_s2_batch2', [2, 17, 20, 3], 5, 24, { stride: 2, fused: 'relu' });
await conv('conv_direct_grey_3x3', [1, 9, 10, 1], 3, 8, { fused: 'relu6' });
await conv('conv_direct_valid_s2', [1, 10, 13, 3], 3, 32, { stride: 2, pad: 'valid' });

async function dw(name, xs, ks, mult, { stride = 1, pad = 'same', dil = 1, fused } = {}) {
  const wShape = [ks, ks, xs[3], mult];
  const w = rand(wShape), b = rand([xs[3] * mult]);
  const a = { strides: attr.ints([1, stride, stride, 1]), dilations: attr.ints([1, dil, dil, 1]), padding: attr.s(pad.toUpperCase()), data_format: NHWC };
  await addCase(name, xs, (g) => {
    c(g, 'w', wShape, w);
    if (!fused) return [g.op('dw', 'DepthwiseConv2dNative', ['x', 'w'], a)];
    c(g, 'b', [xs[3] * mult], b);
    const ops = fused === 'linear' ? ['BiasAdd'] : ['BiasAdd', { relu: 'Relu', relu6: 'Relu6' }[fused]];
    return [g.op('dw', 'FusedDepthwiseConv2dNative', ['x', 'w', 'b'], { ...a, fused_ops: attr.strs(ops), num_args: attr.i(1) })];
  }, (x) => {
    const filter = tf.tensor(w, wShape);
    if (!fused) return tf.depthwiseConv2d(x, filter, [stride, stride], pad, 'NHWC', [dil, dil]);
    return tf.fused.depthwiseConv2d({ x, filter, strides: [stride, stride], pad, dilations: [dil, dil], bias: tf.tensor(b, [xs[3] * mult]), activation: fused });
  });
}

await dw('dw_3x3_s1_c16', [1, 9, 11, 16], 3, 1);
await dw('dw_3x3_s2_c20_odd', [1, 9, 7, 20], 3, 1, { stride: 2, fused: 'relu' });
await dw('dw_5x5_s2_c40', [1, 11, 12, 40], 5, 1, { stride: 2, fused: 'relu6' });
await dw('dw_5x5_s1_c72', [1, 10, 9, 72], 5, 1, { fused: 'linear' });
await dw('dw_3x3_valid_c5', [1, 8, 8, 5], 3, 1, { pad: 'valid' });
await dw('dw_3x3_dilation2', [1, 12, 10, 24], 3, 1, { dil: 2 });
await dw('dw_multiplier2', [1, 7, 7, 6], 3, 2, { stride: 2 });
await dw('dw_3x3_narrow_image', [2, 2, 3, 33], 3, 1, { fused: 'relu' });

// ---- matmul --------------------------------------------------------------------

for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
  const m = 5, k = 12, n = 7;
  const bShape = tb ? [n, k] : [k, n];
  const bv = rand(bShape), bias = rand([n]);
  await addCase(`matmul_ta${+ta}_tb${+tb}`, ta ? [k, m] : [m, k], (g) => {
    c(g, 'b', bShape, bv);
    return [g.op('mm', 'MatMul', ['x', 'b'], { transpose_a: attr.b(ta), transpose_b: attr.b(tb) })];
  }, (x) => tf.matMul(x, tf.tensor(bv, bShape), ta, tb));
}
{
  const bv = rand([16, 10]), bias = rand([10]);
  await addCase('matmul_fused_bias_relu', [3, 16], (g) => {
    c(g, 'b', [16, 10], bv);
    c(g, 'bias', [10], bias);
    return [g.op('mm', '_FusedMatMul', ['x', 'b', 'bias'], { transpose_a: attr.b(false), transpose_b: attr.b(false), fused_ops: attr.strs(['BiasAdd', 'Relu']), num_args: attr.i(1) })];
  }, (x) => tf.fused.matMul({ a: x, b: tf.tensor(bv, [16, 10]), bias: tf.tensor(bias, [10]), activation: 'relu' }));
}

// ---- elementwise ---------------------------------------------------------------

const binaries = { Add: tf.add, AddV2: tf.add, Sub: tf.sub, Mul: tf.mul, RealDiv: tf.div, Minimum: tf.minimum, Maximum: tf.maximum, SquaredDifference: tf.squaredDifference };
const shapes = [
  [[2, 3, 4, 5], [5]], [[2, 1, 4, 1], [1, 3, 1, 5]], [[3, 4], []], [[4, 1], [1, 6]], [[1, 6, 6, 8], [1, 1, 1, 8]],
];
for (const [op, fn] of Object.entries(binaries)) {
  for (let si = 0; si < shapes.length; si++) {
    if (op !== 'Add' && op !== 'Mul' && si > 1) continue;
    const [xs, cs] = shapes[si];
    const cv = op === 'RealDiv' ? rand(cs, 0.5, 2) : rand(cs);
    await addCase(`${op.toLowerCase()}_bcast${si}`, xs, (g) => {
      c(g, 'c', cs, cv);
      return [g.op('y', op, si % 2 ? ['c', 'x'] : ['x', 'c'])];
    }, (x) => (si % 2 ? fn(tf.tensor(cv, cs), x) : fn(x, tf.tensor(cv, cs))));
  }
}
{
  const cv = rand([1, 5], -1, 1, 0.5);
  await addCase('equal_bool', [4, 5], (g) => {
    c(g, 'c', [1, 5], cv);
    return [g.op('eq', 'Equal', ['x', 'c'], { incompatible_shape_error: attr.b(true) })];
  }, (x) => tf.equal(x, tf.tensor(cv, [1, 5])), { quantum: 0.5 });
}
for (const [op, fn] of [['FloorDiv', tf.floorDiv], ['FloorMod', tf.mod]]) {
  const dv = [3, -4, 5, -2, 7, 1];
  await addCase(`${op.toLowerCase()}_int32`, [4, 6], (g) => {
    c(g, 'd', [6], dv, I);
    g.op('xi', 'Cast', ['x'], { SrcT: attr.type(F), DstT: attr.type(I), Truncate: attr.b(false) });
    return [g.op('y', op, ['xi', 'd'])];
  }, (x) => fn(tf.cast(x, 'int32'), tf.tensor(dv, [6], 'int32')), { lo: -40, hi: 40, quantum: 1 });
}
{
  const mv = [128, 3, -1];
  await addCase('int32_add_mul', [2, 3], (g) => {
    c(g, 'k', [3], mv, I);
    g.op('xi', 'Cast', ['x'], { SrcT: attr.type(F), DstT: attr.type(I) });
    g.op('m', 'Mul', ['xi', 'k']);
    return [g.op('a', 'Add', ['m', 'xi'])];
  }, (x) => { const xi = tf.cast(x, 'int32'); return tf.add(tf.mul(xi, tf.tensor(mv, [3], 'int32')), xi); }, { lo: -1000, hi: 1000, quantum: 1 });
}
const unaries = { Relu: tf.relu, Relu6: tf.relu6, Sigmoid: tf.sigmoid, Exp: tf.exp };
for (const [op, fn] of Object.entries(unaries))
  await addCase(`unary_${op.toLowerCase()}`, [3, 41], (g) => [g.op('y', op, ['x'])], (x) => fn(x),
    { lo: op === 'Exp' ? -60 : -12, hi: op === 'Exp' ? 60 : 12, rtol: 1e-5 });
await addCase('unary_sigmoid_extreme', [2, 50], (g) => [g.op('y', 'Sigmoid', ['x'])], (x) => tf.sigmoid(x), { lo: -120, hi: 120 });
await addCase('unary_leakyrelu_default', [2, 30], (g) => [g.op('y', 'LeakyRelu', ['x'])], (x) => tf.leakyRelu(x, 0.2));
await addCase('unary_leakyrelu_0.1', [2, 30], (g) => [g.op('y', 'LeakyRelu', ['x'], { alpha: attr.f(0.1) })], (x) => tf.leakyRelu(x, 0.1));
await addCase('softmax_rows', [3, 7], (g) => [g.op('y', 'Softmax', ['x'])], (x) => tf.softmax(x), { lo: -30, hi: 30 });
await addCase('softmax_3d', [2, 3, 100], (g) => [g.op('y', 'Softmax', ['x'])], (x) => tf.softmax(x), { lo: -5, hi: 5 });
{
  const bv = rand([7]);
  await addCase('biasadd', [2, 3, 7], (g) => { c(g, 'b', [7], bv); return [g.op('y', 'BiasAdd', ['x', 'b'], { data_format: NHWC })]; },
    (x) => tf.add(x, tf.tensor(bv, [7])));
}

// ---- reductions, pooling, resize ------------------------------------------------

for (const [axes, keep, shape] of [[[1, 2], true, [1, 6, 7, 9]], [[1, 2], false, [2, 5, 4, 3]], [[-1], false, [3, 4, 10]], [[0, 2], true, [3, 4, 5]], [[3], true, [1, 2, 3, 300]]]) {
  await addCase(`mean_${axes.join('_')}_keep${+keep}_r${shape.length}`, shape, (g) => {
    c(g, 'axes', [axes.length], axes, I);
    return [g.op('y', 'Mean', ['x', 'axes'], { keep_dims: attr.b(keep), Tidx: attr.type(I) })];
  }, (x) => tf.mean(x, axes, keep));
}
for (const [op, fn] of [['MaxPool', tf.maxPool], ['AvgPool', tf.avgPool]]) {
  for (const [k, s, pad, shape] of [[3, 1, 'same', [1, 7, 9, 5]], [3, 2, 'valid', [1, 9, 8, 4]], [2, 2, 'same', [1, 7, 7, 24]], [3, 2, 'same', [2, 9, 7, 3]]]) {
    await addCase(`${op.toLowerCase()}_${k}x${k}_s${s}_${pad}_${shape[1]}x${shape[2]}`, shape, (g) =>
      [g.op('y', op, ['x'], { ksize: attr.ints([1, k, k, 1]), strides: attr.ints([1, s, s, 1]), padding: attr.s(pad.toUpperCase()), data_format: NHWC })],
    (x) => fn(x, [k, k], [s, s], pad));
  }
}
for (const [shape, size, ac, hp] of [
  [[1, 8, 8, 3], [16, 16], false, false], [[1, 5, 6, 4], [7, 11], false, false], [[1, 8, 9, 2], [3, 4], false, false],
  [[1, 5, 6, 4], [9, 13], true, false], [[1, 26, 26, 3], [13, 13], false, true], [[2, 13, 13, 5], [26, 26], false, true],
  [[1, 7, 5, 3], [4, 9], false, true], [[1, 1, 1, 3], [3, 3], true, false]]) {
  await addCase(`resize_${shape[1]}x${shape[2]}_to_${size[0]}x${size[1]}_ac${+ac}_hp${+hp}`, shape, (g) => {
    c(g, 'size', [2], size, I);
    return [g.op('y', 'ResizeBilinear', ['x', 'size'], { align_corners: attr.b(ac), half_pixel_centers: attr.b(hp) })];
  }, (x) => tf.image.resizeBilinear(x, size, ac, hp));
}

// ---- data movement --------------------------------------------------------------

for (const [axis, shape, other] of [[3, [1, 4, 4, 3], [1, 4, 4, 5]], [-1, [2, 3, 2], [2, 3, 4]], [1, [1, 3, 8], [1, 5, 8]], [0, [2, 3], [1, 3]]]) {
  const ov = rand(other);
  await addCase(`concat_axis${axis}_r${shape.length}`, shape, (g) => {
    c(g, 'o', other, ov);
    c(g, 'axis', [], [axis], I);
    g.op('r', 'Relu', ['x']);
    return [g.op('y', 'ConcatV2', ['x', 'o', 'r', 'axis'], { N: attr.i(3), Tidx: attr.type(I) })];
  }, (x) => tf.concat([x, tf.tensor(ov, other), tf.relu(x)], axis));
}
for (const [pads, shape] of [[[[0, 0], [1, 2], [2, 1], [0, 0]], [1, 4, 5, 3]], [[[0, 0], [0, 0], [0, 0], [0, 24]], [1, 3, 3, 24]], [[[1, 0], [0, 3]], [2, 3]]]) {
  await addCase(`pad_${pads.flat().join('')}`, shape, (g) => {
    c(g, 'p', [shape.length, 2], pads.flat(), I);
    return [g.op('y', 'Pad', ['x', 'p'])];
  }, (x) => tf.pad(x, pads));
}
await addCase('padv2_neg_inf_then_maxpool', [1, 5, 5, 4], (g) => {
  c(g, 'p', [4, 2], [0, 0, 1, 1, 1, 1, 0, 0], I);
  c(g, 'v', [], [-Infinity], F, 'float16');
  g.op('padded', 'PadV2', ['x', 'p', 'v']);
  return ['padded', g.op('y', 'MaxPool', ['padded'], { ksize: attr.ints([1, 3, 3, 1]), strides: attr.ints([1, 2, 2, 1]), padding: VALID })];
}, (x) => { const p = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], -Infinity); return [p, tf.maxPool(p, 3, 2, 'valid')]; });
await addCase('padv2_half', [2, 3], (g) => {
  c(g, 'p', [2, 2], [0, 1, 2, 0], I);
  c(g, 'v', [], [0.5]);
  return [g.op('y', 'PadV2', ['x', 'p', 'v'])];
}, (x) => tf.pad(x, [[0, 1], [2, 0]], 0.5));
for (const [perm, shape] of [[[0, 2, 3, 1], [1, 3, 4, 5]], [[0, 3, 1, 2], [1, 4, 5, 3]], [[0, 2, 1], [1, 6, 7]], [[2, 0, 1], [3, 4, 5]]]) {
  await addCase(`transpose_${perm.join('')}`, shape, (g) => {
    c(g, 'perm', [perm.length], perm, I);
    return [g.op('y', 'Transpose', ['x', 'perm'])];
  }, (x) => tf.transpose(x, perm));
}
await addCase('reshape_expand_squeeze', [1, 4, 6, 2], (g) => {
  c(g, 's', [3], [1, -1, 4], I);
  c(g, 'ax', [], [-1], I);
  c(g, 'ax0', [], [0], I);
  g.op('r', 'Reshape', ['x', 's']);
  g.op('e', 'ExpandDims', ['r', 'ax']);
  g.op('e0', 'ExpandDims', ['e', 'ax0']);
  return ['e0', g.op('q', 'Squeeze', ['e0'], { squeeze_dims: attr.ints([0, 4]) }), g.op('q2', 'Squeeze', ['e0'])];
}, (x) => { const e0 = tf.expandDims(tf.expandDims(tf.reshape(x, [1, -1, 4]), -1), 0); return [e0, tf.squeeze(e0, [0, 4]), tf.squeeze(e0)]; });
await addCase('splitv_name_colon_1', [2, 7, 3], (g) => {
  c(g, 'sizes', [3], [2, -1, 1], I);
  c(g, 'axis', [], [1], I);
  g.op('sp', 'SplitV', ['x', 'sizes', 'axis'], { num_split: attr.i(3), Tlen: attr.type(I) });
  return ['sp', g.op('second', 'Identity', ['sp:1']), g.op('third', 'Sigmoid', ['sp:2'])];
}, (x) => { const [a, b, d] = tf.split(x, [2, 4, 1], 1); return [a, b, tf.sigmoid(d)]; });
await addCase('sparse_to_dense_folded', [3, 5], (g) => {
  c(g, 'idx', [2, 2], [0, 1, 2, 3], I);
  c(g, 'shape', [2], [3, 5], I);
  c(g, 'vals', [2], [1.5, -2]);
  c(g, 'def', [], [0.25]);
  g.op('dense', 'SparseToDense', ['idx', 'shape', 'vals', 'def'], { validate_indices: attr.b(true) });
  return [g.op('y', 'AddV2', ['x', 'dense'])];
}, (x) => tf.add(x, tf.sparseToDense(tf.tensor2d([[0, 1], [2, 3]], [2, 2], 'int32'), tf.tensor1d([1.5, -2]), [3, 5], tf.scalar(0.25))));
await addCase('cast_float_int_bool', [3, 8], (g) => {
  g.op('i', 'Cast', ['x'], { SrcT: attr.type(F), DstT: attr.type(I) });
  g.op('f', 'Cast', ['i'], { SrcT: attr.type(I), DstT: attr.type(F) });
  c(g, 'zero', [], [0]);
  g.op('pos', 'Equal', ['f', 'zero']);
  return ['i', 'f', g.op('b', 'Cast', ['pos'], { SrcT: attr.type('bool'), DstT: attr.type(F) })];
}, (x) => { const i = tf.cast(x, 'int32'), f = tf.cast(i, 'float32'); return [i, f, tf.cast(tf.equal(f, tf.scalar(0)), 'float32')]; }, { lo: -3, hi: 3 });
for (const [nm, shape, b, e, s, masks] of [
  ['begin_end_mask3', [1, 5, 6, 4], [0, 0, 1, 0], [0, 0, 2, 0], [1, 1, 1, 1], [3, 3, 0, 0, 0]],
  ['negative_stride2', [2, 9, 4], [0, -1, 1], [2, 0, 4], [1, -2, 2], [0, 0, 0, 0, 0]],
  ['shrink', [3, 4, 5], [1, 0, 2], [2, 4, 3], [1, 1, 1], [2, 2, 0, 0, 5]],
  ['new_axis', [3, 4], [0, 0, 1], [0, 0, 3], [1, 1, 1], [1, 1, 0, 2, 0]],
  ['ellipsis', [2, 3, 4, 5], [0, 1], [0, 3], [1, 1], [0, 0, 1, 0, 0]],
  ['clamped_out_of_range', [4, 6], [-10, 2], [10, 100], [1, 3], [0, 0, 0, 0, 0]],
  ['reverse_all', [5, 3], [0, 0], [0, 0], [-1, -1], [3, 3, 0, 0, 0]],
]) {
  await addCase(`strided_slice_${nm}`, shape, (g) => {
    c(g, 'b', [b.length], b, I);
    c(g, 'e', [e.length], e, I);
    c(g, 's', [s.length], s, I);
    return [g.op('y', 'StridedSlice', ['x', 'b', 'e', 's'], {
      begin_mask: attr.i(masks[0]), end_mask: attr.i(masks[1]), ellipsis_mask: attr.i(masks[2]),
      new_axis_mask: attr.i(masks[3]), shrink_axis_mask: attr.i(masks[4]), Index: attr.type(I) })];
  }, (x) => tf.stridedSlice(x, b, e, s, ...masks));
}
await addCase('topk_ties_lower_index_first', [3, 40], (g) => {
  c(g, 'k', [], [7], I);
  g.op('tk', 'TopKV2', ['x', 'k'], { sorted: attr.b(true) });
  return ['tk', g.op('idx', 'Identity', ['tk:1'])];
}, (x) => { const r = tf.topk(x, 7, true); return [r.values, r.indices]; }, { quantum: 0.25 });
await addCase('topk_all_equal', [2, 9], (g) => {
  c(g, 'k', [], [9], I);
  g.op('tk', 'TopKV2', ['x', 'k']);
  return ['tk', g.op('idx', 'Identity', ['tk:1'])];
}, (x) => { const r = tf.topk(x, 9, true); return [r.values, r.indices]; }, { input: new Float32Array(18).fill(0.5) });
await addCase('topk_large_row', [1, 20000], (g) => {
  c(g, 'k', [], [100], I);
  g.op('tk', 'TopKV2', ['x', 'k']);
  return ['tk', g.op('idx', 'Identity', ['tk:1'])];
}, (x) => { const r = tf.topk(x, 100, true); return [r.values, r.indices]; }, { quantum: 0.001 });
for (const [axis, shape, idx] of [[0, [6, 3], [5, 0, 2, 2]], [1, [2, 5, 3], [4, 1]], [-1, [2, 3, 4], [3, 3, 0]]]) {
  await addCase(`gather_axis${axis}`, shape, (g) => {
    c(g, 'i', [idx.length], idx, I);
    c(g, 'a', [], [axis], I);
    return [g.op('y', 'GatherV2', ['x', 'i', 'a'], { batch_dims: attr.i(0), Tindices: attr.type(I), Tparams: attr.type(F), Taxis: attr.type(I) })];
  }, (x) => tf.gather(x, tf.tensor1d(idx, 'int32'), axis));
}

// ---- patterns the interpreter fuses (graph executor as reference) ----------------

function hswish(g, x, p) {
  c(g, `${p}/six`, [], [1 / 6], F, 'float16');
  c(g, `${p}/three`, [], [3], F, 'float16');
  g.op(`${p}/mul`, 'Mul', [`${p}/six`, x]);
  g.op(`${p}/add`, 'Add', [x, `${p}/three`]);
  g.op(`${p}/relu6`, 'Relu6', [`${p}/add`]);
  return g.op(`${p}/out`, 'Mul', [`${p}/mul`, `${p}/relu6`]);
}
function fconv(g, name, x, k, cin, cout, { stride = 1, act, quant } = {}) {
  c(g, `${name}/w`, [k, k, cin, cout], rand([k, k, cin, cout], -0.5, 0.5), F, quant);
  c(g, `${name}/b`, [cout], rand([cout]), F, quant);
  return g.op(name, '_FusedConv2D', [x, `${name}/w`, `${name}/b`], {
    strides: attr.ints([1, stride, stride, 1]), padding: SAME, dilations: ones4, num_args: attr.i(1),
    fused_ops: attr.strs(act ? ['BiasAdd', act] : ['BiasAdd']) });
}
function fdw(g, name, x, k, ch, { stride = 1, act } = {}) {
  c(g, `${name}/w`, [k, k, ch, 1], rand([k, k, ch, 1]));
  c(g, `${name}/b`, [ch], rand([ch]));
  return g.op(name, 'FusedDepthwiseConv2dNative', [x, `${name}/w`, `${name}/b`], {
    strides: attr.ints([1, stride, stride, 1]), padding: SAME, dilations: ones4, num_args: attr.i(1),
    fused_ops: attr.strs(act ? ['BiasAdd', act] : ['BiasAdd']) });
}
await addCase('fuse_hard_swish_conv', [1, 9, 9, 4], (g) => [hswish(g, fconv(g, 'conv', 'x', 3, 4, 16, { stride: 2 }), 'hs')]);
await addCase('fuse_inverted_residual', [1, 12, 10, 16], (g) => {
  const e = hswish(g, fconv(g, 'expand', 'x', 1, 16, 48), 'e');
  const d = fdw(g, 'dw', e, 3, 48, { act: 'Relu' });
  const p = fconv(g, 'project', d, 1, 48, 16);
  return [g.op('y', 'AddV2', [p, 'x'])];
}, null, { atol: 1e-4 });
await addCase('fuse_inverted_residual_stride2_5x5', [1, 13, 11, 24], (g) => {
  const e = fconv(g, 'expand', 'x', 1, 24, 72, { act: 'Relu' });
  const d = hswish(g, fdw(g, 'dw', e, 5, 72, { stride: 2 }), 'd');
  return [fconv(g, 'project', d, 1, 72, 40)];
});
function squeezeExcite(g) {
  const e = fconv(g, 'expand', 'x', 1, 24, 64, { act: 'Relu' });
  const d = fdw(g, 'dw', e, 3, 64, { act: 'Relu' });
  c(g, 'se/axes', [2], [1, 2], I);
  g.op('se/mean', 'Mean', [d, 'se/axes'], { keep_dims: attr.b(true) });
  const s1 = fconv(g, 'se/c1', 'se/mean', 1, 64, 16, { act: 'Relu' });
  const s2 = fconv(g, 'se/c2', s1, 1, 16, 64);
  c(g, 'se/three', [], [3]);
  c(g, 'se/sixth', [], [1 / 6]);
  g.op('se/add', 'Add', [s2, 'se/three']);
  g.op('se/relu6', 'Relu6', ['se/add']);
  g.op('se/hsig', 'Mul', ['se/sixth', 'se/relu6']);
  g.op('se/mul', 'Mul', ['se/hsig', d]);
  const p = fconv(g, 'project', 'se/mul', 1, 64, 24);
  return [g.op('y', 'Add', [p, 'x']), 'se/mean'];
}
await addCase('fuse_squeeze_excite', [1, 8, 8, 24], squeezeExcite);
await addCase('fuse_squeeze_excite_batch2', [2, 7, 9, 24], squeezeExcite);
await addCase('fuse_inverted_residual_batch3', [3, 6, 5, 16], (g) => {
  const e = hswish(g, fconv(g, 'expand', 'x', 1, 16, 40), 'e');
  const d = fdw(g, 'dw', e, 5, 40, { act: 'Relu6' });
  const p = fconv(g, 'project', d, 1, 40, 16);
  return [g.op('y', 'AddV2', ['x', p])];
});
await addCase('fuse_dw_project_head', [1, 16, 16, 32], (g) => {
  const d = g.op('dw', 'DepthwiseConv2dNative', ['x', c(g, 'dw/w', [3, 3, 32, 1], rand([3, 3, 32, 1]))], { strides: ones4, padding: SAME, dilations: ones4 });
  return [fconv(g, 'cls', d, 1, 32, 20), fconv(g, 'wh', g.op('dw2', 'DepthwiseConv2dNative', ['x', c(g, 'dw2/w', [3, 3, 32, 1], rand([3, 3, 32, 1]))], { strides: ones4, padding: SAME, dilations: ones4 }), 1, 32, 4)];
});
await addCase('fuse_peak_mask', [1, 12, 10, 8], (g) => {
  g.op('hm', 'Sigmoid', ['x']);
  g.op('mp', 'MaxPool', ['hm'], { ksize: attr.ints([1, 3, 3, 1]), strides: ones4, padding: SAME });
  g.op('eq', 'Equal', ['hm', 'mp']);
  g.op('mask', 'Cast', ['eq'], { SrcT: attr.type('bool'), DstT: attr.type(F) });
  return [g.op('peaks', 'Mul', ['hm', 'mask'])];
}, null, { quantum: 0.5, lo: -2, hi: 2 });
await addCase('fuse_not_when_kept', [1, 6, 6, 8], (g) => {
  const e = fconv(g, 'expand', 'x', 1, 8, 24, { act: 'Relu6' });
  const d = fdw(g, 'dw', e, 3, 24);
  return [fconv(g, 'project', d, 1, 24, 8), e, d];
});

// ---- the loader: weight encodings, shards, signatures ------------------------------

const specials = [0, -0, 1, -2.5, 65504, 6.1e-5, 5.96e-8, 3.0e-7, -1.2e-6, Infinity, -Infinity, 1 / 3, 1e-9, 70000];
await addCase('weights_float16_specials', [2, 14], (g) => {
  c(g, 'h', [14], specials, F, 'float16');
  return [g.op('y', 'Identity', ['h']), g.op('s', 'Add', ['x', 'h'])];
}, null, { atol: 0, rtol: 0 });
await addCase('weights_float16_subnormal_conv', [1, 6, 6, 3], (g) => {
  const w = rand([3, 3, 3, 8]).map((v, i) => (i % 3 ? v * 1e-6 : v));
  c(g, 'w', [3, 3, 3, 8], w, F, 'float16');
  return [g.op('y', 'Conv2D', ['x', 'w'], { strides: ones4, padding: SAME, dilations: ones4 })];
});
for (const q of ['uint8', 'uint16']) {
  await addCase(`weights_${q}_affine`, [1, 5, 5, 4], (g) => {
    const cv = rand([6], -3, 5);
    c(g, 'q', [6], cv, F, q);
    c(g, 'qi', [4], [-7, 0, 3, 250], I, q);
    g.op('qid', 'Identity', ['qi']);
    return [g.op('qv', 'Identity', ['q']), 'qid', fconv(g, 'conv', 'x', 3, 4, 6, { quant: q, act: 'Relu' })];
  }, null, { atol: 1e-5, rtol: 1e-5 });
}
await addCase('weights_int32_consts', [2, 3], (g) => {
  c(g, 'k', [2, 2], [1, -2, 2147483647, -2147483648], I);
  return [g.op('y', 'Identity', ['k'])];
}, null, { atol: 0, rtol: 0 });
await addCase('weights_two_groups_three_shards', [1, 4, 4, 3], (g) => {
  const a = fconv(g, 'c1', 'x', 3, 3, 8, { act: 'Relu' });
  const b = fconv(g, 'c2', a, 3, 8, 8, { quant: 'float16' });
  return [fconv(g, 'c3', b, 1, 8, 5, { quant: 'uint8' })];
}, null, { write: { groups: 2, shards: 3 } });
await addCase('signature_outputs_order', [3, 4], (g) => {
  g.op('a', 'Relu', ['x']);
  g.op('b', 'Sigmoid', ['x']);
  return ['b', 'a'];
}, (x) => [tf.sigmoid(x), tf.relu(x)], { write: { signature: { outputs: { 'b:0': { name: 'b:0' }, 'a:0': { name: 'a:0' } } } } });
await addCase('user_signature_outputs', [3, 4], (g) => {
  g.op('a', 'Relu6', ['x']);
  g.op('b', 'Exp', ['x']);
  return ['a'];
}, (x) => [tf.relu6(x)], { write: { userSignature: { inputs: { 'x:0': { name: 'x:0' } }, outputs: { 'a:0': { name: 'a:0' } } } } });

fs.writeFileSync(path.join(outDir, 'ops.json'), JSON.stringify({ cases }, null, 1));
console.log(`${cases.length} op cases written to ${outDir}`);
if (failures) {
  console.error(`${failures} case(s) where TF.js's ops and graph executor disagree`);
  process.exit(1);
}
