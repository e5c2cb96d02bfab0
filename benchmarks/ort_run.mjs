// Times ONNX Runtime (onnxruntime-node, CPU execution provider) on one model, the way
// `mobilenext bench` times the library: median and min latency of session.run over N runs
// after warm-up, for a given intra-op thread count; with --load, the time from session
// creation to the first result and the resident memory the session adds.
//   node ort_run.mjs MODEL.onnx --threads N [--runs N] [--warmup K] [--load]
// Prints one JSON object.
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf('--' + name);
  return i >= 0 ? args[i + 1] : fallback;
};
const model = args[0];
const threads = Number(option('threads', '1'));
const runs = Number(option('runs', '50'));
const warmup = Number(option('warmup', '5'));
const loadOnly = args.includes('--load');

const rssBefore = process.memoryUsage().rss;
const start = process.hrtime.bigint();
const session = await ort.InferenceSession.create(model, {
  executionProviders: ['cpu'],
  graphOptimizationLevel: 'all',
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  executionMode: 'sequential',
});
const shape = session.inputMetadata?.[0]?.shape ?? [1, 3, 224, 224];
const count = shape.reduce((a, b) => a * b, 1);
const data = new Float32Array(count);
for (let i = 0; i < count; i++) data[i] = (i % 255) / 255 - 0.5;
const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, shape) };
await session.run(feeds);
const firstMs = Number(process.hrtime.bigint() - start) / 1e6;
if (loadOnly) {
  console.log(JSON.stringify({ first_result_ms: firstMs, added_rss_mib: (process.memoryUsage().rss - rssBefore) / 1048576 }));
  process.exit(0);
}
for (let i = 0; i < warmup; i++) await session.run(feeds);
const times = [];
for (let i = 0; i < runs; i++) {
  const t0 = process.hrtime.bigint();
  await session.run(feeds);
  times.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
times.sort((a, b) => a - b);
const median = runs % 2 ? times[(runs - 1) / 2] : (times[runs / 2 - 1] + times[runs / 2]) / 2;
console.log(JSON.stringify({ batch: shape[0], threads, median_ms: median, min_ms: times[0] }));
