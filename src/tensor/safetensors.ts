/**
 * The safetensors format (huggingface/safetensors), used as pita's checkpoint
 * codec, for F32 and F64 host arrays:
 *
 *   bytes 0..7     N, the header length, unsigned 64-bit little-endian
 *   bytes 8..8+N   UTF-8 JSON header: {"__metadata__": {string: string},
 *                  name: {"dtype": "F32"|"F64", "shape": [..], "data_offsets": [begin, end]}, …}
 *                  padded with spaces so that N is a multiple of 8
 *   bytes 8+N..    the tensors' little-endian bytes, contiguous, without gaps;
 *                  offsets are relative to the start of this block
 *
 * Tensors are laid out (and listed) by element size, largest first, then by
 * name — the reference writer's order, which keeps every F64 block 8-byte
 * aligned. Files are written atomically (temporary file, fsync, rename).
 */
import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { writeFileAtomic } from '../core/atomic.js';

export type SafeDType = 'F32' | 'F64';

export interface SafeTensor {
  dtype: SafeDType;
  shape: number[];
  data: Float32Array | Float64Array;
}

export interface SafetensorsContents {
  tensors: Map<string, SafeTensor>;
  metadata: Record<string, string>;
}

const BYTES: Record<SafeDType, number> = { F32: 4, F64: 8 };
/** Upper bound on the header length accepted when reading (the reference reader uses 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

function assertLittleEndian(): void {
  if (endianness() !== 'LE') throw new Error('safetensors: only little-endian hosts are supported');
}

function validateTensor(name: string, t: SafeTensor): void {
  if (name === '' || name === '__metadata__') throw new RangeError(`safetensors: tensor name '${name}' is reserved or empty`);
  if (t.dtype !== 'F32' && t.dtype !== 'F64') {
    throw new RangeError(`safetensors: tensor '${name}' has dtype ${String(t.dtype)}; supported: F32, F64`);
  }
  const arrayOk = t.dtype === 'F32' ? t.data instanceof Float32Array : t.data instanceof Float64Array;
  if (!arrayOk) throw new TypeError(`safetensors: tensor '${name}' is ${t.dtype} but its data is a ${t.data.constructor.name}`);
  if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new RangeError(`safetensors: tensor '${name}' shape must be non-negative integers, got ${JSON.stringify(t.shape)}`);
  }
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (t.data.length !== n) {
    throw new RangeError(`safetensors: tensor '${name}' has ${t.data.length} values, shape [${t.shape.join(',')}] needs ${n}`);
  }
}

/** Serialise tensors and string metadata to safetensors bytes. */
export function encodeSafetensors(
  tensors: Map<string, SafeTensor> | Record<string, SafeTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  assertLittleEndian();
  const entries = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  for (const [name, t] of entries) validateTensor(name, t);
  if (new Set(entries.map(([n]) => n)).size !== entries.length) throw new RangeError('safetensors: duplicate tensor names');
  for (const [key, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') throw new TypeError(`safetensors: metadata '${key}' must be a string, got ${typeof v}`);
  }
  entries.sort(([na, a], [nb, b]) => BYTES[b.dtype] - BYTES[a.dtype] || (na < nb ? -1 : na > nb ? 1 : 0));

  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of entries) {
    const end = offset + t.data.length * BYTES[t.dtype];
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, end] };
    offset = end;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLen = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLen + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);
  let pos = 8 + headerLen;
  for (const [, t] of entries) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
    pos += t.data.byteLength;
  }
  return out;
}

function isShape(s: unknown): s is number[] {
  return Array.isArray(s) && s.every((d) => Number.isInteger(d) && d >= 0);
}

/** Parse safetensors bytes (F32/F64 tensors only). `source` names the input in errors. */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors data'): SafetensorsContents {
  assertLittleEndian();
  const fail = (why: string): never => {
    throw new Error(`${source}: not a valid safetensors file: ${why}`);
  };
  if (bytes.length < 8) fail(`${bytes.length} bytes, shorter than the 8-byte header length`);
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (n > MAX_HEADER_BYTES || 8 + n > bytes.length) fail(`header length ${n} exceeds the file (${bytes.length} bytes)`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    fail(`header is not UTF-8 JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) fail('header is not a JSON object');
  const dataStart = 8 + n;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const found: { name: string; dtype: SafeDType; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) fail('__metadata__ is not an object');
      for (const [key, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`__metadata__.${key} is not a string`);
        metadata[key] = v as string;
      }
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (e === null || typeof e !== 'object') fail(`entry '${name}' is not an object`);
    if (e.dtype !== 'F32' && e.dtype !== 'F64') {
      fail(`tensor '${name}' has dtype ${JSON.stringify(e.dtype)}; pita reads F32 and F64`);
    }
    if (!isShape(e.shape)) fail(`tensor '${name}' has an invalid shape ${JSON.stringify(e.shape)}`);
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isInteger(o) && o >= 0)) {
      fail(`tensor '${name}' has invalid data_offsets ${JSON.stringify(offs)}`);
    }
    const [begin, end] = offs as [number, number];
    const dtype = e.dtype as SafeDType;
    const shape = e.shape as number[];
    const expected = shape.reduce((a, b) => a * b, 1) * BYTES[dtype];
    if (end - begin !== expected) fail(`tensor '${name}' spans ${end - begin} bytes, ${dtype} [${shape.join(',')}] needs ${expected}`);
    found.push({ name, dtype, shape, begin, end });
  }
  found.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const f of found) {
    if (f.begin !== cursor) fail(`tensor '${f.name}' starts at byte ${f.begin}, expected ${cursor} (gap or overlap)`);
    cursor = f.end;
  }
  if (cursor !== dataLen) fail(`tensors cover ${cursor} data bytes but the file has ${dataLen}`);
  const tensors = new Map<string, SafeTensor>();
  for (const f of found.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    // A copy (not a view: Buffer.slice shares memory), so the typed array is aligned and owns its data.
    const copy = new Uint8Array(bytes.subarray(dataStart + f.begin, dataStart + f.end)).buffer;
    const data = f.dtype === 'F32' ? new Float32Array(copy) : new Float64Array(copy);
    tensors.set(f.name, { dtype: f.dtype, shape: f.shape, data });
  }
  return { tensors, metadata };
}

/** Save tensors and metadata to a safetensors file, atomically. */
export function saveSafetensors(
  path: string,
  tensors: Map<string, SafeTensor> | Record<string, SafeTensor>,
  metadata: Record<string, string> = {},
): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

/** Load a safetensors file (F32/F64 tensors only). Tensors come back sorted by name. */
export function loadSafetensors(path: string): SafetensorsContents {
  return decodeSafetensors(readFileSync(path), path);
}
