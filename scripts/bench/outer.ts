// The outer process: set-up on the host (Debian packages, the process trace collector), then the
// measuring process re-run in a loopback-only namespace.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { COLLECTOR_PY } from '../bench-trace.js';
import { type Args } from './cli.js';
import { SELF, CLI, PYTHON, log, have, installed, lastLines, debVersion } from './common.js';
import { type ClientId, type DebianPeer, PACKAGE } from './peers.js';
import { inner } from './runner.js';
// ---- 1. set-up on the host: Debian packages -----------------------------------------------------

function installPeers(clients: ClientId[]): string[] {
  const notes: string[] = [];
  const wanted: { pkg: string; bin?: string }[] = [];
  for (const c of clients) if (c in PACKAGE) wanted.push(...PACKAGE[c as DebianPeer]);
  if (!have(PYTHON)) wanted.push({ pkg: 'python3', bin: PYTHON });
  const missing = wanted.filter((w) => !installed(w));
  if (missing.length === 0) return notes;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  log(`installing missing Debian packages: ${missing.map((m) => m.pkg).join(' ')}`);
  const upd = spawnSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'inherit', 'inherit'], env });
  if (upd.status !== 0) notes.push(`apt-get update failed (status ${upd.status ?? upd.signal}); installing from the lists at hand.`);
  for (const m of missing) {
    const r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', m.pkg], { stdio: ['ignore', 'pipe', 'pipe'], env, encoding: 'utf8' });
    if (r.status !== 0 || !installed(m)) {
      const why = lastLines(`${r.stdout ?? ''}${r.stderr ?? ''}`, 2);
      notes.push(`Debian package ${m.pkg} could not be installed (${why || `status ${r.status}`}): skipped.`);
      log(`apt-get install ${m.pkg} failed: ${why}`);
    } else {
      log(`installed ${m.pkg} ${debVersion(m.pkg) ?? ''}`);
    }
  }
  return notes;
}

// ---- 2. the outer process: set-up, then the measurements in a loopback-only namespace ---------

export async function outer(args: Args, argv: string[]): Promise<number> {
  if (process.getuid?.() !== 0) {
    log('must be run as root (the clients and the lab need it, and so does unshare)');
    return 1;
  }
  if (!have(CLI)) {
    log(`${CLI} is missing: run \`npm run build\` (npm run bench does it first)`);
    return 1;
  }
  const notes = args.setup ? installPeers(args.clients) : ['Set-up skipped (--no-setup): peers not installed are reported as unavailable.'];
  if (!have(PYTHON)) {
    log(`${PYTHON} is missing: it runs the timing wrapper (apt-get install python3)`);
    return 1;
  }
  const canIsolate = args.isolate && spawnSync('unshare', ['--net', '--mount', '--propagation', 'private', '--', 'true'], { stdio: 'ignore' }).status === 0;
  const tmp = mkdtempSync('/tmp/acme-bench-outer-');
  // The kernel's process trace: its interfaces answer only here, outside the bench's namespace.
  const collector = await startCollector(tmp);
  if ('why' in collector) notes.push(`No per-process CPU: the kernel's process trace is not available here (${collector.why}).`);
  const traceArgs = 'file' in collector ? ['--trace-file', collector.file] : [];
  try {
    if (!canIsolate) {
      notes.push(args.isolate
        ? 'NOT isolated: `unshare --net --mount` failed here; every client was pointed at the local Pebble explicitly, and uacme and lacme, which only trust the system store, could not be run.'
        : 'NOT isolated (--no-isolate): every client was pointed at the local Pebble explicitly; uacme and lacme, which only trust the system store, could not be run.');
      return await inner({ ...args, inNs: false, traceFile: 'file' in collector ? collector.file : null }, notes);
    }
    // A private copy of node for the measuring process: no page of it is shared with the clients' node.
    const nodeCopy = join(tmp, 'node');
    const notesFile = join(tmp, 'notes.json');
    copyFileSync(process.execPath, nodeCopy);
    chmodSync(nodeCopy, 0o755);
    writeFileSync(notesFile, JSON.stringify(notes));
    const child = spawn('unshare', ['--net', '--mount', '--propagation', 'private', '--', nodeCopy, SELF, ...argv,
      '--in-ns', '--node-bin', process.execPath, '--notes-file', notesFile, ...traceArgs], { stdio: 'inherit' });
    // A ^C reaches the inner process too (same process group): let it clean up, then go.
    const ignore = (): void => undefined;
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, ignore);
    const code = await new Promise<number>((resolve) => {
      child.once('error', (e) => { log(`unshare: ${e.message}`); resolve(1); });
      child.once('exit', (c) => resolve(c ?? 1));
    });
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(s, ignore);
    return code;
  } finally {
    if ('stop' in collector) await collector.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Starts the process-trace collector (see bench-trace.ts) on this process and all it will start.
 * It needs root and the initial network namespace; anything else leaves the bench without it.
 */
async function startCollector(dir: string): Promise<{ file: string; stop: () => Promise<void> } | { why: string }> {
  const script = join(dir, 'collector.py');
  const file = join(dir, 'proc-trace.jsonl');
  writeFileSync(script, COLLECTOR_PY);
  writeFileSync(file, '');
  const child = spawn(PYTHON, ['-I', '-S', script, String(process.pid), file], { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 5000);
    child.stdout.setEncoding('utf8').once('data', (d: string) => { clearTimeout(timer); resolve(d.startsWith('ready')); });
    child.once('exit', () => { clearTimeout(timer); resolve(false); });
    child.once('error', () => { clearTimeout(timer); resolve(false); });
  });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  const stop = async (): Promise<void> => {
    child.stdin.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
  };
  if (!ready) {
    await stop();
    return { why: lastLines(err, 1) || 'the collector did not start' };
  }
  return { file, stop };
}
