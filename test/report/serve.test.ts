import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathSegments, startServer, type RunningServer } from '../../src/report/serve.js';
import { trainLine } from './fixtures.js';

const runsDir = mkdtempSync(join(tmpdir(), 'pita-serve-'));
let server: RunningServer;

before(async () => {
  const run = join(runsDir, 'live');
  mkdirSync(run);
  writeFileSync(join(run, 'config.yaml'), 'target: dw4\nladder: { temperatures: [3, 2] }\ntraining: { stepsPerTemperature: 100 }\n');
  writeFileSync(join(run, 'log.jsonl'), Array.from({ length: 10 }, (_, i) => trainLine(0, i + 1, 10 - i)).join(''));
  mkdirSync(join(runsDir, 'not-a-run'));
  writeFileSync(join(runsDir, 'secret.txt'), 'root:x:0:0\n');
  server = await startServer({ runsDir, port: 0, pollMs: 100 });
});

after(() => server.close());

/** Sends a raw request line (no client-side URL normalisation) and returns status and body. */
function rawGet(path: string): Promise<{ status: number; body: string }> {
  return new Promise((ok, fail) => {
    const s = connect(server.port, '127.0.0.1', () => s.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`));
    let data = '';
    s.on('data', (d) => (data += d.toString('latin1')));
    s.on('end', () => ok({ status: Number(data.split(' ')[1]), body: data.slice(data.indexOf('\r\n\r\n') + 4) }));
    s.on('error', fail);
  });
}

test('path segments: encoded dots, slashes, backslashes and NUL are refused; plain names pass', () => {
  assert.deepEqual(pathSegments('/run/a%20b/'), ['run', 'a b', '']);
  for (const p of ['/../x', '/run/%2e%2e/x', '/run/%2E%2e', '/run/a%2fb', '/run/a%5cb', '/run/a\\b', '/run/%00', '/run/%E0%A4%A']) assert.equal(pathSegments(p), null, p);
});

test('serve binds to 127.0.0.1, lists only run directories and rejects path traversal', async () => {
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  const index = await rawGet('/');
  assert.equal(index.status, 200);
  assert.match(index.body, /href="\/run\/live\/"/);
  assert.doesNotMatch(index.body, /not-a-run/);
  const attacks = [
    '/../../etc/passwd',
    '/%2e%2e/%2e%2e/etc/passwd',
    '/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd',
    '/run/..%2f..%2fetc%2fpasswd',
    '/run/%2e%2e/secret.txt',
    '/run/live/..%2fsecret.txt',
    '/run/live/figures/..%2f..%2fsecret.txt',
    '/run/live/..\\..\\secret.txt',
    '/run/%252e%252e/secret.txt',
    '/run/live/%2e%2e/%2e%2e/secret.txt',
    '/run/not-a-run/',
    '/secret.txt',
  ];
  for (const a of attacks) {
    const r = await rawGet(a);
    assert.ok(r.status === 400 || r.status === 404, `${a} → ${r.status}`);
    assert.doesNotMatch(r.body, /root:/, a);
  }
  assert.equal((await rawGet('/../../etc/passwd')).status, 400);
  assert.equal((await rawGet('/run/live/')).status, 200);
});

test('the event stream sends new log lines within 5 s', async () => {
  const updates: { latest: string; sections: { training: string } }[] = [];
  const req = get(`${server.url}run/live/events`, (res) => {
    assert.equal(res.headers['content-type'], 'text/event-stream');
    let buf = '';
    res.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const ev = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const data = ev.split('\n').find((l) => l.startsWith('data: '));
        if (ev.startsWith('event: update') && data) updates.push(JSON.parse(data.slice(6)));
      }
    });
  });
  try {
    await waitFor(() => updates.length > 0, 5000);
    assert.match(updates[0].latest, /rung 0, step 10, loss 1 · .*10 training steps logged/);
    assert.match(updates[0].sections.training, /data-rows="60"/); // 6 series (5 loss terms and the gradient norm) × 10 steps
    const t0 = Date.now();
    appendFileSync(join(runsDir, 'live', 'log.jsonl'), trainLine(0, 11, 0.5) + trainLine(0, 12, 0.25));
    await waitFor(() => /step 12, loss 0\.25/.test(updates.at(-1)!.latest), 5000);
    assert.ok(Date.now() - t0 < 5000);
    assert.match(updates.at(-1)!.sections.training, /data-rows="72"/);
    // A half-written line is not shown until its newline arrives.
    appendFileSync(join(runsDir, 'live', 'log.jsonl'), trainLine(0, 13, 0.125).slice(0, 20));
    await new Promise((r) => setTimeout(r, 400));
    assert.match(updates.at(-1)!.latest, /step 12/);
  } finally {
    req.destroy();
  }
});

async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
