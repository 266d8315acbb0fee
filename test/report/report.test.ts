import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, rmSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { readNpyFloat64, writeNpy } from '../../src/io/npy.js';
import type { MetricsFile } from '../../src/pita/run.js';
import { densityHistogram, densityHistogram2d, quantileSorted, sharedRange, thinSeries } from '../../src/report/histogram.js';
import { buildReport, writeReport } from '../../src/report/report.js';
import { parseLog } from '../../src/rundir/reader.js';
import { renderSvg, scopeSvgIds } from '../../src/report/plot.js';
import { svgToPng } from '../../src/report/png.js';
import { aldpRunFromData, completeRun, SHARED_DATA, stoppedRun } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'pita-report-'));
const runs = { complete: '', stopped: '' };

/** Figures with at least one Vega data mark (a `role-mark` group) in their SVG. */
function plotsWithMarks(html: string): { id: string; marks: number }[] {
  return [...html.matchAll(/<figure class="plot" id="fig-([^"]+)"[^>]*>([\s\S]*?)<\/figure>/g)].map((m) => ({ id: m[1], marks: (m[2].match(/role-mark/g) ?? []).length }));
}

test('histogram helpers: densities integrate to the inside fraction, quantiles interpolate, series thin by means', () => {
  const v = Float64Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 100, NaN]);
  const h = densityHistogram('s', v, 0, 10, 5);
  // 10 finite values, 9 inside [0, 10): Σ density·width = 9/10 exactly.
  assert.equal(h.n, 10);
  assert.equal(h.outside, 1);
  assert.ok(Math.abs(h.bins.reduce((a, b) => a + b.density * (b.x1 - b.x0), 0) - 0.9) < 1e-12);
  assert.deepEqual(h.bins.map((b) => b.density * 10), [1, 1, 1, 1, 0.5]);
  assert.equal(quantileSorted([0, 10], 0.25), 2.5);
  const [lo, hi] = sharedRange([Float64Array.from({ length: 1001 }, (_, i) => i)], 0);
  assert.deepEqual([lo, hi], [-50, 1050]);
  const t = thinSeries([0, 1, 2, 3, 4, 5], [1, 3, 5, 7, NaN, 9], 2);
  // NaN dropped → 5 points, buckets [0, 2) and [2, 5): means of x (0,1) and (2,3,5), y (1,3) and (5,7,9).
  assert.deepEqual(t, { x: [0.5, 10 / 3], y: [2, 7] });
  const h2 = densityHistogram2d(Float64Array.from([0.5, 0.5, 1.5, 0.5, 9, 9]), 3, { x: [0, 2], y: [0, 2] }, 2);
  assert.deepEqual(h2.map((c) => c.density), [1 / 3, 0, 1 / 3, 0]);
});

test('log parsing keeps complete lines only and counts unreadable ones', () => {
  const log = parseLog('{"type":"train","rung":0,"step":1,"loss":2}\nnot json\n{"type":"anneal","rung":0,"step":0,"ess":0.5}\n{"type":"train","rung":0,"st');
  assert.equal(log.train.length, 1);
  assert.equal(log.train[0].loss, 2);
  assert.ok(Number.isNaN(log.train[0].gradNorm));
  assert.equal(log.anneal.length, 1);
  assert.equal(log.unreadable, 1);
  const w = parseLog('{"type":"warning","rung":2,"message":"collapsed"}\n{"type":"device","device":"cpu (wasm, SIMD, 1 thread)","workers":2}\n');
  assert.deepEqual(w.warnings, [{ rung: 2, message: 'collapsed' }]);
  assert.deepEqual(w.device, { device: 'cpu (wasm, SIMD, 1 thread)', workers: 2 });
  assert.equal(w.unreadable, 0, 'the device line a run writes first is a known record');
});

test('SVG ids are scoped per figure so inlined plots keep their own gradients', async () => {
  const svg = await renderSvg({
    data: { values: [{ x: 0, y: 0, v: 1 }, { x: 1, y: 0, v: 2 }] },
    mark: 'rect',
    encoding: { x: { field: 'x', type: 'ordinal' }, y: { field: 'y', type: 'ordinal' }, color: { field: 'v', type: 'quantitative' } },
  });
  const ids = [...svg.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
  assert.ok(ids.length > 0, 'a gradient legend defines an id');
  const scoped = scopeSvgIds(svg, 'fig7');
  for (const id of ids) {
    assert.ok(scoped.includes(`id="fig7-${id}"`));
    assert.ok(!scoped.includes(`url(#${id})`), `reference to ${id} rewritten`);
  }
});

test('report of a finished run: every section, plots with data marks, metrics from metrics.json, offline', async () => {
  runs.complete = await completeRun(dir);
  const { html, pngs, report } = await writeReport(runs.complete, { png: true });
  const text = readFileSync(html, 'utf8');
  const plots = plotsWithMarks(text);
  assert.deepEqual(plots.map((p) => p.id).sort(), report.figures.map((f) => f.id).sort());
  for (const id of ['rungs', 'budget', 'training', 'annealing', 'rung-0', 'rung-1', 'rung-2']) assert.ok(plots.some((p) => p.id === id), `figure ${id}`);
  for (const p of plots) assert.ok(p.marks > 0, `figure ${p.id} has data marks`);
  // Offline: the only URLs are SVG namespace names, and a CSP forbids any fetch.
  const urls = new Set(text.match(/https?:\/\/[^"'\s)]+/g));
  assert.deepEqual([...urls].sort(), ['http://www.w3.org/1999/xlink', 'http://www.w3.org/2000/svg']);
  assert.match(text, /Content-Security-Policy" content="default-src 'none'/);
  assert.doesNotMatch(text, /<script|<link rel="stylesheet"|<img /);
  // The metrics table shows metrics.json's numbers (4 significant digits).
  const m = JSON.parse(readFileSync(join(runs.complete, 'metrics.json'), 'utf8')) as MetricsFile;
  assert.ok(text.includes(`<td>energy W2 (E/kT)</td><td>${m.pita!.energyW2.toPrecision(4)}</td><td>${m.baseline!.metrics!.energyW2.toPrecision(4)}</td>`));
  assert.ok(text.includes(`<b>${m.evaluations.method}</b>`));
  assert.match(text, /The paper publishes no numbers for &#39;dw4&#39;/);
  assert.doesNotMatch(text, /No reference/);
  assert.match(text, /reference: 1000 rows of/);
  // Key figures as PNG: a valid image with text drawn (the font was found).
  assert.deepEqual(pngs.map((p) => p.replace(/^.*\//, '')).sort(), ['annealing.png', 'budget.png', 'rung-2.png', 'training.png']);
  for (const p of pngs) assert.deepEqual([...readFileSync(p).subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
});

test('PNG export draws text: a text-only SVG rasterises to dark pixels', () => {
  const png = svgToPng('<svg xmlns="http://www.w3.org/2000/svg" width="80" height="20"><text x="2" y="15" font-family="sans-serif" font-size="14">Energy</text></svg>', 1);
  assert.ok(darkPixels(png) > 30, 'glyphs were rendered');
  const blank = svgToPng('<svg xmlns="http://www.w3.org/2000/svg" width="80" height="20"></svg>', 1);
  assert.equal(darkPixels(blank), 0);
});

test('a run stopped mid-rung without a reference renders with incomplete and no-reference notices', async () => {
  runs.stopped = await stoppedRun(dir, 'stopped', 45);
  const r = await buildReport(runs.stopped);
  const notices = r.notices.join('\n');
  assert.match(notices, /Status — incomplete: training rung 1 \(10 of 30 steps at the last checkpoint\); 1 of 2 annealing steps done/);
  assert.match(notices, /Incomplete: metrics\.json is written when the run finishes/);
  assert.match(notices, /No reference: the run has no evaluation\.reference/);
  assert.match(notices, /Incomplete: samples\/T_2\.npy does not exist yet \(rung 2 not reached\)/);
  for (const p of plotsWithMarks(r.html)) assert.ok(p.marks > 0, `figure ${p.id}`);
  assert.ok(r.figures.some((f) => f.id === 'training') && r.figures.some((f) => f.id === 'rung-1'));
});

test("an in-memory reference ('generate'), NaN rows, paper numbers and sampler diagnostics get their notices and rows", async () => {
  // (a) A copy of the finished run with reference 'generate', a NaN row in T_1 and a PT diagnostics line.
  const gen = join(dir, 'generated');
  cpSync(runs.complete, gen, { recursive: true });
  rmSync(join(gen, 'samples', 'reference.npy'), { force: true }); // as if generated in memory and not saved
  writeFileSync(join(gen, 'config.yaml'), readFileSync(join(gen, 'config.yaml'), 'utf8').replace(/reference: .*/, 'reference: generate'));
  const t1 = readNpyFloat64(join(gen, 'samples', 'T_1.npy'));
  t1.data[3 * 8 + 2] = NaN;
  writeNpy(join(gen, 'samples', 'T_1.npy'), t1.data, t1.shape, 'float64');
  writeFileSync(
    join(gen, 'log.jsonl'),
    readFileSync(join(gen, 'log.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => !l.includes('"type":"initial-data"'))
      .join('\n') + JSON.stringify({ type: 'initial-data', sampler: 'pt', acceptance: 0.6, temperatures: [3, 4.3, 6.2, 9], swapAcceptance: [0.5, 0.4, 0.3], roundTrips: 7 }) + '\n',
  );
  const r = await buildReport(gen);
  const notices = r.notices.join('\n');
  assert.match(notices, /No reference samples saved: the run generated its reference in memory/);
  assert.match(notices, /1 of 128 rows hold NaN or Inf/);
  const swaps = r.figures.find((f) => f.id === 'pt-swaps');
  assert.ok(swaps && swaps.rows === 3 && /7 round trips/.test(swaps.caption));
  // (b) paper numbers: an LJ-13 metrics file next to the paper's column, marked unverified.
  const lj = join(dir, 'lj13');
  mkdirSync(lj);
  writeFileSync(join(lj, 'config.yaml'), 'target: lj13\nladder: { temperatures: [2, 1] }\ntraining: { stepsPerTemperature: 5 }\nevaluation: { reference: generate }\n');
  const m = JSON.parse(readFileSync(join(runs.complete, 'metrics.json'), 'utf8')) as MetricsFile;
  writeFileSync(join(lj, 'metrics.json'), JSON.stringify({ ...m, target: 'lj13', temperatures: [2, 1], baseline: null }));
  const html = (await buildReport(lj)).html;
  assert.ok(html.includes(`<td>energy W2 (E/kT)</td><td>${m.pita!.energyW2.toPrecision(4)}</td><td>2.260</td>`));
  assert.ok(html.includes('<td>distance W2</td>') && html.includes('<td>0.04000</td>'));
  assert.ok(html.includes('<td>1.650</td>'));
  assert.match(html, /paper \(from a secondary summary, unverified\)/);
});

test('peptide report (ALDP MD splits as rungs): Ramachandran vs reference, TICA density, chirality', { skip: existsSync(SHARED_DATA) ? false : `${SHARED_DATA} not found` }, async () => {
  const run = aldpRunFromData(dir);
  const r = await buildReport(run, { maxPoints: 2000 });
  const ids = r.figures.map((f) => f.id);
  for (const id of ['rung-3', 'rama-rung-0', 'rama-rung-3', 'rama-1', 'tica']) assert.ok(ids.includes(id), `figure ${id} in ${ids.join(', ')}`);
  // Three panels (samples, reference, difference) of 36 × 36 cells each.
  const rama = r.figures.find((f) => f.id === 'rama-1')!;
  assert.equal(rama.rows, 3 * 36 * 36);
  // MD never inverts a Cα centre: every sample has the reference chirality.
  const chir = [...r.html.matchAll(/<tr><td>(\d)<\/td><td>[^<]+<\/td><td>2000<\/td><td>([^<]+)<\/td>/g)].map((m) => Number(m[2]));
  assert.deepEqual(chir, [1, 1, 1, 1]);
  for (const p of plotsWithMarks(r.html)) assert.ok(p.marks > 0, `figure ${p.id}`);
});

/** Pixels darker than mid-grey in a PNG (8-bit RGB/RGBA, filter bytes undone). */
function darkPixels(png: Buffer): number {
  const width = png.readUInt32BE(16);
  const height = png.readUInt32BE(20);
  const colorType = png[25];
  const channels = colorType === 6 ? 4 : 3;
  const chunks: Buffer[] = [];
  for (let off = 8; off < png.length; ) {
    const len = png.readUInt32BE(off);
    if (png.toString('latin1', off + 4, off + 8) === 'IDAT') chunks.push(png.subarray(off + 8, off + 8 + len));
    off += 12 + len;
  }
  const data = inflateSync(Buffer.concat(chunks));
  const stride = width * channels;
  const prev = new Uint8Array(stride);
  const row = new Uint8Array(stride);
  let dark = 0;
  for (let y = 0; y < height; y++) {
    const f = data[y * (stride + 1)];
    for (let i = 0; i < stride; i++) {
      const x = data[y * (stride + 1) + 1 + i];
      const a = i >= channels ? row[i - channels] : 0;
      const b = prev[i];
      const c = i >= channels ? prev[i - channels] : 0;
      const p = a + b - c;
      const pr = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      row[i] = (x + [0, a, b, (a + b) >> 1, pr][f]) & 255;
    }
    for (let px = 0; px < width; px++) if (row[px * channels] + row[px * channels + 1] + row[px * channels + 2] < 3 * 128) dark++;
    prev.set(row);
  }
  return dark;
}
