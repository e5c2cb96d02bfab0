// Runs one ONNX model in ONNX Runtime (onnxruntime-node, CPU) on a raw float32 NCHW batch and
// writes the first output as raw float32, for comparisons in Python:
//   node ort_logits.mjs MODEL.onnx INPUT.bin N C H W OUTPUT.bin [BATCH]
// Copy it beside onnxruntime-node's node_modules (as benchmarks/ort_run.mjs).
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');

const [model, inputPath, n, c, h, w, outputPath, batchArg] = process.argv.slice(2);
const [N, C, H, W] = [n, c, h, w].map(Number);
const batch = Number(batchArg || '100');
const bytes = readFileSync(inputPath);
const input = new Float32Array(bytes.buffer, bytes.byteOffset, N * C * H * W);
const session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'], graphOptimizationLevel: 'all' });
const chunks = [];
for (let first = 0; first < N; first += batch) {
  const count = Math.min(batch, N - first);
  const slice = input.subarray(first * C * H * W, (first + count) * C * H * W);
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', slice, [count, C, H, W]) };
  const result = await session.run(feeds);
  chunks.push(Buffer.from(result[session.outputNames[0]].data.buffer.slice(0)));
}
writeFileSync(outputPath, Buffer.concat(chunks));
