/**
 * `pita serve`: a small local dashboard over a folder of runs (node:http,
 * no framework).
 *
 *   GET /                           the runs: subdirectories with config.yaml or log.jsonl
 *   GET /run/<name>/                a run's live page (training curves, annealing, rungs)
 *   GET /run/<name>/events          server-sent events: the page's panels, re-rendered
 *                                   whenever log.jsonl or progress.json changes
 *   GET /run/<name>/report.html     the run's report, when `pita report` wrote one
 *   GET /run/<name>/figures/<f>.png its PNG figures
 *
 * It binds to 127.0.0.1 unless told otherwise. Paths are never joined from
 * the URL: a run name must be one of the listed subdirectories and a figure
 * a plain *.png name in its figures/ folder; any segment that decodes to
 * '.', '..', or holds '/', '\' or NUL is rejected with 400 before routing,
 * so `/../../etc/passwd` and its encoded variants cannot escape the folder.
 * Files are served only when their real path (symbolic links resolved) lies
 * inside the runs folder, and they are streamed, never read whole. Requests
 * whose Host header does not name the bound address (or, on loopback or a
 * wildcard address, localhost) are refused with 403, so a web page on another
 * origin cannot reach the dashboard by DNS rebinding.
 */
import { closeSync, constants, createReadStream, existsSync, fstatSync, openSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { UserError } from '../core/errors.js';
import { annealFigure, rungFigure, trainingFigure } from './figures.js';
import { escapeHtml, figureHtml, fmt, notice, page, raw, rungTable, table } from './html.js';
import { isRunDirectory, LogTail, readRunDirectory, rungSummaries, runStatus, type RunDirectory } from '../rundir/reader.js';

export interface ServeOptions {
  runsDir: string;
  /** 0 picks a free port. */
  port: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** How often an open run page's files are checked for changes (ms). Default 500. */
  pollMs?: number;
}

export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** The live page's panels, sent whole on every change. */
interface LivePanels {
  status: string;
  latest: string;
  sections: Record<'training' | 'annealing' | 'rungs', string>;
}

/** A log written to within this long counts as an active run. */
const ACTIVE_MS = 120_000;

/** Names of the run directories directly inside `runsDir` (symbolic links are not followed). */
export function listRuns(runsDir: string): string[] {
  return readdirSync(runsDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && isRunDirectory(join(runsDir, d.name)))
    .map((d) => d.name)
    .sort();
}

/**
 * The path's segments, decoded; null when a segment cannot be decoded or
 * decodes to something that could leave a folder ('.', '..', '/', '\', NUL).
 */
export function pathSegments(rawPath: string): string[] | null {
  const out: string[] = [];
  for (const raw of rawPath.split('/').slice(1)) {
    let seg: string;
    try {
      seg = decodeURIComponent(raw);
    } catch {
      return null;
    }
    if (seg === '.' || seg === '..' || /[/\\\0]/.test(seg) || raw.includes('\\')) return null;
    out.push(seg);
  }
  return out;
}

function lastModified(path: string): number | null {
  return existsSync(path) ? statSync(path).mtimeMs : null;
}

function isActive(dir: string): boolean {
  const m = lastModified(join(dir, 'log.jsonl'));
  return m !== null && Date.now() - m < ACTIVE_MS;
}

/** Renders the live panels of a run from its files and its (incrementally read) log. */
async function livePanels(dir: string, tail: LogTail): Promise<LivePanels> {
  const files = readRunDirectory(dir, { log: false });
  const run: RunDirectory = { ...files, log: tail.log, status: runStatus(files.config, files.progress, files.metrics, tail.log) };
  const T = run.config?.ladder.temperatures ?? null;
  const last = run.log.train.at(-1);
  const lastAnneal = run.log.anneal.at(-1);
  const latest = [
    last ? `training: rung ${last.rung}, step ${last.step}, loss ${fmt(last.loss)}` : 'training: no steps logged yet',
    lastAnneal ? `annealing: rung ${lastAnneal.rung} → ${lastAnneal.rung + 1}, step ${lastAnneal.step}, ESS ${fmt(lastAnneal.ess)}` : '',
    `${run.log.train.length} training steps logged`,
  ]
    .filter((s) => s !== '')
    .join(' · ');
  const training = await trainingFigure(run.log.train);
  const annealing = await annealFigure(run.log.anneal, T);
  const rungs = rungSummaries(run);
  const rungsFigure = await rungFigure(rungs);
  return {
    status: `${isActive(dir) ? 'active — ' : ''}${run.status.text}`,
    latest,
    sections: {
      training: training ? figureHtml(training) : notice('info', 'No training steps logged yet.'),
      annealing: annealing ? figureHtml(annealing) : notice('info', 'No annealing steps logged yet.'),
      rungs: rungs.length > 0 ? rungTable(rungs) + (rungsFigure ? figureHtml(rungsFigure) : '') : notice('info', 'No rung finished yet.'),
    },
  };
}

/** One watched run: the log tail, the open event streams and the last panels rendered. */
class LiveRun {
  readonly tail: LogTail;
  private readonly clients = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | null = null;
  private progressMtime: number | null = null;
  private dirty = true;
  private rendering: Promise<LivePanels> | null = null;
  private panels: LivePanels | null = null;
  private lastSent: LivePanels | null = null;
  private ticking = false;

  constructor(
    readonly dir: string,
    private readonly pollMs: number,
  ) {
    this.tail = new LogTail(join(dir, 'log.jsonl'));
  }

  /** Current panels; re-rendered (until no change arrived meanwhile) when the files changed since the last render. */
  async current(): Promise<LivePanels> {
    if (this.tail.poll()) this.dirty = true;
    const m = lastModified(join(this.dir, 'checkpoints', 'progress.json'));
    if (m !== this.progressMtime) {
      this.progressMtime = m;
      this.dirty = true;
    }
    if (!this.rendering && this.dirty) {
      this.rendering = (async () => {
        while (this.dirty) {
          this.dirty = false;
          this.panels = await livePanels(this.dir, this.tail);
        }
        return this.panels!;
      })().finally(() => (this.rendering = null));
    }
    return this.rendering ? this.rendering : this.panels!;
  }

  /** Adds an event stream: it gets the current panels now and every change after. */
  subscribe(res: ServerResponse): void {
    this.clients.add(res);
    res.on('close', () => {
      this.clients.delete(res);
      if (this.clients.size === 0) this.stopTimer();
    });
    this.current().then(
      (p) => res.write(updateEvent(p)),
      (e: Error) => res.write(failureEvent(e)),
    );
    this.timer ??= setInterval(() => this.tick(), this.pollMs);
  }

  private tick(): void {
    if (this.ticking) return;
    this.ticking = true;
    this.current()
      .then(
        (p) => {
          if (p === this.lastSent) return;
          this.lastSent = p;
          for (const c of this.clients) c.write(updateEvent(p));
        },
        (e: Error) => {
          for (const c of this.clients) c.write(failureEvent(e));
        },
      )
      .finally(() => (this.ticking = false));
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  stop(): void {
    this.stopTimer();
    for (const c of this.clients) c.end();
    this.clients.clear();
  }
}

const updateEvent = (p: LivePanels) => `event: update\ndata: ${JSON.stringify(p)}\n\n`;
const failureEvent = (e: Error) => `event: failure\ndata: ${JSON.stringify(e.message)}\n\n`;

function send(res: ServerResponse, status: number, body: string | Buffer, type: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store', ...extra });
  res.end(body);
}

function sendText(res: ServerResponse, status: number, text: string): void {
  send(res, status, text + '\n', 'text/plain; charset=utf-8');
}

/**
 * Streams the file at `path` if its real path lies inside `root` (a real
 * path) and it is a regular file; returns false (nothing sent) otherwise.
 */
function sendFile(req: IncomingMessage, res: ServerResponse, root: string, path: string, type: string, extra: Record<string, string> = {}): boolean {
  let fd: number;
  try {
    const real = realpathSync(path);
    if (!real.startsWith(root + sep)) return false;
    fd = openSync(real, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return false;
  }
  const st = fstatSync(fd);
  if (!st.isFile()) {
    closeSync(fd);
    return false;
  }
  res.writeHead(200, { 'Content-Type': type, 'Content-Length': st.size, 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store', ...extra });
  const stream = createReadStream('', { fd, end: Math.max(0, st.size - 1) });
  if (req.method === 'HEAD' || st.size === 0) {
    stream.destroy();
    res.end();
    return true;
  }
  stream.on('error', () => res.destroy());
  res.on('close', () => stream.destroy());
  stream.pipe(res);
  return true;
}

/** Host header values that name this server: the bound address, plus localhost forms on loopback and wildcard binds. */
export function allowedHosts(host: string, port: number): Set<string> {
  const names = new Set<string>();
  const add = (h: string) => {
    const bare = h.toLowerCase().replace(/^\[(.*)\]$/, '$1');
    const shown = bare.includes(':') ? `[${bare}]` : bare;
    names.add(shown);
    names.add(`${shown}:${port}`);
  };
  add(host);
  const wildcard = host === '0.0.0.0' || host === '::';
  if (wildcard || host === 'localhost' || /^127\./.test(host) || host === '::1') for (const h of ['localhost', '127.0.0.1', '::1']) add(h);
  if (wildcard) {
    add(hostname());
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) add(a.address.replace(/%.*$/, ''));
  }
  return names;
}

/** A listen failure as a one-line UserError where the user can fix it. */
function listenError(e: NodeJS.ErrnoException, host: string, port: number): Error {
  if (e.code === 'EADDRINUSE') return new UserError(`port ${port} on ${host} is in use; pick another with --port`);
  if (e.code === 'EACCES') return new UserError(`cannot listen on ${host}:${port}: permission denied; pick a port above 1023`);
  if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN' || e.code === 'EADDRNOTAVAIL' || e.code === 'EAI_NONAME' || e.code === 'EINVAL') {
    return new UserError(`cannot listen on --host ${host}: not an address of this machine (${e.code}); try 127.0.0.1`);
  }
  return e;
}

function indexPage(runsDir: string): string {
  const names = listRuns(runsDir);
  const rows = names.map((name) => {
    const dir = join(runsDir, name);
    let status: string;
    let target = '–';
    let ladder = '–';
    try {
      const run = readRunDirectory(dir, { log: false });
      status = `${isActive(dir) ? 'active — ' : ''}${run.status.text}`;
      target = run.config?.target ?? '–';
      ladder = run.config?.ladder.temperatures.join(' → ') ?? '–';
    } catch (e) {
      status = `unreadable: ${(e as Error).message}`;
    }
    const href = `/run/${encodeURIComponent(name)}/`;
    const report = existsSync(join(dir, 'report.html')) ? `<a href="${href}report.html">report</a>` : '<span class="muted">no report yet</span>';
    const log = lastModified(join(dir, 'log.jsonl'));
    return [`<a href="${href}">${escapeHtml(name)}</a>`, escapeHtml(target), escapeHtml(ladder), escapeHtml(status), log === null ? '–' : new Date(log).toISOString().replace('T', ' ').slice(0, 19), report];
  });
  const body = [
    `<h1>PITA runs</h1><p class="muted">${escapeHtml(resolve(runsDir))}</p>`,
    names.length === 0
      ? notice('info', 'No runs here yet: a run is a subdirectory with config.yaml or log.jsonl (pita run … --out <dir>).')
      : table(['run', 'target', 'ladder', 'status', 'log updated (UTC)', 'report'], rows.map((r) => r.map(raw))),
  ].join('\n');
  return page('PITA runs', body, { offline: false });
}

const LIVE_SCRIPT = `
const root = document.body;
const events = new EventSource(root.dataset.events);
const conn = document.getElementById('conn');
events.onopen = () => { conn.textContent = 'live'; };
events.onerror = () => { conn.textContent = 'disconnected, retrying…'; };
events.addEventListener('update', (e) => {
  const d = JSON.parse(e.data);
  document.getElementById('status').textContent = d.status;
  document.getElementById('latest').textContent = d.latest;
  for (const [id, html] of Object.entries(d.sections)) document.getElementById('live-' + id).innerHTML = html;
  root.dataset.updates = String(Number(root.dataset.updates || '0') + 1);
});
events.addEventListener('failure', (e) => { conn.textContent = 'update failed: ' + JSON.parse(e.data); });
`;

function runPage(name: string, dir: string, p: LivePanels): string {
  const base = `/run/${encodeURIComponent(name)}/`;
  const report = existsSync(join(dir, 'report.html'))
    ? `<a href="${base}report.html">full report</a>`
    : `<span class="muted">no report yet: pita report ${escapeHtml(dir)}</span>`;
  const body = [
    `<nav><a href="/">all runs</a>${report}</nav>`,
    `<h1>${escapeHtml(name)}</h1>`,
    `<p><b id="status">${escapeHtml(p.status)}</b> <span class="muted">(<span id="conn">connecting…</span>)</span></p>`,
    `<p id="latest">${escapeHtml(p.latest)}</p>`,
    `<h2>Training</h2><div id="live-training">${p.sections.training}</div>`,
    `<h2>Annealing</h2><div id="live-annealing">${p.sections.annealing}</div>`,
    `<h2>Rungs</h2><div id="live-rungs">${p.sections.rungs}</div>`,
  ].join('\n');
  return page(`PITA run ${name}`, body, { offline: false, script: LIVE_SCRIPT }).replace('<body>', `<body data-events="${base}events">`);
}

/** Starts the dashboard; resolves once it listens. */
export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  const runsDir = resolve(opts.runsDir);
  if (!existsSync(runsDir) || !statSync(runsDir).isDirectory()) throw new UserError(`runs folder ${opts.runsDir} not found`);
  const realRuns = realpathSync(runsDir);
  let hosts = new Set<string>();
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new UserError(`--port must be an integer in 0..65535, got ${opts.port}`);
  const pollMs = opts.pollMs ?? 500;
  if (!(pollMs >= 10)) throw new UserError(`poll interval must be ≥ 10 ms, got ${pollMs}`);
  const live = new Map<string, LiveRun>();
  const liveRun = (name: string) => {
    let r = live.get(name);
    if (!r) live.set(name, (r = new LiveRun(join(runsDir, name), pollMs)));
    return r;
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!hosts.has((req.headers.host ?? '').toLowerCase())) return sendText(res, 403, 'forbidden: the Host header does not name this server');
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, 'method not allowed');
    const rawPath = (req.url ?? '/').split('?')[0];
    const seg = rawPath.startsWith('/') ? pathSegments(rawPath) : null;
    if (!seg) return sendText(res, 400, 'bad path');
    if (seg.length === 1 && seg[0] === '') return send(res, 200, indexPage(runsDir), 'text/html; charset=utf-8');
    if (seg[0] !== 'run' || seg.length < 2 || !listRuns(runsDir).includes(seg[1])) return sendText(res, 404, 'not found');
    const name = seg[1];
    const dir = join(runsDir, name);
    const rest = seg.slice(2).join('/');
    if (rest === '') return send(res, 200, runPage(name, dir, await liveRun(name).current()), 'text/html; charset=utf-8');
    if (rest === 'events') {
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Content-Type-Options': 'nosniff' });
      res.write('retry: 1000\n\n');
      liveRun(name).subscribe(res);
      return;
    }
    if (rest === 'report.html') {
      if (sendFile(req, res, realRuns, join(dir, 'report.html'), 'text/html; charset=utf-8', { 'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; img-src data:" })) return;
    }
    if (seg.length === 4 && seg[2] === 'figures' && /^[\w.-]+\.png$/.test(seg[3])) {
      if (sendFile(req, res, realRuns, join(dir, 'figures', seg[3]), 'image/png')) return;
    }
    return sendText(res, 404, 'not found');
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: Error) => {
      if (!res.headersSent) sendText(res, 500, `error: ${e.message}`);
      else res.end();
    });
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((ok, fail) => {
    server.once('error', (e: NodeJS.ErrnoException) => fail(listenError(e, host, opts.port)));
    server.listen(opts.port, host, () => ok());
  });
  const port = (server.address() as AddressInfo).port;
  hosts = allowedHosts(host, port);
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/`,
    port,
    close: () =>
      new Promise<void>((ok) => {
        for (const r of live.values()) r.stop();
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}
