import cliProgress from 'cli-progress';

/** A progress reporter for long loops. Writes to stderr only when it is a terminal. */
export interface Progress {
  /** Sets the absolute amount done and optional named values shown after the bar. */
  update(done: number, info?: Record<string, string | number>): void;
  stop(): void;
}

/**
 * A progress bar on stderr (cli-progress). When stderr is not a TTY (CI, pipes),
 * nothing is drawn, so logs stay clean; `quiet` disables it everywhere.
 */
export function createProgress(label: string, total: number, opts: { quiet?: boolean } = {}): Progress {
  if (opts.quiet || !process.stderr.isTTY) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {percentage}% | {value}/{total} | ETA {eta_formatted} | {info}`,
      hideCursor: true,
      etaBuffer: 50,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { info: '' });
  return {
    update(done, info) {
      const text = info ? Object.entries(info).map(([k, v]) => `${k} ${typeof v === 'number' ? fmt(v) : v}`).join(' ') : '';
      bar.update(done, { info: text });
    },
    stop() {
      bar.stop();
    },
  };
}

function fmt(v: number): string {
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 1e4 || Math.abs(v) < 1e-3 ? v.toExponential(3) : v.toPrecision(4);
}
