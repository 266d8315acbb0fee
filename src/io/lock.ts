/**
 * Exclusive locks on run directories and checkpoints, so that two processes
 * never write one run (`pita run`, `pita md`, `--resume` included).
 *
 * The lock is a small JSON file {pid, start, host} created with link(2) from
 * a complete temp file, so it appears atomically and is never seen half
 * written. A lock is stale when its host is this machine and its process is
 * gone: the pid does not exist, or it exists with another start time (the
 * pid was reused; start times come from /proc/<pid>/stat where there is one,
 * else only liveness is checked). A stale lock — left by kill -9 or a
 * power cut — is taken over, and the lock says so (`tookOverFrom`) so the
 * caller can tell the user; a live one gives a one-line UserError. Locks
 * still held are removed when the process exits normally.
 */
import { linkSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { fsReason } from '../core/atomic.js';
import { UserError } from '../core/errors.js';

interface Holder {
  pid: number;
  /** Process start time in clock ticks since boot (/proc/<pid>/stat field 22), or null where unknown. */
  start: string | null;
  host: string;
}

export interface Lock {
  readonly path: string;
  /** The pid of the process whose stale lock this one replaced (it died holding it), or null. */
  readonly tookOverFrom: number | null;
  release(): void;
}

const held = new Set<string>();
let tempCounter = 0;

/** Start time of a process from /proc/<pid>/stat, or null where /proc is unavailable or the process is gone. */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may hold spaces and parentheses: count fields after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the lock's holder may still be running (a lock from another host always counts as held). */
function isLive(h: Holder): boolean {
  if (h.host !== hostname()) return true;
  if (!alive(h.pid)) return false;
  const start = processStartTime(h.pid);
  return h.start === null || start === null || start === h.start;
}

function readHolder(path: string): Holder | null {
  try {
    const h = JSON.parse(readFileSync(path, 'utf8')) as Partial<Holder>;
    if (typeof h.pid === 'number' && typeof h.host === 'string') return { pid: h.pid, start: h.start ?? null, host: h.host };
  } catch {
    // Unreadable or corrupt (no process of ours writes it partially): treated as stale below.
  }
  return null;
}

function me(): Holder {
  return { pid: process.pid, start: processStartTime(process.pid), host: hostname() };
}

/**
 * Takes the lock file `path` for `what` (used in the error message, e.g.
 * "run directory runs/x"). Throws a UserError when a live process holds it.
 */
export function acquireLock(path: string, what: string): Lock {
  const self = me();
  let tookOverFrom: number | null = null;
  for (let attempt = 0; attempt < 5; attempt++) {
    const temp = `${path}.${process.pid}.${tempCounter++}.tmp`;
    try {
      writeFileSync(temp, JSON.stringify(self));
      linkSync(temp, path);
      held.add(path);
      return { path, tookOverFrom, release: () => release(path) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new UserError(`cannot lock ${what}: ${fsReason(e)}`);
    } finally {
      rmSync(temp, { force: true });
    }
    const holder = readHolder(path);
    if (holder && isLive(holder)) {
      const who = holder.pid === process.pid && holder.host === self.host ? 'this process' : `process ${holder.pid}${holder.host === self.host ? '' : ` on ${holder.host}`}`;
      throw new UserError(`${what} is in use by ${who} (lock ${path}); wait for it to finish, or delete the lock if that process is gone`);
    }
    // Stale: its process is gone. Remove it and try again (another process may win the race; then it is live).
    tookOverFrom = holder?.pid ?? tookOverFrom;
    rmSync(path, { force: true });
  }
  throw new UserError(`cannot lock ${what}: the lock ${path} keeps changing`);
}

/** Removes the lock if this process still holds it. */
function release(path: string): void {
  if (!held.delete(path)) return;
  const h = readHolder(path);
  if (h && h.pid === process.pid && h.host === hostname()) rmSync(path, { force: true });
}

/**
 * Releases every lock this process holds. The CLI calls it on exit (library code installs no process
 * hooks) and turns Ctrl-C and SIGTERM into an abort, so a run stops and releases its lock; only a lock
 * left by a killed process (kill -9, a crash) is stale, and the next run takes it over.
 */
export function releaseAllLocks(): void {
  for (const p of [...held]) release(p);
}

/** Runs `fn` holding the lock file `path` (null: no lock); released when `fn` settles, by success or by error. */
export async function withLock<T>(path: string | null, what: string, fn: (lock: Lock | null) => Promise<T>): Promise<T> {
  if (path === null) return fn(null);
  const lock = acquireLock(path, what);
  try {
    return await fn(lock);
  } finally {
    lock.release();
  }
}

/** The warning for a lock that replaced a stale one, or null. */
export function staleLockWarning(lock: Lock | null): string | null {
  if (lock === null || lock.tookOverFrom === null) return null;
  return `took over the stale lock ${lock.path} of process ${lock.tookOverFrom}, which ended without releasing it (killed or crashed)`;
}
