// TF.js side of tools/bench/tagger_interpreter: images/s of a graph model on
// the wasm backend (XNNPACK), one worker thread per session, all running
// at once, like the C driver.
//
//   node bench_wasm.mjs MODEL.json INPUT.f32 D0,D1,.. WORKERS IMAGES [wasm|cpu]
//
// Prints {"images", "workers", "seconds", "images_per_s", "threads_per_worker"}.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';

if (isMainThread) {
  const [model, input, dims, workersArg, imagesArg, backend = 'wasm'] = process.argv.slice(2);
  if (!imagesArg) {
    console.error('usage: node bench_wasm.mjs MODEL.json INPUT.f32 D0,D1,.. WORKERS IMAGES [wasm|cpu]');
    process.exit(2);
  }
  const workers = Number(workersArg), images = Number(imagesArg);
  const shape = dims.split(',').map(Number);
  const started = [];
  const pool = [];
  let ready = 0;
  await new Promise((resolve, reject) => {
    for (let w = 0; w < workers; w++) {
      const count = Math.floor(images / workers) + (w < images % workers ? 1 : 0);
      const worker = new Worker(fileURLToPath(import.meta.url), {
        workerData: { model, input, shape, count, backend },
      });
      worker.on('error', reject);
      worker.on('message', (m) => {
        if (m.ready && ++ready === workers) resolve();
      });
      pool.push(worker);
    }
  });
  const t0 = performance.now();
  const done = pool.map((w) => new Promise((resolve, reject) => {
    w.on('message', (m) => { if (m.done) resolve(m); });
    w.on('error', reject);
  }));
  for (const w of pool) w.postMessage('go');
  const results = await Promise.all(done);
  const seconds = (performance.now() - t0) / 1000;
  for (const w of pool) await w.terminate();
  console.log(JSON.stringify({
    images, workers, seconds: Number(seconds.toFixed(4)),
    images_per_s: Number((images / seconds).toFixed(3)),
    threads_per_worker: results[0].threads, backend,
  }));
} else {
  const { tf, useBackend, loadModel, readF32 } = await import('./common.mjs');
  const { model: file, input, shape, count, backend } = workerData;
  await useBackend(backend);
  const model = await loadModel(file);
  const x = tf.tensor(readF32(input), shape, 'float32');
  const run = async () => {
    const out = model.execute(x);
    const list = Array.isArray(out) ? out : [out];
    await Promise.all(list.map((t) => t.data()));
    tf.dispose(list);
  };
  await run();   // warm-up: compiles and allocates
  parentPort.postMessage({ ready: true });
  parentPort.once('message', async () => {
    for (let i = 0; i < count; i++) await run();
    let threads = 1;
    try { threads = tf.backend().wasm?.tfjs?.getThreadsCount?.() ?? 1; } catch { threads = 1; }
    parentPort.postMessage({ done: true, threads });
  });
}
