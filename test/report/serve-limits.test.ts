/**
 * pita serve's limits (issue 17, item 4), through raw HTTP requests: only the
 * Host names of the bound address, nothing outside the runs folder (symbolic
 * links resolved), files streamed rather than read whole.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allowedHosts, startServer, type RunningServer } from '../../src/report/serve.js';
import { trainLine } from './fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'pita-serve-limits-'));
const runsDir = join(root, 'runs');
const outside = join(root, 'outside.txt');
let server: RunningServer;

before(async () => {
  const run = join(runsDir, 'r');
  mkdirSync(join(run, 'figures'), { recursive: true });
  writeFileSync(join(run, 'log.jsonl'), trainLine(0, 1, 1));
  writeFileSync(outside, 'root:x:0:0 outside the runs folder\n');
  writeFileSync(join(run, 'figures', 'real.png'), 'PNG inside');
  symlinkSync('real.png', join(run, 'figures', 'inside.png'));
  symlinkSync(outside, join(run, 'figures', 'escape.png'));
  symlinkSync(outside, join(run, 'report.html'));
  // A sparse 256 MiB figure: cheap on disk, large if read whole.
  writeFileSync(join(run, 'figures', 'huge.png'), '');
  truncateSync(join(run, 'figures', 'huge.png'), 256 * 2 ** 20);
  server = await startServer({ runsDir, port: 0 });
});

after(() => server.close());

/** A raw request with the given Host header (none when null); resolves with status and body. */
function rawGet(path: string, host: string | null): Promise<{ status: number; body: string }> {
  return new Promise((ok, fail) => {
    const s = connect(server.port, '127.0.0.1', () => s.write(`GET ${path} HTTP/1.${host === null ? 0 : 1}\r\n${host === null ? '' : `Host: ${host}\r\n`}Connection: close\r\n\r\n`));
    let data = '';
    s.on('data', (d) => (data += d.toString('latin1')));
    s.on('end', () => ok({ status: Number(data.split(' ')[1]), body: data.slice(data.indexOf('\r\n\r\n') + 4) }));
    s.on('error', fail);
  });
}

test('only Host headers naming the bound address (or localhost on loopback) are served', async () => {
  const p = server.port;
  for (const host of [`127.0.0.1:${p}`, `localhost:${p}`, `LOCALHOST:${p}`, '127.0.0.1', `[::1]:${p}`]) assert.equal((await rawGet('/', host)).status, 200, host);
  for (const host of [`evil.example:${p}`, 'evil.example', `127.0.0.1.evil.example:${p}`, `127.0.0.1:${p + 1}`, '', null]) {
    const r = await rawGet('/run/r/', host);
    assert.equal(r.status, 403, String(host));
    assert.doesNotMatch(r.body, /training/);
  }
  assert.ok(allowedHosts('0.0.0.0', 80).has('localhost:80'));
  assert.ok(!allowedHosts('192.168.1.5', 80).has('localhost:80'));
  assert.ok(allowedHosts('192.168.1.5', 80).has('192.168.1.5:80'));
  assert.ok(allowedHosts('::1', 80).has('[::1]:80'));
});

test('symbolic links leading out of the runs folder are refused; links inside are served', async () => {
  const host = `127.0.0.1:${server.port}`;
  const inside = await rawGet('/run/r/figures/inside.png', host);
  assert.equal(inside.status, 200);
  assert.equal(inside.body, 'PNG inside');
  for (const p of ['/run/r/figures/escape.png', '/run/r/report.html']) {
    const r = await rawGet(p, host);
    assert.equal(r.status, 404, p);
    assert.doesNotMatch(r.body, /root:x/, p);
  }
});

test('files are streamed: serving a 256 MiB figure does not hold it in memory', async () => {
  const before = process.memoryUsage().arrayBuffers;
  const grown = await new Promise<number>((ok, fail) => {
    const s = connect(server.port, '127.0.0.1', () => s.write(`GET /run/r/figures/huge.png HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n\r\n`));
    let seen = 0;
    s.on('data', (d) => {
      seen += d.length;
      if (seen > 4 * 2 ** 20) {
        // Well into the body: a server that read the file whole holds all 256 MiB now.
        const grownBy = process.memoryUsage().arrayBuffers - before;
        s.destroy();
        ok(grownBy);
      }
    });
    s.on('error', fail);
  });
  assert.ok(grown < 64 * 2 ** 20, `array buffers grew by ${(grown / 2 ** 20).toFixed(0)} MiB`);
});
