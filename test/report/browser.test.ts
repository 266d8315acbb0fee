/**
 * End-to-end checks in Debian's chromium (driven by playwright-core; the
 * browser is never downloaded): a report of a small real run renders every
 * plot with no console error and no network request, and a run page served
 * by `pita serve` shows appended log lines within 5 s. Screenshots go to
 * test-artifacts/. Skipped when /usr/bin/chromium is absent
 * (scripts/ci-browser.sh installs it).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { writeReport } from '../../src/report/report.js';
import { completeRun, stoppedRun } from './fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} not found: install Debian's chromium (scripts/ci-browser.sh) to run the browser tests`;
const ARTIFACTS = 'test-artifacts';
const dir = mkdtempSync(join(tmpdir(), 'pita-browser-'));
let browser: Browser | null = null;
const runs = { complete: '', stopped: '' };

before(async () => {
  if (skip) return;
  mkdirSync(ARTIFACTS, { recursive: true });
  runs.complete = await completeRun(dir);
  runs.stopped = await stoppedRun(dir, 'stopped', 45);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
});

/** A page that records console errors, page errors and every request URL. */
async function watchedPage(): Promise<{ page: Page; errors: string[]; requests: string[] }> {
  const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', (r) => requests.push(r.url()));
  return { page, errors, requests };
}

/** Per figure.plot: its id, whether it holds an SVG with a visible size, and the data-mark elements drawn. */
function renderedPlots(page: Page): Promise<{ id: string; width: number; height: number; marks: number }[]> {
  return page.$$eval('figure.plot', (figs) =>
    figs.map((f) => {
      const svg = f.querySelector('svg');
      const box = svg?.getBoundingClientRect();
      return {
        id: f.getAttribute('data-plot') ?? '',
        width: box?.width ?? 0,
        height: box?.height ?? 0,
        marks: f.querySelectorAll('svg .role-mark > *').length,
      };
    }),
  );
}

test('a report of a small real run renders every plot offline, without console errors', { skip }, async () => {
  for (const [name, runDir] of Object.entries(runs)) {
    const { report, html } = await writeReport(runDir);
    const { page, errors, requests } = await watchedPage();
    await page.goto(pathToFileURL(html).href);
    const plots = await renderedPlots(page);
    assert.deepEqual(plots.map((p) => p.id).sort(), report.figures.map((f) => f.id).sort(), name);
    for (const p of plots) {
      assert.ok(p.marks > 0, `${name}: figure ${p.id} has data marks`);
      assert.ok(p.width > 100 && p.height > 50, `${name}: figure ${p.id} is ${p.width}×${p.height}`);
    }
    assert.deepEqual(errors, [], `${name}: console errors`);
    assert.deepEqual(requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:')), [], `${name}: network requests`);
    const text = await page.innerText('body');
    if (name === 'stopped') {
      assert.match(text, /Incomplete: samples\/T_2\.npy does not exist yet/);
      assert.match(text, /No reference: the run has no evaluation\.reference/);
    } else {
      assert.match(text, /Metrics at T_K = 1\.5 against the reference/);
    }
    await page.screenshot({ path: join(ARTIFACTS, `report-${name}.png`), fullPage: true });
    await page.close();
  }
});

test('pita serve: a run page shows appended log lines within 5 s', { skip }, async () => {
  const runsDir = join(dir, 'served');
  const live = join(runsDir, 'live');
  mkdirSync(live, { recursive: true });
  copyFileSync(join(runs.complete, 'config.yaml'), join(live, 'config.yaml'));
  const lines = readFileSync(join(runs.complete, 'log.jsonl'), 'utf8').trim().split('\n');
  const train = lines.filter((l) => JSON.parse(l).type === 'train');
  writeFileSync(join(live, 'log.jsonl'), train.slice(0, 20).join('\n') + '\n');
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/report/serve-cli.ts', runsDir, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const url = await serverUrl(child);
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const { page, errors } = await watchedPage();
    await page.goto(`${url}run/live/`);
    await page.locator('#conn', { hasText: /^live$/ }).waitFor({ timeout: 5000 });
    await page.locator('body[data-updates]').waitFor({ timeout: 5000 });
    const rows = () => page.$eval('#fig-training', (f) => Number(f.getAttribute('data-rows')));
    const before = await rows();
    assert.match(await page.innerText('#latest'), /step 20,/);
    const t0 = Date.now();
    appendFileSync(join(live, 'log.jsonl'), train.slice(20, 30).join('\n') + '\n');
    await page.locator('#latest', { hasText: /step 30,/ }).waitFor({ timeout: 5000 });
    const elapsed = Date.now() - t0;
    assert.ok(elapsed < 5000, `update after ${elapsed} ms`);
    assert.ok((await rows()) > before, 'the training plot gained points');
    const plots = await renderedPlots(page);
    for (const p of plots) assert.ok(p.marks > 0, `live figure ${p.id} has data marks`);
    assert.deepEqual(errors, []);
    await page.screenshot({ path: join(ARTIFACTS, 'serve-live.png'), fullPage: true });
    await page.close();
  } finally {
    child.kill('SIGTERM');
  }
});

/** The URL `pita serve` prints on stdout. */
function serverUrl(child: ChildProcess): Promise<string> {
  return new Promise((ok, fail) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => fail(new Error(`pita serve printed no URL in 20 s; stderr: ${err}`)), 20000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /(http:\/\/\S+\/)/.exec(out);
      if (m) {
        clearTimeout(timer);
        ok(m[1]);
      }
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => fail(new Error(`pita serve exited with ${code}: ${err}`)));
  });
}
