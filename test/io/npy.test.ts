import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../../src/core/errors.js';
import { decodeNpy, encodeNpy, readNpy, readNpyFloat64, writeNpy, type NpyDtype } from '../../src/io/npy.js';

const DATA = fileURLToPath(new URL('../../../shared/data/lj13/', import.meta.url));
const skipData = existsSync(join(DATA, 'train_T1.0.npy')) ? false : 'reference data ../shared/data/lj13 not present';

const dir = mkdtempSync(join(tmpdir(), 'pita-npy-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

/** Header text + raw data as a .npy file of the given format version (2.0/3.0 use a uint32 length). */
function npyBytes(headerText: string, data: Uint8Array, major = 1): Buffer {
  const lenBytes = major === 1 ? 2 : 4;
  const body = Buffer.from(headerText + '\n', major === 3 ? 'utf8' : 'latin1');
  const prefix = Buffer.alloc(8 + lenBytes);
  prefix.write('\x93NUMPY', 'latin1');
  prefix[6] = major;
  if (major === 1) prefix.writeUInt16LE(body.length, 8);
  else prefix.writeUInt32LE(body.length, 8);
  return Buffer.concat([prefix, body, data]);
}

const f64bytes = (v: number[]) => new Uint8Array(Float64Array.from(v).buffer);

test('round trip of every dtype and of shapes [n, d], [n] and []', () => {
  const cases: [NpyDtype, number[]][] = [
    ['float32', [1.5, -2.25, 3e-8, 1e30, 0, -0.5]],
    ['float64', [Math.PI, -Math.E, 1e-300, 1e300, 0, -1]],
    ['int32', [0, -1, 2147483647, -2147483648, 7, 42]],
    ['int64', [0, -1, 2 ** 53 - 1, -(2 ** 53 - 1), 7, 42]],
    ['uint8', [0, 255, 1, 2, 128, 7]],
    ['bool', [1, 0, 0, 1, 1, 0]],
  ];
  for (const [dtype, values] of cases) {
    for (const shape of [[2, 3], [6], []]) {
      const vals = shape.length === 0 ? values.slice(0, 1) : values;
      const path = join(dir, `${dtype}-${shape.length}.npy`);
      writeNpy(path, vals, shape, dtype);
      const back = readNpy(path);
      assert.equal(back.dtype, dtype);
      assert.deepEqual(back.shape, shape);
      const expected = dtype === 'float32' ? vals.map(Math.fround) : vals;
      assert.deepEqual(Array.from(back.data, Number), expected, `${dtype} ${JSON.stringify(shape)}`);
      // The data always start on a 64-byte boundary.
      const bytes = readFileSync(path);
      assert.equal(bytes.readUInt16LE(8) + 10, bytes.length - vals.length * { float32: 4, float64: 8, int32: 4, int64: 8, uint8: 1, bool: 1 }[dtype]);
      assert.equal((bytes.readUInt16LE(8) + 10) % 64, 0);
    }
  }
});

test('int64 is read into a BigInt64Array, exact beyond 2^53; readNpyFloat64 refuses what float64 cannot hold', () => {
  const path = join(dir, 'big.npy');
  writeNpy(path, BigInt64Array.from([2n ** 60n + 1n, -3n]), [2]);
  const back = readNpy(path);
  assert.ok(back.data instanceof BigInt64Array);
  assert.equal(back.data[0], 2n ** 60n + 1n);
  assert.throws(() => readNpyFloat64(path), /int64 value 1152921504606846977 at flat index 0/);
  writeNpy(path, Int32Array.from([5, -6]), [2], 'int64');
  assert.deepEqual(Array.from(readNpyFloat64(path).data), [5, -6]);
});

test('written files are byte-identical to numpy.save (numpy 2.4 output, growth padding included)', () => {
  // base64 of numpy.save(...) output, produced with numpy 2.4.6.
  const fixtures: [string, number[], number[], NpyDtype][] = [
    [
      'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAMA/AAAAwAAAgD4AAEBAAACAQAAAAL4=',
      [1.5, -2.0, 0.25, 3.0, 4.0, -0.125],
      [2, 3],
      'float32',
    ],
    [
      'k05VTVBZAQB2AHsnZGVzY3InOiAnPGk4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoHAAAAAAAAAP//////////AAAAAAABAAA=',
      [7, -1, 2 ** 40],
      [3],
      'int64',
    ],
    ['k05VTVBZAQB2AHsnZGVzY3InOiAnPGY4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKCksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAAMQA==', [3.5], [], 'float64'],
    ['k05VTVBZAQB2AHsnZGVzY3InOiAnfGIxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoBAAE=', [1, 0, 1], [3], 'bool'],
  ];
  for (const [b64, values, shape, dtype] of fixtures) {
    assert.deepEqual(encodeNpy(values, shape, dtype), Buffer.from(b64, 'base64'), `${dtype} ${JSON.stringify(shape)}`);
  }
  // Hand-built expectation for [2] float32: 10 + 57 dict chars + 20 growth spaces + 40 pad spaces + '\n' = 128.
  const dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  assert.equal(dict.length, 57);
  const expected = npyBytes(dict + ' '.repeat(20 + 40), new Uint8Array(Float32Array.from([1, 2]).buffer));
  assert.deepEqual(encodeNpy(Float32Array.from([1, 2]), [2]), expected);
});

const numpyCheck = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' });
test(
  'numpy loads what we write (live check)',
  { skip: numpyCheck.status === 0 ? false : 'python3 with numpy not available' },
  () => {
    const path = join(dir, 'live.npy');
    writeNpy(path, Float64Array.from([1, 2.5, -3, 4, 5, 6e-9]), [3, 2]);
    const py = spawnSync('python3', ['-c', `import numpy as n; a=n.load(${JSON.stringify(path)}); print(a.dtype, a.shape, float(a.sum()), float(a[1, 0]))`], {
      encoding: 'utf8',
    });
    assert.equal(py.stdout.trim(), 'float64 (3, 2) 9.500000006 -3.0');
  },
);

test('header parsing: key order, quotes, spacing, Py2 long suffixes, versions 2.0 and 3.0', () => {
  const data = f64bytes([1, 2, 3, 4, 5, 6]);
  const headers = [
    "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f8'}",
    '{"descr":"<f8","fortran_order":False,"shape":(2,3)}',
    "{ 'descr' : '<f8' , 'fortran_order' : False , 'shape' : ( 2L , 3L ) , }    ",
  ];
  for (const h of headers) {
    for (const major of [1, 2, 3]) {
      const arr = decodeNpy(npyBytes(h, data, major));
      assert.deepEqual(arr.shape, [2, 3], h);
      assert.deepEqual(Array.from(arr.data, Number), [1, 2, 3, 4, 5, 6]);
    }
  }
  assert.deepEqual(decodeNpy(npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1,)}", f64bytes([9]))).shape, [1]);
  assert.deepEqual(decodeNpy(npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': ()}", f64bytes([9]))).shape, []);
  const empty = decodeNpy(npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 39)}", new Uint8Array(0)));
  assert.deepEqual([empty.shape, empty.data.length], [[0, 39], 0]);
});

test('errors name the file, the dtype found, Fortran order, truncation and bad headers', () => {
  const bad = (name: string, bytes: Uint8Array, pattern: RegExp) => {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    assert.throws(
      () => readNpy(path),
      (e: Error) => e instanceof UserError && e.message.includes(path) && pattern.test(e.message),
      name,
    );
  };
  const data = f64bytes([1, 2]);
  bad('complex.npy', npyBytes("{'descr': '<c16', 'fortran_order': False, 'shape': (1,)}", new Uint8Array(16)), /unsupported dtype "<c16"/);
  bad('bigendian.npy', npyBytes("{'descr': '>f8', 'fortran_order': False, 'shape': (2,)}", data), /unsupported dtype ">f8"/);
  bad('structured.npy', npyBytes("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}", data), /unsupported dtype \[\["a","<f4"\]\]/);
  bad('fortran.npy', npyBytes("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 1)}", data), /Fortran/);
  bad('extra-key.npy', npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'x': 1}", data), /exactly the keys/);
  bad('garbled.npy', npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2,", data), /malformed .npy header/);
  bad('magic.npy', Buffer.from('PK\x03\x04 this is a zip file'), /not a .npy file/);
  bad('version.npy', Buffer.concat([Buffer.from('\x93NUMPY\x04\x00', 'latin1'), Buffer.alloc(8)]), /version 4\.0/);
  const good = encodeNpy(Float64Array.from([1, 2, 3, 4]), [2, 2]);
  bad('truncated.npy', good.subarray(0, good.length - 5), /truncated: shape \[2, 2\] of float64 needs 32 data bytes, only 27/);
  bad('truncated-header.npy', good.subarray(0, 40), /truncated inside the .npy header/);
  bad('trailing.npy', Buffer.concat([good, Buffer.from([0])]), /1 unexpected bytes after the data/);
  assert.throws(() => readNpy(join(dir, 'missing.npy')), /cannot read .*missing\.npy/);
});

test('readNpyFloat64 checks the expected shape and widens float32 exactly', () => {
  const path = join(dir, 'samples.npy');
  writeNpy(path, new Float32Array(100 * 65).fill(0.1), [100, 65]);
  assert.throws(() => readNpyFloat64(path, { cols: 66, what: 'target aldp' }), {
    message: `${path} has shape [100, 65]; target aldp needs [n, 66]`,
  });
  assert.throws(() => readNpyFloat64(path, { rows: 10 }), { message: `${path} has shape [100, 65]; expected [10, d]` });
  const ok = readNpyFloat64(path, { rows: 100, cols: 65 });
  assert.deepEqual(ok.shape, [100, 65]);
  assert.ok(ok.data instanceof Float64Array);
  assert.equal(ok.data[0], Math.fround(0.1));
  writeNpy(path, Float64Array.from([1, 2, 3]), [3]);
  assert.throws(() => readNpyFloat64(path, { cols: 3 }), /has shape \[3\]; expected \[n, 3\]/);
});

test('writer validates shape and values, names the file, and leaves no temporary files', () => {
  const path = join(dir, 'w', 'x.npy');
  rmSync(join(dir, 'w'), { recursive: true, force: true });
  assert.throws(() => writeNpy(path, [1, 2], [2]), /cannot write .*x\.npy/); // directory missing
  const p = join(dir, 'x.npy');
  assert.throws(() => writeNpy(p, [1, 2, 3], [2, 2]), { message: `${p}: .npy shape [2, 2] needs 4 values, data has 3` });
  assert.throws(() => writeNpy(p, [1.5], [1], 'int32'), /value 1.5 at flat index 0 as int32/);
  assert.throws(() => writeNpy(p, [2 ** 31], [1], 'int32'), /as int32: needs an integer in/);
  assert.throws(() => writeNpy(p, [0.5], [1], 'int64'), /0.5 at flat index 0 as int64/);
  assert.throws(() => writeNpy(p, [2], [1], 'bool'), /as bool/);
  assert.throws(() => writeNpy(p, [1], [-1]), /non-negative integers/);
  writeNpy(p, [1, 2], [2]);
  writeNpy(p, [3, 4, 5], [3]); // overwrite in place
  assert.deepEqual(Array.from(readNpy(p).data, Number), [3, 4, 5]);
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
});

test('reads the LJ13 reference split: [10000, 39] float32 matching the JSON rows', { skip: skipData }, () => {
  const arr = readNpy(join(DATA, 'train_T1.0.npy'));
  assert.equal(arr.dtype, 'float32');
  assert.deepEqual(arr.shape, [10000, 39]);
  const ref = JSON.parse(readFileSync(join(DATA, 'reference_values.json'), 'utf8'))['train_T1.0_first5'];
  const rows: number[][][] = ref.positions;
  for (let r = 0; r < rows.length; r++) {
    assert.deepEqual(Array.from(arr.data.subarray(r * 39, (r + 1) * 39), Number), rows[r].flat(), `row ${r}`);
  }
});
