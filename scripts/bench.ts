// `npm run bench`: acme-client side by side with the peer ACME clients that Debian packages (uacme,
// lego, certbot, dehydrated, acme-tiny, lacme) and the npm `acme-client` library (node-acme-client,
// driven by scripts/bench-node-peer.cts), all against one throwaway local Pebble, in one run.
// Our client runs twice over: with an EC P-256 account key (acme-client, the coming default, the
// row every ratio divides) and with an RSA-4096 one (acme-client-rsa: each signature costs more).
//
//   npm run bench [-- --rounds N] [--only CLIENT | --clients a,b] [--cases issue1,noop,...]
//                    [--timeout S] [--slow] [--out FILE] [--keep] [--no-setup] [--no-isolate] [--rtt MS]
//
// Cases: issue1 (a new certificate for b1.example.test, forced), issue100 (one certificate for
// n1..n100.bench.example.test, forced), noop (the nightly run: the certificate is valid, nothing to
// do), revoke (revoke b1's certificate), node (`node -e 0`, the floor of any Node.js program, `node`
// running `node -e 0`, and the floor of our no-op, scripts/noop-floor.ts; run with noop), keygen (what RSA-4096 key generation costs our client), noop-ari (ours only: the
// nightly run when the CA's renewal window decides, ARI being our default; it asks the CA's
// renewalInfo through scripts/ariproxy.ts, which Debian's Pebble lacks). Every case runs N rounds
// (default 5), the clients interleaved and their order rotated each round, so that drift of a
// shared machine hits them all alike; each cell is the median and the range (min-max). lego and
// dehydrated take minutes on 100 names: their issue100 is skipped unless --slow, which runs it once.
//
// How:
//  1. Set-up, on the host: as root, `apt-get update` and `apt-get install` of each selected peer
//     whose command is missing (a package that fails is skipped with a note).
//  2. The measuring process re-runs itself in a new network and mount namespace (unshare -n -m)
//     with only `lo` up, so neither the lab nor any client can reach anything but 127.0.0.1/::1.
//     It runs from a private copy of the node binary, and the clients get another (the wrapper a
//     copy of python3), so that the clients' processes share no page with the bench, the wrapper
//     or unrelated node processes (PSS would otherwise hand those part of the clients' memory).
//     Without unshare the bench runs unisolated, every client pointed at the local Pebble
//     explicitly (uacme and lacme then cannot run: they only trust the system store).
//  3. startLab() (Pebble, pebble-challtestsrv, nginx on loopback, authorization reuse off, no
//     validation sleep, no injected badNonce). Inside the namespace only, the system CA bundle is
//     bind-mounted over by system + the lab's TLS CA, for the clients that have no other way to
//     trust a CA (uacme: libcurl-gnutls ignores every variable; lacme: clears its environment).
//  4. Each client gets its own directory, account (registered untimed) and, untimed, a first
//     certificate for b1.example.test. Our client gets EC P-256 domain keys and its account key
//     (EC P-256, or RSA-4096 for acme-client-rsa) made with openssl beforehand, so no key
//     generation is timed in the issuance cases; so does the node library.
//  5. Every timed run goes through a small python3 wrapper (written into the work dir) that
//     becomes a child subreaper, posix_spawn()s the client, times wall clock around it and, after
//     reaping every descendant, reports getrusage(RUSAGE_CHILDREN): user+sys CPU of the whole
//     process tree (microsecond resolution, unlike /usr/bin/time's 10 ms) and the largest
//     single-process RSS. Meanwhile this process sums the PSS (/proc/PID/smaps_rollup) of every
//     process under the wrapper every ~10 ms and keeps the largest sum. It does so at nice 19
//     (the wrapper puts the client back to nice 0), so sampling barely takes CPU from the client.
//     Each run has a time limit (default 120 s); whatever is left is killed.
//
//  6. Where our time goes (bench-trace.ts): a python3 collector, started by the outer process
//     (the kernel answers it only outside the namespace), records the fork, exec and exit of every
//     process the bench starts and the CPU of every thread as it ends; each timed run of ours is
//     split into the parent, its six children and their helpers. Each round also runs our 1- and
//     100-name issuances and the ARI no-op once more with -vv, the wrapper stamping each stderr
//     line, to time every ACME request. Neither is in the tables' figures; both get a section of
//     their own.
//  7. The ARI no-op (noop-ari): scripts/ariproxy.ts in front of the lab's Pebble, in a node process
//     of its own at nice 0 (scripts/bench-ariproxy.ts), adds renewalInfo to the directory and
//     answers it with a window not yet open. Our client gets a certificate through it (untimed);
//     before each timed run the state file's askAfter is put in the past, as on the first night
//     after the CA's Retry-After, so that certproc says "ask". A run counts only if it exits 2
//     after exactly GET /dir and GET /renewal-info/<CertID>, and fileproc kept the answer.
//  8. --rtt MS: a CA across the internet. scripts/latency-relay.ts, in a node process of its own at
//     nice 0, relays TCP to Pebble holding each chunk MS/2 each way (and a new connection's first
//     bytes one round trip more, for its handshake); every client is given its directory URL, and
//     Pebble names every other URL after the Host header, so each client stays on it. The relay
//     notes when it accepts each connection: a run's first is when its first request left, timed
//     from the wrapper's start of the client (both CLOCK_MONOTONIC).
//
// The tables go to stdout and, for a run of every client and case, to bench/RESULTS.md (--out to
// choose; a subset run writes only where --out says). A summary comes first: each job, our two
// account key types, the fastest peer and our ratio to it, next to issue 15's goals.
//
// Only node built-ins (and Debian's python3 for the wrapper, unshare, ip, mount, openssl), and
// the devDependency node-acme-client for that peer.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import {
  chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync,
  realpathSync, rmSync, statSync, writeFileSync, fstatSync,
} from 'node:fs';
import { cpus, release, setPriority, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline';
import { startLab, type Lab } from './pebble-lab.js';
import { COLLECTOR_PY, NOOP_STRETCHES, ProcTrace, parseRequests, renderBreakdown, splitRun, type ProcRun, type RequestRun, type Stretches, type Variant } from './bench-trace.js';
import { certificateCertId } from '../src/x509/certid.js';
import { certificateFields } from '../src/x509/names.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..'); // build/scripts/bench.js -> repo root
const SELF = fileURLToPath(import.meta.url);
const CLI = join(ROOT, 'dist', 'acme-client.js');
const PYTHON = '/usr/bin/python3';
const SYSTEM_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
const UACME_HOOK = '/usr/share/uacme/uacme.sh';
const PATH_ENV = '/usr/sbin:/usr/bin:/sbin:/bin';
const EMAIL = 'bench@example.test';
const SLOW_TIMEOUT_S = 900;

const NAME1 = 'b1.example.test';
const NAMES100 = Array.from({ length: 100 }, (_, i) => `n${i + 1}.bench.example.test`);

const CASES = ['issue1', 'issue100', 'noop', 'revoke'] as const;
type CaseId = (typeof CASES)[number];
const EXTRAS = ['node', 'keygen', 'noop-ari'] as const;
const NODE_STARTS_NODE = 'node starting node -e 0';
/** The least our design's no-op costs (scripts/noop-floor.ts): a reference row beside the no-op. */
const NOOP_FLOOR = 'no-op floor of this design';
const FLOOR = join(ROOT, 'build', 'floor', 'noop-floor.js');
/** Our no-op when the CA's renewal window decides (ARI, the default): a row beside the no-op decided locally. */
const NOOP_ARI = 'noop-ari';
const ARI_PROXY = join(ROOT, 'build', 'scripts', 'bench-ariproxy.js');
const RELAY = join(ROOT, 'build', 'scripts', 'latency-relay.js');
/** Where our client keeps the CA's renewal answer, beside the certificate (src/defaults.ts). */
const STATE_FILE = 'acme-client-state.json';
const ALL_CASES: readonly string[] = [...CASES, ...EXTRAS];
const CASE_TITLE: Record<CaseId, string> = {
  issue1: `(a) Issuance, 1 name (${NAME1}), forced`,
  issue100: '(b) Issuance, 100 names in one certificate (n1..n100.bench.example.test), forced',
  noop: '(c) Nightly no-op: the certificate is valid, nothing to do',
  revoke: `(d) Revocation of ${NAME1}'s certificate`,
};

const CLIENT_IDS = ['acme-client', 'acme-client-rsa', 'node-acme-client', 'uacme', 'lego', 'certbot', 'dehydrated', 'acme-tiny', 'lacme'] as const;
type ClientId = (typeof CLIENT_IDS)[number];
/** Our client with an EC P-256 account key (the coming default): the row the ratios divide. */
const OURS = 'acme-client' as const;
/** Our client with an RSA-4096 account key: every request it signs costs an RSA signature. */
const OURS_RSA = 'acme-client-rsa' as const;
const isOurs = (id: string): boolean => id === OURS || id === OURS_RSA;
/** The npm acme-client library, installed as the devDependency node-acme-client (an npm alias). */
const NODE_PEER = 'node-acme-client' as const;
const NODE_PEER_DIR = join(ROOT, 'node_modules', 'node-acme-client');
const NODE_PEER_DRIVER = join(ROOT, 'build', 'scripts', 'bench-node-peer.cjs');
type DebianPeer = Exclude<ClientId, typeof OURS | typeof OURS_RSA | typeof NODE_PEER>;
/** Debian packages of each peer (installed without their Recommends), each with a file it brings. */
const PACKAGE: Record<DebianPeer, { pkg: string; bin?: string }[]> = {
  uacme: [{ pkg: 'uacme', bin: '/usr/bin/uacme' }],
  lego: [{ pkg: 'lego', bin: '/usr/bin/lego' }],
  certbot: [{ pkg: 'certbot', bin: '/usr/bin/certbot' }],
  dehydrated: [{ pkg: 'dehydrated', bin: '/usr/bin/dehydrated' }],
  'acme-tiny': [{ pkg: 'acme-tiny', bin: '/usr/bin/acme-tiny' }],
  // lacme only recommends what it cannot work without: its account-key daemon (which only
  // recommends its RSA module) and LWP's https.
  lacme: [{ pkg: 'lacme', bin: '/usr/sbin/lacme' }, { pkg: 'lacme-accountd', bin: '/usr/bin/lacme-accountd' },
    { pkg: 'libcrypt-openssl-rsa-perl' }, { pkg: 'liblwp-protocol-https-perl' }],
};
/** Why a peer has no ARI no-op, as checked on this machine's versions (its options, and renewalInfo in its program). */
const NO_ARI: Record<Exclude<ClientId, typeof OURS | typeof OURS_RSA>, string> = {
  'node-acme-client': 'renewalInfo appears nowhere in the library',
  uacme: 'renewalInfo appears nowhere in the program',
  lego: '`lego renew --help` offers no ARI option: this version predates lego\'s ARI support',
  certbot: 'ARI came in certbot 4.1.0',
  dehydrated: 'renewalInfo appears nowhere in the script',
  'acme-tiny': 'no renewal logic at all',
  lacme: 'renewalInfo appears nowhere in the program',
};
/** Peers that take minutes on 100 names (one authorization after another, with back-off). */
const SLOW100: Partial<Record<ClientId, string>> = {
  lego: 'lego waits 5 s per authorization when the CA sends no Retry-After: about 390 s for 100 names',
  dehydrated: 'dehydrated validates one name after another in bash: about 140 s for 100 names',
};

// ---- command line ------------------------------------------------------------------------------

interface Args {
  rounds: number;
  clients: ClientId[];
  cases: Set<string>;
  timeoutS: number;
  slow: boolean;
  out: string | null;
  keep: boolean;
  setup: boolean;
  isolate: boolean;
  sampleMs: number;
  inNs: boolean;
  nodeBin: string;
  notesFile: string | null;
  traceFile: string | null;
  full: boolean;
  /** --rtt: the round trip of the delaying relay in front of Pebble, ms; null: no relay. */
  rttMs: number | null;
}

const USAGE = `usage: npm run bench -- [--rounds N] [--only CLIENT | --clients a,b] [--cases ${ALL_CASES.join(',')}]
                        [--timeout S] [--slow] [--out FILE] [--keep] [--no-setup] [--no-isolate] [--sample-ms MS] [--rtt MS]
clients: ${CLIENT_IDS.join(', ')}
--slow     also run the 100-name case, once, for the peers that take minutes on it (${Object.keys(SLOW100).join(', ')})
--out      where the Markdown goes (default bench/RESULTS.md, but only when every client and case ran)
--keep     keep the work directory (client dirs, logs of every run)
--sample-ms  PSS sampling interval (default 10; 0: no sampling, to see what sampling costs the timings)
--rtt      every client talks to Pebble through a relay that makes each round trip MS long
           (scripts/latency-relay.ts; 0: the relay without delay), and each run's first request is timed`;

/** The options, as node:util's parseArgs takes them; the internal ones are passed by the outer process to the inner. */
const OPTIONS = {
  rounds: { type: 'string' }, only: { type: 'string' }, clients: { type: 'string' }, cases: { type: 'string' },
  timeout: { type: 'string' }, slow: { type: 'boolean' }, out: { type: 'string' }, keep: { type: 'boolean' },
  'no-setup': { type: 'boolean' }, 'no-isolate': { type: 'boolean' }, 'sample-ms': { type: 'string' }, rtt: { type: 'string' }, help: { type: 'boolean', short: 'h' },
  'in-ns': { type: 'boolean' }, 'node-bin': { type: 'string' }, 'notes-file': { type: 'string' }, 'trace-file': { type: 'string' },
} as const;

/** Throws an Error whose message is the problem (the caller prints it with the usage). */
function readArgs(argv: string[]): Args {
  const { values: v } = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false });
  if (v.help) { process.stdout.write(USAGE + '\n'); process.exit(0); }
  const list = (s: string): string[] => s.split(',').map((x) => x.trim()).filter((x) => x !== '');
  const a: Args = {
    rounds: 5, clients: [...CLIENT_IDS], cases: new Set(ALL_CASES), timeoutS: 120, slow: v.slow === true, out: v.out ?? null,
    keep: v.keep === true, setup: v['no-setup'] !== true, isolate: v['no-isolate'] !== true, sampleMs: 10, inNs: v['in-ns'] === true,
    nodeBin: v['node-bin'] ?? process.execPath, notesFile: v['notes-file'] ?? null, traceFile: v['trace-file'] ?? null, full: true,
    rttMs: v.rtt === undefined ? null : Number(v.rtt),
  };
  // --only and --clients are one option under two names; given both, the clients of both run.
  const wantedClients = [v.only, v.clients].filter((x): x is string => x !== undefined).flatMap(list);
  if (v.only !== undefined || v.clients !== undefined) {
    for (const c of wantedClients) if (!(CLIENT_IDS as readonly string[]).includes(c)) throw new Error(`unknown client ${c} (${CLIENT_IDS.join(', ')})`);
    a.clients = CLIENT_IDS.filter((c) => wantedClients.includes(c));
    a.full = false;
  }
  if (v.cases !== undefined) {
    const wanted = list(v.cases);
    for (const c of wanted) if (!ALL_CASES.includes(c)) throw new Error(`unknown case ${c} (${ALL_CASES.join(', ')})`);
    a.cases = new Set(wanted);
    if (a.cases.has('noop') || a.cases.has(NOOP_ARI)) a.cases.add('node');
    if (ALL_CASES.some((c) => !a.cases.has(c))) a.full = false;
  }
  if (v.rounds !== undefined) a.rounds = Number(v.rounds);
  if (v.timeout !== undefined) a.timeoutS = Number(v.timeout);
  if (v['sample-ms'] !== undefined) a.sampleMs = Number(v['sample-ms']);
  if (!Number.isInteger(a.rounds) || a.rounds < 1 || a.rounds > 100) throw new Error('--rounds must be an integer 1..100');
  if (!(a.timeoutS > 0)) throw new Error('--timeout must be a positive number of seconds');
  if (!(a.sampleMs >= 0)) throw new Error('--sample-ms must be a number of milliseconds (0: no PSS sampling)');
  if (a.rttMs !== null && !(Number.isInteger(a.rttMs) && a.rttMs >= 0 && a.rttMs <= 10_000)) throw new Error('--rtt must be a whole number of milliseconds 0..10000');
  if (v.out === undefined) a.out = a.full ? join(ROOT, 'bench', 'RESULTS.md') : null;
  return a;
}

// ---- small helpers -----------------------------------------------------------------------------

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const log = (s: string): void => { process.stderr.write(`bench: ${s}\n`); };

function have(path: string): boolean {
  return existsSync(path);
}

/** A peer's package is there: its file if it names one, else dpkg's word. */
function installed(p: { pkg: string; bin?: string }): boolean {
  if (p.bin !== undefined) return have(p.bin);
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', p.pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() === 'install ok installed';
}

function lastLines(text: string, n = 3, max = 300): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const s = lines.slice(-n).join(' | ');
  return s.length > max ? '…' + s.slice(-max) : s;
}

function fileTail(path: string, n = 3): string {
  try { return lastLines(readFileSync(path, 'utf8'), n); } catch { return '(no output)'; }
}

/** An untimed helper command (set-up, key making): throws with its output tail unless it exits with `expect`. */
function runSync(argv: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutS?: number; stdout?: string; expect?: number; log?: string } = {}): void {
  const out = opts.stdout ? openSync(opts.stdout, 'w') : 'pipe';
  try {
    const r = spawnSync(argv[0]!, argv.slice(1), {
      cwd: opts.cwd, env: opts.env ?? { PATH: PATH_ENV }, timeout: (opts.timeoutS ?? 120) * 1000, killSignal: 'SIGKILL',
      stdio: ['ignore', out, 'pipe'], encoding: 'utf8', maxBuffer: 64 * 1024 * 1024,
    });
    const text = `${r.stdout ?? ''}${r.stderr ?? ''}`;
    if (opts.log) writeFileSync(opts.log, `$ ${argv.join(' ')}\n${text}\n`, { flag: 'a' });
    if (r.error) throw new Error(`${argv[0]}: ${r.error.message}`);
    const want = opts.expect ?? 0;
    if (r.status !== want) throw new Error(`${argv.slice(0, 3).join(' ')}… exit ${r.status ?? r.signal} (wanted ${want}): ${lastLines(text)}`);
  } finally {
    if (typeof out === 'number') closeSync(out);
  }
}

function debVersion(pkg: string): string | null {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Version}', pkg], { encoding: 'utf8' });
  if (r.status !== 0 || !r.stdout) return null;
  return r.stdout.trim().replace(/^\d+:/, '').replace(/[-+~](deb|ds|b\d|\d+$).*$/, '').replace(/-\d+$/, '');
}

function median(v: number[]): number {
  const s = [...v].sort((x, y) => x - y);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function fmtS(x: number): string {
  return x < 1 ? x.toFixed(3) : x < 100 ? x.toFixed(2) : x.toFixed(0);
}

function fmtMiB(kib: number): string {
  return (kib / 1024).toFixed(1);
}

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

async function outer(args: Args, argv: string[]): Promise<number> {
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

// ---- 3. the timing wrapper --------------------------------------------------------------------

// Runs as: python3 -I -S wrapper.py LIMIT_S STAMP_FILE|- -- ARGV...; reports one JSON line on fd 3.
// With a STAMP_FILE, the client's stderr comes through a pipe and each line goes to that file as
// "<CLOCK_MONOTONIC ns> <line>", stamped as it arrives (the per-request times of a -vv run).
const WRAPPER_PY = String.raw`import os, sys, time, json, signal, ctypes, resource, select, threading, fcntl
OUT = 3
os.set_inheritable(OUT, False)
def say(o):
    os.write(OUT, (json.dumps(o) + "\n").encode())
limit = float(sys.argv[1])
stamp = sys.argv[2]
argv = sys.argv[4:]
try:
    os.setpriority(os.PRIO_PROCESS, 0, 0)   # the bench samples at nice 19; the client runs at 0
except OSError:
    pass
libc = ctypes.CDLL(None, use_errno=True)
subreaper = libc.prctl(36, 1, 0, 0, 0) == 0   # PR_SET_CHILD_SUBREAPER: orphans come back to us
me = os.getpid()
def tree():
    kids = {}
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        try:
            with open("/proc/" + e + "/stat", "rb") as f:
                s = f.read()
            ppid = int(s[s.rindex(b")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(e))
    found, todo = [], [me]
    while todo:
        for c in kids.get(todo.pop(), ()):
            found.append(c)
            todo.append(c)
    return found
def kill_tree():
    for p in tree():
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass
def reap():
    try:
        while os.waitpid(-1, os.WNOHANG)[0] != 0:
            pass
    except ChildProcessError:
        pass
def comm(p):
    try:
        with open("/proc/%d/comm" % p) as f:
            return f.read().strip()
    except OSError:
        return "?"
timed_out = False
def on_alarm(signum, frame):
    global timed_out
    timed_out = True
    kill_tree()
def on_term(signum, frame):
    kill_tree()
    os._exit(128 + signum)
signal.signal(signal.SIGALRM, on_alarm)
signal.signal(signal.SIGTERM, on_term)
signal.signal(signal.SIGHUP, on_term)
signal.signal(signal.SIGINT, on_term)
env = dict(os.environ)
actions = []
if stamp != "-":
    rfd, wfd = os.pipe()                 # both close-on-exec; the client gets wfd as its fd 2
    actions = [(os.POSIX_SPAWN_DUP2, wfd, 2)]
    try:
        # Room for the longest -vv line (an order of 100 names): a write the pipe takes whole is
        # not split by another process's line.
        fcntl.fcntl(wfd, 1031, 1 << 20)  # F_SETPIPE_SZ
    except OSError:
        pass
t0ns = time.monotonic_ns()
t0 = time.monotonic()
try:
    pid = os.posix_spawnp(argv[0], argv, env, setsigdef=(signal.SIGPIPE, signal.SIGXFSZ), file_actions=actions)
except OSError as e:
    say({"error": "cannot run %s: %s" % (argv[0], e.strerror)})
    sys.exit(0)
signal.setitimer(signal.ITIMER_REAL, limit)
if stamp == "-":
    _, status, ru = os.wait4(pid, 0)
    t1 = time.monotonic()
else:
    os.close(wfd)
    try:
        # The client keeps the nice 0 it started with; the reader wakes first, so that a line's
        # stamp is when it was written, not when a loaded machine got round to reading it.
        os.setpriority(os.PRIO_PROCESS, 0, -10)
    except OSError:
        pass
    ended = []
    def waiter():
        r = os.wait4(pid, 0)
        ended.append((r, time.monotonic()))
    th = threading.Thread(target=waiter, daemon=True)
    th.start()
    with open(stamp, "wb") as f:
        rest = b""
        while True:
            # Until every holder of the pipe has closed it, or 2 s after the client ended.
            if ended and time.monotonic() > ended[0][1] + 2.0:
                break
            if not select.select([rfd], [], [], 0.1)[0]:
                continue
            chunk = os.read(rfd, 1 << 16)
            now = time.monotonic_ns()
            if not chunk:
                break
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            for line in lines:
                f.write(b"%d %s\n" % (now, line))
        if rest:
            f.write(b"%d %s\n" % (time.monotonic_ns(), rest))
    th.join()
    (_, status, ru), t1 = ended[0]
signal.setitimer(signal.ITIMER_REAL, 0)
leftover = []
deadline = t1 + 2.0
killed = False
while True:
    reap()
    rest = tree()
    if not rest:
        break
    if time.monotonic() > deadline:
        if killed:
            break
        leftover = sorted(set(comm(p) for p in rest))
        kill_tree()
        killed = True
        deadline = time.monotonic() + 2.0
    time.sleep(0.01)
total = resource.getrusage(resource.RUSAGE_CHILDREN)
say({"wall": t1 - t0, "t0ns": t0ns, "exit": os.waitstatus_to_exitcode(status), "cpu": total.ru_utime + total.ru_stime,
     "user": total.ru_utime, "sys": total.ru_stime, "mainCpu": ru.ru_utime + ru.ru_stime,
     "maxRssKiB": total.ru_maxrss, "timedOut": timed_out, "leftover": leftover, "subreaper": subreaper})
`;

// ---- 4. PSS sampling of a process tree ----------------------------------------------------------

class TreeSampler {
  private readonly ppid = new Map<number, number>();
  /** Sum of Pss (KiB) over every process under `root` (root itself excluded), or null if there is none. */
  sum(root: number): number | null {
    let names: string[];
    try { names = readdirSync('/proc'); } catch { return null; }
    const live = new Set<number>();
    for (const n of names) {
      const c = n.charCodeAt(0);
      if (c >= 48 && c <= 57) live.add(Number(n));
    }
    for (const pid of this.ppid.keys()) if (!live.has(pid)) this.ppid.delete(pid);
    const kids = new Map<number, number[]>();
    for (const pid of live) {
      let parent = this.ppid.get(pid);
      // New, or its parent is gone (re-parented to a subreaper since): read its stat again.
      if (parent === undefined || (parent > 1 && !live.has(parent))) {
        parent = statPpid(pid);
        if (parent === undefined) continue;
        this.ppid.set(pid, parent);
      }
      let list = kids.get(parent);
      if (!list) kids.set(parent, (list = []));
      list.push(pid);
    }
    let total = 0;
    let any = false;
    const todo = [...(kids.get(root) ?? [])];
    while (todo.length > 0) {
      const pid = todo.pop()!;
      for (const k of kids.get(pid) ?? []) todo.push(k);
      const pss = readPss(pid);
      if (pss !== undefined) { total += pss; any = true; }
    }
    return any ? total : null;
  }
}

function statPpid(pid: number): number | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return Number(f[1]);
  } catch { return undefined; }
}

const PSS_BUF = Buffer.alloc(4096);
function readPss(pid: number): number | undefined {
  let fd: number;
  try { fd = openSync(`/proc/${pid}/smaps_rollup`, 'r'); } catch { return undefined; }
  try {
    const n = readSync(fd, PSS_BUF, 0, PSS_BUF.length, null);
    const m = /\nPss:\s+(\d+) kB/.exec(PSS_BUF.toString('latin1', 0, n));
    return m ? Number(m[1]) : undefined;
  } catch { return undefined; } finally { closeSync(fd); }
}

// ---- 5. one measured run -------------------------------------------------------------------------

interface RunSpec {
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  /** Exit status that means success. */
  expect: number;
  /** Where the client's stdout goes (acme-tiny prints the certificate); default: the run's log. */
  stdout?: string;
  /** Our client's runs: split its CPU by process (when the kernel's process trace is there). */
  perProcess?: boolean;
  /** A -vv run of ours: stamp its stderr lines, to time each ACME request. */
  perRequest?: boolean;
}

interface Measured {
  ok: boolean;
  problem?: string;
  exit: number | null;
  wall: number;
  cpu: number;
  pssKiB: number | null;
  maxRssKiB: number;
  samples: number;
  requests: number;
  /** With --rtt: from the client's start to its first connection to the relay (its first request), ms. */
  firstRequestMs?: number;
  /** Processes still running 2 s after the client exited (killed by the wrapper). */
  leftover?: string[];
  procs?: ProcRun;
  reqTrace?: RequestRun;
}

interface Ctx {
  args: Args;
  lab: Lab;
  work: string;
  wrapper: string;
  python: string;
  sampler: TreeSampler;
  webroot: string;
  pebbleRoots: string;
  isolated: boolean;
  requests: () => number;
  samplerMs: { total: number; ticks: number };
  currentGroup: number | null;
  runCounter: number;
  cpuCounted: boolean;
  /** The kernel's record of every process the bench starts (null: not available here). */
  trace: ProcTrace | null;
  /** The ARI proxy in front of the lab's Pebble, for the noop-ari case (null: not run). */
  ari: AriProxyProcess | null;
  /** With --rtt: the delaying relay every client reaches Pebble through. */
  relay: RelayProcess | null;
}

/** Counts the ACME requests Pebble logged, reading only what was appended since last time. */
function requestCounter(file: string): () => number {
  let offset = 0;
  let count = 0;
  let partial = '';
  return () => {
    let fd: number;
    try { fd = openSync(file, 'r'); } catch { return count; }
    try {
      const size = fstatSync(fd).size;
      if (size > offset) {
        const buf = Buffer.alloc(size - offset);
        readSync(fd, buf, 0, buf.length, offset);
        offset = size;
        const text = partial + buf.toString('utf8');
        const lines = text.split('\n');
        partial = lines.pop() ?? '';
        for (const l of lines) if (l.endsWith('-> calling handler()')) count++;
      }
    } finally { closeSync(fd); }
    return count;
  };
}

async function measure(ctx: Ctx, spec: RunSpec, label: string, timeoutS: number): Promise<Measured> {
  const logFile = join(ctx.work, 'logs', `${String(++ctx.runCounter).padStart(4, '0')}-${label}.log`);
  writeFileSync(logFile, `$ ${spec.argv.join(' ')}\n`);
  const logFd = openSync(logFile, 'a');
  const outFd = spec.stdout !== undefined ? openSync(spec.stdout, 'w') : logFd;
  const before = ctx.requests();
  await ctx.relay?.accepted(); // set-up runs' connections are not this run's
  let report = '';
  let exited = false;
  const stampFile = spec.perRequest ? logFile.replace(/\.log$/, '.stderr') : '-';
  const child = spawn(ctx.python, ['-I', '-S', ctx.wrapper, String(timeoutS), stampFile, '--', ...spec.argv], {
    cwd: spec.cwd, env: spec.env, stdio: ['ignore', outFd, logFd, 'pipe'], detached: true,
  });
  closeSync(logFd);
  if (outFd !== logFd) closeSync(outFd);
  const pid = child.pid;
  ctx.currentGroup = pid ?? null;
  (child.stdio[3] as NodeJS.ReadableStream).setEncoding('utf8');
  (child.stdio[3] as NodeJS.ReadableStream).on('data', (d: string) => { report += d; });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.once('error', (error) => { exited = true; resolve({ code: null, signal: null, error }); });
    child.once('close', (code, signal) => { exited = true; resolve({ code, signal }); });
  });
  const killGroup = (): void => { if (pid !== undefined) { try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ } } };
  // The wrapper enforces the limit; should it hang, SIGTERM (it kills the whole tree), then SIGKILL.
  let lastResort: NodeJS.Timeout | undefined;
  const backstop = setTimeout(() => {
    if (pid !== undefined) { try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ } }
    lastResort = setTimeout(killGroup, 3000);
  }, (timeoutS + 30) * 1000);
  let peak: number | null = null;
  let samples = 0;
  if (pid !== undefined && ctx.args.sampleMs > 0) {
    while (!exited) {
      const t = process.hrtime.bigint();
      const s = ctx.sampler.sum(pid);
      ctx.samplerMs.total += Number(process.hrtime.bigint() - t) / 1e6;
      ctx.samplerMs.ticks++;
      if (s !== null) { samples++; if (peak === null || s > peak) peak = s; }
      await Promise.race([sleep(ctx.args.sampleMs), done]);
    }
  }
  const end = await done;
  clearTimeout(backstop);
  if (lastResort) clearTimeout(lastResort);
  killGroup(); // nothing should be left; make sure
  ctx.currentGroup = null;
  let procs: ProcRun | undefined;
  if (ctx.trace && pid !== undefined) {
    // Every run's processes leave the trace here; ours are split by process.
    const settled = await ctx.trace.settle(pid, 2000);
    const tree = ctx.trace.take(pid);
    if (spec.perProcess) procs = splitRun(tree, pid, !settled || ctx.trace.lost > 0);
  }
  const requests = ctx.requests() - before;
  const fail = (problem: string): Measured => ({ ok: false, problem, exit: null, wall: 0, cpu: 0, pssKiB: peak, maxRssKiB: 0, samples, requests });
  if (end.error) return fail(`cannot start the wrapper: ${end.error.message}`);
  const line = report.trim().split('\n').pop() ?? '';
  let r: { wall?: number; t0ns?: number; exit?: number; cpu?: number; maxRssKiB?: number; timedOut?: boolean; leftover?: string[]; error?: string };
  try { r = JSON.parse(line) as typeof r; } catch { return fail(`the wrapper died (${end.signal ?? `status ${end.code}`}) without a report`); }
  if (r.error) return fail(r.error);
  const m: Measured = { ok: true, exit: r.exit ?? null, wall: r.wall ?? 0, cpu: r.cpu ?? 0, pssKiB: peak, maxRssKiB: r.maxRssKiB ?? 0, samples, requests };
  const accepted = ctx.relay === null ? [] : await ctx.relay.accepted();
  if (accepted.length > 0 && r.t0ns !== undefined) m.firstRequestMs = Number(accepted.reduce((a, b) => (b < a ? b : a)) - BigInt(r.t0ns)) / 1e6;
  if (procs) {
    m.procs = procs;
    if (procs.problems.length > 0) writeFileSync(logFile, `bench: process trace incomplete: ${procs.problems.join('; ')}\n`, { flag: 'a' });
  }
  if (spec.perRequest && r.t0ns !== undefined) {
    let text = '';
    try { text = readFileSync(stampFile, 'utf8'); } catch { /* no output */ }
    m.reqTrace = parseRequests(text, r.t0ns, procs ? procs.wallMs : m.wall * 1000);
    // The log keeps the trace too, unstamped, as the other runs' logs keep their stderr.
    writeFileSync(logFile, text.replace(/^\d+ /gm, ''), { flag: 'a' });
  }
  if (r.leftover && r.leftover.length > 0) {
    m.leftover = r.leftover;
    writeFileSync(logFile, `bench: processes left running after the client exited, killed: ${r.leftover.join(' ')}\n`, { flag: 'a' });
  }
  if (r.timedOut) return { ...m, ok: false, problem: `timed out after ${timeoutS} s (killed)` };
  if (r.exit !== spec.expect) {
    return { ...m, ok: false, problem: `exit ${r.exit} (wanted ${spec.expect}): ${fileTail(logFile)}` };
  }
  return m;
}

// ---- 6. the clients ----------------------------------------------------------------------------

interface Client {
  id: ClientId;
  label: string;
  dir: string;
  trust: string;
  /** Why a case is not applicable. */
  na: Partial<Record<CaseId, string>>;
  setup(): Promise<void>;
  spec(c: CaseId): RunSpec;
  /** The certificate file a case leaves (issue1, issue100), for checks and the serial to revoke. */
  certFile(c: 'issue1' | 'issue100'): string;
  /** Untimed, before an issuance (uacme). */
  beforeIssue?(c: 'issue1' | 'issue100'): void;
  /** The cases it is in (default: all); the others get no row at all. */
  cases?: CaseId[];
  /** Its label in one case's table, where it says more than the client's label. */
  caseLabel?: Partial<Record<CaseId, string>>;
  /** Our client: an issuance with -vv, whose stderr is stamped to time each request. */
  traced?(c: 'issue1' | 'issue100'): RunSpec;
  /** Our client: the no-op that asks the CA's renewalInfo, in a certificate directory of its own issued through the ARI proxy. */
  noopAri?: { certs: string; issue: RunSpec; run(vv: boolean): RunSpec; certId: string | null };
  setupError?: string;
  b1Valid: boolean;
}

function ecKey(path: string): void {
  runSync(['openssl', 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path]);
  chmodSync(path, 0o600);
}

function rsaKey(path: string, bits: number): void {
  runSync(['openssl', 'genpkey', '-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${bits}`, '-out', path]);
  chmodSync(path, 0o600);
}

function csr(key: string, out: string, names: string[]): void {
  runSync(['openssl', 'req', '-new', '-key', key, '-subj', `/CN=${names[0]}`, '-addext', `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`, '-out', out]);
}

/**
 * How our client trusts the lab's CA: SSL_CERT_FILE, which netproc's OpenSSL store reads when it
 * first needs it, as acme-tiny is pointed at it. Not NODE_EXTRA_CA_CERTS: Node 20 reads that at the
 * start of every process and parses its whole root store, a cost no production run pays.
 */
function ourEnv(ctx: Ctx): Record<string, string> {
  return { PATH: PATH_ENV, SSL_CERT_FILE: ctx.lab.tlsCaFile };
}

function makeClients(ctx: Ctx): Client[] {
  const url = ctx.lab.directoryUrl;
  const ch = ctx.lab.challengeDir;
  const ca = ctx.lab.tlsCaFile;
  const names = (c: 'issue1' | 'issue100'): string[] => (c === 'issue1' ? [NAME1] : NAMES100);
  const clientDir = (id: string): string => {
    const d = join(ctx.work, id);
    mkdirSync(d, { recursive: true, mode: 0o755 });
    chmodSync(d, 0o755);
    return d;
  };
  const base = (id: ClientId, label: string, trust: string): Omit<Client, 'setup' | 'spec' | 'certFile'> => ({
    id, label, dir: clientDir(id), trust, na: {}, b1Valid: false,
  });
  const version = (pkg: string): string => debVersion(pkg) ?? '?';
  const clients: Client[] = [];

  for (const id of ctx.args.clients) {
    if (id === OURS || id === OURS_RSA) {
      const rsa = id === OURS_RSA;
      const b = base(id, `acme-client ${readPackageVersion()} (this, Node ${process.version}), ${rsa ? 'RSA-4096' : 'EC P-256'} account key`, 'SSL_CERT_FILE (see ourEnv)');
      const d = b.dir;
      const env = ourEnv(ctx);
      const acct = join(d, 'account.key');
      const sub = (c: 'issue1' | 'issue100') => ({ certs: join(d, c, 'certs'), key: join(d, c, 'private', 'domain.key') });
      const cmd = (c: 'issue1' | 'issue100', flags: string[]): string[] =>
        [ctx.args.nodeBin, CLI, ...flags, '--server', url, '-C', ch, '-c', sub(c).certs, '-f', acct, '-k', sub(c).key, ...names(c)];
      // The ARI no-op: b1 again, in directories of its own, through the proxy (the same account).
      const ari = { certs: join(d, 'ari', 'certs'), key: join(d, 'ari', 'private', 'domain.key') };
      const ariProxy = rsa ? null : ctx.ari;
      const ariCmd = (server: string, flags: string[]): string[] =>
        [ctx.args.nodeBin, CLI, ...flags, '--server', server, '-C', ch, '-c', ari.certs, '-f', acct, '-k', ari.key, NAME1];
      clients.push({
        ...b,
        // The no-op reads no account key: one row of each kind, with the EC client.
        ...(rsa ? { cases: ['issue1', 'issue100', 'revoke'] as CaseId[] } : { caseLabel: { noop: `acme-client ${readPackageVersion()} (this): no-op decided locally (no CA request)` } }),
        traced: (c) => ({ argv: cmd(c, ['-F', '-vv']), env, cwd: d, expect: 0, perProcess: true, perRequest: true }),
        ...(ariProxy ? {
          noopAri: {
            certs: ari.certs,
            issue: { argv: ariCmd(ariProxy.directoryUrl, []), env, cwd: d, expect: 0 },
            run: (vv: boolean) => ({ argv: ariCmd(ariProxy.directoryUrl, vv ? ['-vv'] : []), env, cwd: d, expect: 2, perProcess: true, perRequest: vv }),
            certId: null,
          },
        } : {}),
        async setup() {
          if (rsa) rsaKey(acct, 4096); else ecKey(acct);
          for (const { certs, key } of [sub('issue1'), sub('issue100'), ...(ariProxy ? [ari] : [])]) {
            mkdirSync(certs, { recursive: true, mode: 0o755 });
            mkdirSync(dirname(key), { recursive: true, mode: 0o700 });
            ecKey(key);
          }
        },
        spec(c) {
          switch (c) {
            case 'issue1': case 'issue100': return { argv: cmd(c, ['-F']), env, cwd: d, expect: 0, perProcess: true };
            // --no-ari: Pebble 2.10 offers renewalInfo, and this row is the no-op decided locally.
            case 'noop': return { argv: cmd('issue1', ['--no-ari']), env, cwd: d, expect: 2, perProcess: true };
            case 'revoke': return { argv: cmd('issue1', ['-r']), env, cwd: d, expect: 0 };
          }
        },
        certFile: (c) => join(sub(c).certs, 'cert.pem'),
      });
      continue;
    }
    if (id === NODE_PEER) {
      let version = '?';
      try { version = (JSON.parse(readFileSync(join(NODE_PEER_DIR, 'package.json'), 'utf8')) as { version: string }).version; } catch { /* not installed */ }
      const b = base(id, `node acme-client ${version} (npm library, auto mode; Node ${process.version})`,
        'its driver gives the CA to Node\'s global HTTPS agent, which the library\'s axios uses (see scripts/bench-node-peer.cts)');
      if (!have(join(NODE_PEER_DIR, 'package.json')) || !have(NODE_PEER_DRIVER)) {
        clients.push({ ...b, setupError: 'not installed (the devDependency node-acme-client is missing: npm install)',
          async setup() { /* nothing */ }, spec: () => { throw new Error('unavailable'); }, certFile: () => '' });
        continue;
      }
      const d = b.dir;
      const env = { PATH: PATH_ENV, HOME: d };
      const acct = join(d, 'account.key');
      const cert = (c: 'issue1' | 'issue100'): string => join(d, `${c}.crt`);
      const key = (c: 'issue1' | 'issue100'): string => join(d, `${c}.key`);
      const run = (mode: string, c: 'issue1' | 'issue100'): string[] => [ctx.args.nodeBin, NODE_PEER_DRIVER, '--server', url, '--ca', ca,
        '--account-key', acct, '--account-url', join(d, 'account.url'), '--domain-key', key(c), '--cert', cert(c), '--challenge-dir', ch, mode,
        ...(mode === 'revoke' ? [] : names(c))];
      clients.push({
        ...b,
        caseLabel: { noop: `node acme-client ${version}: the driver's 30-day rule on the library's readCertificateInfo (the library has no renewal rule)` },
        async setup() {
          ecKey(acct);
          for (const c of ['issue1', 'issue100'] as const) ecKey(key(c));
        },
        spec(c) {
          switch (c) {
            case 'issue1': case 'issue100': return { argv: run('issue', c), env, cwd: d, expect: 0 };
            case 'noop': return { argv: run('renew', 'issue1'), env, cwd: d, expect: 2 };
            case 'revoke': return { argv: run('revoke', 'issue1'), env, cwd: d, expect: 0 };
          }
        },
        certFile: cert,
      });
      continue;
    }
    const missing = PACKAGE[id].filter((p) => !installed(p));
    if (missing.length > 0) {
      const b = base(id, id, '—');
      clients.push({ ...b, setupError: `not installed (Debian package ${missing.map((m) => m.pkg).join(', ')} missing)`,
        async setup() { /* nothing */ }, spec: () => { throw new Error('unavailable'); }, certFile: () => '' });
      continue;
    }
    const label = `${id} ${version(PACKAGE[id][0]!.pkg)}`;
    switch (id) {
      case 'uacme': {
        const b = base(id, label, 'system CA bundle (bind-mounted: libcurl-gnutls reads no variable)');
        const d = b.dir;
        const conf = join(d, 'conf');
        const env = { PATH: PATH_ENV, HOME: d, UACME_CHALLENGE_PATH: ch };
        const u = ['uacme', '-a', url, '-c', conf, '-t', 'EC'];
        const cert = (c: 'issue1' | 'issue100'): string => join(conf, names(c)[0]!, 'cert.pem');
        clients.push({
          ...b,
          async setup() {
            if (!ctx.isolated) throw new Error('needs the lab CA in the system bundle, which is only done inside the bench namespace');
            if (!have(UACME_HOOK)) throw new Error(`${UACME_HOOK} missing`);
            runSync([...u, '-y', 'new', EMAIL], { env, cwd: d, log: join(d, 'setup.log') });
          },
          spec(c) {
            switch (c) {
              case 'issue1': case 'issue100': return { argv: [...u, '-h', UACME_HOOK, '-f', 'issue', ...names(c)], env, cwd: d, expect: 0 };
              case 'noop': return { argv: [...u, '-h', UACME_HOOK, 'issue', NAME1], env, cwd: d, expect: 1 };
              case 'revoke': return { argv: [...u, 'revoke', cert('issue1')], env, cwd: d, expect: 0 };
            }
          },
          certFile: cert,
          // uacme backs the old certificate up as cert-<unix seconds>.pem with link(2) and fails when
          // two issuances fall in one second: remove it first (untimed).
          beforeIssue(c) { rmSync(cert(c), { force: true }); },
        });
        break;
      }
      case 'lego': {
        const b = base(id, label, 'LEGO_CA_CERTIFICATES');
        const d = b.dir;
        const env = { PATH: PATH_ENV, HOME: d, LEGO_CA_CERTIFICATES: ca };
        const l = ['lego', '--server', url, '--email', EMAIL, '--accept-tos', '--path', join(d, 'data')];
        const http = ['--http', '--http.webroot', ctx.webroot];
        const dom = (c: 'issue1' | 'issue100'): string[] => names(c).flatMap((n) => ['-d', n]);
        clients.push({
          ...b,
          async setup() { /* lego registers on its first run */ },
          spec(c) {
            switch (c) {
              case 'issue1': case 'issue100': return { argv: [...l, ...http, ...dom(c), 'run'], env, cwd: d, expect: 0 };
              case 'noop': return { argv: [...l, ...http, ...dom('issue1'), 'renew', '--days', '30'], env, cwd: d, expect: 0 };
              case 'revoke': return { argv: [...l, ...dom('issue1'), 'revoke'], env, cwd: d, expect: 0 };
            }
          },
          certFile: (c) => join(d, 'data', 'certificates', `${names(c)[0]}.crt`),
        });
        break;
      }
      case 'certbot': {
        const b = base(id, label, 'REQUESTS_CA_BUNDLE');
        const d = b.dir;
        const env = { PATH: PATH_ENV, HOME: d, REQUESTS_CA_BUNDLE: ca };
        const cb = ['certbot', '--config-dir', join(d, 'etc'), '--work-dir', join(d, 'work'), '--logs-dir', join(d, 'logs'), '--server', url, '--non-interactive'];
        const lineage = (c: 'issue1' | 'issue100'): string => (c === 'issue1' ? 'one' : 'hundred');
        clients.push({
          ...b,
          async setup() {
            runSync([...cb, 'register', '--agree-tos', '-m', EMAIL, '--no-eff-email'], { env, cwd: d, log: join(d, 'setup.log') });
          },
          spec(c) {
            switch (c) {
              case 'issue1': case 'issue100':
                return { argv: [...cb, 'certonly', '--webroot', '-w', ctx.webroot, '--cert-name', lineage(c), ...names(c).flatMap((n) => ['-d', n]), '--force-renewal'], env, cwd: d, expect: 0 };
              case 'noop': return { argv: [...cb, 'renew', '--cert-name', 'one', '--no-random-sleep-on-renew'], env, cwd: d, expect: 0 };
              case 'revoke': return { argv: [...cb, 'revoke', '--cert-name', 'one', '--delete-after-revoke'], env, cwd: d, expect: 0 };
            }
          },
          certFile: (c) => join(d, 'etc', 'live', lineage(c), 'cert.pem'),
        });
        break;
      }
      case 'dehydrated': {
        const b = base(id, label, 'CURL_CA_BUNDLE');
        const d = b.dir;
        const cfg = join(d, 'config');
        const env = { PATH: PATH_ENV, HOME: d, CURL_CA_BUNDLE: ca };
        const cert = (c: 'issue1' | 'issue100'): string => join(d, 'certs', names(c)[0]!, 'cert.pem');
        clients.push({
          ...b,
          async setup() {
            writeFileSync(cfg, [`CA="${url}"`, `BASEDIR="${d}"`, `WELLKNOWN="${ch}"`, `CONTACT_EMAIL=${EMAIL}`, 'KEY_ALGO=prime256v1', 'RENEW_DAYS=30', ''].join('\n'));
            runSync(['dehydrated', '-f', cfg, '--register', '--accept-terms'], { env, cwd: d, log: join(d, 'setup.log') });
          },
          spec(c) {
            switch (c) {
              case 'issue1': case 'issue100': return { argv: ['dehydrated', '-f', cfg, '-c', '--force', ...names(c).flatMap((n) => ['-d', n])], env, cwd: d, expect: 0 };
              case 'noop': return { argv: ['dehydrated', '-f', cfg, '-c', '-d', NAME1], env, cwd: d, expect: 0 };
              case 'revoke': return { argv: ['dehydrated', '-f', cfg, '-r', cert('issue1')], env, cwd: d, expect: 0 };
            }
          },
          certFile: cert,
        });
        break;
      }
      case 'acme-tiny': {
        const b = base(id, label, 'SSL_CERT_FILE');
        const d = b.dir;
        const env = { PATH: PATH_ENV, HOME: d, SSL_CERT_FILE: ca };
        const file = (c: 'issue1' | 'issue100', ext: string): string => join(d, `${c}.${ext}`);
        clients.push({
          ...b,
          na: {
            noop: 'acme-tiny has no renewal logic (a cron wrapper checks expiry itself, e.g. openssl x509 -checkend)',
            revoke: 'acme-tiny cannot revoke',
          },
          async setup() {
            rsaKey(join(d, 'account.key'), 2048); // acme-tiny wants an RSA account key
            for (const c of ['issue1', 'issue100'] as const) { ecKey(file(c, 'key')); csr(file(c, 'key'), file(c, 'csr'), names(c)); }
          },
          spec(c) {
            if (c === 'noop' || c === 'revoke') throw new Error('n/a');
            // --disable-check: its own pre-check fetches http://NAME/ on port 80, which is not where the lab serves.
            return { argv: ['acme-tiny', '--account-key', join(d, 'account.key'), '--csr', file(c, 'csr'), '--acme-dir', ch, '--disable-check', '--directory-url', url, '--quiet'],
              env, cwd: d, expect: 0, stdout: file(c, 'crt') };
          },
          certFile: (c) => file(c, 'crt'),
        });
        break;
      }
      case 'lacme': {
        const b = base(id, label, 'system CA bundle (bind-mounted: lacme clears its environment)');
        const d = b.dir;
        const env = { PATH: PATH_ENV, HOME: d };
        const lc = ['lacme', `--config=${join(d, 'lacme.conf')}`, '--quiet'];
        const section = (c: 'issue1' | 'issue100'): string => (c === 'issue1' ? 'one' : 'hundred');
        const cert = (c: 'issue1' | 'issue100'): string => join(d, 'certs', `${section(c)}.pem`);
        clients.push({
          ...b,
          async setup() {
            if (!ctx.isolated) throw new Error('needs the lab CA in the system bundle, which is only done inside the bench namespace');
            mkdirSync(join(d, 'certs'), { mode: 0o755 });
            rsaKey(join(d, 'account.key'), 2048);
            for (const c of ['issue1', 'issue100'] as const) ecKey(join(d, 'certs', `${section(c)}.key`));
            writeFileSync(join(d, 'pebble-roots.pem'), ctx.pebbleRoots);
            writeFileSync(join(d, 'accountd.conf'), `privkey = file:${join(d, 'account.key')}\nquiet = Yes\n`);
            writeFileSync(join(d, 'lacme.conf'), [
              `config-certs = ${join(d, 'lacme-certs.conf')}`, '[client]', `server = ${url}`,
              '[webserver]', 'listen =', `challenge-directory = ${ch}`,
              '[accountd]', `config = ${join(d, 'accountd.conf')}`, 'quiet = Yes', ''].join('\n'));
            const sec = (c: 'issue1' | 'issue100'): string => [`[${section(c)}]`, `certificate-key = ${join(d, 'certs', `${section(c)}.key`)}`,
              `certificate-chain = ${cert(c)}`, `subject = /CN=${names(c)[0]}`, `subjectAltName = ${names(c).map((n) => `DNS:${n}`).join(',')}`].join('\n');
            writeFileSync(join(d, 'lacme-certs.conf'), ['min-days = 30', `CAfile = ${join(d, 'pebble-roots.pem')}`, sec('issue1'), sec('issue100'), ''].join('\n'));
            runSync([...lc, 'account', '--register', '--tos-agreed', `mailto:${EMAIL}`], { env, cwd: d, log: join(d, 'setup.log') });
          },
          spec(c) {
            switch (c) {
              case 'issue1': case 'issue100': return { argv: [...lc, 'newOrder', '--force', section(c)], env, cwd: d, expect: 0 };
              case 'noop': return { argv: [...lc, 'newOrder', 'one'], env, cwd: d, expect: 0 };
              case 'revoke': return { argv: [...lc, 'revokeCert', cert('issue1')], env, cwd: d, expect: 0 };
            }
          },
          certFile: cert,
        });
        break;
      }
    }
  }
  return clients;
}

/** Which state of our client was measured: the commit, and whether src/ differs from it (read-only git). */
function clientRevision(): string {
  const git = (a: string[]): string | null => {
    const r = spawnSync('git', ['-C', ROOT, ...a], { encoding: 'utf8' });
    return r.status === 0 ? r.stdout.trim() : null;
  };
  const rev = git(['rev-parse', '--short', 'HEAD']);
  if (rev === null) return 'not a git checkout';
  const dirty = git(['status', '--porcelain', '--', 'src', 'scripts/build.mjs', 'package-lock.json']);
  return `commit ${rev}${dirty ? ', with uncommitted changes in src/' : ''}`;
}

function readPackageVersion(): string {
  try { return (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version; } catch { return '?'; }
}

/** A problem with the certificate an issuance left, or undefined. */
function checkCert(path: string, names: string[], sinceMs: number): string | undefined {
  let pem: string;
  try {
    if (statSync(path).mtimeMs < sinceMs - 1000) return `${path} was not renewed`;
    pem = readFileSync(path, 'utf8');
  } catch { return `no certificate at ${path}`; }
  try {
    const san = new X509Certificate(pem).subjectAltName ?? '';
    const have = new Set(san.split(', ').map((s) => s.replace(/^DNS:/, '')));
    const miss = names.filter((n) => !have.has(n));
    return miss.length > 0 ? `certificate lacks ${miss.length} name(s), e.g. ${miss[0]}` : undefined;
  } catch (e) { return `unreadable certificate ${path}: ${(e as Error).message}`; }
}

function serialOf(path: string): string | undefined {
  try { return new X509Certificate(readFileSync(path)).serialNumber; } catch { return undefined; }
}

/** scripts/bench-ariproxy.ts, running: the proxy's URL, and its two commands. */
interface AriProxyProcess {
  directoryUrl: string;
  /** What renewalInfo answers from now on. */
  setWindow(start: number, end: number): Promise<void>;
  /** "METHOD PATH" of every request the proxy got since the last call. */
  requests(): Promise<string[]>;
  stop(): Promise<void>;
}

/**
 * Starts the ARI proxy in front of the lab's Pebble, from the bench's own copy of node (so that it
 * shares no page with the clients' node) and, like Pebble, before the bench lowers its priority.
 */
async function startAriProxyProcess(lab: Lab): Promise<AriProxyProcess> {
  const child = spawn(process.execPath, [ARI_PROXY, JSON.stringify({ directoryUrl: lab.directoryUrl, tlsCaFile: lab.tlsCaFile, dir: lab.dir })],
    { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exited = new Promise<void>((resolve) => { child.once('exit', () => resolve()); child.once('error', () => resolve()); });
  // One answer line for each command line, in turn (the bench awaits each before the next).
  const answer = async <T>(command: object | null): Promise<T> => {
    if (command !== null) child.stdin.write(`${JSON.stringify(command)}\n`);
    const line = await lines.next();
    if (line.done === true) throw new Error(`the ARI proxy (${ARI_PROXY}) ended`);
    return JSON.parse(line.value) as T;
  };
  const { directoryUrl } = await answer<{ directoryUrl: string }>(null);
  return {
    directoryUrl,
    async setWindow(start, end) { await answer({ op: 'window', start, end }); },
    async requests() { return (await answer<{ requests: string[] }>({ op: 'requests' })).requests; },
    async stop() {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** scripts/latency-relay.ts, running in front of Pebble: its directory URL, and the connections it accepted. */
interface RelayProcess {
  directoryUrl: string;
  /** CLOCK_MONOTONIC ns of each connection accepted since the last call. */
  accepted(): Promise<bigint[]>;
  stop(): Promise<void>;
}

/**
 * Starts the delaying relay in front of the lab's Pebble, in a node process of its own started
 * before the bench lowers its priority (its timers are the latency: they must not wait for a core
 * behind the bench's sampling).
 */
async function startRelayProcess(lab: Lab, rttMs: number): Promise<RelayProcess> {
  const upstream = new URL(lab.directoryUrl);
  const child = spawn(process.execPath, [RELAY, upstream.port, String(rttMs)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exited = new Promise<void>((resolve) => { child.once('exit', () => resolve()); child.once('error', () => resolve()); });
  const next = async (): Promise<string> => {
    const line = await lines.next();
    if (line.done === true) throw new Error(`the relay (${RELAY}) ended`);
    return line.value;
  };
  const port = Number(await next());
  return {
    directoryUrl: `${upstream.protocol}//${upstream.hostname}:${port}${upstream.pathname}`,
    async accepted() {
      child.stdin.write('\n');
      return (JSON.parse(await next()) as string[]).map((ns) => BigInt(ns));
    },
    async stop() {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(timer);
    },
  };
}

// ---- 7. the inner process: lab, clients, rounds, report --------------------------------------------

interface Cell { runs: Measured[]; failures: string[]; na?: string; skipped?: string; setupFailed?: boolean; leftovers?: string[]; }

function cellKey(client: string, c: string): string { return `${client}\u0000${c}`; }

async function inner(args: Args, notes: string[]): Promise<number> {
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

// ---- 8. the report -----------------------------------------------------------------------------

interface Stats { wall: number[]; cpu: number[]; pss: number[]; rss: number[]; req: number[]; samples: number[]; first: number[] }

function stats(runs: Measured[]): Stats {
  return {
    wall: runs.map((r) => r.wall), cpu: runs.map((r) => r.cpu), pss: runs.filter((r) => r.pssKiB !== null).map((r) => r.pssKiB!),
    rss: runs.map((r) => r.maxRssKiB), req: runs.map((r) => r.requests), samples: runs.map((r) => r.samples),
    first: runs.flatMap((r) => (r.firstRequestMs === undefined ? [] : [r.firstRequestMs])),
  };
}

function spread(v: number[], fmt: (x: number) => string): string {
  if (v.length === 0) return '—';
  const lo = Math.min(...v); const hi = Math.max(...v);
  return v.length === 1 ? fmt(v[0]!) : `${fmt(median(v))} (${fmt(lo)}–${fmt(hi)})`;
}

function ratio(ours: number[], peer: number[]): string {
  if (ours.length === 0 || peer.length === 0) return '—';
  const p = median(peer);
  if (p <= 0) return '—';
  const r = median(ours) / p;
  return r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2);
}

/** Issue 15's goals, as ratios of our median wall time to the fastest peer's (or the reference row's). */
const JOB: Record<CaseId, string> = { issue1: '(a) 1 name', issue100: '(b) 100 names', noop: '(c) no-op, decided locally', revoke: '(d) revocation' };
const GOALS: Partial<Record<CaseId, string>> = { issue1: '≤ 1.0', issue100: '≤ 0.5' };
const NOOP_GOAL = '≤ 1.15';
const NOOP_ARI_GOAL = 'none: reported beside it';
const PSS_GOAL_MIB = 100;

/** The fastest peer of a case by median wall time: not ours, not a reference row. */
function fastestPeer(clients: Client[], cells: Map<string, Cell>, c: CaseId): { label: string; wall: number[] } | undefined {
  let best: { label: string; wall: number[] } | undefined;
  for (const cl of clients) {
    if (isOurs(cl.id)) continue;
    const x = cells.get(cellKey(cl.id, c));
    if (!x || x.runs.length === 0) continue;
    const wall = x.runs.map((r) => r.wall);
    if (!best || median(wall) < median(best.wall)) best = { label: cl.label, wall };
  }
  return best;
}

/** The table first: each job, our two account key types, the fastest peer, the ratios and the goals. */
function summary(out: string[], ctx: Ctx, clients: Client[], cells: Map<string, Cell>): void {
  const { args } = ctx;
  const wallOf = (id: string, c: string): number[] | undefined => {
    const x = cells.get(cellKey(id, c));
    return x && x.runs.length > 0 ? x.runs.map((r) => r.wall) : undefined;
  };
  const sec = (v: number[] | undefined): string => (v ? `${fmtS(median(v))} s` : '—');
  // The range too: a peer whose time is bimodal (lego) shows it here.
  const secRange = (v: number[]): string => (v.length > 1 ? `${fmtS(median(v))} s (${fmtS(Math.min(...v))}–${fmtS(Math.max(...v))})` : sec(v));
  out.push('', '## Summary: ours against the fastest peer', '');
  out.push('Median wall time. The fastest peer is the peer row with the smallest median wall time in the job\'s table below;'
    + ' the no-op is also set against the reference row for any design that starts one child before deciding. The no-op that asks the CA\'s'
    + ' renewalInfo (ARI, our default) has no peer, none here asking it (see the notes): it is set against the reference row alone. Goals: issue 15.');
  out.push('');
  out.push('| job | ours, EC P-256 account key | ours, RSA-4096 account key | fastest peer | ours/fastest: EC | RSA | goal |');
  out.push('|---|---|---|---|---|---|---|');
  const ref = wallOf(NODE_STARTS_NODE, 'noop');
  const refCell = `\`node\` running \`node -e 0\`: ${sec(ref)}`;
  for (const c of CASES) {
    const ariHere = c === 'noop' && args.cases.has(NOOP_ARI) && args.clients.includes(OURS);
    if (args.cases.has(c)) {
      const ec = wallOf(OURS, c);
      const rsa = wallOf(OURS_RSA, c);
      const best = fastestPeer(clients, cells, c);
      const title = JOB[c];
      out.push(`| ${title} | ${sec(ec)} | ${c === 'noop' ? 'same run (no account key read)' : sec(rsa)} | ${best ? `${best.label}: ${secRange(best.wall)}` : '—'}`
        + ` | ${ec && best ? ratio(ec, best.wall) : '—'} | ${rsa && best && c !== 'noop' ? ratio(rsa, best.wall) : '—'} | ${GOALS[c] ?? ''} |`);
      if (c === 'noop' && args.cases.has('node')) {
        out.push(`| (c) no-op, against the reference row | ${sec(ec)} | | ${refCell} | ${ec && ref ? ratio(ec, ref) : '—'} | | ${NOOP_GOAL} |`);
        const floor = wallOf(NOOP_FLOOR, 'noop');
        if (floor) {
          out.push(`| (c) the no-op's floor (yargs' parse, the probe, one empty child confined as certproc; scripts/noop-floor.ts), against the reference row | ${sec(floor)} | | ${refCell} | ${ref ? ratio(floor, ref) : '—'} | | for comparison |`);
          out.push(`| (c) no-op, against its floor | ${sec(ec)} | | floor: ${sec(floor)} | ${ec ? ratio(ec, floor) : '—'} | | for comparison |`);
        }
      }
    }
    if (ariHere) {
      const ari = wallOf(OURS, NOOP_ARI);
      out.push(`| (c) no-op asking the CA's renewalInfo (ARI, the default), against the reference row | ${sec(ari)} | same run (no account key read)`
        + ` | ${args.cases.has('node') ? refCell : '—'} | ${ari && ref ? ratio(ari, ref) : '—'} | | ${NOOP_ARI_GOAL} |`);
    }
  }
  const pss = (id: string): number[] => (['issue1', 'issue100'] as const).flatMap((c) => {
    const x = cells.get(cellKey(id, c));
    const v = x ? x.runs.filter((r) => r.pssKiB !== null).map((r) => r.pssKiB!) : [];
    return v.length > 0 ? [median(v)] : [];
  });
  const worst = [...pss(OURS), ...pss(OURS_RSA)];
  if (worst.length > 0) {
    out.push('', `PSS summed over a run, the larger median of our issuances: **${fmtMiB(Math.max(...worst))} MiB** (goal ≤ ${PSS_GOAL_MIB} MiB).`);
  }
}

/** Where our time goes (issue 15 point 4): per process and per request, for 1 name, 100 names and the two no-ops. */
function breakdown(out: string[], ctx: Ctx, cells: Map<string, Cell>): void {
  const { args } = ctx;
  const variant = (id: string, name: string, c: string): Variant => {
    const timed = cells.get(cellKey(id, c))?.runs ?? [];
    const traced = cells.get(cellKey(id, `trace-${c}`))?.runs ?? [];
    const withProcs = timed.filter((r) => r.procs);
    return { name, procRuns: withProcs.map((r) => r.procs!), rusageCpuS: withProcs.map((r) => r.cpu), requestRuns: traced.flatMap((r) => (r.reqTrace ? [r.reqTrace] : [])) };
  };
  const sections: [string, Variant[], Stretches | undefined][] = (['issue1', 'issue100'] as const).filter((c) => args.cases.has(c))
    .map((c) => [CASE_TITLE[c], [variant(OURS, 'EC', c), variant(OURS_RSA, 'RSA', c)], undefined]);
  const noops = [...(args.cases.has('noop') ? [variant(OURS, 'local', 'noop')] : []), ...(args.cases.has(NOOP_ARI) ? [variant(OURS, 'ARI', NOOP_ARI)] : [])];
  if (noops.length > 0) sections.push([CASE_TITLE.noop, noops, NOOP_STRETCHES]);
  if (!sections.some(([, vs]) => vs.some((v) => v.procRuns.length > 0 || v.requestRuns.length > 0))) {
    if (args.clients.includes(OURS)) out.push('', '## Where our time goes', '', ctx.trace ? 'No run of ours was traced.' : 'Not measured: the kernel\'s process trace is not available here (see the notes).');
    return;
  }
  out.push('', '## Where our time goes', '');
  out.push('**EC** / **RSA**: our client with an EC P-256 / RSA-4096 account key. How it is measured:'
    + ' CPU per process from the kernel\'s taskstats record of every thread as it exits (user+system time as the 250 Hz scheduler tick sees it,'
    + ' so one process is good to a few ms; read the medians), each process named by its command line and placed in the run by the kernel\'s'
    + ' fork and exit events (the proc connector), both collected outside the bench\'s namespace by a small python3 listener'
    + ' (scripts/bench-trace.ts). Wall time per ACME request from separate runs with -vv: the timing wrapper, at nice -10 while the client'
    + ' runs at 0, stamps each line of the client\'s stderr as it arrives, and a request lasts from its trace line to its answer\'s'
    + ' (two lines read at once get one stamp: a request under a millisecond may show as 0).'
    + ' In (c), **local** / **ARI**: the no-op decided locally / the no-op asking the CA\'s renewalInfo (ARI, the default; see the method),'
    + ' both with the EC client, whose account key neither reads.');
  for (const [title, vs, stretches] of sections) {
    out.push('', `### ${title}`, '');
    out.push(...renderBreakdown(vs, stretches));
  }
}

function report(ctx: Ctx, clients: Client[], cells: Map<string, Cell>, notes: string[], inProcess: number[]): string {
  const { args } = ctx;
  const out: string[] = [];
  const p = (s = ''): void => { out.push(s); };
  const cpu = cpus();
  const debian = (() => { try { return readFileSync('/etc/debian_version', 'utf8').trim(); } catch { return '?'; } })();
  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  p('# acme-client and its peers, side by side');
  p();
  p(`Measured ${date} by \`npm run bench -- --rounds ${args.rounds}${args.rttMs === null ? '' : ` --rtt ${args.rttMs}`}\` (scripts/bench.ts) on ${cpu.length} CPUs`
    + ` (${cpu[0]?.model.trim() ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, Debian ${debian},`
    + ` Node ${process.version}, Pebble ${debVersion('pebble') ?? '?'}: ${args.rounds} round(s) per case, all clients interleaved.`
    + ` Our client: ${clientRevision()}.`);
  p();
  p('Each cell is the median over the rounds that succeeded, with the range (min–max). **wall**: elapsed seconds;'
    + ' **CPU**: user+system seconds of the whole process tree; **PSS**: the largest sum, over the samples of a run,'
    + ' of the proportional set size of every process of the run; **RSS max**: resident size of the largest single process;'
    + ' **req.**: ACME requests Pebble logged (for the no-op asking renewalInfo: those the proxy in front of Pebble got). **ours/peer**: the median of our client with an EC P-256 account key (the first row)'
    + ' over the row\'s (below 1: ours is faster / smaller).');
  const ours = (c: string): Cell | undefined => cells.get(cellKey(OURS, c));
  summary(out, ctx, clients, cells);
  for (const c of CASES) {
    if (!args.cases.has(c) && !(c === 'noop' && args.cases.has(NOOP_ARI))) continue;
    p();
    p(`## ${CASE_TITLE[c]}`);
    p();
    // With --rtt, one more column: when the first request left.
    const firstCol = ctx.relay !== null;
    const blank = firstCol ? ' |' : '';
    p(`| client | ok | wall s | CPU s | PSS MiB | RSS max MiB | req. |${firstCol ? ' 1st req. ms |' : ''} ours/peer wall | CPU | PSS |`);
    p(`|---|---|---|---|---|---|---|${firstCol ? '---|' : ''}---|---|---|`);
    const o = ours(c);
    const os = o ? stats(o.runs) : undefined;
    const rows: [string, Cell | undefined][] = clients.map((cl) => {
      const label = cl.caseLabel?.[c] ?? cl.label;
      return [isOurs(cl.id) ? `**${label}**` : label, cells.get(cellKey(cl.id, c))];
    });
    if (c === 'noop' && args.cases.has(NOOP_ARI)) {
      // Beside the no-op decided locally: the one that asks the CA first (no peer asks renewalInfo).
      const at = rows.findIndex(([, x]) => x !== undefined && x === o) + 1;
      rows.splice(at, 0, [`**acme-client ${readPackageVersion()} (this): no-op asking the CA's renewalInfo (ARI, the default: two GETs, through the proxy)**`,
        cells.get(cellKey(OURS, NOOP_ARI))]);
    }
    if (c === 'noop' && args.cases.has('node')) rows.push([`\`node -e 0\` (reference: the floor of any Node program)`, cells.get(cellKey('node -e 0', 'noop'))]);
    if (c === 'noop' && args.cases.has('node')) rows.push([`\`node\` running \`node -e 0\` (reference: the floor of a parent that starts one child)`, cells.get(cellKey(NODE_STARTS_NODE, 'noop'))]);
    if (c === 'noop' && args.cases.has('node')) rows.push([`no-op floor of this design (reference: yargs' parse of our command line, the namespace probe, one empty child confined as certproc is; scripts/noop-floor.ts)`, cells.get(cellKey(NOOP_FLOOR, 'noop'))]);
    for (const [label, x] of rows) {
      if (!x) continue;
      const tried = x.runs.length + x.failures.length;
      if (x.na) { p(`| ${label} | n/a | | | | | | | | |${blank}`); continue; }
      if (x.skipped && tried === 0) { p(`| ${label} | ${x.setupFailed ? 'failed (set-up)' : x.skipped.startsWith('not installed') ? 'not installed' : 'skipped'} | | | | | | | | |${blank}`); continue; }
      if (x.runs.length === 0) { p(`| ${label} | failed (0/${tried}) | | | | | | | | |${blank}`); continue; }
      const s = stats(x.runs);
      const r = (a: number[] | undefined, b: number[]): string => (x === o ? '1' : a ? ratio(a, b) : '—');
      // A run too short for most samples to see it: its PSS is a glimpse, not a peak; no ratio.
      const pssRatio = s.pss.length < x.runs.length ? '—' : r(os?.pss, s.pss);
      const pss = spread(s.pss, fmtMiB) + (s.pss.length > 0 && s.pss.length < x.runs.length ? ` [${s.pss.length} of ${x.runs.length} runs sampled]` : '');
      p(`| ${label} | ${x.runs.length}/${tried} | ${spread(s.wall, fmtS)} | ${spread(s.cpu, fmtS)} | ${pss} | ${spread(s.rss, fmtMiB)}`
        + ` | ${spread(s.req, (v) => v.toFixed(0))} |${firstCol ? ` ${spread(s.first, (v) => v.toFixed(0))} |` : ''} ${r(os?.wall, s.wall)} | ${r(os?.cpu, s.cpu)} | ${pssRatio} |`);
    }
  }
  if (args.cases.has('keygen') && args.clients.includes(OURS)) {
    p();
    p('## RSA-4096 key generation (our client)');
    p();
    const fresh = ours('keygen-fresh'); const made = ours('keygen-premade');
    p('| run | ok | wall s | CPU s | PSS MiB |');
    p('|---|---|---|---|---|');
    for (const [label, x] of [['first run, `-n -N`: account and domain keys made (RSA-4096, in two processes at once)', fresh], ['first run, the same two RSA-4096 keys made beforehand', made]] as const) {
      if (!x) continue;
      const s = stats(x.runs);
      p(`| ${label} | ${x.runs.length}/${x.runs.length + x.failures.length} | ${spread(s.wall, fmtS)} | ${spread(s.cpu, fmtS)} | ${spread(s.pss, fmtMiB)} |`);
    }
    p();
    if (fresh && made && fresh.runs.length > 0 && made.runs.length > 0) {
      const a = stats(fresh.runs); const b = stats(made.runs);
      p(`- Key generation as a user sees it (difference of the medians): **${fmtS(median(a.wall) - median(b.wall))} s wall**, ${fmtS(median(a.cpu) - median(b.cpu))} s CPU.`);
    }
    if (inProcess.length > 0) {
      p(`- One RSA-4096 key, \`crypto.generateKeyPair('rsa', { modulusLength: 4096 })\` in one Node process: **${spread(inProcess, fmtS)} s** over ${inProcess.length} keys (prime search: the spread is the nature of it).`);
    }
  }

  breakdown(out, ctx, cells);

  // Notes.
  const per: string[] = [];
  for (const cl of clients) {
    for (const c of [...CASES, NOOP_ARI, 'keygen-fresh', 'keygen-premade', 'trace-issue1', 'trace-issue100', `trace-${NOOP_ARI}`]) {
      const x = cells.get(cellKey(cl.id, c));
      if (!x) continue;
      if (x.na) per.push(`${cl.id}, ${c}: n/a: ${x.na}.`);
      else if (x.skipped) per.push(`${cl.id}, ${c}: ${x.skipped}.`);
      if (x.leftovers) per.push(`${cl.id}, ${c}: processes still running 2 s after the client exited were killed: ${x.leftovers.join(', ')}.`);
      if (x.failures.length > 0) {
        const uniq = [...new Set(x.failures)];
        per.push(`${cl.id}, ${c}: ${x.failures.length} failed run(s): ${uniq.slice(0, 2).map((f) => f.replace(/\|/g, '\\|')).join(' / ')}`);
      }
    }
  }
  if (clients.some((c) => c.id === 'lego' && !c.setupError) && args.cases.has('issue1')) {
    per.push('lego, issue1: bimodal by chance of timing: about 0.1 s when the authorization is already valid at its first look,'
      + ' about 6 s when it is still pending and lego backs off 5 s (Pebble sends no Retry-After).');
  }
  if (args.cases.has(NOOP_ARI)) {
    const without = clients.filter((cl) => !isOurs(cl.id) && !cl.setupError).map((cl) => `${cl.label}: ${NO_ARI[cl.id as Exclude<ClientId, 'acme-client' | 'acme-client-rsa'>]}`);
    if (without.length > 0) per.push(`noop-ari: no peer here asks the CA's renewalInfo, so the ARI no-op has no peer row (${without.join('; ')}).`);
  }
  const nodeCell = cells.get(cellKey('node -e 0', 'noop'));
  if (nodeCell && nodeCell.failures.length > 0) per.push(`node -e 0: ${nodeCell.failures[0]}`);
  const allRuns = [...cells.values()].flatMap((x) => x.runs);
  const zeroSampled = allRuns.filter((r) => r.pssKiB === null).length;
  const tickMs = ctx.samplerMs.ticks > 0 ? ctx.samplerMs.total / ctx.samplerMs.ticks : 0;

  p();
  p('## Method');
  p();
  p(`- Lab: Pebble ${debVersion('pebble') ?? ''} with pebble-challtestsrv as its DNS (every name is 127.0.0.1) and nginx serving http-01 from one`
    + ' challenge directory, all on loopback, started by `scripts/pebble-lab.ts`: no validation sleep (PEBBLE_VA_NOSLEEP=1),'
    + ' no injected badNonce (PEBBLE_WFE_NONCEREJECT=0), no authorization reuse (PEBBLE_AUTHZREUSE=0), so every issuance validates every name.');
  p('- Every client uses http-01, served by that nginx: the clients that write challenge files got its directory (or the webroot above it).'
    + ' Each has its own directory and account, registered before timing, and a first certificate for b1.example.test made untimed;'
    + ' the no-op and the revocation get a fresh b1 certificate (untimed) when the round\'s issuance did not leave one.');
  p('- Domain keys are EC P-256 for everybody (ours, the node library\'s, acme-tiny\'s and lacme\'s made beforehand with openssl; uacme `-t EC`,'
    + ' dehydrated KEY_ALGO=prime256v1, certbot\'s and lego\'s defaults). Peers that make a new domain key for every issuance'
    + ' (certbot, lego, dehydrated) pay for it inside the timed run; P-256 costs about a millisecond.');
  p('- Account keys, made beforehand: ours EC P-256 (first row) and RSA-4096 (second row), the node library\'s EC P-256 (openssl),'
    + ' acme-tiny\'s and lacme\'s RSA-2048; the others make their own at registration (untimed).');
  p('- The node library (npm acme-client, the devDependency node-acme-client) runs through scripts/bench-node-peer.cts: `auto` mode with'
    + ' its own defaults but for skipChallengeVerification (its pre-check fetches http://NAME/ on port 80, where the lab serves nothing;'
    + ' acme-tiny\'s --disable-check likewise). The account URL from its first (untimed) issuance is passed back to it, as its documentation'
    + ' suggests; the library has no renewal rule, so its no-op is the driver reading the certificate with the library\'s'
    + ' readCertificateInfo (30 days, our default), after loading the library as any script using it does.');
  if (args.cases.has(NOOP_ARI) && args.clients.includes(OURS)) {
    p('- The no-op asking the CA\'s renewalInfo (ARI, RFC 9773, our default): Debian\'s Pebble has no renewalInfo, so our client runs it'
      + ' against scripts/ariproxy.ts in front of the same Pebble, in a node process of its own at nice 0 like Pebble (scripts/bench-ariproxy.ts).'
      + ' The proxy passes the directory GET on to Pebble (one more loopback hop) and adds renewalInfo to it; it answers the renewalInfo GET'
      + ' itself: a window two thirds into the certificate\'s lifetime (not yet open), Retry-After 6 h. The certificate (b1.example.test, in'
      + ` a directory of its own) is issued through the proxy, untimed; before each run the ${STATE_FILE} beside it gets an askAfter a minute in`
      + ' the past, as on the first night after the CA\'s Retry-After, so that certproc says "ask": the parent starts netproc and fileproc'
      + ' (not acctproc, keyproc, chngproc), netproc makes the two GETs, fileproc keeps the answer. A run counts only if it exits 2, the proxy'
      + ' got exactly GET /dir and GET /renewal-info/<CertID of that certificate>, and the state file\'s askAfter moved ahead.');
  }
  p(`- How each client trusts the lab's TLS CA: ${clients.map((c) => `${c.id}: ${c.trust}`).join('; ')}.`);
  p('- Timing: a python3 wrapper (a child subreaper) posix_spawn()s the client, measures wall-clock time around it, reaps every'
    + ' descendant (anything still running 2 s after the client exits is killed and noted) and reports getrusage(RUSAGE_CHILDREN):'
    + ' CPU is user+system of every process of the run, counted once each has been waited for.'
    + ` ${ctx.cpuCounted ? 'A self-check confirmed that a grandchild\'s CPU is counted.' : 'The self-check that a grandchild\'s CPU is counted FAILED.'}`);
  if (args.sampleMs === 0) p('- Memory: PSS was not sampled (--sample-ms 0); RSS max comes from getrusage.');
  else p(`- Memory: every ~${args.sampleMs} ms the bench reads /proc/PID/smaps_rollup of every process under the wrapper and keeps the`
    + ' largest sum of Pss. PSS splits each shared page between all processes mapping it, so the sum is what the run adds to the machine'
    + ' (libraries shared with the rest of the system, such as libc, count only for their share). The clients\' node and the wrapper\'s python3'
    + ' are private copies of the system binaries, and the bench runs from yet another copy of node, so that no share of the clients\' pages'
    + ' goes to the bench, the wrapper or node processes that happen to run on the machine. Sampling can miss a peak shorter than the interval and cannot see a process'
    + ' that lives less than one (a very short run may show no PSS at all: then only RSS max, from getrusage, is there).'
    + ` ${zeroSampled} of ${allRuns.length} runs ended before any sample. One sample took ${tickMs.toFixed(2)} ms on average;`
    + ' the bench samples at nice 19 and the wrapper runs the client at nice 0, so sampling takes little CPU from the client.');
  p(`- Order: in every round each case runs every client once, the order rotated by one each round. Time limit ${args.timeoutS} s per run.`);
  p('- Sub-second figures drift by tens of percent on a shared machine: compare within one run, through the ratios.');
  p();
  p('## Notes');
  p();
  for (const n of [...notes, ...per]) p(`- ${n}`);
  p();
  return out.join('\n');
}

// ---- main ------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  let args: Args;
  try { args = readArgs(argv); } catch (e) {
    process.stderr.write(`bench: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (args.inNs) return inner(args, []);
  return outer(args, argv);
}

main().then((code) => { process.exitCode = code; }, (err: unknown) => {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
