// Runs an ONNX model in ONNX Runtime (npm's onnxruntime-node, CPU) on float32 inputs from a
// NumPy .npy file and writes its first output as .npy. tools/onnx-run installs the package and
// calls this; tests/test_onnx_export compares the result with `qtrain eval --logits`.
// Usage: node tools/onnx_run.js MODEL.onnx INPUT.npy OUTPUT.npy  (NODE_PATH finds onnxruntime-node)
'use strict';
const fs = require('fs');

function fail(message) {
  process.stderr.write(`tools/onnx_run.js: ${message}\n`);
  process.exit(1);
}

// A little-endian float32 .npy file, C order: its shape and values.
function readNpy(path) {
  const b = fs.readFileSync(path);
  if (b.length < 10 || b.toString('latin1', 0, 6) !== '\x93NUMPY') fail(`${path}: not a .npy file`);
  const major = b[6];
  const headerLen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = b.toString('latin1', start, start + headerLen);
  if (!header.includes("'<f4'")) fail(`${path}: expected float32 ('<f4') values, header ${header}`);
  if (/'fortran_order': True/.test(header)) fail(`${path}: Fortran order is not supported`);
  const m = /'shape': \(([^)]*)\)/.exec(header);
  if (!m) fail(`${path}: no shape in header ${header}`);
  const shape = m[1].split(',').map((s) => s.trim()).filter((s) => s).map(Number);
  const count = shape.reduce((a, d) => a * d, 1);
  const data = new Float32Array(count);
  Buffer.from(data.buffer).set(b.subarray(start + headerLen, start + headerLen + 4 * count));
  if (b.length - start - headerLen !== 4 * count)
    fail(`${path}: ${b.length - start - headerLen} bytes of data, shape [${shape}] needs ${4 * count}`);
  return { shape, data };
}

function npyBytes(shape, data) {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims}), }`;
  header += ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, 'latin1'),
    Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

async function main() {
  const [model, input, output] = process.argv.slice(2);
  if (!output) fail('usage: node tools/onnx_run.js MODEL.onnx INPUT.npy OUTPUT.npy');
  let ort;
  try {
    ort = require('onnxruntime-node');
  } catch (e) {
    fail(`cannot load onnxruntime-node (tools/onnx-run installs it): ${e.message}`);
  }
  const x = readNpy(input);
  const session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'] });
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', x.data, x.shape) };
  const result = await session.run(feeds);
  const y = result[session.outputNames[0]];
  fs.writeFileSync(output, npyBytes(y.dims, y.data));
}

main().catch((e) => fail(e.stack || String(e)));
