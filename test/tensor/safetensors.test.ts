/** The safetensors checkpoint codec: exact bytes, round trip, validation, atomic writes. */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Rng } from '../../src/core/rng.js';
import {
  type SafeTensor,
  decodeSafetensors,
  encodeSafetensors,
  loadSafetensors,
  saveSafetensors,
} from '../../src/tensor/safetensors.js';

const example = (): Record<string, SafeTensor> => ({
  b: { dtype: 'F32', shape: [2], data: Float32Array.from([1, 2]) },
  a: { dtype: 'F64', shape: [1], data: Float64Array.from([0.5]) },
});

test('bytes of a hand-computed example', () => {
  const bytes = encodeSafetensors(example(), { format: 'pt' });
  // F64 tensors first (alignment), then by name; header padded with spaces to a multiple of 8.
  const json =
    '{"__metadata__":{"format":"pt"},' +
    '"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},' +
    '"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}';
  assert.equal(json.length, 139);
  const expected = Buffer.concat([
    Buffer.from([144, 0, 0, 0, 0, 0, 0, 0]), // N = 139 rounded up to 144, u64 little-endian
    Buffer.from(json + ' '.repeat(5), 'utf8'),
    Buffer.from('000000000000e03f', 'hex'), // 0.5 as f64 LE
    Buffer.from('0000803f00000040', 'hex'), // 1, 2 as f32 LE
  ]);
  assert.equal(bytes.length, 8 + 144 + 16);
  assert.deepEqual(Buffer.from(bytes), expected);
});

test('round trip of F32/F64 tensors of many shapes, including scalars and empty tensors', () => {
  const rng = new Rng(3);
  const shapes = [[], [0, 3], [1], [3, 5], [2, 3, 4], [7]];
  const tensors = new Map<string, SafeTensor>();
  shapes.forEach((shape, i) => {
    const n = shape.reduce((x, y) => x * y, 1);
    tensors.set(`f32.${i}`, { dtype: 'F32', shape, data: Float32Array.from(rng.normals(n)) });
    tensors.set(`f64.${i}`, { dtype: 'F64', shape, data: rng.normals(n) });
  });
  const meta = { step: '1200', config: '{"lr":0.001}', unicode: 'σ≥0 ✓' };
  const out = decodeSafetensors(encodeSafetensors(tensors, meta));
  assert.deepEqual(out.metadata, meta);
  assert.deepEqual([...out.tensors.keys()], [...tensors.keys()].sort());
  for (const [name, t] of tensors) assert.deepEqual(out.tensors.get(name), t);
  assert.deepEqual(decodeSafetensors(encodeSafetensors({})).tensors.size, 0);
});

test('writes atomically and reads back; no temporary files remain', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pita-safetensors-'));
  try {
    const file = path.join(dir, 'ckpt.safetensors');
    saveSafetensors(file, example(), { format: 'pt' });
    saveSafetensors(file, { only: { dtype: 'F32', shape: [1], data: Float32Array.from([9]) } });
    const back = loadSafetensors(file);
    assert.deepEqual([...back.tensors.keys()], ['only']);
    assert.deepEqual(back.metadata, {});
    assert.deepEqual(readdirSync(dir), ['ckpt.safetensors']);
    assert.throws(() => saveSafetensors(path.join(dir, 'missing', 'x.safetensors'), example()), /cannot write .*missing\/x\.safetensors: directory .*missing does not exist/);
    assert.deepEqual(readdirSync(dir), ['ckpt.safetensors']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('invalid input is rejected with a message naming the problem', () => {
  assert.throws(
    () => encodeSafetensors({ x: { dtype: 'F32', shape: [3], data: new Float32Array(2) } }),
    /'x' has 2 values, shape \[3\] needs 3/,
  );
  assert.throws(() => encodeSafetensors({ x: { dtype: 'F64', shape: [1], data: new Float32Array(1) } }), /F64 but its data is a Float32Array/);
  assert.throws(() => encodeSafetensors({ __metadata__: { dtype: 'F32', shape: [0], data: new Float32Array(0) } }), /reserved/);

  const good = encodeSafetensors(example(), { format: 'pt' });
  const header = (bytes: Uint8Array): string => Buffer.from(bytes.subarray(8, 152)).toString('utf8');
  const withHeader = (json: string): Uint8Array => {
    const padded = json.trimEnd().padEnd(144, ' ');
    assert.equal(padded.length, 144);
    return Buffer.concat([good.subarray(0, 8), Buffer.from(padded), good.subarray(152)]);
  };
  assert.throws(() => decodeSafetensors(good.subarray(0, 5), 'f'), /f: not a valid safetensors file: 5 bytes/);
  assert.throws(() => decodeSafetensors(good.subarray(0, 100)), /header length 144 exceeds the file/);
  assert.throws(() => decodeSafetensors(withHeader(header(good).replace('"F64"', '"BF16"'))), /dtype "BF16"; pita reads F32 and F64/);
  assert.throws(() => decodeSafetensors(withHeader(header(good).replace('[8,16]', '[9,17]'))), /starts at byte 9, expected 8/);
  assert.throws(() => decodeSafetensors(withHeader(header(good).replace('"shape":[2]', '"shape":[3]'))), /spans 8 bytes, F32 \[3\] needs 12/);
  assert.throws(() => decodeSafetensors(Buffer.concat([good, Buffer.alloc(4)])), /cover 16 data bytes but the file has 20/);
  assert.throws(() => decodeSafetensors(withHeader('{"a": 1')), /header is not UTF-8 JSON/);
});

test('reads a file written by another tool (bytes assembled by hand, keys in any order)', () => {
  const json = '{"w":{"data_offsets":[0,12],"shape":[3],"dtype":"F32"}}';
  const padded = json + ' '.repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(padded.length));
  const data = Buffer.from(Float32Array.from([1.5, -2, 3]).buffer);
  const dir = mkdtempSync(path.join(tmpdir(), 'pita-safetensors-'));
  try {
    const file = path.join(dir, 'w.safetensors');
    writeFileSync(file, Buffer.concat([len, Buffer.from(padded), data]));
    const { tensors } = loadSafetensors(file);
    assert.deepEqual(tensors.get('w'), { dtype: 'F32', shape: [3], data: Float32Array.from([1.5, -2, 3]) });
    assert.equal(readFileSync(file).length, 8 + padded.length + 12);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
