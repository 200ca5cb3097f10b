// Crashes and kills: whatever dies when, nothing is lost, nothing is left running, and the next
// run repairs what a crash between two renames left behind.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { Lab, labUnavailable, startLab } from '../scripts/pebble-lab.js';
import { splitPemCertificates } from '../src/x509/chain.js';
import { ROOT, STATE_FILE, childrenOf, contents, ecKeys, eventually, needsRootAndLab, runClient, runWithHook, workDir, procStat } from './helpers.js';

/**
 * This file's own copy of the built client: every process of its runs (the parent, the children,
 * a jail's shell) has this path in its command line, and no other process on the machine has,
 * whatever else runs beside the tests.
 */
const RUN = mkdtempSync(join(tmpdir(), 'acme-client-crash-dist-'));
cpSync(join(ROOT, 'dist'), RUN, { recursive: true });
process.once('exit', () => rmSync(RUN, { recursive: true, force: true }));
const CLIENT = join(RUN, 'acme-client.js');
/** The children of a run that live until its end: keyproc ends once it has handed over its request. */
const LASTING = ['acctproc', 'certproc', 'chngproc', 'fileproc', 'netproc'];
/** The 50 random kills, or as many as ACME_TEST_KILL_ROUNDS says (500 once on a developer's machine). */
const KILL_ROUNDS = Number(process.env.ACME_TEST_KILL_ROUNDS ?? 50);

/** A kernel's view of a process: its command line's words, or null once it is gone. */
function commandLine(pid: number): string[] | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return null;
  }
}

/** Whether `signal` is pending for a (stopped) process, from the shared pending set in /proc. */
function pending(pid: number, signal: number): boolean {
  const line = /^ShdPnd:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return line !== null && (BigInt(`0x${line[1]}`) & (1n << BigInt(signal - 1))) !== 0n;
}

/** A process's state letter (R, S, T, Z...) from /proc, or null once it is gone. */
function processState(pid: number): string | null {
  return procStat(pid)?.[0] ?? null;
}

/** Processes that keep both cores busy until stopped, at normal priority. */
function loadTheCpus(count: number): ChildProcess[] {
  return Array.from({ length: count }, () => spawn(process.execPath, ['-e', 'for (;;);'], { stdio: 'ignore' }));
}

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
      const children = [...childrenOf(pid).keys()];
      for (const role of LASTING) assert.ok(children.includes(role), `${role} alive at the first line (${children.join(', ')})`);
      process.kill(pid, 'SIGKILL');
      return null;
    }, CLIENT);
    assert.equal(run.signal, 'SIGKILL');
    assert.ok(parent > 0);
    assert.deepEqual(await allGone(RUN), [], 'no child outlives the parent');
    assert.deepEqual(readdirSync(w.certs), []);
  });

  test('the parent killed by SIGKILL during http-01: the children end and the challenge files go', async () => {
    const { w, args } = setup();
    const child = spawn(process.execPath, [CLIENT, ...args, '-C', lab.challengeDir, 'www-sigkill.example.test'], { env: { PATH: '/usr/bin:/bin', ...env() }, stdio: 'ignore' });
    const watcher = watch(lab.challengeDir, () => child.kill('SIGKILL'));
    const [, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
    watcher.close();
    assert.equal(signal, 'SIGKILL', 'killed while a challenge file was there, not finished before');
    assert.deepEqual(await allGone(RUN), []);
    assert.deepEqual(readdirSync(lab.challengeDir), [], 'challenge files removed');
    // Killed before or after the files were written: either nothing or a complete set.
    const files = readdirSync(w.certs);
    if (files.length > 0) assertConsistentSet(w.certs);
  });

  // With -t the hook (this test) holds the challenge unanswered and --timeout is 600 s: netproc
  // waits for chngproc, chngproc for its stdin, certproc and fileproc for what comes after. Only
  // the parent stopping everybody once one child has failed can end the run soon.
  for (const role of LASTING) {
    test(`${role} killed mid-run: the parent stops the rest at once, "${role}: killed by SIGKILL", exit 1, nothing written`, async () => {
      const { w, args } = setup();
      const before = contents(w.certs);
      let tree = new Map<string, number>();
      let parent = 0;
      const running = runWithHook(['--timeout', '600', '--poll-timeout', '600', '-t', 'dns-01', ...args, `${role}-kill.example.test`], env(), async (_line, pid) => {
        tree = childrenOf(pid);
        parent = pid;
        process.kill(tree.get(role) as number, 'SIGKILL');
        return new Promise<string | null>(() => undefined);
      }, CLIENT);
      let done = false;
      void running.then(() => (done = true));
      assert.ok(await eventually(() => parent !== 0 || done), 'the challenge reached the hook');
      const ended = await eventually(() => done);
      if (!ended) process.kill(parent, 'SIGKILL');
      const run = await running;
      assert.ok(ended, `the run went on after ${role} had died:\n${run.stderr}`);
      assert.equal(run.status, 1, run.stderr);
      assert.match(run.stderr, new RegExp(`^acme-client: ${role}: killed by SIGKILL$`, 'm'));
      assert.doesNotMatch(run.stderr, /killed by SIGTERM|run not finished/, 'the others were stopped, not reported');
      for (const pid of tree.values()) assert.throws(() => process.kill(pid, 0), /ESRCH/, `pid ${pid} still there`);
      assert.deepEqual(await allGone(RUN), []);
      assert.deepEqual(contents(w.certs), before);
    });
  }

  test('keyproc failing on its key: the parent stops the rest, keyproc\'s own line, exit 1', async () => {
    const { w, args } = setup();
    writeFileSync(join(w.priv, 'domain.pem'), '-----BEGIN EC PRIVATE KEY-----\nbroken\n-----END EC PRIVATE KEY-----\n');
    const run = await runWithHook(['--timeout', '600', '--poll-timeout', '600', '-t', 'dns-01', ...args, 'keyproc-fail.example.test'], env(),
      () => new Promise<string | null>(() => undefined), CLIENT);
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, /^acme-client: \S*domain\.pem: /m);
    assert.doesNotMatch(run.stderr, /killed by|run not finished/);
    assert.deepEqual(await allGone(RUN), []);
    assert.deepEqual(readdirSync(w.certs), []);
  });

  test('the parent killed while a jail is being set up, under CPU load: the jail\'s shell gets SIGTERM from the kernel and ends', async () => {
    const load = loadTheCpus(4);
    try {
      let caught = false;
      for (let attempt = 0; attempt < 20 && !caught; attempt++) {
        const { args } = setup();
        const child = spawn(process.execPath, [CLIENT, ...args, '-C', lab.challengeDir, `jailkill-${attempt}.example.test`], { env: { PATH: '/usr/bin:/bin', ...env() }, stdio: 'ignore' });
        const exited = once(child, 'exit');
        // A jail's shell: a child of the run still running /bin/sh, before chroot and Node replace it.
        let candidate = 0;
        await eventually(() => {
          if (child.exitCode !== null) return true;
          for (const pid of childrenOf(child.pid as number).values()) {
            const words = commandLine(pid);
            if (words?.[0] === '/bin/sh' && words.includes('acme-client-jail')) {
              process.kill(pid, 'SIGSTOP');
              candidate = pid;
              return true;
            }
          }
          return false;
        });
        // SIGSTOP takes effect when the shell next runs, and a SIGTERM pending beside it would be
        // delivered first (the lower number): the parent dies only once the shell has stopped, and
        // it counts only if it stopped as the shell (it may have become chroot in between).
        let shell = 0;
        if (candidate !== 0 && (await eventually(() => processState(candidate) !== 'R' && processState(candidate) !== 'S' && processState(candidate) !== 'D'))) {
          if (processState(candidate) === 'T' && commandLine(candidate)?.[0] === '/bin/sh') shell = candidate;
          else process.kill(candidate, 'SIGCONT');
        }
        child.kill('SIGKILL');
        await exited;
        if (shell === 0) {
          assert.deepEqual(await allGone(RUN), [], `attempt ${attempt}: children left`);
          continue;
        }
        caught = true;
        // The parent is gone: the kernel has queued the shell's SIGTERM while it was stopped.
        assert.ok(await eventually(() => pending(shell, 15)), 'SIGTERM pending for the stopped jail shell');
        process.kill(shell, 'SIGCONT');
        assert.ok(await eventually(() => processState(shell) === null || processState(shell) === 'Z'), 'the jail shell ended');
        assert.deepEqual(await allGone(RUN), [], 'no process of the run left');
      }
      assert.ok(caught, 'a jail shell was caught during its set-up in one of 20 runs');
    } finally {
      for (const busy of load) busy.kill('SIGKILL');
    }
  });

  test(`${KILL_ROUNDS} runs killed at random points (SIGTERM or SIGKILL) never leave a truncated or missing file, nor a process`, async () => {
    const { w, args } = setup();
    const first = await runClient([...args, '-C', lab.challengeDir, 'killloop.example.test'], { env: env(), client: CLIENT });
    assert.equal(first.status, 0, first.stderr);
    const typical = Date.now();
    assert.equal((await runClient(['-F', ...args, '-C', lab.challengeDir, 'killloop.example.test'], { env: env(), client: CLIENT })).status, 0);
    const span = Math.max(200, Date.now() - typical);
    for (let round = 0; round < KILL_ROUNDS; round++) {
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
    const last = await runClient([...args, '-C', lab.challengeDir, 'killloop.example.test'], { env: env(), client: CLIENT });
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
    assert.equal((await runClient([...args, '-C', lab.challengeDir, 'mismatch.example.test'], { env: env(), client: CLIENT })).status, 0);
    const old = contents(w.certs);
    assert.equal((await runClient(['-F', ...args, '-C', lab.challengeDir, 'mismatch.example.test'], { env: env(), client: CLIENT })).status, 0);
    // New chain.pem and fullchain.pem, old cert.pem: as if killed after the first rename.
    writeFileSync(join(w.certs, 'cert.pem'), old['cert.pem'] as string);
    const repaired = await runClient([...args, '-C', lab.challengeDir, 'mismatch.example.test'], { env: env(), client: CLIENT });
    assert.equal(repaired.status, 0, repaired.stderr);
    assert.match(repaired.stderr, /do not match, renewing/);
    assertConsistentSet(w.certs);
    assert.equal((await runClient([...args, '-C', lab.challengeDir, 'mismatch.example.test'], { env: env(), client: CLIENT })).status, 2);
  });
});

describe('the CA vanishes in the middle of an order', { skip }, () => {
  let lab: Lab;
  before(async () => {
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
    assert.equal((await runClient(args, { env, client: CLIENT })).status, 0);
    const before = contents(w.certs);
    // The renewal's validation must not finish before Pebble is killed (Pebble 2.10 with no VA
    // sleep can be that quick): its http-01 fetch goes to a server that accepts and never answers.
    const held = new Set<Socket>();
    const holder = createServer((socket) => held.add(socket));
    await new Promise<void>((resolve, reject) => holder.once('error', reject).listen(lab.httpPort, '127.0.0.2', resolve));
    await lab.resolveTo('vanish.example.test', '127.0.0.2');
    const watcher = watch(lab.challengeDir, () => lab.killPebble());
    // The renewal must publish a challenge, which is when Pebble dies. PEBBLE_AUTHZREUSE=0 still
    // reuses a valid authorization one order in a hundred (Pebble 2.10: a new one only when
    // rand.Intn(100) > 0), which once made this run succeed: it gets an account of its own,
    // with no valid authorization to reuse.
    const renewal = ['-F', '-n', ...args.map((a) => (a === acct ? join(w.priv, 'renewal-account.pem') : a))];
    const run = await runClient(renewal, { env, client: CLIENT });
    watcher.close();
    for (const socket of held) socket.destroy();
    holder.close();
    assert.equal(run.status, 1, run.stderr);
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
      { NODE_EXTRA_CA_CERTS: lab.tlsCaFile }, () => new Promise<string | null>(() => undefined), CLIENT);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /^acme-client: acme-client: run not finished after 6 s, stopping$/m);
    assert.ok(Date.now() - started >= 6000);
    assert.deepEqual(await allGone(RUN), []);
    assert.deepEqual(readdirSync(w.certs), []);
  });
});
