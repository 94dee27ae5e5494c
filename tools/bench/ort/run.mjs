// The ONNX Runtime side of tools/bench/clip: images/s and texts/s of the two
// towers exported by tools/torch_clip.py, on the CPU execution provider.
//
//   node run.mjs VISION.onnx TEXT.onnx PIXELS.f32 IDS.json OUT_IMAGES OUT_TEXTS
//                --size S [--threads N] [--batch N] [--rounds N]
//
// PIXELS.f32 holds preprocessed images (float32, N x 3 x S x S); IDS.json
// is {"ids": [[...], ...]}. Each batch of texts is padded with 0 to its
// longest row (the towers pool the first end token and mask causally, so the
// padding changes nothing). After one warm-up batch of each, every round
// embeds all images, then all texts; prints one JSON line (median and best
// round, peak RSS) and writes the embeddings (float32, N x E).
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');

function parseArgs(argv) {
  const positional = [];
  const opts = { size: 0, threads: 2, batch: 16, rounds: 3 };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i].startsWith('--')) {
      const key = argv[i].slice(2);
      const value = Number(argv[++i]);
      if (!(key in opts) || !Number.isInteger(value) || value < 1) {
        throw new Error(`bad option ${argv[i - 1]} ${argv[i]}`);
      }
      opts[key] = value;
    } else {
      positional.push(argv[i]);
    }
  }
  if (positional.length !== 6) {
    throw new Error('usage: run.mjs VISION.onnx TEXT.onnx PIXELS.f32 IDS.json OUT_IMAGES '
      + 'OUT_TEXTS --size S');
  }
  if (!opts.size) throw new Error('--size S (the image side) is needed');
  return [positional, opts];
}

function padIds(rows) {
  const width = Math.max(...rows.map((r) => r.length));
  const data = new BigInt64Array(rows.length * width);
  rows.forEach((r, i) => r.forEach((id, j) => { data[i * width + j] = BigInt(id); }));
  return new ort.Tensor('int64', data, [rows.length, width]);
}

const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

async function main() {
  const [[visionPath, textPath, pixelsPath, idsPath, outImages, outTexts], opts] =
    parseArgs(process.argv.slice(2));
  const options = {
    executionProviders: ['cpu'],
    intraOpNumThreads: opts.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  };
  const t0 = performance.now();
  const vision = await ort.InferenceSession.create(visionPath, options);
  const text = await ort.InferenceSession.create(textPath, options);
  const loadS = (performance.now() - t0) / 1e3;

  const buf = readFileSync(pixelsPath);
  const pixels = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const ids = JSON.parse(readFileSync(idsPath, 'utf8')).ids;
  const side = opts.size;
  const per = 3 * side * side;
  const nImages = pixels.length / per;
  if (!Number.isInteger(nImages) || nImages < 1) {
    throw new Error(`${pixelsPath}: not a whole number of 3 x ${side} x ${side} images`);
  }

  const embedImages = async (out) => {
    for (let i = 0; i < nImages; i += opts.batch) {
      const n = Math.min(opts.batch, nImages - i);
      const input = new ort.Tensor('float32', pixels.subarray(i * per, (i + n) * per),
        [n, 3, side, side]);
      const r = await vision.run({ pixel_values: input });
      if (out) out.push(r.image_embeds.data);
    }
  };
  const embedTexts = async (out) => {
    for (let i = 0; i < ids.length; i += opts.batch) {
      const r = await text.run({ input_ids: padIds(ids.slice(i, i + opts.batch)) });
      if (out) out.push(r.text_embeds.data);
    }
  };

  // warm-up: one batch of each
  await vision.run({
    pixel_values: new ort.Tensor('float32', pixels.subarray(0, Math.min(opts.batch, nImages) * per),
      [Math.min(opts.batch, nImages), 3, side, side]),
  });
  await text.run({ input_ids: padIds(ids.slice(0, opts.batch)) });

  const imageRates = [];
  const textRates = [];
  let images = [];
  let texts = [];
  for (let r = 0; r < opts.rounds; r++) {
    images = [];
    let start = performance.now();
    await embedImages(images);
    imageRates.push(nImages / ((performance.now() - start) / 1e3));
    texts = [];
    start = performance.now();
    await embedTexts(texts);
    textRates.push(ids.length / ((performance.now() - start) / 1e3));
  }
  const concat = (parts) => Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset,
    p.byteLength)));
  writeFileSync(outImages, concat(images));
  writeFileSync(outTexts, concat(texts));
  const version = JSON.parse(readFileSync(new URL('node_modules/onnxruntime-node/package.json',
    import.meta.url), 'utf8')).version;
  console.log(JSON.stringify({
    peer: 'onnxruntime',
    version,
    threads: opts.threads,
    batch: opts.batch,
    images: nImages,
    texts: ids.length,
    images_per_s: median(imageRates),
    images_per_s_best: Math.max(...imageRates),
    texts_per_s: median(textRates),
    texts_per_s_best: Math.max(...textRates),
    load_s: loadS,
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
  }));
}

main().catch((e) => {
  console.error(`run.mjs: ${e.message}`);
  process.exit(1);
});
