// The inner process: the lab, the clients, the interleaved rounds of every case.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { dirname, join } from 'node:path';
import { startLab, type Lab } from '../pebble-lab.js';
import { ProcTrace } from '../bench-trace.js';
import { certificateCertId } from '../../src/x509/certid.js';
import { certificateFields } from '../../src/x509/names.js';
import { CASES, type CaseId, NODE_STARTS_NODE, NOOP_FLOOR, NOOP_ARI } from './cases.js';
import { type Args } from './cli.js';
import { CLI, PYTHON, SYSTEM_BUNDLE, PATH_ENV, SLOW_TIMEOUT_S, NAME1, NAMES100, FLOOR, STATE_FILE, log, have, fmtS, fmtMiB } from './common.js';
import { checkCert, serialOf, type AriProxyProcess, startAriProxyProcess, type RelayProcess, startRelayProcess } from './lab.js';
import { WRAPPER_PY, TreeSampler, type Measured, type Ctx, requestCounter, measure } from './measure.js';
import { OURS, SLOW100, type Client, rsaKey, ourEnv, makeClients } from './peers.js';
import { report } from './report.js';
// ---- 7. the inner process: lab, clients, rounds, report --------------------------------------------

export interface Cell { runs: Measured[]; failures: string[]; na?: string; skipped?: string; setupFailed?: boolean; leftovers?: string[]; }

export function cellKey(client: string, c: string): string { return `${client}\u0000${c}`; }

export async function inner(args: Args, notes: string[]): Promise<number> {
  if (args.notesFile) { try { notes.push(...(JSON.parse(readFileSync(args.notesFile, 'utf8')) as string[])); } catch { /* none */ } }
  let isolated = false;
  if (args.inNs) {
    try {
      execFileSync('ip', ['link', 'set', 'lo', 'up'], { stdio: 'pipe' });
      // /proc/net is the namespace's own (/sys/class/net would still show the host's).
      const links = readFileSync('/proc/net/dev', 'utf8').split('\n').slice(2).map((l) => l.split(':')[0]!.trim()).filter((l) => l !== '');
      const routes = readFileSync('/proc/net/route', 'utf8').trim().split('\n').length - 1;
      isolated = links.length === 1 && links[0] === 'lo' && routes === 0;
      notes.push(isolated
        ? 'Isolated: the lab and every client ran in a network namespace of their own whose only interface is `lo` (unshare --net): nothing could leave 127.0.0.1/::1.'
        : `Namespace made, but it has interfaces ${links.join(' ')} and ${routes} IPv4 routes: not counted as isolated.`);
    } catch (e) {
      notes.push(`Could not bring lo up in the namespace (${(e as Error).message}).`);
    }
    if (!isolated) { log(`the namespace is not loopback-only: stopping (${notes[notes.length - 1]})`); return 1; }
  }

  const work = mkdtempSync('/tmp/acme-bench-');
  chmodSync(work, 0o755);
  mkdirSync(join(work, 'logs'));
  const wrapper = join(work, 'wrapper.py');
  writeFileSync(wrapper, WRAPPER_PY);
  // Private copies of the interpreters: the python3 of the wrapper then shares no page with the
  // python peers (certbot, acme-tiny), and the node of the clients none with node processes that
  // happen to run on the machine (the bench's own runs from yet another copy). Otherwise PSS would
  // hand part of the clients' memory to unrelated processes.
  const python = join(work, 'python3');
  copyFileSync(realpathSync(PYTHON), python);
  chmodSync(python, 0o755);
  const nodeBin = join(work, 'node');
  copyFileSync(args.nodeBin, nodeBin);
  chmodSync(nodeBin, 0o755);
  args = { ...args, nodeBin };
  let lab: Lab | undefined;
  let ariStarted: AriProxyProcess | null = null;
  let relay: RelayProcess | null = null;
  let ctx: Ctx | undefined;
  const cleanup = (): void => {
    if (ctx?.currentGroup) { try { process.kill(-ctx.currentGroup, 'SIGKILL'); } catch { /* gone */ } }
    if (!args.keep) rmSync(work, { recursive: true, force: true });
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    log(`${sig}: stopping`);
    cleanup();
    process.exit(130); // pebble-lab's exit hook kills the lab's servers and removes its directory
  };
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onSignal);
  try {
    log('starting the lab (Pebble, pebble-challtestsrv, nginx on 127.0.0.1)');
    lab = await startLab({ authzReuse: 0, nonceReject: 0 });
    if (args.rttMs !== null) {
      relay = await startRelayProcess(lab, args.rttMs);
      // Pebble names every URL after the Host header: a client that starts at the relay stays on it.
      lab = { ...lab, directoryUrl: relay.directoryUrl };
      notes.push(`Every client reached Pebble through scripts/latency-relay.ts (--rtt ${args.rttMs}): each chunk held ${args.rttMs / 2} ms each way, and a new connection's first bytes a round trip more (its TCP handshake), so that each round trip to the CA costs ${args.rttMs} ms. Pebble's validation of the http-01 answers does not go through it. **1st req. ms**: from the client's start to its first connection to the relay.`);
    }
    let ari: AriProxyProcess | null = null;
    if (args.cases.has(NOOP_ARI) && args.clients.includes(OURS)) {
      try { ari = await startAriProxyProcess(lab); } catch (e) { notes.push(`No ARI no-op: the ARI proxy did not start (${(e as Error).message}).`); }
    }
    ariStarted = ari;
    // Everything the bench spawns from here on (openssl, the wrapper) starts at nice 19; the wrapper
    // puts the client back at 0. The servers above were started at 0.
    try { setPriority(19); } catch { notes.push('Could not lower the bench process priority: PSS sampling competes with the clients for CPU.'); }
    if (isolated) {
      const bundle = join(work, 'system-plus-lab.pem');
      writeFileSync(bundle, (have(SYSTEM_BUNDLE) ? readFileSync(SYSTEM_BUNDLE, 'utf8') : '') + '\n' + readFileSync(lab.tlsCaFile, 'utf8'));
      chmodSync(bundle, 0o644);
      if (!have(SYSTEM_BUNDLE)) { mkdirSync(dirname(SYSTEM_BUNDLE), { recursive: true }); writeFileSync(SYSTEM_BUNDLE, ''); }
      execFileSync('mount', ['--bind', bundle, SYSTEM_BUNDLE], { stdio: 'pipe' });
    }
    const webroot = dirname(dirname(lab.challengeDir));
    ctx = {
      args, lab, work, wrapper, python, sampler: new TreeSampler(), webroot, pebbleRoots: await lab.issuerPems(), isolated,
      requests: requestCounter(join(lab.logDir, 'pebble.log')), samplerMs: { total: 0, ticks: 0 }, currentGroup: null, runCounter: 0, cpuCounted: false,
      trace: args.traceFile ? new ProcTrace(args.traceFile) : null, ari, relay,
    };
    return await benchmark(ctx, notes);
  } finally {
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(s, onSignal);
    ctx?.trace?.close();
    await ariStarted?.stop();
    await relay?.stop();
    if (lab) await lab.stop();
    if (isolated) { try { execFileSync('umount', [SYSTEM_BUNDLE], { stdio: 'ignore' }); } catch { /* the namespace goes with us */ } }
    cleanup();
    if (args.keep) log(`work directory kept: ${work}`);
  }
}

async function benchmark(ctx: Ctx, notes: string[]): Promise<number> {
  const { args } = ctx;
  const cells = new Map<string, Cell>();
  const cell = (client: string, c: string): Cell => {
    const k = cellKey(client, c);
    let x = cells.get(k);
    if (!x) cells.set(k, (x = { runs: [], failures: [] }));
    return x;
  };

  // Self-check: CPU of a grandchild (waited for by its parent) is counted.
  const check = await measure(ctx, {
    argv: ['sh', '-c', `"${args.nodeBin}" -e 'for (;;) { const u = process.cpuUsage(); if (u.user + u.system >= 300000) break; }' & wait`],
    env: { PATH: PATH_ENV }, cwd: ctx.work, expect: 0,
  }, 'selfcheck', 30);
  // The grandchild alone used 0.30 s (user+system, as it measured itself); sh and the wrapper add little.
  const cpuCounted = check.ok && check.cpu >= 0.29 && check.cpu < 0.6;
  ctx.cpuCounted = cpuCounted;
  notes.push(cpuCounted
    ? `Self-check: a node that used 0.30 s of CPU as a grandchild of the wrapper was counted as ${check.cpu.toFixed(3)} s CPU: descendants are in the CPU figures.`
    : `Self-check FAILED: a node that used 0.30 s of CPU as a grandchild of the wrapper was counted as ${check.cpu.toFixed(3)} s CPU (${check.problem ?? 'ok'}): CPU figures may miss descendants.`);

  // Clients: set-up (untimed): account, first certificate for b1.
  const clients = makeClients(ctx);
  for (const cl of clients) {
    if (cl.setupError) continue;
    log(`setting up ${cl.label}`);
    try {
      await cl.setup();
      await prepareB1(ctx, cl);
    } catch (e) {
      cl.setupError = `set-up failed: ${(e as Error).message}`;
    }
    if (cl.setupError) log(`${cl.id}: ${cl.setupError}`);
  }
  for (const cl of clients) {
    for (const c of CASES) {
      if (!args.cases.has(c) || (cl.cases && !cl.cases.includes(c))) continue;
      const x = cell(cl.id, c);
      if (cl.setupError) { x.skipped = cl.setupError; x.setupFailed = !cl.setupError.startsWith('not installed'); continue; }
      if (cl.na[c]) { x.na = cl.na[c]; continue; }
      if (c === 'issue100' && SLOW100[cl.id]) {
        if (!args.slow) x.skipped = `skipped (${SLOW100[cl.id]}; --slow runs it once)`;
        else notes.push(`${cl.id}, issue100: run once only, in round 1, with a limit of ${SLOW_TIMEOUT_S} s (--slow; ${SLOW100[cl.id]}).`);
      }
    }
  }

  const active = clients.filter((c) => !c.setupError);
  for (let round = 1; round <= args.rounds; round++) {
    log(`round ${round}/${args.rounds}`);
    for (const c of CASES) {
      if (!args.cases.has(c)) continue;
      // Rotate the order each round.
      const order = active.map((_, i) => active[(i + round - 1) % active.length]!);
      for (const cl of order) {
        if (cl.cases && !cl.cases.includes(c)) continue;
        const x = cell(cl.id, c);
        if (x.na || x.skipped) continue;
        const slow = c === 'issue100' && SLOW100[cl.id] !== undefined;
        if (slow && round > 1) continue; // --slow: once
        await runCase(ctx, cl, c, x, slow ? SLOW_TIMEOUT_S : args.timeoutS, round);
      }
    }
    if (args.cases.has('node')) {
      const x = cell('node -e 0', 'noop');
      const m = await measure(ctx, { argv: [args.nodeBin, '-e', '0'], env: { PATH: PATH_ENV }, cwd: ctx.work, expect: 0 }, 'node-e-0', Math.min(30, args.timeoutS));
      record(x, m);
      // The least any design pays that starts one child before deciding: two Node start-ups in turn.
      const y = cell(NODE_STARTS_NODE, 'noop');
      const n = await measure(ctx, { argv: [args.nodeBin, '-e', `require('node:child_process').spawnSync(process.execPath, ['-e', '0'])`], env: { PATH: PATH_ENV }, cwd: ctx.work, expect: 0 }, 'node-node', Math.min(30, args.timeoutS));
      record(y, n);
      // Our no-op's own command line, parsed by the floor, which then starts one empty confined child.
      const ours = active.find((cl) => cl.id === OURS);
      if (ours && args.cases.has('noop')) {
        const spec = ours.spec('noop');
        const z = cell(NOOP_FLOOR, 'noop');
        record(z, await measure(ctx, { ...spec, argv: spec.argv.map((word) => (word === CLI ? FLOOR : word)), expect: 0, perProcess: false }, 'noop-floor', Math.min(30, args.timeoutS)));
      }
    }
    if (args.cases.has(NOOP_ARI)) {
      for (const cl of active) if (cl.noopAri) await noopAriRun(ctx, cl, cell(cl.id, NOOP_ARI), round, false);
    }
    if (args.cases.has('keygen') && args.clients.includes(OURS)) await keygenRound(ctx, cell, round);
    // Where our time goes: one -vv run of each kind, its requests timed (not in the tables above).
    for (const cl of active) {
      if (!cl.traced) continue;
      for (const c of ['issue1', 'issue100'] as const) {
        if (!args.cases.has(c)) continue;
        await tracedRun(ctx, cl, c, cell(cl.id, `trace-${c}`), round);
      }
      if (args.cases.has(NOOP_ARI) && cl.noopAri) await noopAriRun(ctx, cl, cell(cl.id, `trace-${NOOP_ARI}`), round, true);
    }
  }
  const inProcess: number[] = [];
  if (args.cases.has('keygen') && args.clients.includes(OURS)) {
    // In a node of its own, through the wrapper: at nice 0 like the clients, not at the bench's 19.
    const script = "const { generateKeyPair } = require('node:crypto'); const t = process.hrtime.bigint();"
      + " generateKeyPair('rsa', { modulusLength: 4096 }, (e) => { if (e) throw e; console.log(Number(process.hrtime.bigint() - t) / 1e9); });";
    const out = join(ctx.work, 'keygen-time.txt');
    for (let i = 0; i < args.rounds; i++) {
      const m = await measure(ctx, { argv: [args.nodeBin, '-e', script], env: { PATH: PATH_ENV }, cwd: ctx.work, expect: 0, stdout: out }, `rsa4096-r${i + 1}`, args.timeoutS);
      const v = Number(readFileSync(out, 'utf8').trim());
      if (m.ok && Number.isFinite(v) && v > 0) inProcess.push(v);
      else notes.push(`crypto.generateKeyPair RSA-4096 run ${i + 1} failed: ${m.problem ?? 'no time printed'}`);
    }
  }

  const md = report(ctx, clients, cells, notes, inProcess);
  /** scripts/bench-server.ts's section of the file, between its markers: that bench is not this one's to rewrite. */
  const keptSection = (file: string): string => {
    const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
    const [start, end] = [text.indexOf('<!-- bench-server -->'), text.indexOf('<!-- /bench-server -->')];
    return start >= 0 && end > start ? `\n${text.slice(start, end + '<!-- /bench-server -->'.length)}\n` : '';
  };
  process.stdout.write('\n' + md);
  if (args.out) {
    mkdirSync(dirname(args.out), { recursive: true });
    writeFileSync(args.out, md + keptSection(args.out));
    log(`written to ${args.out}`);
  } else {
    log('a subset was run: not written to bench/RESULTS.md (--out FILE to write it somewhere)');
  }
  return 0;
}

function record(x: Cell, m: Measured): void {
  if (m.ok) x.runs.push(m);
  else x.failures.push(m.problem ?? 'failed');
  if (m.leftover) x.leftovers = [...new Set([...(x.leftovers ?? []), ...m.leftover])];
}

/** Makes sure b1's certificate is there and valid (untimed): the no-op and the revocation need one. */
async function prepareB1(ctx: Ctx, cl: Client): Promise<void> {
  if (cl.b1Valid) return;
  if (cl.na.issue1) return;
  cl.beforeIssue?.('issue1');
  const since = Date.now();
  const m = await measure(ctx, cl.spec('issue1'), `${cl.id}-prepare`, Math.max(ctx.args.timeoutS, 120));
  const problem = m.ok ? checkCert(cl.certFile('issue1'), [NAME1], since) : m.problem;
  if (problem) throw new Error(`could not get a certificate for ${NAME1}: ${problem}`);
  cl.b1Valid = true;
}

async function runCase(ctx: Ctx, cl: Client, c: CaseId, x: Cell, timeoutS: number, round: number): Promise<void> {
  const label = `${cl.id}-${c}-r${round}`;
  try {
    if (c === 'noop' || c === 'revoke') await prepareB1(ctx, cl);
  } catch (e) {
    x.failures.push(`untimed preparation: ${(e as Error).message}`);
    return;
  }
  let serial: string | undefined;
  if (c === 'revoke') {
    serial = serialOf(cl.certFile('issue1'));
    cl.b1Valid = false;
  }
  if (c === 'issue1' || c === 'issue100') {
    cl.beforeIssue?.(c);
    if (c === 'issue1') cl.b1Valid = false;
  }
  const since = Date.now();
  const m = await measure(ctx, cl.spec(c), label, timeoutS);
  if (m.ok && (c === 'issue1' || c === 'issue100')) {
    const problem = checkCert(cl.certFile(c), c === 'issue1' ? [NAME1] : NAMES100, since);
    if (problem) { m.ok = false; m.problem = problem; } else if (c === 'issue1') cl.b1Valid = true;
  }
  if (m.ok && c === 'revoke' && serial) {
    try {
      const st = (await ctx.lab.certStatus(serial)) as { Status?: string };
      if (st.Status !== 'Revoked') { m.ok = false; m.problem = `exit ${m.exit}, but the CA says the certificate is ${st.Status ?? 'unknown'}`; }
    } catch (e) { m.ok = false; m.problem = `CA status of serial ${serial}: ${(e as Error).message}`; }
  }
  if (m.ok && c === 'noop' && m.requests > 0 && cl.id === OURS) { m.ok = false; m.problem = `the no-op made ${m.requests} requests to the CA`; }
  record(x, m);
  log(`  ${label}: ${m.ok ? `${fmtS(m.wall)} s wall, ${fmtS(m.cpu)} s CPU, ${m.pssKiB === null ? '-' : fmtMiB(m.pssKiB)} MiB PSS, ${m.requests} requests` : `FAILED: ${m.problem}`}`);
}

/** A -vv issuance of ours, for the time of each request; its cell is reported apart. */
async function tracedRun(ctx: Ctx, cl: Client, c: 'issue1' | 'issue100', x: Cell, round: number): Promise<void> {
  cl.beforeIssue?.(c);
  if (c === 'issue1') cl.b1Valid = false;
  const since = Date.now();
  const m = await measure(ctx, cl.traced!(c), `${cl.id}-${c}-vv-r${round}`, ctx.args.timeoutS);
  if (m.ok) {
    const problem = checkCert(cl.certFile(c), c === 'issue1' ? [NAME1] : NAMES100, since);
    if (problem) { m.ok = false; m.problem = problem; } else if (c === 'issue1') cl.b1Valid = true;
  }
  record(x, m);
  log(`  ${cl.id}-${c} -vv r${round}: ${m.ok ? `${m.reqTrace?.requests.length ?? 0} requests timed, ${fmtS(m.wall)} s wall` : `FAILED: ${m.problem}`}`);
}

/**
 * Untimed, once: b1's certificate through the ARI proxy, which Pebble signs and the proxy says has
 * renewal information. Then the window renewalInfo answers: Let's Encrypt's, two thirds into the
 * lifetime and 2/90 of it wide, so not yet open, and not so early that the client would warn.
 */
async function prepareAri(ctx: Ctx, cl: Client): Promise<string> {
  const ari = cl.noopAri!;
  if (ari.certId !== null) return ari.certId;
  const since = Date.now();
  const m = await measure(ctx, ari.issue, `${cl.id}-${NOOP_ARI}-prepare`, Math.max(ctx.args.timeoutS, 120));
  const certFile = join(ari.certs, 'cert.pem');
  const problem = m.ok ? checkCert(certFile, [NAME1], since) : m.problem;
  if (problem) throw new Error(`could not get a certificate for ${NAME1} through the ARI proxy: ${problem}`);
  const state = readState(ari.certs);
  if (state.renewalInfo !== true || state.directoryUrl !== ctx.ari!.directoryUrl) {
    throw new Error(`${STATE_FILE} does not say that ${ctx.ari!.directoryUrl} offers renewal information: ${JSON.stringify(state)}`);
  }
  const cert = new X509Certificate(readFileSync(certFile));
  const certId = certificateCertId(certificateFields(cert.raw));
  if (certId === null) throw new Error(`${certFile} has no Authority Key Identifier: no CertID to ask for`);
  const notBefore = Date.parse(cert.validFrom);
  const lifetime = Date.parse(cert.validTo) - notBefore;
  const start = notBefore + (2 * lifetime) / 3;
  if (!(start > Date.now() + 86_400_000)) throw new Error(`${certFile} lives ${lifetime / 1000} s: too short for a window that is not yet open`);
  await ctx.ari!.setWindow(start, start + lifetime / 45);
  ari.certId = certId;
  return certId;
}

function readState(certs: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(certs, STATE_FILE), 'utf8')) as Record<string, unknown>;
}

/**
 * The no-op when the CA's window decides: the state file's askAfter (the CA's Retry-After) is put
 * a minute in the past, as on the first night after it, so certproc says "ask"; the run must exit 2
 * after exactly the two unauthenticated GETs, and leave the CA's answer in the state file.
 */
async function noopAriRun(ctx: Ctx, cl: Client, x: Cell, round: number, vv: boolean): Promise<void> {
  const ari = cl.noopAri!;
  const label = `${cl.id}-${NOOP_ARI}${vv ? '-vv' : ''}-r${round}`;
  let certId: string;
  try {
    certId = await prepareAri(ctx, cl);
    const state = readState(ari.certs);
    writeFileSync(join(ari.certs, STATE_FILE), `${JSON.stringify({ ...state, askAfter: new Date(Date.now() - 60_000).toISOString() }, null, 2)}\n`);
    await ctx.ari!.requests(); // the set-up's, not this run's
  } catch (e) {
    x.failures.push(`untimed preparation: ${(e as Error).message}`);
    log(`  ${label}: FAILED: untimed preparation: ${(e as Error).message}`);
    return;
  }
  const m = await measure(ctx, ari.run(vv), label, ctx.args.timeoutS);
  const asked = await ctx.ari!.requests();
  // What the CA was asked, as the proxy saw it (Pebble itself sees only the directory GET).
  m.requests = asked.length;
  const wanted = ['GET /dir', `GET /renewal-info/${certId}`];
  if (m.ok && asked.join('\n') !== wanted.join('\n')) {
    m.ok = false;
    m.problem = `the CA was asked ${asked.length === 0 ? 'nothing' : asked.join(', ')}, not exactly ${wanted.join(', ')}`;
  }
  if (m.ok) {
    let askAfter: string;
    try { askAfter = String(readState(ari.certs).askAfter); } catch (e) { askAfter = `unreadable (${(e as Error).message})`; }
    if (!(Date.parse(askAfter) > Date.now())) { m.ok = false; m.problem = `the CA's answer was not kept: ${STATE_FILE} has askAfter ${askAfter}`; }
  }
  record(x, m);
  log(`  ${label}: ${m.ok ? `${fmtS(m.wall)} s wall, ${fmtS(m.cpu)} s CPU, ${m.pssKiB === null ? '-' : fmtMiB(m.pssKiB)} MiB PSS, ${m.requests} requests` : `FAILED: ${m.problem}`}`);
}

/**
 * Our client's first run with RSA-4096 keys to make (-n -N; the default is EC P-256 since
 * --key-type) and the same with ready-made RSA-4096 keys.
 */
async function keygenRound(ctx: Ctx, cell: (client: string, c: string) => Cell, round: number): Promise<void> {
  const url = ctx.lab.directoryUrl;
  const env = ourEnv(ctx);
  for (const made of [false, true]) {
    const d = mkdtempSync(join(ctx.work, `keygen-${made ? 'premade' : 'fresh'}-`));
    const certs = join(d, 'certs'); const priv = join(d, 'private'); const acme = join(d, 'acme');
    mkdirSync(certs, { mode: 0o755 }); mkdirSync(priv, { mode: 0o700 }); mkdirSync(acme, { mode: 0o700 });
    const acct = join(acme, 'account.key'); const key = join(priv, 'domain.key');
    if (made) { rsaKey(acct, 4096); rsaKey(key, 4096); }
    const x = cell(OURS, made ? 'keygen-premade' : 'keygen-fresh');
    const m = await measure(ctx, {
      argv: [ctx.args.nodeBin, CLI, ...(made ? [] : ['-n', '-N', '--account-key-type', 'rsa4096', '--key-type', 'rsa4096']), '--server', url, '-C', ctx.lab.challengeDir, '-c', certs, '-f', acct, '-k', key, NAME1],
      env, cwd: d, expect: 0,
    }, `keygen-${made ? 'premade' : 'fresh'}-r${round}`, ctx.args.timeoutS);
    record(x, m);
    log(`  keygen ${made ? 'pre-made keys' : '-n -N'} r${round}: ${m.ok ? `${fmtS(m.wall)} s wall, ${fmtS(m.cpu)} s CPU` : `FAILED: ${m.problem}`}`);
    rmSync(d, { recursive: true, force: true });
  }
}
