// One measured run: the timing wrapper, PSS sampling of the process tree, the requests Pebble logged.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync, readdirSync, writeFileSync, fstatSync } from 'node:fs';
import { join } from 'node:path';
import { type Lab } from '../pebble-lab.js';
import { ProcTrace, parseRequests, splitRun, type ProcRun, type RequestRun } from '../bench-trace.js';
import { type Args } from './cli.js';
import { sleep, fileTail } from './common.js';
import { type AriProxyProcess, type RelayProcess } from './lab.js';
// ---- 3. the timing wrapper --------------------------------------------------------------------

// Runs as: python3 -I -S wrapper.py LIMIT_S STAMP_FILE|- -- ARGV...; reports one JSON line on fd 3.
// With a STAMP_FILE, the client's stderr comes through a pipe and each line goes to that file as
// "<CLOCK_MONOTONIC ns> <line>", stamped as it arrives (the per-request times of a -vv run).
export const WRAPPER_PY = String.raw`import os, sys, time, json, signal, ctypes, resource, select, threading, fcntl
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

export class TreeSampler {
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

export interface RunSpec {
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

export interface Measured {
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

export interface Ctx {
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
export function requestCounter(file: string): () => number {
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

export async function measure(ctx: Ctx, spec: RunSpec, label: string, timeoutS: number): Promise<Measured> {
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
