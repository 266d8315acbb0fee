import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireLock, processStartTime, staleLockWarning, withLock } from '../../src/io/lock.js';

const dir = mkdtempSync(join(tmpdir(), 'pita-lock-'));

/** The pid of a process that has exited (so it is certainly not running, barring reuse within the test). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

test('a held lock refuses a second holder, naming the process; released, it can be taken again', () => {
  const path = join(dir, 'a.lock');
  const lock = acquireLock(path, 'run directory A');
  const saved = JSON.parse(readFileSync(path, 'utf8'));
  assert.equal(saved.pid, process.pid);
  assert.equal(saved.host, hostname());
  assert.throws(() => acquireLock(path, 'run directory A'), /^UserError: run directory A is in use by this process \(lock .*a\.lock\)/);
  lock.release();
  assert.equal(existsSync(path), false);
  acquireLock(path, 'run directory A').release();
});

test('a lock left by a process that is gone is stale and taken over, and the new lock says from whom', () => {
  const path = join(dir, 'b.lock');
  const dead = deadPid();
  writeFileSync(path, JSON.stringify({ pid: dead, start: '1', host: hostname() }));
  const lock = acquireLock(path, 'B');
  assert.equal(JSON.parse(readFileSync(path, 'utf8')).pid, process.pid);
  assert.equal(lock.tookOverFrom, dead);
  assert.equal(staleLockWarning(lock), `took over the stale lock ${path} of process ${dead}, which ended without releasing it (killed or crashed)`);
  lock.release();
  // Released normally, the next holder takes a free lock: nothing to say.
  const next = acquireLock(path, 'B');
  assert.equal(next.tookOverFrom, null);
  assert.equal(staleLockWarning(next), null);
  next.release();
});

test('a lock whose pid was reused (other start time) is stale; a corrupt lock file too', { skip: processStartTime(process.pid) === null && 'no /proc' }, () => {
  const path = join(dir, 'c.lock');
  writeFileSync(path, JSON.stringify({ pid: process.pid, start: 'not-our-start', host: hostname() }));
  acquireLock(path, 'C').release();
  writeFileSync(path, '{"pid": 12');
  acquireLock(path, 'C').release();
});

test('a live process on this machine holds its lock; withLock releases on success and on error', async () => {
  const path = join(dir, 'd.lock');
  // pid 1 is always alive; its recorded start time matches.
  writeFileSync(path, JSON.stringify({ pid: 1, start: processStartTime(1), host: hostname() }));
  assert.throws(() => acquireLock(path, 'D'), /D is in use by process 1 /);
  const other = join(dir, 'e.lock');
  assert.equal(await withLock(other, 'E', async () => existsSync(other)), true);
  assert.equal(existsSync(other), false);
  await assert.rejects(withLock(other, 'E', async () => Promise.reject(new Error('boom'))), /boom/);
  assert.equal(existsSync(other), false);
});
