// What the project's proxies in front of the lab's Pebble share (scripts/ariproxy.ts,
// scripts/boulderproxy.ts): an HTTPS server on 127.0.0.1 with the lab's TLS certificate, each
// request handed to the proxy's own handler; a forwarder to Pebble; a body read whole.

import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab } from './pebble-lab.js';

/** An ACME problem a proxy answers with (RFC 8555 §6.7), its type without the URN prefix. */
export interface Problem {
  status: number;
  type: string;
  detail: string;
}

/** Only where Pebble is and how to trust it are needed: the bench's proxy process has no Lab object. */
export type Upstream = Pick<Lab, 'directoryUrl' | 'tlsCaFile' | 'dir'>;

export interface Forwarded {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export function readBody(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

/**
 * Starts a proxy for the lab's Pebble: `forward` passes a request on, with the Host header the
 * caller gives (Pebble builds its URLs from it, so clients stay on the proxy); `handle` answers
 * each request the proxy receives. Returns the proxy's directory URL and how to stop it.
 */
export async function proxyInFrontOf(lab: Upstream, name: string, handle: (req: IncomingMessage, res: ServerResponse, forward: Forward) => Promise<void>,
): Promise<{ directoryUrl: string; forward: Forward; stop: () => Promise<void> }> {
  const upstream = new URL(lab.directoryUrl);
  const agent = new https.Agent({ ca: readFileSync(lab.tlsCaFile), keepAlive: true });
  const forward: Forward = (method, path, headers, body) =>
    new Promise((resolve, reject) => {
      const up = https.request({ host: upstream.hostname, port: upstream.port, method, path, headers, agent }, (res) => {
        void readBody(res).then((b) => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: b }), reject);
      });
      up.on('error', reject);
      up.end(body);
    });
  const server = https.createServer({ cert: readFileSync(join(lab.dir, 'tls', 'cert.pem')), key: readFileSync(join(lab.dir, 'tls', 'key.pem')) }, (req, res) => {
    handle(req, res, forward).catch((err: unknown) => {
      if (res.headersSent || res.destroyed) return;
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`${name}: ${String(err)}\n`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    directoryUrl: `https://127.0.0.1:${port}${upstream.pathname}`,
    forward,
    async stop() {
      agent.destroy();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

export type Forward = (method: string, path: string, headers: IncomingMessage['headers'], body: Buffer) => Promise<Forwarded>;
