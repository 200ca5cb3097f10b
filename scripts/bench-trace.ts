// Where the bench's time goes, measured: the process tree of a run and the CPU of each of its
// processes (from the kernel), and the wall time of each ACME request (from our client's -vv trace).
//
// Processes: a collector (COLLECTOR_PY, python3, root) listens on two kernel netlink interfaces
// for everything the bench starts: the proc connector (fork, exec and exit of every process, with
// CLOCK_MONOTONIC timestamps in ns) and taskstats (at the exit of every thread: its user+system
// CPU time and command name). Both interfaces only speak to the initial network namespace, so the
// collector runs in the bench's outer process, before the measuring process enters its own; it
// follows the bench's descendants from the outer process's pid down, reads each new program's
// command line from /proc when it is exec'd, and writes one JSON line per event. ProcTrace reads
// that file and, once a measured run has ended, hands over the run's tree.
//
// taskstats counts CPU time the way the scheduler tick sees it (4 ms at this kernel's 250 Hz):
// per thread the figure is a sample, not a stopwatch, so a single process is good to a few ms and
// the medians over rounds are what to read; the sum over a run agrees with getrusage's total
// within a few ms (the bench prints both).
//
// Requests: with -vv our client writes one line before each HTTP request ("<url>: POST …") and one
// when its answer is complete ("<url>: 200 …"). In a traced run the timing wrapper reads the
// client's stderr through a pipe, at nice -10 so that it reads as soon as a line is written, and
// stamps each line with CLOCK_MONOTONIC; parseRequests() pairs the lines per URL. A request's time is what netproc waits for it: a free
// connection, TLS, Pebble's work and the transfer.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { basename } from 'node:path';

// ---- the collector -------------------------------------------------------------------------------

/** Runs as: python3 -I -S collector.py ROOT_PID OUT_FILE; says "ready" on stdout; ends when stdin closes. */
export const COLLECTOR_PY = String.raw`import os, sys, json, socket, struct, select, errno, time
root = int(sys.argv[1])
out = open(sys.argv[2], "a", buffering=1)
def emit(o):
    out.write(json.dumps(o, separators=(",", ":")) + "\n")
def nla(t, data):
    n = 4 + len(data)
    return struct.pack("HH", n, t) + data + b"\0" * (-n % 4)
def attrs(buf):
    i = 0
    while i + 4 <= len(buf):
        n, t = struct.unpack_from("HH", buf, i)
        if n < 4:
            break
        yield t & 0x3fff, buf[i + 4:i + n]
        i += (n + 3) & ~3
def messages(d):
    off = 0
    while off + 16 <= len(d):
        n, typ = struct.unpack_from("IH", d, off)
        if n < 16:
            break
        yield typ, d[off + 16:off + n]
        off += (n + 3) & ~3
SO_RCVBUFFORCE = 33
BIG = 32 << 20
# taskstats (generic netlink): the stats of every thread that exits on any CPU.
ts = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 16)
ts.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, BIG)
ts.bind((0, 0))
def genl(fam, cmd, payload):
    m = struct.pack("BBH", cmd, 1, 0) + payload
    ts.send(struct.pack("IHHII", 16 + len(m), fam, 5, 0, 0) + m)   # NLM_F_REQUEST|NLM_F_ACK
    for typ, body in messages(ts.recv(65536)):
        return typ, body
typ, body = genl(0x10, 3, nla(2, b"TASKSTATS\0"))                  # CTRL_CMD_GETFAMILY
fams = [struct.unpack("H", v[:2])[0] for t, v in attrs(body[4:]) if t == 1] if typ != 2 else []
if not fams:
    raise SystemExit("no taskstats family in this kernel")
typ, body = genl(fams[0], 1, nla(3, ("0-%d" % (os.cpu_count() - 1)).encode() + b"\0"))  # REGISTER_CPUMASK
if typ == 2 and struct.unpack_from("i", body)[0] != 0:
    raise SystemExit("taskstats: cannot listen (error %d)" % struct.unpack_from("i", body)[0])
# proc connector: fork, exec and exit of every process, timestamped.
cn = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 11)
cn.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, BIG)
cn.bind((0, 1))
cn.send(struct.pack("IHHII", 40, 3, 0, 0, cn.getsockname()[0]) + struct.pack("IIIIHH", 1, 1, 0, 0, 4, 0) + struct.pack("I", 1))
tracked = {root}
def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().decode("utf-8", "replace").split("\0")[:-1]
    except OSError:
        return None
def drain(sock, src):
    # Everything queued on the socket now (one recv returns one datagram).
    while True:
        try:
            d = sock.recv(1 << 20, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return
        except OSError as e:
            if e.errno != errno.ENOBUFS:
                raise
            emit({"e": "lost", "src": src})
            continue
        yield d
# A thread's record can be read before its process's fork event (two sockets, and a process of
# a millisecond forks and ends between two reads): kept 2 s for the fork to come. A process
# leaves the tracked set when it ends (pids are used again), but its threads' records are
# taken for 2 s more.
waiting = {}
ended = {}
purged = time.monotonic()
os.write(1, b"ready\n")
while True:
    ready, _, _ = select.select([ts, cn, 0], [], [])
    if 0 in ready and not os.read(0, 4096):
        break
    for d in drain(cn, "proc"):
        for typ, body in messages(d):
            if len(body) < 44:
                continue
            what, cpu, t = struct.unpack_from("IIQ", body, 20)
            if what == 1:                                  # fork: parent pid, tgid, child pid, tgid
                _, ptgid, cpid, ctgid = struct.unpack_from("IIII", body, 36)
                if cpid == ctgid and ptgid in tracked:
                    tracked.add(ctgid)
                    emit({"e": "fork", "t": t, "pid": ctgid, "ppid": ptgid})
                    for _, rec in waiting.pop(ctgid, ()):
                        emit(rec)
            elif what == 2:                                # exec
                pid, tgid = struct.unpack_from("II", body, 36)
                if tgid in tracked:
                    emit({"e": "exec", "t": t, "pid": tgid, "argv": cmdline(tgid)})
            elif what == 0x80000000:                       # exit
                pid, tgid = struct.unpack_from("II", body, 36)
                if pid == tgid and tgid in tracked:
                    emit({"e": "exit", "t": t, "pid": tgid})
                    tracked.discard(tgid)
                    ended[tgid] = time.monotonic()
    now = time.monotonic()
    if now - purged > 1.0:
        waiting = {k: v for k, v in waiting.items() if now - v[-1][0] < 2.0}
        ended = {k: v for k, v in ended.items() if now - v < 2.0}
        purged = now
    for d in drain(ts, "taskstats"):
        for typ, body in messages(d):
            for t1, v in attrs(body[4:]):
                if t1 != 4:                                # TASKSTATS_TYPE_AGGR_PID: one thread
                    continue
                for t2, s in attrs(v):
                    if t2 != 3 or len(s) < 372:            # TASKSTATS_TYPE_STATS, version >= 10
                        continue
                    tgid = struct.unpack_from("I", s, 368)[0]
                    tid = struct.unpack_from("I", s, 128)[0]
                    ut, st = struct.unpack_from("QQ", s, 152)
                    rec = {"e": "cpu", "pid": tgid, "tid": tid, "comm": s[80:112].split(b"\0")[0].decode("utf-8", "replace"), "us": ut + st}
                    if tgid in tracked or tgid in ended:
                        emit(rec)
                    else:
                        waiting.setdefault(tgid, []).append((now, rec))
`;

// ---- reading the collector's events -------------------------------------------------------------

export interface Proc {
  pid: number;
  ppid: number | undefined;
  forkNs: number | undefined;
  exitNs: number | undefined;
  /** The command line of each program the process ran (exec), in order; null where /proc was gone. */
  argvs: (string[] | null)[];
  cpuUs: number;
  /** The thread-group leader's taskstats record came: the process's CPU is complete. */
  leaderSeen: boolean;
  comm: string | undefined;
  /** The processes it forked (objects, not pids: a pid can be used again within a run). */
  children: Proc[];
}

type Event =
  | { e: 'fork'; t: number; pid: number; ppid: number }
  | { e: 'exec'; t: number; pid: number; argv: string[] | null }
  | { e: 'exit'; t: number; pid: number }
  | { e: 'cpu'; pid: number; tid: number; comm: string; us: number }
  | { e: 'lost'; src: string };

export class ProcTrace {
  private readonly fd: number;
  private offset = 0;
  private partial = '';
  private readonly procs = new Map<number, Proc>();
  /** Events the kernel dropped (the collector's socket overflowed): a breakdown may miss some. */
  lost = 0;

  constructor(file: string) {
    this.fd = openSync(file, 'r');
  }

  close(): void {
    closeSync(this.fd);
  }

  private get(pid: number): Proc {
    let p = this.procs.get(pid);
    if (!p) {
      p = { pid, ppid: undefined, forkNs: undefined, exitNs: undefined, argvs: [], cpuUs: 0, leaderSeen: false, comm: undefined, children: [] };
      this.procs.set(pid, p);
    }
    return p;
  }

  drain(): void {
    const size = fstatSync(this.fd).size;
    if (size <= this.offset) return;
    const buf = Buffer.alloc(size - this.offset);
    const n = readSync(this.fd, buf, 0, buf.length, this.offset);
    this.offset += n;
    const lines = (this.partial + buf.toString('utf8', 0, n)).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line === '') continue;
      let ev: Event;
      try { ev = JSON.parse(line) as Event; } catch { continue; }
      switch (ev.e) {
        case 'fork': {
          const old = this.procs.get(ev.pid);
          if (old && old.exitNs !== undefined) this.procs.delete(ev.pid); // the pid is used again: a new process
          const p = this.get(ev.pid);
          p.ppid = ev.ppid;
          p.forkNs = ev.t;
          this.get(ev.ppid).children.push(p);
          break;
        }
        case 'exec': this.get(ev.pid).argvs.push(ev.argv); break;
        case 'exit': this.get(ev.pid).exitNs = ev.t; break;
        case 'cpu': {
          const p = this.get(ev.pid);
          p.cpuUs += ev.us;
          if (ev.tid === ev.pid) { p.leaderSeen = true; p.comm = ev.comm; }
          break;
        }
        case 'lost': this.lost++; break;
      }
    }
  }

  /** Waits (up to limitMs) until the process `pid` has ended and all of its threads' CPU is in. */
  async settle(pid: number, limitMs: number): Promise<boolean> {
    const until = Date.now() + limitMs;
    for (;;) {
      this.drain();
      const p = this.procs.get(pid);
      if (p && p.exitNs !== undefined && p.leaderSeen) return true;
      if (Date.now() > until) return false;
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** The processes under `pid` (not itself), removed from the trace. */
  take(pid: number): Proc[] {
    const out: Proc[] = [];
    const todo = [...(this.procs.get(pid)?.children ?? [])];
    while (todo.length > 0) {
      const p = todo.pop()!;
      out.push(p);
      todo.push(...p.children);
    }
    for (const p of [this.procs.get(pid), ...out]) if (p && this.procs.get(p.pid) === p) this.procs.delete(p.pid);
    return out;
  }
}

// ---- one run: CPU per process of our client -------------------------------------------------------

export const ROLES = ['parent', 'certproc', 'netproc', 'acctproc', 'keyproc', 'chngproc', 'fileproc'] as const;

export interface ProcShare {
  /** parent, a role, or "parent's <program>" for what the parent starts that is not a child role. */
  label: string;
  /** CPU of the process itself (every program it exec'd: unshare, sh, chroot, node). */
  cpuMs: number;
  /** CPU of the processes it started (the jail's mount, mkdir, ln; the capability probe's true). */
  helperMs: number;
  helpers: string[];
  /** From the start of the run (the parent's fork) to this process's fork and exit. */
  startMs: number;
  endMs: number;
}

export interface ProcRun {
  shares: ProcShare[];
  /** Sum of the CPU of every process of the run, from taskstats. */
  totalMs: number;
  /** The parent's life: fork to exit. */
  wallMs: number;
  /** Processes whose end or CPU record never came, or events the kernel dropped: the figures may be short. */
  problems: string[];
}

const ROLE_SCRIPT = /\/procs\/(\w+)\.js$/;

function programs(p: Proc): string[] {
  return p.argvs.map((a) => (a && a[0] ? basename(a[0]) : p.comm ?? '?'));
}

function roleOf(p: Proc): string | undefined {
  for (const argv of p.argvs) for (const a of argv ?? []) {
    const m = ROLE_SCRIPT.exec(a);
    if (m) return m[1];
  }
  return undefined;
}

/** Splits the tree of one run (under the timing wrapper) into the parent, its child roles and helpers. */
export function splitRun(tree: Proc[], wrapperPid: number, lost: boolean): ProcRun | undefined {
  const client = tree.find((p) => p.ppid === wrapperPid);
  if (!client || client.forkNs === undefined || client.exitNs === undefined) return undefined;
  const t0 = client.forkNs;
  const ms = (ns: number | undefined): number => (ns === undefined ? NaN : (ns - t0) / 1e6);
  const below = (p: Proc): Proc[] => {
    const out: Proc[] = [];
    const todo = [...p.children];
    while (todo.length > 0) {
      const q = todo.pop()!;
      out.push(q);
      todo.push(...q.children);
    }
    return out;
  };
  const problems = tree.filter((p) => !p.leaderSeen || p.exitNs === undefined)
    .map((p) => `${p.pid} ${programs(p).join('→') || '?'}: ${p.exitNs === undefined ? 'no exit event' : 'no CPU record of its main thread'}`);
  if (lost) problems.push('the kernel dropped events (the collector\'s socket overflowed)');
  const cpuMs = (ps: Proc[]): number => ps.reduce((s, p) => s + p.cpuUs, 0) / 1000;
  const names = (ps: Proc[]): string[] => ps.flatMap((p) => programs(p).slice(-1));
  const shares: ProcShare[] = [{ label: 'parent', cpuMs: client.cpuUs / 1000, helperMs: 0, helpers: [], startMs: 0, endMs: ms(client.exitNs) }];
  const others: Proc[] = [];
  for (const c of client.children) {
    const role = roleOf(c);
    if (!role) { others.push(c); continue; }
    const helpers = below(c);
    shares.push({ label: role, cpuMs: c.cpuUs / 1000, helperMs: cpuMs(helpers), helpers: names(helpers), startMs: ms(c.forkNs), endMs: ms(c.exitNs) });
  }
  if (others.length > 0) {
    // What the parent starts besides its children (the capability probe: unshare running true).
    const all = [...others, ...others.flatMap(below)];
    shares.push({ label: `parent's other processes (${[...new Set(all.map((p) => p.comm ?? '?'))].sort().join(', ')})`, cpuMs: cpuMs(all), helperMs: 0, helpers: [],
      startMs: Math.min(...others.map((o) => ms(o.forkNs))), endMs: Math.max(...all.map((o) => ms(o.exitNs))) });
  }
  return { shares, totalMs: cpuMs(tree), wallMs: ms(client.exitNs), problems };
}

// ---- one traced run: wall time per ACME request -----------------------------------------------

export interface RequestRun {
  /** Every request: its kind, and when it was sent and answered (ms from the run's start). */
  requests: { kind: string; startMs: number; endMs: number }[];
  /** Request lines without an answer line (the run failed, or a line was not understood). */
  unanswered: number;
  /** The run's end (ms from its start): the parent's exit. */
  endMs: number;
}

const TRACE_LINE = /^(\d+) acme-client: (https:\/\/[^ ]+): (GET|HEAD|POST|\d{3})(?: |$)/;

/**
 * Pebble's resource paths, in the order of an issuance. A first POST-as-GET of an authorization
 * fetches it, a later one polls it; the same for the order (read before finalize, then polled).
 */
const KINDS: [RegExp, string][] = [
  [/\/dir$/, 'directory'], [/\/nonce-plz$/, 'newNonce'], [/\/sign-me-up$/, 'newAccount'], [/\/my-account\//, 'account'],
  [/\/order-plz$/, 'newOrder'], [/\/authZ\//, 'authorization'], [/\/chalZ\//, 'challenge (respond)'],
  [/\/my-order\//, 'order'], [/\/finalize-order\//, 'finalize'], [/\/certZ\//, 'certificate'], [/\/revoke-cert$/, 'revokeCert'],
  // RFC 9773's unauthenticated GET: scripts/ariproxy.ts's path, which the bench's ARI no-op goes through.
  [/\/renewal-info\//, 'renewalInfo'],
];
export const KIND_ORDER = ['directory', 'renewalInfo', 'newNonce', 'newAccount', 'account', 'newOrder', 'authorization (fetch)', 'challenge (respond)',
  'authorization (poll)', 'order (read)', 'finalize', 'order (poll)', 'certificate', 'revokeCert', 'other'];

/** Reads the wrapper's stamped stderr of a -vv run ("<monotonic ns> <line>" per line). */
export function parseRequests(text: string, t0Ns: number, endMs: number): RequestRun {
  const pending = new Map<string, { kind: string; startMs: number }[]>();
  const seen = new Set<string>();
  let finalized = false;
  const requests: RequestRun['requests'] = [];
  for (const line of text.split('\n')) {
    const m = TRACE_LINE.exec(line);
    if (!m) continue;
    const at = (Number(m[1]) - t0Ns) / 1e6;
    const url = m[2]!;
    if (/^\d{3}$/.test(m[3]!)) {
      const q = pending.get(url);
      const r = q?.shift();
      if (r) requests.push({ ...r, endMs: at });
      continue;
    }
    let kind = KINDS.find(([re]) => re.test(new URL(url).pathname))?.[1] ?? 'other';
    if (kind === 'authorization') kind = seen.has(url) ? 'authorization (poll)' : 'authorization (fetch)';
    if (kind === 'order') kind = finalized ? 'order (poll)' : 'order (read)';
    if (kind === 'finalize') finalized = true;
    seen.add(url);
    let q = pending.get(url);
    if (!q) pending.set(url, (q = []));
    q.push({ kind, startMs: at });
  }
  const unanswered = [...pending.values()].reduce((s, q) => s + q.length, 0);
  return { requests: requests.sort((a, b) => a.startMs - b.startMs), unanswered, endMs };
}

// ---- the report ---------------------------------------------------------------------------------

function median(v: number[]): number {
  const s = [...v].sort((x, y) => x - y);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const f0 = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : '—');
const f1 = (x: number): string => (Number.isFinite(x) ? (x < 10 ? x.toFixed(1) : x.toFixed(0)) : '—');

/** What the stretches of a run's wall time hold, in the words of one kind of run. */
export interface Stretches {
  beforeFirst: string;
  idle: string;
  afterLast: string;
}

export const ISSUANCE_STRETCHES: Stretches = {
  beforeFirst: 'start of the run → first request sent (start-ups, certproc\'s verdict, the account key loaded)',
  idle: '… of which no request was in flight (our side: signing, challenge files, CSR, IPC)',
  afterLast: 'last answer → end of the run (certificate checked and written, children ended)',
};

/** The no-op that asks the CA's renewalInfo: certproc says "ask", netproc GETs twice, fileproc keeps the answer. */
export const NOOP_STRETCHES: Stretches = {
  beforeFirst: 'start of the run → first request sent (parent and certproc start, certproc says "ask", netproc and fileproc start)',
  idle: '… of which no request was in flight (netproc between the two GETs)',
  afterLast: 'last answer → end of the run (certproc\'s verdict, fileproc writes the state file, children ended)',
};

export interface Variant {
  /** Column heading: which of our rows (e.g. "EC P-256 account key"). */
  name: string;
  procRuns: ProcRun[];
  /** The same runs' CPU as getrusage counted it (s), for comparison with taskstats' sum. */
  rusageCpuS: number[];
  requestRuns: RequestRun[];
}

function labelOrder(a: string, b: string): number {
  const ia = (ROLES as readonly string[]).indexOf(a);
  const ib = (ROLES as readonly string[]).indexOf(b);
  return (ia === -1 ? 99 : ia) - (ib === -1 ? 99 : ib) || a.localeCompare(b);
}

/** Markdown lines: per-process CPU and lifetime, then per-request wall, one column group per variant. */
export function renderBreakdown(variants: Variant[], stretches: Stretches = ISSUANCE_STRETCHES): string[] {
  const out: string[] = [];
  const withProcs = variants.filter((v) => v.procRuns.length > 0);
  if (withProcs.length > 0) {
    const labels = [...new Set(withProcs.flatMap((v) => v.procRuns.flatMap((r) => r.shares.map((s) => s.label))))].sort(labelOrder);
    out.push(`Per process (median over the timed runs: ${withProcs.map((v) => `${v.name} ${v.procRuns.length}`).join(', ')}). **CPU ms**: the process itself,`
      + ' every program it ran included (unshare, sh, chroot, node); **+ helpers**: the processes it started; **alive ms**: from the start of the run'
      + ' (the parent\'s fork) to the process\'s fork and exit.');
    out.push('');
    out.push(`| process | ${withProcs.map((v) => `CPU ms (${v.name}) | + helpers | alive ms`).join(' | ')} |`);
    out.push(`|---|${withProcs.map(() => '---|---|---').join('|')}|`);
    for (const label of labels) {
      const cells = withProcs.map((v) => {
        const s = v.procRuns.map((r) => r.shares.filter((x) => x.label === label)).filter((x) => x.length > 0);
        if (s.length === 0) return ' | | ';
        // A label can occur more than once in a run (two probes): summed within the run.
        const sum = (f: (x: ProcShare) => number): number[] => s.map((xs) => xs.reduce((a, x) => a + f(x), 0));
        const helpers = [...new Set(s.flatMap((xs) => xs.flatMap((x) => x.helpers)))];
        const count = median(s.map((xs) => xs.reduce((a, x) => a + x.helpers.length, 0)));
        const helperCell = helpers.length === 0 ? '' : `${f1(median(sum((x) => x.helperMs)))} (${f0(count)}: ${helpers.join(', ')})`;
        const seen = s.length < v.procRuns.length ? ` [${s.length} of ${v.procRuns.length} runs]` : '';
        return `${f1(median(sum((x) => x.cpuMs)))}${seen} | ${helperCell} | ${f0(median(s.map((xs) => xs[0]!.startMs)))}–${f0(median(s.map((xs) => Math.max(...xs.map((x) => x.endMs)))))}`;
      });
      out.push(`| ${label} | ${cells.join(' | ')} |`);
    }
    out.push(`| **all processes (taskstats sum)** | ${withProcs.map((v) => `**${f0(median(v.procRuns.map((r) => r.totalMs)))}** | | 0–${f0(median(v.procRuns.map((r) => r.wallMs)))}`).join(' | ')} |`);
    out.push(`| whole run as getrusage counts it | ${withProcs.map((v) => `${f0(median(v.rusageCpuS.map((x) => x * 1000)))} | | `).join(' | ')} |`);
    const incomplete = withProcs.reduce((s, v) => s + v.procRuns.filter((r) => r.problems.length > 0).length, 0);
    if (incomplete > 0) out.push('', `(${incomplete} run(s) with a process whose exit or CPU record never came: their figures may be short.)`);
  }
  const withReqs = variants.filter((v) => v.requestRuns.length > 0);
  if (withReqs.length > 0) {
    out.push('');
    out.push(`Per ACME request (from ${withReqs.map((v) => `${v.requestRuns.length} -vv run(s) with the ${v.name}`).join(' and ')}, one per round after the timed runs;`
      + ' tracing makes them a little slower). **n**: requests per run (median); **median / max ms**: from the request\'s trace line to its answer\'s, over every request of'
      + ' that kind in those runs; **sum ms**: per run (median). Requests overlap (as many in flight as there are nonces, up to MAX_CONNECTIONS in src/acme/http.ts), so sums exceed the wall time.');
    out.push('');
    const kinds = KIND_ORDER.filter((k) => withReqs.some((v) => v.requestRuns.some((r) => r.requests.some((q) => q.kind === k))));
    out.push(`| request | ${withReqs.map((v) => `n (${v.name}) | median ms | max ms | sum ms`).join(' | ')} |`);
    out.push(`|---|${withReqs.map(() => '---|---|---|---').join('|')}|`);
    for (const k of kinds) {
      const cells = withReqs.map((v) => {
        const per = v.requestRuns.map((r) => r.requests.filter((q) => q.kind === k).map((q) => q.endMs - q.startMs));
        const all = per.flat();
        if (all.length === 0) return ' | | | ';
        return `${f0(median(per.map((p) => p.length)))} | ${f1(median(all))} | ${f1(Math.max(...all))} | ${f0(median(per.map((p) => p.reduce((a, b) => a + b, 0))))}`;
      });
      out.push(`| ${k} | ${cells.join(' | ')} |`);
    }
    out.push('');
    out.push('The run\'s wall time, split (median ms of the -vv runs):');
    out.push('');
    out.push(`| stretch | ${withReqs.map((v) => v.name).join(' | ')} |`);
    out.push(`|---|${withReqs.map(() => '---').join('|')}|`);
    const timeline = (r: RequestRun): { first: number; last: number; idle: number; end: number } => {
      const first = r.requests.length > 0 ? r.requests[0]!.startMs : NaN;
      let last = first;
      let idle = 0;
      for (const q of r.requests) {
        if (q.startMs > last) idle += q.startMs - last;
        last = Math.max(last, q.endMs);
      }
      return { first, last, idle, end: r.endMs };
    };
    const row = (label: string, f: (t: ReturnType<typeof timeline>) => number): void => {
      out.push(`| ${label} | ${withReqs.map((v) => f0(median(v.requestRuns.map((r) => f(timeline(r)))))).join(' | ')} |`);
    };
    row(stretches.beforeFirst, (t) => t.first);
    row('first request → last answer (the ACME conversation)', (t) => t.last - t.first);
    row(stretches.idle, (t) => t.idle);
    row(stretches.afterLast, (t) => t.end - t.last);
    row('whole run', (t) => t.end);
    const unanswered = withReqs.reduce((s, v) => s + v.requestRuns.reduce((a, r) => a + r.unanswered, 0), 0);
    if (unanswered > 0) out.push('', `(${unanswered} request line(s) had no answer line.)`);
  }
  return out;
}
