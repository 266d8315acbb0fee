/**
 * NumPy `.npy` files (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html).
 *
 * Layout: the magic `\x93NUMPY`, a major and a minor version byte, the header
 * length (uint16 LE for version 1.0, uint32 LE for 2.0 and 3.0), the header
 * (a Python dict literal with exactly the keys 'descr', 'fortran_order' and
 * 'shape', latin-1 for 1.0/2.0 and UTF-8 for 3.0, space-padded and ended by a
 * newline so that the data start on a 64-byte boundary), then the raw data.
 *
 * Supported: little-endian float32 ('<f4'), float64 ('<f8'), int32 ('<i4'),
 * int64 ('<i8'), uint8 ('|u1') and bool ('|b1'), C (row-major) order only.
 * int64 is read into a BigInt64Array, which keeps every value exact;
 * `readNpyFloat64` converts it to float64 and rejects values beyond ±2^53.
 * bool is read into a Uint8Array of 0/1.
 *
 * Writing produces format 1.0 with exactly NumPy's header text and padding
 * (including the spare room NumPy leaves for growing the first axis), so files are byte-identical to
 * `numpy.save` of the same array; writes are atomic.
 */
import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { UserError } from '../core/errors.js';
import { writeFileAtomic } from '../core/atomic.js';

/** Element types this module reads and writes. */
export type NpyDtype = 'float32' | 'float64' | 'int32' | 'int64' | 'uint8' | 'bool';

/** Typed array holding the data of each dtype (bool as 0/1 bytes). */
export type NpyData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

/** A decoded array: flat C-order data, its shape ([] for a scalar) and dtype. */
export interface NpyArray {
  data: NpyData;
  shape: number[];
  dtype: NpyDtype;
}

/** Data accepted by the writers; plain number arrays are written as float64 unless a dtype is given. */
export type NpyWritable = NpyData | readonly number[];

/** Shape requirements for `readNpyFloat64`; giving rows or cols requires a 2-D array. */
export interface NpyExpectation {
  rows?: number;
  cols?: number;
  /** Who needs the shape, for the error message, e.g. "target aldp". */
  what?: string;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const ALIGN = 64;
/** Spare header room NumPy leaves so the first axis can grow in place (numpy.lib.format). */
const GROWTH_AXIS_MAX_DIGITS = 21;

const DESCR: Record<NpyDtype, string> = {
  float32: '<f4',
  float64: '<f8',
  int32: '<i4',
  int64: '<i8',
  uint8: '|u1',
  bool: '|b1',
};
const ITEMSIZE: Record<NpyDtype, number> = { float32: 4, float64: 8, int32: 4, int64: 8, uint8: 1, bool: 1 };

function dtypeFromDescr(descr: string): NpyDtype | undefined {
  const m = /^([<>|=])([fiub])(\d+)$/.exec(descr);
  if (!m) return undefined;
  const [, order, kind, size] = m;
  const key = `${kind}${size}`;
  if (key === 'u1') return 'uint8';
  if (key === 'b1') return 'bool';
  if (order !== '<') return undefined; // multi-byte data must be little-endian
  return ({ f4: 'float32', f8: 'float64', i4: 'int32', i8: 'int64' } as Record<string, NpyDtype>)[key];
}

function assertLittleEndianHost(): void {
  if (endianness() !== 'LE') throw new Error('.npy I/O assumes a little-endian host');
}

const fmtShape = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

// ---------------------------------------------------------------------------
// Header dict parser: the Python literal subset NumPy writes (dict, str, bool,
// None, int with optional Py2 'L' suffix, tuple, list).

type PyValue = string | number | boolean | null | PyValue[] | Map<string, PyValue>;

class HeaderParser {
  private pos = 0;
  constructor(
    private readonly text: string,
    private readonly source: string,
  ) {}

  parseDict(): Map<string, PyValue> {
    const v = this.value();
    this.skipSpace();
    if (this.pos !== this.text.length) this.fail('unexpected text after the header dict');
    if (!(v instanceof Map)) this.fail('header is not a dict');
    return v as Map<string, PyValue>;
  }

  private fail(why: string): never {
    throw new UserError(`${this.source}: malformed .npy header (${why} at character ${this.pos}): ${JSON.stringify(this.text)}`);
  }

  private skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos])) this.pos++;
  }

  private value(): PyValue {
    this.skipSpace();
    const c = this.text[this.pos];
    if (c === '{') return this.dict();
    if (c === '(') return this.sequence(')');
    if (c === '[') return this.sequence(']');
    if (c === "'" || c === '"') return this.string();
    const word = /^(True|False|None|-?\d+L?)/.exec(this.text.slice(this.pos));
    if (!word) this.fail('unexpected token');
    this.pos += word[0].length;
    if (word[0] === 'True') return true;
    if (word[0] === 'False') return false;
    if (word[0] === 'None') return null;
    return Number(word[0].replace('L', ''));
  }

  private string(): string {
    const quote = this.text[this.pos++];
    const end = this.text.indexOf(quote, this.pos);
    if (end < 0) this.fail('unterminated string');
    const s = this.text.slice(this.pos, end);
    this.pos = end + 1;
    return s;
  }

  /** Comma-separated items up to `close`, a trailing comma allowed. */
  private items<T>(close: string, item: () => T): T[] {
    this.pos++; // opening bracket
    const out: T[] = [];
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] === close) break;
      out.push(item());
      this.skipSpace();
      if (this.text[this.pos] === ',') this.pos++;
      else if (this.text[this.pos] !== close) this.fail(`expected ',' or '${close}'`);
    }
    this.pos++;
    return out;
  }

  private sequence(close: string): PyValue[] {
    return this.items(close, () => this.value());
  }

  private dict(): Map<string, PyValue> {
    const entries = this.items('}', () => {
      const key = this.value();
      if (typeof key !== 'string') this.fail('dict key is not a string');
      this.skipSpace();
      if (this.text[this.pos] !== ':') this.fail("expected ':'");
      this.pos++;
      return [key, this.value()] as [string, PyValue];
    });
    return new Map(entries);
  }
}

// ---------------------------------------------------------------------------
// Decoding

/** Decodes `.npy` bytes; `source` names the origin in error messages. */
export function decodeNpy(bytes: Uint8Array, source = '<buffer>'): NpyArray {
  assertLittleEndianHost();
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new UserError(`${source} is not a .npy file (missing the \\x93NUMPY magic)`);
  }
  const major = bytes[6];
  const minor = bytes[7];
  if (major < 1 || major > 3 || minor !== 0) {
    throw new UserError(`${source}: unsupported .npy format version ${major}.${minor} (supported: 1.0, 2.0, 3.0)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lenBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lenBytes) throw new UserError(`${source} is truncated inside the .npy header`);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = 8 + lenBytes;
  const dataStart = headerStart + headerLen;
  if (bytes.length < dataStart) {
    throw new UserError(`${source} is truncated inside the .npy header (header needs ${dataStart} bytes, file has ${bytes.length})`);
  }
  const headerText = Buffer.from(bytes.buffer, bytes.byteOffset + headerStart, headerLen).toString(major === 3 ? 'utf8' : 'latin1');
  const dict = new HeaderParser(headerText.trim(), source).parseDict();

  const keys = [...dict.keys()].sort();
  if (keys.join() !== 'descr,fortran_order,shape') {
    throw new UserError(`${source}: .npy header must have exactly the keys descr, fortran_order, shape; found ${keys.join(', ')}`);
  }
  const descr = dict.get('descr');
  const dtype = typeof descr === 'string' ? dtypeFromDescr(descr) : undefined;
  if (dtype === undefined) {
    throw new UserError(
      `${source} has unsupported dtype ${JSON.stringify(descr)}; supported: ${Object.values(DESCR).join(', ')} (little-endian)`,
    );
  }
  if (dict.get('fortran_order') !== false) {
    throw new UserError(`${source} is stored in Fortran (column-major) order; only C order is supported (save with numpy.ascontiguousarray)`);
  }
  const shapeValue = dict.get('shape');
  if (!Array.isArray(shapeValue) || !shapeValue.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw new UserError(`${source}: .npy shape ${JSON.stringify(shapeValue)} is not a tuple of non-negative integers`);
  }
  const shape = shapeValue as number[];
  const count = shape.reduce((a, b) => a * b, 1);
  const nbytes = count * ITEMSIZE[dtype];
  const available = bytes.length - dataStart;
  if (available < nbytes) {
    throw new UserError(
      `${source} is truncated: shape ${fmtShape(shape)} of ${dtype} needs ${nbytes} data bytes, only ${available} follow the header`,
    );
  }
  if (available > nbytes) {
    throw new UserError(`${source} has ${available - nbytes} unexpected bytes after the data of shape ${fmtShape(shape)} ${dtype}`);
  }
  // Copy into a fresh buffer: the data offset need not be aligned for the element size.
  const raw = new ArrayBuffer(nbytes);
  new Uint8Array(raw).set(bytes.subarray(dataStart, dataStart + nbytes));
  return { data: typedView(dtype, raw), shape, dtype };
}

function typedView(dtype: NpyDtype, buf: ArrayBuffer): NpyData {
  switch (dtype) {
    case 'float32':
      return new Float32Array(buf);
    case 'float64':
      return new Float64Array(buf);
    case 'int32':
      return new Int32Array(buf);
    case 'int64':
      return new BigInt64Array(buf);
    case 'uint8':
    case 'bool':
      return new Uint8Array(buf);
  }
}

function readBytes(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new UserError(`cannot read ${path}: ${(err as Error).message}`);
  }
}

/** Reads a `.npy` file in its stored dtype. */
export function readNpy(path: string): NpyArray {
  return decodeNpy(readBytes(path), path);
}

/**
 * Reads a `.npy` file of any supported dtype as float64 (float32 widens
 * exactly; int64 must lie within ±2^53). With `expect.rows`/`expect.cols` the
 * array must be 2-D with those sizes, e.g. "samples.npy has shape [100, 65];
 * target aldp needs [n, 66]".
 */
export function readNpyFloat64(path: string, expect: NpyExpectation = {}): { data: Float64Array; shape: number[] } {
  const arr = readNpy(path);
  const { rows, cols, what } = expect;
  if (rows !== undefined || cols !== undefined) {
    const ok = arr.shape.length === 2 && (rows === undefined || arr.shape[0] === rows) && (cols === undefined || arr.shape[1] === cols);
    if (!ok) {
      const need = `[${rows ?? 'n'}, ${cols ?? 'd'}]`;
      throw new UserError(`${path} has shape ${fmtShape(arr.shape)}; ${what ? `${what} needs` : 'expected'} ${need}`);
    }
  }
  return { data: toFloat64(arr.data, path), shape: arr.shape };
}

function toFloat64(data: NpyData, source: string): Float64Array {
  if (data instanceof Float64Array) return data;
  const out = new Float64Array(data.length);
  if (data instanceof BigInt64Array) {
    for (let i = 0; i < data.length; i++) {
      const v = Number(data[i]);
      if (!Number.isSafeInteger(v)) throw new UserError(`${source}: int64 value ${data[i]} at flat index ${i} is not exactly representable as float64`);
      out[i] = v;
    }
  } else {
    out.set(data);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Encoding

function defaultDtype(data: NpyWritable): NpyDtype {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Uint8Array) return 'uint8';
  return 'float64';
}

/** The exact header bytes numpy.save writes (format 1.0, the data then start on a 64-byte boundary). */
function header(dtype: NpyDtype, shape: readonly number[]): Buffer {
  const shapeRepr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '${DESCR[dtype]}', 'fortran_order': False, 'shape': ${shapeRepr}, }`;
  if (shape.length > 0) dict += ' '.repeat(GROWTH_AXIS_MAX_DIGITS - String(shape[0]).length);
  const text = Buffer.from(dict, 'latin1');
  const hlen = text.length + 1; // + newline
  const total = hlen + ALIGN - ((10 + hlen) % ALIGN); // NumPy pads even when already aligned
  if (total > 0xffff) throw new UserError(`.npy header for shape ${fmtShape(shape)} exceeds the 65535 bytes of format 1.0`);
  const prefix = Buffer.from([...MAGIC, 1, 0, total & 0xff, total >> 8]);
  return Buffer.concat([prefix, text, Buffer.from(' '.repeat(total - hlen) + '\n', 'latin1')]);
}

function convert(data: NpyWritable, dtype: NpyDtype): NpyData {
  const n = data.length;
  if (dtype === 'int64') {
    if (data instanceof BigInt64Array) return data;
    const out = new BigInt64Array(n);
    for (let i = 0; i < n; i++) {
      const v = Number(data[i]);
      if (!Number.isSafeInteger(v)) throw new UserError(`cannot write value ${data[i]} at flat index ${i} as int64: not a safe integer`);
      out[i] = BigInt(v);
    }
    return out;
  }
  const value = (i: number): number => {
    const v = Number(data[i]);
    if (data instanceof BigInt64Array && !Number.isSafeInteger(v)) {
      throw new UserError(`cannot write int64 value ${data[i]} at flat index ${i} as ${dtype}: beyond ±2^53`);
    }
    return v;
  };
  const integerIn = (lo: number, hi: number) => (i: number) => {
    const v = value(i);
    if (!Number.isInteger(v) || v < lo || v > hi) throw new UserError(`cannot write value ${v} at flat index ${i} as ${dtype}: needs an integer in [${lo}, ${hi}]`);
    return v;
  };
  const fill = <T extends Float32Array | Float64Array | Int32Array | Uint8Array>(out: T, get: (i: number) => number): T => {
    for (let i = 0; i < n; i++) out[i] = get(i);
    return out;
  };
  switch (dtype) {
    case 'float32':
      return data instanceof Float32Array ? data : fill(new Float32Array(n), value);
    case 'float64':
      return data instanceof Float64Array ? data : fill(new Float64Array(n), value);
    case 'int32':
      return data instanceof Int32Array ? data : fill(new Int32Array(n), integerIn(-(2 ** 31), 2 ** 31 - 1));
    case 'uint8':
      return fill(new Uint8Array(n), integerIn(0, 255));
    case 'bool':
      return fill(new Uint8Array(n), integerIn(0, 1));
  }
}

/**
 * Encodes an array as `.npy` bytes. `data` is flat C-order with
 * `prod(shape)` elements; `dtype` defaults to the data's own type (float64
 * for plain number arrays). Values are converted, and integer targets reject
 * non-integers and out-of-range values.
 */
export function encodeNpy(data: NpyWritable, shape: readonly number[], dtype: NpyDtype = defaultDtype(data)): Buffer {
  assertLittleEndianHost();
  if (!(dtype in DESCR)) throw new UserError(`unsupported .npy dtype ${JSON.stringify(dtype)}; supported: ${Object.keys(DESCR).join(', ')}`);
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new UserError(`.npy shape ${fmtShape(shape)} must contain non-negative integers`);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new UserError(`.npy shape ${fmtShape(shape)} needs ${count} values, data has ${data.length}`);
  const typed = convert(data, dtype);
  return Buffer.concat([header(dtype, shape), new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength)]);
}

/** Writes an array to a `.npy` file atomically; see `encodeNpy` for the arguments. */
export function writeNpy(path: string, data: NpyWritable, shape: readonly number[], dtype?: NpyDtype): void {
  let bytes: Buffer;
  try {
    bytes = encodeNpy(data, shape, dtype);
  } catch (err) {
    if (err instanceof UserError) throw new UserError(`${path}: ${err.message}`);
    throw err;
  }
  writeFileAtomic(path, bytes);
}
