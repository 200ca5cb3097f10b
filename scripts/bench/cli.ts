// The bench's command line.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { NOOP_ARI, ALL_CASES } from './cases.js';
import { ROOT } from './common.js';
import { CLIENT_IDS, type ClientId, SLOW100 } from './peers.js';
// ---- command line ------------------------------------------------------------------------------

export interface Args {
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

export const USAGE = `usage: npm run bench -- [--rounds N] [--only CLIENT | --clients a,b] [--cases ${ALL_CASES.join(',')}]
                        [--timeout S] [--slow] [--out FILE] [--keep] [--no-setup] [--no-isolate] [--sample-ms MS] [--rtt MS]
clients: ${CLIENT_IDS.join(', ')}
--slow     also run the 100-name case, once, for the peers that take minutes on it (${Object.keys(SLOW100).join(', ')})
--out      where the Markdown goes (default bench/RESULTS.md, but only when every client and case ran)
--keep     keep the work directory (client dirs, logs of every run)
--sample-ms  PSS sampling interval (default 10, and 0 with --rtt; 0: no sampling). Reading every process's
           /proc/PID/smaps_rollup that often slows a client of many processes: a run through the relay
           measures time, and memory does not depend on the round trip
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
export function readArgs(argv: string[]): Args {
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
  // Through the relay the figures are times, which the sampler skews (scripts/bench.ts, 5).
  if (v['sample-ms'] !== undefined) a.sampleMs = Number(v['sample-ms']);
  else if (a.rttMs !== null) a.sampleMs = 0;
  if (!Number.isInteger(a.rounds) || a.rounds < 1 || a.rounds > 100) throw new Error('--rounds must be an integer 1..100');
  if (!(a.timeoutS > 0)) throw new Error('--timeout must be a positive number of seconds');
  if (!(a.sampleMs >= 0)) throw new Error('--sample-ms must be a number of milliseconds (0: no PSS sampling)');
  if (a.rttMs !== null && !(Number.isInteger(a.rttMs) && a.rttMs >= 0 && a.rttMs <= 10_000)) throw new Error('--rtt must be a whole number of milliseconds 0..10000');
  if (v.out === undefined) a.out = a.full ? join(ROOT, 'bench', 'RESULTS.md') : null;
  return a;
}
