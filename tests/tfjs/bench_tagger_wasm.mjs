// TF.js side of tools/bench/tagger: images/s of the tagger's models on the
// wasm backend (XNNPACK, SIMD), over the very input tensors the C driver
// prepared (tagger_bench_driver --dump DIR), one worker_thread per core, each
// with its own backend and models, sharing the pictures through a counter as
// the C driver's threads do.
//
//   node bench_tagger_wasm.mjs DUMP_DIR MODELS_DIR PASSES MODE:WORKERS[,...]
//
// MODE is
//   tagger    per picture: centernet on its 512x512 tensor (reading
//             tower_0/detections), blazeface on its 256x256 tensor (its four
//             outputs), then emotion on each face crop the C tagger
//             classified (64x64x1), downloading every result;
//   detector  centernet alone.
// The output decoding (NMS, anchors) is left out on this side: it is a few
// thousand multiply-adds, against billions in the graphs. One warm-up run per
// worker is not counted. Prints one JSON line per config.
//
// Threads: in Node the wasm backend runs single-threaded (its threaded build
// starts emscripten pthreads from blob: URLs, which Node's Worker refuses),
// so parallelism comes from the worker_threads; threads_per_worker reports
// what the backend says.
import fs from 'node:fs';
import path from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';

const DETECTIONS = 'tower_0/detections';

function shared(file) {
  const size = fs.statSync(file).size;
  const sab = new SharedArrayBuffer(Math.max(size, 4));
  const fd = fs.openSync(file, 'r');
  try {
    const view = new Uint8Array(sab, 0, size);
    let done = 0;
    while (done < size) {
      const n = fs.readSync(fd, view, done, size - done, done);
      if (n <= 0) throw new Error(`${file}: short read`);
      done += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return sab;
}

async function runConfig(config, common) {
  const [mode, workersArg] = config.split(':');
  const workers = Number(workersArg);
  if (!['tagger', 'detector'].includes(mode) || !(workers >= 1)) {
    throw new Error(`bad config ${config}: want tagger:N or detector:N`);
  }
  const counter = new SharedArrayBuffer(4);
  const pool = [];
  let ready = 0;
  await new Promise((resolve, reject) => {
    for (let w = 0; w < workers; w++) {
      const worker = new Worker(fileURLToPath(import.meta.url), {
        workerData: { ...common, mode, counter },
      });
      worker.on('error', reject);
      worker.on('message', (m) => {
        if (m.ready && ++ready === workers) resolve();
      });
      pool.push(worker);
    }
  });
  const done = pool.map((w) => new Promise((resolve, reject) => {
    w.on('message', (m) => { if (m.done) resolve(m); });
    w.on('error', reject);
  }));
  const t0 = performance.now();
  for (const w of pool) w.postMessage('go');
  const results = await Promise.all(done);
  const seconds = (performance.now() - t0) / 1000;
  for (const w of pool) await w.terminate();
  const images = common.total;
  console.log(JSON.stringify({
    side: 'tfjs-wasm', mode, threads: workers, images,
    seconds: Number(seconds.toFixed(4)),
    images_per_s: Number((images / seconds).toFixed(3)),
    threads_per_worker: results[0].threads,
    per_worker: results.map((r) => r.count),
  }));
}

if (isMainThread) {
  const [dumpDir, modelsDir, passesArg, configs] = process.argv.slice(2);
  if (!configs) {
    console.error('usage: node bench_tagger_wasm.mjs DUMP_DIR MODELS_DIR PASSES MODE:WORKERS[,...]');
    process.exit(2);
  }
  const manifest = JSON.parse(fs.readFileSync(path.join(dumpDir, 'manifest.json'), 'utf8'));
  const missing = ['centernet', 'blazeface', 'emotion']
    .map((m) => path.join(modelsDir, `${m}.json`)).filter((f) => !fs.existsSync(f));
  if (missing.length) {
    console.error(`missing model(s): ${missing.join(', ')}`);
    process.exit(1);
  }
  const common = {
    modelsDir,
    n: manifest.images,
    total: manifest.images * Number(passesArg),
    cropsPerImage: manifest.crops_per_image,
    det: shared(path.join(dumpDir, 'detector.f32')),
    faces: shared(path.join(dumpDir, 'faces.f32')),
    crops: shared(path.join(dumpDir, 'crops.f32')),
  };
  for (const config of configs.split(',')) await runConfig(config, common);
} else {
  const { tf, useBackend, loadModel } = await import('./common.mjs');
  const { modelsDir, mode, counter, n, total, cropsPerImage } = workerData;
  await useBackend('wasm');
  const det = new Float32Array(workerData.det);
  const faces = new Float32Array(workerData.faces);
  const crops = new Float32Array(workerData.crops);
  const DET = 512 * 512 * 3, FACE = 256 * 256 * 3, CROP = 64 * 64;
  const cropStart = [0];
  for (const c of cropsPerImage) cropStart.push(cropStart[cropStart.length - 1] + c);
  const centernet = await loadModel(path.join(modelsDir, 'centernet.json'));
  const blazeface = mode === 'tagger' ? await loadModel(path.join(modelsDir, 'blazeface.json')) : null;
  const emotion = mode === 'tagger' ? await loadModel(path.join(modelsDir, 'emotion.json')) : null;

  const execute = async (model, data, shape, outputs) => {
    const x = tf.tensor(data, shape, 'float32');
    const out = outputs ? model.execute(x, outputs) : model.execute(x);
    const list = Array.isArray(out) ? out : [out];
    await Promise.all(list.map((t) => t.data()));
    tf.dispose(list);
    x.dispose();
  };
  const run = async (i) => {
    await execute(centernet, det.subarray(i * DET, (i + 1) * DET), [1, 512, 512, 3], DETECTIONS);
    if (mode !== 'tagger') return;
    await execute(blazeface, faces.subarray(i * FACE, (i + 1) * FACE), [1, 256, 256, 3]);
    for (let c = cropStart[i]; c < cropStart[i + 1]; c++) {
      await execute(emotion, crops.subarray(c * CROP, (c + 1) * CROP), [1, 64, 64, 1]);
    }
  };
  // warm-up: the first picture with a face crop, if any
  let warm = cropsPerImage.findIndex((c) => c > 0);
  if (warm < 0) warm = 0;
  await run(warm);
  parentPort.postMessage({ ready: true });
  parentPort.once('message', async () => {
    const next = new Int32Array(counter);
    let count = 0;
    for (;;) {
      const k = Atomics.add(next, 0, 1);
      if (k >= total) break;
      await run(k % n);
      count++;
    }
    let threads = 1;
    try {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      threads = wasm.getThreadsCount?.() ?? 1;
    } catch { threads = 1; }
    parentPort.postMessage({ done: true, threads, count });
  });
}
