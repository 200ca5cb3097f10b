// `npm run soak [-- --rounds N] [-- --nonce-reject P]`: many issuances and renewals in a row against
// a local Pebble (2.10 or later, whose renewal window is set through its /set-renewal-info/) that
// rejects P % (default 30) of good nonces as badNonce; to show the client
// retries its way through every time and leaves no process behind. Not part of npm test (200
// rounds take minutes).
//
// Each round, for two names in a fresh cert dir, three runs of the built client with -v: the
// issuance (exit 0); the CA's renewal window moved into the past, so the nightly run renews with
// "replaces" (exit 0); the window moved two months ahead, so the next night asks and has nothing
// to do (exit 2). Account and domain keys are EC P-256 made once with openssl (so that every round
// is the same work). Counted: rounds, failures (another exit than the one expected; the stderr of
// the first few is printed), processes of a run still alive once it has ended, badNonce retries
// (`nonce rejected, retrying` lines) and the slowest round. Exit status 1 if any run failed or
// left a process.
//
// The client run is a copy of dist/ taken at start, so a rebuild during the soak does not break it.
import { spawn, execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { labUnavailable, startLab } from './pebble-lab.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..'); // build/scripts/soak.js -> repo root
const RUN_TIMEOUT_MS = 180_000;
const SHOW_FAILURES = 3;
/** Of each failure shown, the end of its stderr: where -v output says what went wrong. */
const STDERR_LINES = 20;
const RETRY_LINE = /nonce rejected, retrying/;

function usage(problem: string): never {
  process.stderr.write(`soak: ${problem}\nusage: npm run soak -- [--rounds N] [--nonce-reject PERCENT]\n`);
  process.exit(1);
}

function readArgs(argv: string[]): { rounds: number; nonceReject: number } {
  let values: { rounds?: string; 'nonce-reject'?: string };
  try {
    ({ values } = parseArgs({ args: argv, options: { rounds: { type: 'string' }, 'nonce-reject': { type: 'string' } }, strict: true, allowPositionals: false }));
  } catch (e) {
    usage((e as Error).message);
  }
  const count = (flag: string, text: string | undefined, fallback: number): number => {
    if (text === undefined) return fallback;
    if (!/^\d+$/.test(text)) usage(`${flag} needs a non-negative integer`);
    return Number(text);
  };
  const out = { rounds: count('--rounds', values.rounds, 200), nonceReject: count('--nonce-reject', values['nonce-reject'], 30) };
  if (out.rounds < 1) usage('--rounds must be at least 1');
  if (out.nonceReject > 100) usage('--nonce-reject is a percentage, 0..100');
  return out;
}

interface Run {
  status: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  ms: number;
}

function runClient(client: string, args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    // SIGTERM on timeout: the parent passes it on to its children, so none is left behind.
    const child = spawn(process.execPath, [client, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'], timeout: RUN_TIMEOUT_MS, killSignal: 'SIGTERM' });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (status, signal) => resolve({ status, signal, stderr, ms: Date.now() - started }));
  });
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const DAY = 86_400_000;

/** Live processes (zombies aside) whose command line mentions `marker`: the soak's copy of dist/. */
function processesMentioning(marker: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker) && stat[stat.lastIndexOf(')') + 2] !== 'Z') found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

async function main(): Promise<number> {
  const { rounds, nonceReject } = readArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) usage('must be run as root (it soaks root runs, as a root crontab makes them)');
  const unavailable = labUnavailable();
  if (unavailable !== undefined) usage(`no Pebble lab: ${unavailable}`);
  const dist = join(root, 'dist');
  if (!existsSync(join(dist, 'acme-client.js'))) usage(`${dist}/acme-client.js not built (npm run build)`);

  const work = mkdtempSync(join(tmpdir(), 'acme-client-soak-'));
  chmodSync(work, 0o755); // the children read their code after dropping to an unprivileged user
  const client = join(work, 'dist', 'acme-client.js');
  cpSync(dist, join(work, 'dist'), { recursive: true });
  const priv = join(work, 'private');
  mkdirSync(priv, { mode: 0o700 });
  const acct = join(priv, 'account.pem');
  const dom = join(priv, 'domain.pem');
  for (const key of [acct, dom]) execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key], { stdio: ['ignore', 'ignore', 'pipe'] });

  // Let's Encrypt's classic 90-day lifetime (the lab's default profile).
  const lab = await startLab({ nonceReject });
  process.stdout.write(`soak: ${rounds} rounds (issue, renew on the CA's window, a no-op night; 2 names each) against Pebble ${lab.directoryUrl}, nonceReject ${nonceReject} %\n`);
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', NODE_EXTRA_CA_CERTS: lab.tlsCaFile };
  const started = Date.now();
  let runs = 0;
  let failures = 0;
  let retries = 0;
  let left = 0;
  const roundMs: number[] = [];
  let slowest = { round: 0, ms: -1 };
  try {
    for (let round = 1; round <= rounds; round++) {
      const certs = join(work, 'certs', String(round));
      mkdirSync(certs, { recursive: true });
      const names = [`r${round}.soak.example.test`, `www.r${round}.soak.example.test`];
      const args = ['-v', '--server', lab.directoryUrl, '-C', lab.challengeDir, '-c', certs, '-f', acct, '-k', dom, ...names];
      const now = Date.now();
      const ahead = { start: new Date(now + 60 * DAY), end: new Date(now + 62 * DAY) };
      // The window Pebble answers for the certificate installed before each night (none before the first).
      const nights = [
        ['issue', 0, null],
        ['renew on the CA\'s window', 0, { start: new Date(now - 2 * DAY), end: new Date(now - DAY) }],
        ['no-op night', 2, ahead],
      ] as const;
      let ms = 0;
      for (const [what, expected, window] of nights) {
        if (window !== null) await lab.setRenewalInfo(readFileSync(join(certs, 'cert.pem'), 'utf8'), window);
        const run = await runClient(client, args, env);
        runs++;
        ms += run.ms;
        retries += run.stderr.split('\n').filter((l) => RETRY_LINE.test(l)).length;
        const alive = processesMentioning(join(work, 'dist'));
        if (alive.length > 0) {
          left += alive.length;
          process.stdout.write(`\nLEFT RUNNING: round ${round}, ${what}: pids ${alive.join(' ')}\n`);
          for (const pid of alive) process.kill(pid, 'SIGKILL');
        }
        if (run.status !== expected) {
          failures++;
          if (failures <= SHOW_FAILURES) {
            const how = run.signal !== null ? `killed by ${run.signal}` : `exit ${run.status}, not ${expected}`;
            const lines = run.stderr.trimEnd().split('\n');
            const shown = lines.slice(-STDERR_LINES).map((l) => `  | ${l}`);
            if (lines.length > STDERR_LINES) shown.unshift(`  | (${lines.length - STDERR_LINES} earlier lines of -v output left out)`);
            process.stdout.write(`\nFAILURE: round ${round}, ${what}: ${how} after ${seconds(run.ms)}, stderr:\n${shown.join('\n')}\n\n`);
          }
          break; // the next night would start from a state this round did not mean
        }
      }
      roundMs.push(ms);
      if (ms > slowest.ms) slowest = { round, ms };
      if (round % 10 === 0 || round === rounds) {
        process.stdout.write(`round ${round}/${rounds}: ${failures} failure(s), ${left} process(es) left, ${retries} retries so far, slowest ${seconds(slowest.ms)} (round ${slowest.round})\n`);
      }
    }
  } finally {
    const requests = lab.requestCount();
    const asked = lab.requestLog().split('\n').filter((l) => / GET \S*\/renewalInfo\/ -> calling handler\(\)$/.test(l)).length;
    await lab.stop();
    const sorted = [...roundMs].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
    const mean = roundMs.reduce((a, b) => a + b, 0) / Math.max(roundMs.length, 1);
    process.stdout.write([
      '',
      'soak summary',
      `  rounds          ${roundMs.length} of ${rounds} (${runs} client runs)`,
      `  failures        ${failures}`,
      `  processes left  ${left}`,
      `  renewalInfo     ${asked} asked`,
      `  nonce retries   ${retries} (${(retries / Math.max(runs, 1)).toFixed(1)} per run; Pebble rejects ${nonceReject} % of nonces)`,
      `  slowest round   ${seconds(slowest.ms)} (round ${slowest.round})`,
      `  round time      median ${seconds(median)}, mean ${seconds(mean)}`,
      `  ACME requests   ${requests}`,
      `  total           ${seconds(Date.now() - started)}`,
      '',
    ].join('\n'));
    if (failures === 0 && left === 0) rmSync(work, { recursive: true, force: true });
    else process.stdout.write(`  kept for inspection: ${work}\n`);
  }
  return failures === 0 && left === 0 ? 0 : 1;
}

main().then(
  (status) => {
    process.exitCode = status;
  },
  (err: unknown) => {
    process.stderr.write(`soak: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
