// readFileCapped (src/fsutil/read.ts), what every child reads its start-up files with: refusals
// come at once and name the file, and the cap holds whatever the file's size says.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileCapped } from '../src/fsutil/read.js';
import { Failure } from '../src/log.js';

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'acme-read-test-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function refused(path: string, maxBytes: number, problem: string): void {
  assert.throws(() => readFileCapped(path, maxBytes), (err: unknown) => {
    assert.ok(err instanceof Failure, String(err));
    assert.equal(err.subject, path);
    assert.equal(err.problem, problem);
    return true;
  });
}

test('a file up to the cap is read whole; one byte more is refused; a missing one is null', () => {
  const path = join(dir, 'ten');
  writeFileSync(path, '0123456789');
  assert.equal(readFileCapped(path, 10), '0123456789');
  refused(path, 9, 'larger than 9 bytes');
  assert.equal(readFileCapped(join(dir, 'missing'), 10), null);
});

test('a file whose size says 0 is still held to the cap', () => {
  // /proc files say 0 bytes and have more: the cap counts what is read, not what fstat says.
  refused('/proc/self/status', 16, 'larger than 16 bytes');
  assert.match(readFileCapped('/proc/self/status', 1 << 20) as string, /^Name:/);
});

test('a FIFO is refused at once, with no writer to wait for', () => {
  const path = join(dir, 'fifo');
  execFileSync('mkfifo', [path]);
  // In a child: an open that blocked would hang this process for good, the runner's timeout too.
  const module = new URL('../src/fsutil/read.js', import.meta.url).href;
  const script = `const { readFileCapped } = await import(${JSON.stringify(module)});
    try { readFileCapped(${JSON.stringify(path)}, 1024); } catch (err) { console.log(err.problem); }`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 15_000 });
  assert.equal(run.signal, null, 'the open blocked');
  assert.equal(run.stdout, 'not a regular file\n', run.stderr);
});

test('a symbolic link is refused, even to a good file, unless the caller follows links', () => {
  const target = join(dir, 'target');
  const link = join(dir, 'link');
  writeFileSync(target, 'good\n');
  symlinkSync(target, link);
  refused(link, 1024, 'is a symbolic link');
  assert.equal(readFileCapped(link, 1024, { followLinks: true }), 'good\n');
});

test('any other refusal of the open is said without the errno code or the path again', () => {
  const file = join(dir, 'plain');
  writeFileSync(file, 'x');
  refused(join(file, 'below'), 1024, 'not a directory');
});

test('a directory is refused', () => {
  refused(dir, 1024, 'not a regular file');
});
