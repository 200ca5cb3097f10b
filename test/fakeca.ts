// fakeca: a small ACME server (RFC 8555) on 127.0.0.1 for the hostile-CA tests. It speaks just
// enough of the protocol to issue: directory, newNonce, newAccount, newOrder, authorizations,
// challenges (http-01 and dns-01 are valid as soon as they are answered: nothing is ever fetched),
// finalize, order and certificate. The certificate is real: signed with `openssl x509 -req` by the
// same test CA that signed the server's TLS certificate, so that the client's certproc accepts it.
//
// Each test misbehaves through `script`: it sees every request (route, count, decoded JWS) and may
// return its own reply, edit the normal one, or 'hang' (accept and never answer). Signatures are
// not checked; nonces are (issued, used once), as a real CA does.

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type Route =
  | 'directory' | 'newNonce' | 'newAccount' | 'account' | 'newOrder' | 'order' | 'authz' | 'challenge' | 'finalize'
  | 'certificate' | 'revoke' | 'other';

export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: Buffer | string;
  /** Sent in pieces with chunked encoding (no Content-Length) rather than in one. */
  chunked?: boolean;
  /** Content-Length announces the whole body, half of it is sent, then the connection is cut. */
  truncate?: boolean;
}

export interface Exchange {
  route: Route;
  method: string;
  path: string;
  /** The full URL, as the client asked for it. */
  url: string;
  /** 1 for the first request on this route (all orders, authorizations... together), 2 for the next. */
  count: number;
  /** Decoded JWS of a POST (protected header and payload, null for POST-as-GET); null otherwise. */
  jws: { protected: Record<string, unknown>; payload: unknown } | null;
  at: number;
}

/** undefined: the normal reply. 'hang': accept, never answer. 'reset': cut the connection. */
export type Outcome = Reply | 'hang' | 'reset' | undefined;
export type Script = (ex: Exchange, normal: () => Promise<Reply>, ca: FakeCa) => Outcome | Promise<Outcome>;

/** The CA and TLS material, made once per test process. */
interface Pki {
  dir: string;
  caFile: string;
  caKey: string;
  tlsCert: string;
  tlsKey: string;
}

let pki: Pki | null = null;

async function openssl(args: string[], cwd: string): Promise<void> {
  await run('openssl', args, { cwd });
}

async function makePki(): Promise<Pki> {
  if (pki !== null) return pki;
  const dir = mkdtempSync(join(tmpdir(), 'acme-fakeca-'));
  // Readable by a netproc that has dropped root (ca.pem is its NODE_EXTRA_CA_CERTS).
  chmodSync(dir, 0o755);
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const ecKey = (out: string): string[] => ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', out];
  await openssl(ecKey('ca.key'), dir);
  await openssl(['req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=acme-client fake CA', '-days', '30', '-out', 'ca.pem',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  await openssl(ecKey('tls.key'), dir);
  await openssl(['req', '-new', '-key', 'tls.key', '-subj', '/CN=127.0.0.1', '-out', 'tls.csr'], dir);
  writeFileSync(join(dir, 'tls.ext'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  await openssl(['x509', '-req', '-in', 'tls.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', '1', '-days', '30',
    '-extfile', 'tls.ext', '-out', 'tls.pem'], dir);
  pki = { dir, caFile: join(dir, 'ca.pem'), caKey: join(dir, 'ca.key'), tlsCert: join(dir, 'tls.pem'), tlsKey: join(dir, 'tls.key') };
  return pki;
}

const b64u = (bytes = 16): string => randomBytes(bytes).toString('base64url');

/** A problem document (RFC 7807) reply. */
export function problem(status: number, type: string, detail: string, extra: Record<string, unknown> = {}): Reply {
  const full = type.includes(':') ? type : `urn:ietf:params:acme:error:${type}`;
  return { status, headers: { 'content-type': 'application/problem+json' }, body: JSON.stringify({ type: full, detail, ...extra }) };
}

/** The normal reply with its JSON body edited by fn (which may mutate and return nothing). */
export function editJson(reply: Reply, fn: (o: Record<string, unknown>) => Record<string, unknown> | void): Reply {
  const o = JSON.parse(reply.body.toString()) as Record<string, unknown>;
  const edited = fn(o) ?? o;
  return { ...reply, body: JSON.stringify(edited) };
}

interface Challenge { type: string; token: string; status: string }
interface Authz { order: number; index: number; name: string; status: string; challenges: Challenge[] }
interface Order { id: number; names: string[]; status: string; authzs: Authz[]; chain: string | null; csrPem: string | null }

export class FakeCa {
  script: Script | null = null;
  /** Every request, in arrival order. */
  readonly log: Exchange[] = [];
  readonly caFile: string;
  private readonly nonces = new Set<string>();
  private readonly accounts = new Set<string>();
  private readonly orders: Order[] = [];
  private readonly counts = new Map<Route, number>();
  private readonly sockets = new Set<Socket>();
  /** TLS connections accepted so far. */
  connections = 0;
  private serial = 100;

  private constructor(private readonly pki: Pki, private readonly server: https.Server, readonly base: string) {
    this.caFile = pki.caFile;
  }

  static async start(script: Script | null = null): Promise<FakeCa> {
    const p = await makePki();
    const server = https.createServer({ key: readFileSync(p.tlsKey), cert: readFileSync(p.tlsCert) });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const ca = new FakeCa(p, server, `https://127.0.0.1:${port}`);
    ca.script = script;
    server.on('secureConnection', (socket: Socket) => {
      ca.connections++;
      ca.sockets.add(socket);
      socket.once('close', () => ca.sockets.delete(socket));
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      ca.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`fakeca: ${err instanceof Error ? err.stack : String(err)}`);
      });
    });
    return ca;
  }

  get directoryUrl(): string {
    return `${this.base}/dir`;
  }

  /** A fresh nonce the CA will accept once. */
  nonce(): string {
    const n = b64u();
    this.nonces.add(n);
    return n;
  }

  /** Requests on one route, in order. */
  requests(route: Route): Exchange[] {
    return this.log.filter((e) => e.route === route);
  }

  /** The CSR (PEM) of the last finalized order. */
  get lastCsr(): string | null {
    for (let i = this.orders.length - 1; i >= 0; i--) {
      const csr = this.orders[i]?.csrPem;
      if (csr) return csr;
    }
    return null;
  }

  /**
   * A chain (leaf, then the CA) signed by this CA for `names`. The leaf's key is the CSR's, or with
   * otherKey a fresh one; with otherIssuer the leaf is signed by a throwaway CA instead.
   */
  async issue(csrPem: string, names: string[], opts: { otherKey?: boolean; otherIssuer?: boolean } = {}): Promise<string> {
    const dir = mkdtempSync(join(this.pki.dir, 'issue-'));
    try {
      writeFileSync(join(dir, 'csr.pem'), csrPem);
      writeFileSync(join(dir, 'leaf.ext'), `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
      const args = ['x509', '-req', '-in', 'csr.pem', '-set_serial', String(this.serial++), '-days', '90', '-extfile', 'leaf.ext', '-out', 'leaf.pem'];
      if (opts.otherKey) {
        await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'other.key'], dir);
        await openssl(['ec', '-in', 'other.key', '-pubout', '-out', 'other.pub'], dir);
        args.push('-force_pubkey', 'other.pub');
      }
      if (opts.otherIssuer) {
        await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'rogue.key'], dir);
        // Same subject as the real CA: only the signature tells them apart.
        await openssl(['req', '-x509', '-new', '-key', 'rogue.key', '-subj', '/CN=acme-client fake CA', '-days', '30', '-out', 'rogue.pem'], dir);
        args.push('-CA', 'rogue.pem', '-CAkey', 'rogue.key');
      } else {
        args.push('-CA', this.pki.caFile, '-CAkey', this.pki.caKey);
      }
      await openssl(args, dir);
      return readFileSync(join(dir, 'leaf.pem'), 'utf8') + readFileSync(this.pki.caFile, 'utf8');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private route(path: string): Route {
    const fixed: Record<string, Route> = { '/dir': 'directory', '/nonce': 'newNonce', '/new-acct': 'newAccount', '/new-order': 'newOrder', '/revoke': 'revoke' };
    const exact = fixed[path];
    if (exact !== undefined) return exact;
    const first = path.split('/')[1] ?? '';
    const prefixed: Record<string, Route> = { acct: 'account', order: 'order', authz: 'authz', chall: 'challenge', finalize: 'finalize', cert: 'certificate' };
    return prefixed[first] ?? 'other';
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const path = (req.url ?? '/').split('?')[0] as string;
    const route = this.route(path);
    const count = (this.counts.get(route) ?? 0) + 1;
    this.counts.set(route, count);
    let jws: Exchange['jws'] = null;
    let nonceOk = false;
    if (req.method === 'POST') {
      try {
        const o = JSON.parse(body) as { protected: string; payload: string };
        const prot = JSON.parse(Buffer.from(o.protected, 'base64url').toString('utf8')) as Record<string, unknown>;
        const payload: unknown = o.payload === '' ? null : JSON.parse(Buffer.from(o.payload, 'base64url').toString('utf8'));
        jws = { protected: prot, payload };
        const n = prot.nonce;
        nonceOk = typeof n === 'string' && this.nonces.delete(n);
      } catch {
        jws = null;
      }
    }
    const ex: Exchange = { route, method: req.method ?? 'GET', path, url: `${this.base}${path}`, count, jws, at: Date.now() };
    this.log.push(ex);
    const normal = (): Promise<Reply> => this.normal(ex, nonceOk);
    const outcome = this.script ? await this.script(ex, normal, this) : undefined;
    if (outcome === 'hang') return; // the socket stays open until stop()
    if (outcome === 'reset') {
      req.socket.destroy();
      return;
    }
    const reply = outcome ?? (await normal());
    const headers = { ...reply.headers };
    if (!('replay-nonce' in headers)) headers['replay-nonce'] = this.nonce();
    if (headers['replay-nonce'] === '') delete headers['replay-nonce'];
    const data = typeof reply.body === 'string' ? Buffer.from(reply.body, 'utf8') : reply.body;
    if (reply.chunked) {
      res.writeHead(reply.status, headers);
      for (let at = 0; at < data.length && !res.destroyed; at += 64 * 1024) {
        if (!res.write(data.subarray(at, at + 64 * 1024))) {
          await new Promise<void>((resolve) => {
            const done = (): void => {
              res.off('drain', done).off('close', done);
              resolve();
            };
            res.on('drain', done).on('close', done);
          });
        }
      }
      res.end();
    } else if (reply.truncate) {
      res.writeHead(reply.status, { ...headers, 'content-length': String(data.length) });
      res.write(data.subarray(0, data.length >> 1), () => setTimeout(() => req.socket.destroy(), 50));
    } else if (req.method === 'HEAD') {
      // As Pebble (Go's HTTP server) does: a HEAD answer without a length ends the connection.
      res.writeHead(reply.status, { ...headers, connection: 'close' });
      res.end();
    } else {
      res.writeHead(reply.status, { ...headers, 'content-length': String(data.length) });
      res.end(data);
    }
  }

  private json(status: number, o: unknown, headers: Record<string, string> = {}): Reply {
    return { status, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(o) };
  }

  private orderJson(o: Order): Record<string, unknown> {
    return {
      status: o.status,
      expires: new Date(Date.now() + 86_400_000).toISOString(),
      identifiers: o.names.map((value) => ({ type: 'dns', value })),
      authorizations: o.authzs.map((a) => `${this.base}/authz/${o.id}/${a.index}`),
      finalize: `${this.base}/finalize/${o.id}`,
      ...(o.chain !== null ? { certificate: `${this.base}/cert/${o.id}` } : {}),
    };
  }

  private challengeJson(a: Authz, c: Challenge, i: number): Record<string, unknown> {
    return { type: c.type, url: `${this.base}/chall/${a.order}/${a.index}/${i}`, status: c.status, token: c.token };
  }

  private authzJson(a: Authz): Record<string, unknown> {
    return {
      identifier: { type: 'dns', value: a.name },
      status: a.status,
      expires: new Date(Date.now() + 86_400_000).toISOString(),
      challenges: a.challenges.map((c, i) => this.challengeJson(a, c, i)),
    };
  }

  private findOrder(ex: Exchange): Order | undefined {
    return this.orders[Number(ex.path.split('/')[2]) - 1];
  }

  /** What a well-behaved CA answers. */
  private async normal(ex: Exchange, nonceOk: boolean): Promise<Reply> {
    const url = (p: string): string => `${this.base}${p}`;
    if (ex.route === 'directory') {
      return this.json(200, {
        newNonce: url('/nonce'), newAccount: url('/new-acct'), newOrder: url('/new-order'), revokeCert: url('/revoke'), keyChange: url('/key-change'),
        meta: { termsOfService: url('/terms') },
      });
    }
    if (ex.route === 'newNonce') return { status: ex.method === 'HEAD' ? 200 : 204, headers: { 'cache-control': 'no-store' }, body: '' };
    if (ex.method !== 'POST') return problem(405, 'malformed', 'use POST');
    if (ex.jws === null) return problem(400, 'malformed', 'not a JWS');
    if (!nonceOk) return problem(400, 'badNonce', 'unknown or used nonce');
    const payload = (ex.jws.payload ?? {}) as Record<string, unknown>;
    switch (ex.route) {
      case 'newAccount': {
        const jwk = JSON.stringify(ex.jws.protected.jwk);
        const known = this.accounts.has(jwk);
        if (!known && payload.onlyReturnExisting === true) return problem(400, 'accountDoesNotExist', 'no account for this key');
        this.accounts.add(jwk);
        return this.json(known ? 200 : 201, { status: 'valid' }, { location: url('/acct/1') });
      }
      case 'newOrder': {
        const ids = (payload.identifiers ?? []) as { value: string }[];
        const id = this.orders.length + 1;
        const names = ids.map((i) => i.value);
        const order: Order = {
          id, names, status: 'pending', chain: null, csrPem: null,
          authzs: names.map((name, index) => ({
            order: id, index, name, status: 'pending',
            challenges: [{ type: 'http-01', token: b64u(32), status: 'pending' }, { type: 'dns-01', token: b64u(32), status: 'pending' }],
          })),
        };
        this.orders.push(order);
        return this.json(201, this.orderJson(order), { location: url(`/order/${id}`) });
      }
      case 'order': {
        const o = this.findOrder(ex);
        return o ? this.json(200, this.orderJson(o)) : problem(404, 'malformed', 'no such order');
      }
      case 'authz': {
        const a = this.findOrder(ex)?.authzs[Number(ex.path.split('/')[3])];
        return a ? this.json(200, this.authzJson(a)) : problem(404, 'malformed', 'no such authorization');
      }
      case 'challenge': {
        const [, , o, i, c] = ex.path.split('/');
        const order = this.orders[Number(o) - 1];
        const a = order?.authzs[Number(i)];
        const ch = a?.challenges[Number(c)];
        if (!order || !a || !ch) return problem(404, 'malformed', 'no such challenge');
        if (ex.jws.payload !== null) {
          // Valid at once: nothing is fetched.
          ch.status = 'valid';
          a.status = 'valid';
          if (order.authzs.every((x) => x.status === 'valid') && order.status === 'pending') order.status = 'ready';
        }
        return this.json(200, this.challengeJson(a, ch, Number(c)), { link: `<${url(`/authz/${o}/${i}`)}>;rel="up"` });
      }
      case 'finalize': {
        const o = this.findOrder(ex);
        if (!o) return problem(404, 'malformed', 'no such order');
        if (o.status !== 'ready') return problem(403, 'orderNotReady', `order is ${o.status}`);
        const der = Buffer.from(String(payload.csr ?? ''), 'base64url');
        o.csrPem = `-----BEGIN CERTIFICATE REQUEST-----\n${(der.toString('base64').match(/.{1,64}/g) ?? []).join('\n')}\n-----END CERTIFICATE REQUEST-----\n`;
        o.chain = await this.issue(o.csrPem, o.names);
        o.status = 'valid';
        return this.json(200, this.orderJson(o), { location: url(`/order/${o.id}`) });
      }
      case 'certificate': {
        const o = this.findOrder(ex);
        if (!o || o.chain === null) return problem(404, 'malformed', 'no such certificate');
        return { status: 200, headers: { 'content-type': 'application/pem-certificate-chain' }, body: o.chain };
      }
      case 'account':
        return this.json(200, { status: 'valid' });
      default:
        return problem(404, 'malformed', `no resource ${ex.path}`);
    }
  }
}
