// The bench's breakdown of a run: reading the process trace, splitting a run by role, pairing the
// -vv trace's request and answer lines. Pure functions on made-up input: no kernel, no Pebble.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NOOP_STRETCHES, ProcTrace, parseRequests, renderBreakdown, splitRun } from '../scripts/bench-trace.js';

const MS = 1_000_000; // ns

function withTrace(events: object[], body: (trace: ProcTrace, file: string) => void | Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-trace-test-'));
  const file = join(dir, 'trace.jsonl');
  writeFileSync(file, events.map((e) => JSON.stringify(e) + '\n').join(''));
  const trace = new ProcTrace(file);
  return (async () => {
    try { await body(trace, file); } finally { trace.close(); rmSync(dir, { recursive: true, force: true }); }
  })();
}

/** A run under wrapper 10: parent 11, netproc 12 (unshare'd), chngproc 13 with a jail's mount 14, the probe 15. */
const RUN = [
  { e: 'fork', t: 0, pid: 11, ppid: 10 },
  { e: 'exec', t: 1 * MS, pid: 11, argv: ['/usr/bin/node', '/x/dist/acme-client.js', '-F', 'a.test'] },
  { e: 'fork', t: 20 * MS, pid: 15, ppid: 11 },
  { e: 'exec', t: 20 * MS, pid: 15, argv: ['true'] },
  { e: 'exit', t: 22 * MS, pid: 15 },
  { e: 'cpu', pid: 15, tid: 15, comm: 'true', us: 1000 },
  { e: 'fork', t: 30 * MS, pid: 12, ppid: 11 },
  { e: 'exec', t: 30 * MS, pid: 12, argv: ['/usr/bin/node', '--v8-pool-size=1', '/x/dist/procs/netproc.js'] },
  { e: 'fork', t: 31 * MS, pid: 13, ppid: 11 },
  { e: 'exec', t: 31 * MS, pid: 13, argv: null }, // gone from /proc before it was read
  { e: 'exec', t: 32 * MS, pid: 13, argv: ['/bin/sh', '-ec', 'J=$1', 'jail', '/j', '/w', '/x/dist/procs', '/usr', '/usr/bin/node', '/x/dist/procs/chngproc.js'] },
  // A thread's record before its process's fork event reaches the file is fine; so is one after the exit.
  { e: 'fork', t: 33 * MS, pid: 14, ppid: 13 },
  { e: 'exec', t: 33 * MS, pid: 14, argv: ['mount', '-t', 'tmpfs'] },
  { e: 'cpu', pid: 14, tid: 14, comm: 'mount', us: 2000 },
  { e: 'exit', t: 34 * MS, pid: 14 },
  { e: 'cpu', pid: 12, tid: 16, comm: 'node', us: 4000 },
  { e: 'exit', t: 200 * MS, pid: 12 },
  { e: 'cpu', pid: 12, tid: 12, comm: 'node', us: 60000 },
  { e: 'exit', t: 190 * MS, pid: 13 },
  { e: 'cpu', pid: 13, tid: 13, comm: 'node', us: 40000 },
  { e: 'exit', t: 210 * MS, pid: 11 },
  { e: 'cpu', pid: 11, tid: 11, comm: 'node', us: 50000 },
  { e: 'exit', t: 211 * MS, pid: 10 },
  { e: 'cpu', pid: 10, tid: 10, comm: 'python3', us: 9000 },
];

test('a run splits into the parent, its roles with their helpers, and its other processes', async () => {
  await withTrace([{ e: 'fork', t: 0, pid: 10, ppid: 1 }, ...RUN], async (trace) => {
    assert.equal(await trace.settle(10, 1000), true);
    const run = splitRun(trace.take(10), 10, trace.lost > 0);
    assert.ok(run);
    const by = new Map(run.shares.map((s) => [s.label, s]));
    assert.deepEqual([...by.keys()], ['parent', 'netproc', 'chngproc', "parent's other processes (true)"]);
    assert.equal(by.get('parent')!.cpuMs, 50);
    assert.equal(by.get('netproc')!.cpuMs, 64); // both threads
    assert.deepEqual([by.get('netproc')!.startMs, by.get('netproc')!.endMs], [30, 200]);
    assert.equal(by.get('chngproc')!.cpuMs, 40);
    assert.equal(by.get('chngproc')!.helperMs, 2);
    assert.deepEqual(by.get('chngproc')!.helpers, ['mount']);
    assert.equal(by.get("parent's other processes (true)")!.cpuMs, 1);
    assert.equal(run.totalMs, 50 + 64 + 40 + 2 + 1); // the wrapper itself is not part of the run
    assert.equal(run.wallMs, 210);
    assert.deepEqual(run.problems, []);
  });
});

test('a process whose main thread left no CPU record makes the run incomplete, by name', async () => {
  const events = RUN.filter((e) => !(e.e === 'cpu' && e.pid === 14));
  await withTrace(events, async (trace) => {
    await trace.settle(10, 1000);
    const run = splitRun(trace.take(10), 10, false);
    assert.deepEqual(run!.problems, ['14 mount: no CPU record of its main thread']);
  });
});

test('settle waits for the wrapper to end; take leaves nothing of the run behind', async () => {
  await withTrace(RUN.slice(0, 10), async (trace, file) => {
    assert.equal(await trace.settle(10, 30), false);
    appendFileSync(file, RUN.slice(10).map((e) => JSON.stringify(e) + '\n').join(''));
    assert.equal(await trace.settle(10, 1000), true);
    assert.equal(trace.take(10).length, 5);
    assert.equal(trace.take(10).length, 0);
  });
});

test('a pid used again within a run is a second process, not one with two lives', async () => {
  const events = [
    { e: 'fork', t: 0, pid: 11, ppid: 10 },
    { e: 'fork', t: 1 * MS, pid: 20, ppid: 11 },
    { e: 'exec', t: 1 * MS, pid: 20, argv: ['mkdir'] },
    { e: 'exit', t: 2 * MS, pid: 20 },
    { e: 'cpu', pid: 20, tid: 20, comm: 'mkdir', us: 1000 },
    { e: 'fork', t: 3 * MS, pid: 20, ppid: 11 },
    { e: 'exec', t: 3 * MS, pid: 20, argv: ['ln'] },
    { e: 'exit', t: 4 * MS, pid: 20 },
    { e: 'cpu', pid: 20, tid: 20, comm: 'ln', us: 3000 },
    { e: 'exit', t: 5 * MS, pid: 11 },
    { e: 'cpu', pid: 11, tid: 11, comm: 'node', us: 10000 },
    { e: 'exit', t: 6 * MS, pid: 10 },
    { e: 'cpu', pid: 10, tid: 10, comm: 'python3', us: 1000 },
  ];
  await withTrace(events, async (trace) => {
    await trace.settle(10, 1000);
    const tree = trace.take(10);
    assert.deepEqual(tree.map((p) => `${p.pid} ${p.comm} ${p.cpuUs}`).sort(), ['11 node 10000', '20 ln 3000', '20 mkdir 1000']);
  });
});

const U = 'https://127.0.0.1:14000';
const stamped = (rows: [number, string][]): string => rows.map(([ms, line]) => `${1_000_000_000 + ms * MS} acme-client: ${line}`).join('\n');

test('request and answer lines pair up per URL; first authorization look is a fetch, later ones polls', () => {
  const text = stamped([
    [100, `${U}/dir: GET`],
    [115, `${U}/dir: 200 {"newNonce": "x"}`],
    [116, `${U}/dir: directory loaded`],
    [120, `${U}/authZ/a: POST {"protected":"…"}`],
    [121, `${U}/authZ/b: POST {"protected":"…"}`],
    [125, `${U}/authZ/b: 200 {"status": "pending"}`],
    [126, `${U}/authZ/a: 200 {"status": "pending"}`],
    [130, `${U}/authZ/a: POST {"protected":"…"}`],
    [132, `${U}/authZ/a: 200 {"status": "valid"}`],
    [140, `${U}/my-order/o: POST {"protected":"…"}`],
    [141, `${U}/my-order/o: 200 {"status": "ready"}`],
    [150, `${U}/finalize-order/o: POST {"protected":"…"}`],
    [152, `${U}/finalize-order/o: 200 {"status": "processing"}`],
    [160, `${U}/my-order/o: POST {"protected":"…"}`],
    [170, `${U}/certZ/c: POST {"protected":"…"}`],
  ]);
  const run = parseRequests(text, 1_000_000_000, 200);
  assert.deepEqual(run.requests.map((r) => [r.kind, r.startMs, r.endMs]), [
    ['directory', 100, 115],
    ['authorization (fetch)', 120, 126],
    ['authorization (fetch)', 121, 125],
    ['authorization (poll)', 130, 132],
    ['order (read)', 140, 141],
    ['finalize', 150, 152],
  ]);
  assert.equal(run.unanswered, 2); // the last order poll and the certificate never got their answer line
  assert.equal(run.endMs, 200);
});

test('the ARI no-op: its renewalInfo GET is a kind of its own, and its stretches are told in its own words', () => {
  const text = stamped([
    [170, `${U}/dir: GET`],
    [193, `${U}/dir: 200 {"renewalInfo": "${U}/renewal-info"}`],
    [194, `${U}/dir: directory loaded`],
    [195, `${U}/renewal-info/aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE: GET`],
    [197, `${U}/renewal-info/aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE: 200 {"suggestedWindow": {}}`],
  ]);
  const run = parseRequests(text, 1_000_000_000, 260);
  assert.deepEqual(run.requests.map((r) => [r.kind, r.startMs, r.endMs]), [['directory', 170, 193], ['renewalInfo', 195, 197]]);
  assert.equal(run.unanswered, 0);
  const md = renderBreakdown([{ name: 'ARI', procRuns: [], rusageCpuS: [], requestRuns: [run] }], NOOP_STRETCHES);
  assert.ok(md.includes('| renewalInfo | 1 | 2.0 | 2.0 | 2 |'), md.join('\n'));
  assert.ok(md.includes(`| ${NOOP_STRETCHES.beforeFirst} | 170 |`), md.join('\n'));
  assert.ok(md.includes('| first request → last answer (the ACME conversation) | 27 |'), md.join('\n'));
  assert.ok(md.includes(`| ${NOOP_STRETCHES.idle} | 2 |`), md.join('\n'));
  assert.ok(md.includes(`| ${NOOP_STRETCHES.afterLast} | 63 |`), md.join('\n'));
});
