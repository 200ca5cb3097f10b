// Crashes and kills: whatever dies when, nothing is lost, nothing is left running, and the next
// run repairs what a crash between two renames left behind.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, labUnavailable, startLab } from '../scripts/pebble-lab.js';
import { splitPemCertificates } from '../src/x509/chain.js';
import { CLIENT, ROOT, STATE_FILE, contents, ecKeys, eventually, needsRootAndLab, runClient, runWithHook, workDir } from './helpers.js';

/** Every process of a run (the parent and its children) has this in its command line. */
const RUN = join(ROOT, 'dist');

const skip = needsRootAndLab(labUnavailable);

/** Pids of live processes whose command line mentions `marker` (a run's own temp dir). */
function processesMentioning(marker: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker) && !readFileSync(`/proc/${entry}/stat`, 'utf8').includes(') Z ')) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** Waits (bounded) until no process of the run is left. */
async function allGone(marker: string): Promise<number[]> {
  await eventually(() => processesMentioning(marker).length === 0);
  return processesMentioning(marker);
}

/** The three files exist, each whole, and belong together. */
function assertCompleteSet(certs: string): void {
  const [cert, chain, fullchain] = ['cert.pem', 'chain.pem', 'fullchain.pem'].map((f) => readFileSync(join(certs, f), 'utf8'));
  assert.equal(splitPemCertificates(cert as string).length, 1);
  assert.ok(splitPemCertificates(chain as string).length >= 1);
  assert.ok(splitPemCertificates(fullchain as string).length >= 2);
}

function assertConsistentSet(certs: string): void {
  assertCompleteSet(certs);
  const [cert, chain, fullchain] = ['cert.pem', 'chain.pem', 'fullchain.pem'].map((f) => readFileSync(join(certs, f), 'utf8'));
  assert.equal(fullchain, (cert as string) + chain);
  const leaf = new X509Certificate(cert as string);
  assert.ok(leaf.checkIssued(new X509Certificate(splitPemCertificates(chain as string)[0] as string)));
}

describe('kills and crashes against Pebble', { skip }, () => {
  let lab: Lab;
  // The runs' TMPDIR, where the parent makes its jail directories: a parent killed by SIGKILL
  // cannot remove them (see the last test).
  let scratch = '';
  before(async () => {
    lab = await startLab();
    scratch = mkdtempSync(join(tmpdir(), 'acme-client-crash-'));
  });
  after(async () => {
    await lab?.stop();
    if (scratch !== '') rmSync(scratch, { recursive: true, force: true });
  });
  const env = (): NodeJS.ProcessEnv => ({ NODE_EXTRA_CA_CERTS: lab.tlsCaFile, TMPDIR: scratch });
  const setup = (): { w: ReturnType<typeof workDir>; args: string[] } => {
    const w = workDir();
    const { acct, dom } = ecKeys(w);
    return { w, args: ['--server', lab.directoryUrl, '-c', w.certs, '-f', acct, '-k', dom] };
  };

  test('the parent killed by SIGKILL: every child ends, nothing written', async () => {
    const { w, args } = setup();
    let parent = 0;
    const run = await runWithHook(['-t', 'dns-01', ...args, 'sigkill.example.test'], env(), async (_line, pid) => {
      parent = pid;
      assert.ok(processesMentioning(RUN).length >= 6, 'all children alive at the first line');
      process.kill(pid, 'SIGKILL');
      return null;
    });
    assert.equal(run.signal, 'SIGKILL');
    assert.ok(parent > 0);
    assert.deepEqual(await allGone(RUN), [], 'no child outlives the parent');
    assert.deepEqual(readdirSync(w.certs), []);
  });

  test('the parent killed by SIGKILL during http-01: the children end and the challenge files go', async () => {
    const { w, args } = setup();
    const child = spawn(process.execPath, [CLIENT, ...args, '-C', lab.challengeDir, 'www-sigkill.example.test'], { env: { PATH: '/usr/bin:/bin', ...env() }, stdio: 'ignore' });
    const watcher = watch(lab.challengeDir, () => child.kill('SIGKILL'));
    await new Promise((r) => child.once('exit', r));
    watcher.close();
    assert.deepEqual(await allGone(RUN), []);
    assert.deepEqual(readdirSync(lab.challengeDir), [], 'challenge files removed');
    // Killed before or after the files were written: either nothing or a complete set.
    const files = readdirSync(w.certs);
    if (files.length > 0) assertConsistentSet(w.certs);
  });

  test('a child killed by a signal: "<child>: killed by <signal>", exit 1', async () => {
    const { w, args } = setup();
    const before = contents(w.certs);
    const run = await runWithHook(['-t', 'dns-01', ...args, 'childkill.example.test'], env(), async () => {
      // acctproc: it lives until netproc is done (keyproc may have ended already, its request sent).
      const acctproc = processesMentioning(RUN).find((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('acctproc.js'));
      assert.ok(acctproc);
      process.kill(acctproc, 'SIGKILL');
      return null;
    });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /^acme-client: acctproc: killed by SIGKILL$/m);
    assert.deepEqual(await allGone(RUN), []);
    assert.deepEqual(contents(w.certs), before);
  });

  test('50 runs killed at random points (SIGTERM or SIGKILL) never leave a truncated or missing file', async () => {
    const { w, args } = setup();
    const first = await runClient([...args, '-C', lab.challengeDir, 'killloop.example.test'], { env: env() });
    assert.equal(first.status, 0, first.stderr);
    const typical = Date.now();
    assert.equal((await runClient(['-F', ...args, '-C', lab.challengeDir, 'killloop.example.test'], { env: env() })).status, 0);
    const span = Math.max(200, Date.now() - typical);
    for (let round = 0; round < 50; round++) {
      const child = spawn(process.execPath, [CLIENT, '-F', ...args, '-C', lab.challengeDir, 'killloop.example.test'], { env: { PATH: '/usr/bin:/bin', ...env() }, stdio: 'ignore' });
      const signal = round % 2 === 0 ? 'SIGTERM' : 'SIGKILL';
      const timer = setTimeout(() => child.kill(signal), Math.floor(Math.random() * span));
      await new Promise((r) => child.once('exit', r));
      clearTimeout(timer);
      assert.deepEqual(await allGone(RUN), [], `round ${round}: children left`);
      assertCompleteSet(w.certs);
      // The renewal state follows the certificate files: a kill in between leaves none, never a part.
      assert.deepEqual(readdirSync(w.certs).filter((f) => f !== STATE_FILE).sort(), ['cert.pem', 'chain.pem', 'fullchain.pem'], `round ${round}: stray files`);
    }
    assert.deepEqual(readdirSync(lab.challengeDir), []);
    const last = await runClient([...args, '-C', lab.challengeDir, 'killloop.example.test'], { env: env() });
    assert.ok(last.status === 0 || last.status === 2, last.stderr);
    assertConsistentSet(w.certs);
  });

  test('killed parents left nothing in TMPDIR but empty jail directories', () => {
    const left = readdirSync(scratch);
    assert.ok(left.length > 0, 'the SIGKILLed runs above had jails');
    for (const name of left) {
      assert.match(name, /^acme-client-jail-/);
      assert.deepEqual(readdirSync(join(scratch, name)), [], `${name} is empty on the host`);
    }
  });

  test('a set left mismatched by a crash between renames is renewed by the next run', async () => {
    const { w, args } = setup();
    assert.equal((await runClient([...args, '-C', lab.challengeDir, 'mismatch.example.test'], { env: env() })).status, 0);
    const old = contents(w.certs);
    assert.equal((await runClient(['-F', ...args, '-C', lab.challengeDir, 'mismatch.example.test'], { env: env() })).status, 0);
    // New chain.pem and fullchain.pem, old cert.pem: as if killed after the first rename.
    writeFileSync(join(w.certs, 'cert.pem'), old['cert.pem'] as string);
    const repaired = await runClient([...args, '-C', lab.challengeDir, 'mismatch.example.test'], { env: env() });
    assert.equal(repaired.status, 0, repaired.stderr);
    assert.match(repaired.stderr, /do not match, renewing/);
    assertConsistentSet(w.certs);
    assert.equal((await runClient([...args, '-C', lab.challengeDir, 'mismatch.example.test'], { env: env() })).status, 2);
  });
});

describe('the CA vanishes in the middle of an order', { skip }, () => {
  let lab: Lab;
  before(async () => {
    // No reused authorizations: the renewal must publish a challenge, which is when Pebble dies.
    lab = await startLab({ authzReuse: 0 });
  });
  after(async () => {
    await lab?.stop();
  });

  test('Pebble killed while a challenge is published: exit 1, a clear line, old files intact, challenge files gone', async () => {
    const w = workDir();
    const { acct, dom } = ecKeys(w);
    const args = ['--server', lab.directoryUrl, '-C', lab.challengeDir, '-c', w.certs, '-f', acct, '-k', dom, 'vanish.example.test'];
    const env = { NODE_EXTRA_CA_CERTS: lab.tlsCaFile };
    assert.equal((await runClient(args, { env })).status, 0);
    const before = contents(w.certs);
    const watcher = watch(lab.challengeDir, () => lab.killPebble());
    const run = await runClient(['-F', ...args], { env });
    watcher.close();
    assert.equal(run.status, 1);
    assert.match(run.stderr, /^acme-client: https:\/\/127\.0\.0\.1:\d+\/\S*: (ECONNREFUSED|ECONNRESET|socket hang up|.*disconnected)/m);
    assert.deepEqual(contents(w.certs), before);
    assert.deepEqual(readdirSync(lab.challengeDir), []);
  });
});

describe('the whole run has a deadline', { skip }, () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab();
  });
  after(async () => {
    await lab?.stop();
  });

  test('a -t hook that never answers: the run stops itself after --poll-timeout + 5 x --timeout', async () => {
    const w = workDir();
    const { acct, dom } = ecKeys(w);
    const started = Date.now();
    // The hook keeps stdin open and never echoes: nothing but the run's own deadline ends this.
    const run = await runWithHook(['--timeout', '1', '--poll-timeout', '1', '-t', 'dns-01', '--server', lab.directoryUrl, '-c', w.certs, '-f', acct, '-k', dom, 'silent.example.test'],
      { NODE_EXTRA_CA_CERTS: lab.tlsCaFile }, () => new Promise<string | null>(() => undefined));
    assert.equal(run.status, 1);
    assert.match(run.stderr, /^acme-client: acme-client: run not finished after 6 s, stopping$/m);
    assert.ok(Date.now() - started >= 6000);
    assert.deepEqual(await allGone(RUN), []);
    assert.deepEqual(readdirSync(w.certs), []);
  });
});
