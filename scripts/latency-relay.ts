// latency-relay: a CA across the internet, made of a local one. A TCP relay on 127.0.0.1 that holds
// every chunk rttMs/2 before passing it on, in each direction, so that each round trip costs rttMs
// (the TCP handshake too: the client's first bytes wait until the upstream connection would have
// answered). TLS passes through untouched. Pebble builds every URL from the Host header, so a client
// that starts at the relay's directory stays on the relay.
//
// `npm run bench -- --rtt MS` runs one in a process of its own, at nice 0 like Pebble (node
// build/scripts/latency-relay.js UPSTREAM_PORT RTT_MS): it prints its port, then answers each line
// on stdin with the CLOCK_MONOTONIC nanoseconds at which it accepted each connection since the
// last line, as JSON (the bench's timing wrapper stamps a run's start with the same clock), and
// ends with stdin.
import { createServer, connect, type Server, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface Relay {
  port: number;
  /** When each connection was accepted (process.hrtime, ns): the first is when a run's first request left. */
  readonly accepted: bigint[];
  close(): Promise<void>;
}

/**
 * Passes `from`'s chunks to `to`, each once `delayMs` has passed since it came and never before
 * `notBefore` (epoch ms), in order; its end likewise, and an error at once.
 */
function delayed(from: Socket, to: Socket, delayMs: number, notBefore: number): void {
  const queue: { at: number; chunk: Buffer | null }[] = [];
  let timer: NodeJS.Timeout | null = null;
  const drain = (): void => {
    timer = null;
    const now = Date.now();
    while (queue.length > 0 && (queue[0] as { at: number }).at <= now) {
      const { chunk } = queue.shift() as { at: number; chunk: Buffer | null };
      if (to.destroyed) return;
      if (chunk === null) to.end();
      else to.write(chunk);
    }
    if (queue.length > 0) timer = setTimeout(drain, (queue[0] as { at: number }).at - now);
  };
  const push = (chunk: Buffer | null): void => {
    queue.push({ at: Math.max(Date.now() + delayMs, notBefore), chunk });
    if (timer === null) timer = setTimeout(drain, Math.max(0, (queue[0] as { at: number }).at - Date.now()));
  };
  let ended = false;
  from.on('data', (chunk: Buffer) => push(chunk));
  from.on('end', () => {
    ended = true;
    push(null);
  });
  from.on('error', () => to.destroy());
  from.on('close', () => {
    // An orderly end travels as queued, and to.end() flushes what is written before it: destroying
    // here would drop what the socket still buffers. A connection cut short is cut short there too,
    // once what came before has been passed on.
    if (ended) return;
    const last = queue.length > 0 ? (queue[queue.length - 1] as { at: number }).at : Date.now();
    setTimeout(() => to.destroy(), Math.max(0, last - Date.now()) + 1);
  });
}

export function startRelay(upstreamPort: number, rttMs: number, host = '127.0.0.1'): Promise<Relay> {
  const oneWay = rttMs / 2;
  const sockets = new Set<Socket>();
  const accepted: bigint[] = [];
  const server: Server = createServer((client) => {
    accepted.push(process.hrtime.bigint());
    const upstream = connect(upstreamPort, host);
    for (const s of [client, upstream]) {
      s.setNoDelay(true);
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
    }
    // The client's connect returned at once, here; across the internet it returns one round trip
    // later, and its first bytes arrive half a round trip after that.
    const connected = Date.now() + rttMs;
    delayed(client, upstream, oneWay, connected + oneWay);
    delayed(upstream, client, oneWay, 0);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        reject(new Error('relay: no port'));
        return;
      }
      resolve({
        port: address.port,
        accepted,
        close: () => new Promise<void>((done) => {
          for (const s of sockets) s.destroy();
          server.close(() => done());
        }),
      });
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [upstream, rtt] = process.argv.slice(2).map(Number);
  if (!upstream || !(rtt !== undefined && rtt >= 0)) {
    process.stderr.write('usage: node build/scripts/latency-relay.js UPSTREAM_PORT RTT_MS\n');
    process.exit(2);
  }
  const relay = await startRelay(upstream, rtt);
  process.stdout.write(`${relay.port}\n`);
  const lines = createInterface({ input: process.stdin });
  lines.on('line', () => {
    process.stdout.write(`${JSON.stringify(relay.accepted.splice(0).map(String))}\n`);
  });
  lines.on('close', () => void relay.close());
}
