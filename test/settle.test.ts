// A run that fails after it answered challenges keeps what it published until the CA has looked:
// a challenge file removed under a validation fails it (Let's Encrypt counts that against the
// account and the name), where one left in place gives a valid authorization the next order reuses.
// nginx in front of Pebble passes the challenges to a server of this test, which fails one name at
// once and holds the other's until its file is gone or the run had ample time to remove it. With
// -t the other name fails earlier, at the caller, and the test is the caller: it removes what it
// published once the run is over, as acme-client(1) asks. Then a challenge directory with room for
// one file: the name written second fails, the first stays published until the CA has looked. Last,
// a challenge directory that cannot be written (a read-only bind mount): said once, and nothing to
// wait for.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Lab, labUnavailable, startLab } from '../scripts/pebble-lab.js';
import { ecKeys, needsRootAndLab, runClient, runWithHook, workDir } from './helpers.js';

const skip = needsRootAndLab(labUnavailable);

const FAILING = 'fails.settle.example.test';
const HELD = 'held.settle.example.test';
/** Its validation is held too: each name whose host starts "held" is. */
const HELD_TOO = 'held-too.settle.example.test';
/** With -t: the name whose challenge the caller fails to publish. */
const UNPUBLISHED = 'unpublished.settle.example.test';
/** Far more than a run takes to remove its files once the other name has failed (some 0.1 s). */
const HOLD_MS = 3_000;

const isHeld = (host: string | undefined): boolean => host?.startsWith('held') === true;

describe('a failing run and the validations still running', { skip }, () => {
  let lab: Lab;
  let server: Server;
  let challengeDir = '';
  /** What the held name's validation was answered: the key authorization, or 404. */
  let heldAnswer: Promise<string>;
  let answerHeld: (answer: string) => void;

  before(async () => {
    server = createServer((req, res) => {
      const token = (req.url ?? '').split('/').pop() ?? '';
      const file = join(challengeDir, token);
      const reply = (): void => {
        const body = existsSync(file) ? readFileSync(file, 'utf8') : null;
        res.writeHead(body === null ? 404 : 200).end(body ?? '');
        if (isHeld(req.headers.host)) answerHeld(body ?? '404');
      };
      if (!isHeld(req.headers.host)) {
        res.writeHead(404).end();
        return;
      }
      // Answered as soon as the run removes the file (the failure this test is for), or once it
      // has had ample time to: it must then still be there.
      const started = Date.now();
      const look = setInterval(() => {
        if (!existsSync(file) || Date.now() - started >= HOLD_MS) {
          clearInterval(look);
          reply();
        }
      }, 20);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    lab = await startLab({ challengeUpstreams: [`127.0.0.1:${address.port}`] });
  });
  after(async () => {
    await lab?.stop();
    await new Promise((resolve) => server?.close(resolve));
  });

  /** A run's directories and keys, its challenge directory the one the server looks in, a new held answer awaited. */
  const freshRun = (): { w: ReturnType<typeof workDir>; keys: string[] } => {
    const w = workDir();
    challengeDir = w.www;
    heldAnswer = new Promise((resolve) => {
      answerHeld = resolve;
    });
    const { acct, dom } = ecKeys(w);
    return { w, keys: ['-f', acct, '-k', dom] };
  };

  // A client that never has the held name fetched must fail, not hang the suite.
  test('the other name\'s challenge file stays until the CA has validated it, then goes', { timeout: 60_000 }, async () => {
    const { w, keys } = freshRun();
    const run = await runClient(['--server', lab.directoryUrl, '-C', w.www, '-c', w.certs, ...keys, HELD, FAILING],
      { env: { NODE_EXTRA_CA_CERTS: lab.tlsCaFile } });
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, new RegExp(`^acme-client: ${FAILING.replaceAll('.', '\\.')}: validation failed: `, 'm'));
    assert.match(await heldAnswer, /^[\w-]+\.[\w-]+$/, `${HELD}'s validation found no file`);
    assert.deepEqual(readdirSync(w.www), [], 'challenge files removed in the end');
    assert.deepEqual(readdirSync(w.certs), []);
  });

  test('-t: when the caller fails a name, the one it published before stays until the CA has validated it', { timeout: 60_000 }, async () => {
    const { w, keys } = freshRun();
    // Published in command-line order: the held name's file, then end of file for the other.
    const run = await runWithHook(['-t', 'http-01', '--server', lab.directoryUrl, '-c', w.certs, ...keys, HELD, UNPUBLISHED],
      { NODE_EXTRA_CA_CERTS: lab.tlsCaFile }, async (line) => {
        const [, name, keyAuthorization = ''] = line.split(' ');
        if (name !== HELD) return null;
        writeFileSync(join(w.www, keyAuthorization.split('.')[0] ?? ''), keyAuthorization);
        return `${line}\n`;
      });
    // What a caller does once the run is over.
    for (const name of readdirSync(w.www)) rmSync(join(w.www, name));
    assert.equal(run.status, 1, run.stderr);
    // chngproc's line alone: netproc, which waited, has nothing to add.
    assert.deepEqual(run.stderr.split('\n').filter((line) => line.startsWith('acme-client:')), ['acme-client: <stdin>: short read'], run.stderr);
    assert.deepEqual(run.lines.map((line) => line.split(' ')[1]), [HELD, UNPUBLISHED]);
    assert.match(await heldAnswer, /^[\w-]+\.[\w-]+$/, `${HELD}'s validation found no file: the run was over before the CA had looked`);
    assert.deepEqual(readdirSync(w.certs), []);
  });

  // Would fail if a write that fails (a full disk) removed the challenge file of a name answered
  // before it while the CA still looked at it, or the run waited for nothing, or said more than
  // the one line. Which of the two names is written first is the run's affair: the other fails.
  test('a challenge that cannot be written after another was answered: the answered one stays until the CA has validated it', { timeout: 60_000 }, async () => {
    const { w, keys } = freshRun();
    // Room for the directory and one file (tmpfs counts the directory among its inodes).
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'nr_inodes=2,size=64k,mode=0755', 'acme-client-settle', w.www]);
    try {
      const run = await runClient(['--server', lab.directoryUrl, '-C', w.www, '-c', w.certs, ...keys, HELD, HELD_TOO],
        { env: { NODE_EXTRA_CA_CERTS: lab.tlsCaFile } });
      assert.equal(run.status, 1, run.stderr);
      const lines = run.stderr.split('\n').filter((line) => line.startsWith('acme-client:'));
      assert.deepEqual(lines.map((line) => line.replace(/\/[\w-]+: cannot write/, '/<token>: cannot write')),
        [`acme-client: ${w.www}/<token>: cannot write: no space left on device`], run.stderr);
      // Bounded, so that the tmpfs is unmounted even when no validation comes.
      const answer = await Promise.race([heldAnswer, sleep(HOLD_MS + 10_000, 'no validation came', { ref: false })]);
      assert.match(answer, /^[\w-]+\.[\w-]+$/, `the answered name's validation found no file (${answer}): the run removed it before the CA had looked`);
      assert.deepEqual(readdirSync(w.www), [], 'challenge file removed in the end');
    } finally {
      execFileSync('umount', [w.www]);
    }
    assert.deepEqual(readdirSync(w.certs), []);
  });

  // Would fail if chngproc also said it could not remove the files it never wrote, or if the run
  // waited for anything: nothing was answered.
  test('a challenge directory that cannot be written: one line, the run over at once', { timeout: 60_000 }, async () => {
    const { w, keys } = freshRun();
    execFileSync('mount', ['--bind', w.www, w.www]);
    try {
      execFileSync('mount', ['-o', 'remount,bind,ro', w.www]);
      const run = await runClient(['--server', lab.directoryUrl, '-C', w.www, '-c', w.certs, ...keys, 'ro1.settle.example.test', 'ro2.settle.example.test'],
        { env: { NODE_EXTRA_CA_CERTS: lab.tlsCaFile } });
      assert.equal(run.status, 1, run.stderr);
      const lines = run.stderr.split('\n').filter((line) => line.startsWith('acme-client:'));
      assert.deepEqual(lines.map((line) => line.replace(/\/[\w-]+: cannot write/, '/<token>: cannot write')),
        [`acme-client: ${w.www}/<token>: cannot write: read-only file system`], run.stderr);
    } finally {
      execFileSync('umount', [w.www]);
    }
    assert.deepEqual(readdirSync(w.www), []);
    assert.deepEqual(readdirSync(w.certs), []);
  });
});
