/**
 * Atomic file replacement: the content is written to a temporary file in the
 * target's own directory (so the final rename never crosses a file system),
 * flushed to disk, then renamed over the target. Readers see either the old
 * file or the complete new one, never a partial write.
 *
 * Only regular files are replaced: renaming over /dev/null, a FIFO or a
 * device would swap the special file for a regular one. A symbolic link is
 * written through: the temp file goes next to the link's final target and is
 * renamed over it, so the link survives. Errors name the user's path, never
 * the temp file.
 */
import { closeSync, fsyncSync, lstatSync, openSync, readlinkSync, renameSync, rmSync, statSync, writeSync, type Stats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UserError } from './errors.js';

let tempCounter = 0;

/** A file-system error without the syscall and path node appends ("EACCES: permission denied"). */
export function fsReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code && typeof e.message === 'string' ? e.message.replace(/,\s*\w+\s+'.*$/s, '') : String((err as Error)?.message ?? err);
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** stat, or null when nothing is there; other errors (ENOTDIR, EACCES) are UserErrors naming `shown`. */
function statOrNull(path: string, shown: string, lstat = false): Stats | null {
  try {
    return lstat ? lstatSync(path) : statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'ENOTDIR') throw new UserError(`cannot write ${shown}: a part of the path is a file, not a directory`);
    throw new UserError(`cannot write ${shown}: ${fsReason(e)}`);
  }
}

/**
 * The file a write to `path` lands in (the final target of a symbolic link,
 * followed even when it dangles), after checking that it is a regular file or
 * absent and that its directory exists. Throws a one-line UserError otherwise.
 */
export function resolveOutputFile(path: string): string {
  let p = resolve(path);
  for (let hops = 0; ; hops++) {
    const l = statOrNull(p, path, true);
    if (l === null) break;
    if (l.isSymbolicLink()) {
      if (hops >= 40) throw new UserError(`cannot write ${path}: too many levels of symbolic links`);
      p = resolve(dirname(p), readlinkSync(p));
      continue;
    }
    if (!l.isFile()) throw new UserError(`refusing to write ${path}: it exists and is ${kindOf(l)}, not a regular file`);
    return p;
  }
  const dir = statOrNull(dirname(p), path);
  if (dir === null) throw new UserError(`cannot write ${path}: directory ${dirname(path)} does not exist`);
  if (!dir.isDirectory()) throw new UserError(`cannot write ${path}: ${dirname(path)} is not a directory`);
  return p;
}

/** Checks every output file of a command before any is written, so a bad one leaves none behind. */
export function checkOutputFiles(paths: readonly (string | undefined)[]): void {
  for (const p of paths) if (p !== undefined) resolveOutputFile(p);
}

/**
 * Checks that `path` is a directory or can be created as one (its nearest
 * existing ancestor is a directory), e.g. a run's --out.
 */
export function checkOutputDirectory(path: string): void {
  let p = resolve(path);
  for (;;) {
    const st = statOrNull(p, path);
    if (st !== null) {
      if (st.isDirectory()) return;
      throw new UserError(p === resolve(path) ? `cannot use ${path} as a directory: it exists and is not a directory` : `cannot create ${path}: ${p} is a file, not a directory`);
    }
    if (dirname(p) === p) return;
    p = dirname(p);
  }
}

/** Writes `content` to `path` atomically (temp file + fsync + rename), through symbolic links. */
export function writeFileAtomic(path: string, content: string | Uint8Array): void {
  const target = resolveOutputFile(path);
  const temp = join(dirname(target), `.${basename(target)}.${process.pid}.${tempCounter++}.tmp`);
  const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  try {
    const fd = openSync(temp, 'w');
    try {
      let done = 0;
      while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, target);
  } catch (err) {
    rmSync(temp, { force: true });
    throw new UserError(`cannot write ${path}: ${fsReason(err)}`);
  }
}
