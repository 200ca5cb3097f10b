// The bench's ARI proxy (scripts/ariproxy.ts in front of the lab's Pebble), in a node process of its
// own. Not inside the bench: the bench runs at nice 19 and its event loop stops for every PSS
// sample, so a proxy there would answer our client late on a busy machine; here it runs at nice 0,
// as Pebble does, and its answers cost what a CA's cost.
//
//   node bench-ariproxy.js '{"directoryUrl": …, "tlsCaFile": …, "dir": …}'
//
// Prints {"directoryUrl": URL} on stdout once listening, then answers one JSON line on stdout for
// each JSON line on stdin:
//   {"op": "window", "start": MS, "end": MS}  the renewalInfo answer from now on (Retry-After 6 h)
//   {"op": "requests"}                         "METHOD PATH" of every request since the last such call
// Stops when stdin closes.
import { createInterface } from 'node:readline';
import { startAriProxy, type Upstream } from './ariproxy.js';

/** What Let's Encrypt sends with a renewalInfo answer: ask again in six hours. */
const RETRY_AFTER_S = '21600';

type Command = { op: 'window'; start: number; end: number } | { op: 'requests' };

async function main(): Promise<void> {
  const upstream = JSON.parse(process.argv[2] ?? '') as Upstream;
  const proxy = await startAriProxy(upstream);
  // Until the bench sets the certificate's window: one far ahead, so that the directory offers
  // renewalInfo from the first (untimed) issuance on.
  const far = Date.now() + 365 * 86_400_000;
  proxy.renewalInfo = { kind: 'window', start: new Date(far), end: new Date(far + 2 * 86_400_000), retryAfter: RETRY_AFTER_S };
  const say = (o: object): void => { process.stdout.write(`${JSON.stringify(o)}\n`); };
  say({ directoryUrl: proxy.directoryUrl });
  let seen = 0;
  for await (const line of createInterface({ input: process.stdin })) {
    const cmd = JSON.parse(line) as Command;
    if (cmd.op === 'window') {
      proxy.renewalInfo = { kind: 'window', start: new Date(cmd.start), end: new Date(cmd.end), retryAfter: RETRY_AFTER_S };
      say({ ok: true });
    } else {
      say({ requests: proxy.requests.slice(seen).map((r) => `${r.method} ${r.path}`) });
      seen = proxy.requests.length;
    }
  }
  await proxy.stop();
}

main().catch((err: unknown) => {
  process.stderr.write(`bench-ariproxy: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
