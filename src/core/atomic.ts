/**
 * Atomic file replacement: the content is written to a temporary file in the
 * target's own directory (so the final rename never crosses a file system),
 * flushed to disk, then renamed over the target. Readers see either the old
 * file or the complete new one, never a partial write.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { UserError } from './errors.js';

let tempCounter = 0;

/** Writes `content` to `path` atomically (temp file + fsync + rename). */
export function writeFileAtomic(path: string, content: string | Uint8Array): void {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${tempCounter++}.tmp`);
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
    renameSync(temp, path);
  } catch (err) {
    rmSync(temp, { force: true });
    throw new UserError(`cannot write ${path}: ${(err as Error).message}`);
  }
}
