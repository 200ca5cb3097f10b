// The transport under the ACME conversation: HTTPS (plain HTTP only to a CA on this host's
// loopback, as test CAs are run), kept-alive connections, a connect and a total timeout on every
// request, a cap on every response body, and redirects followed only on unsigned GETs (a signed
// request is bound to its URL). Used by netproc alone.

import http from 'node:http';
import https from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import tls, { type SecureContext } from 'node:tls';
import { connect, isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { Failure, trace } from '../log.js';
import { caNamedUrlAllowed } from './caurl.js';

export interface HttpResponse {
  url: string;
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface HttpOptions {
  userAgent: string;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  maxBodyBytes: number;
  /** The trust the CA's certificate is verified with (src/acme/trust.ts). */
  secureContext: SecureContext;
  /** The CA's directory is plain http on the loopback: its other URLs may be too. An https CA's never are. */
  plainHttp: boolean;
  /** Opened before the trust was loaded (connectEarly), for the first connections. */
  early: EarlyConnections | null;
}

const MAX_REDIRECTS = 3;

/**
 * Kept-alive connections to the CA at once, at most (a request sent again after a lost connection
 * goes on a new one of its own). What a large order keeps in flight is bounded before that by its
 * nonces (every signed request needs one, and newNonce is asked at most at its published rate)
 * and by the CA's request rates (src/acme/ratelimit.ts).
 */
export const MAX_CONNECTIONS = 32;

/**
 * The connection was reset or closed while a request was in flight: a kept-alive connection the
 * server had closed meanwhile (Boulder closes idle ones after 120 s), or a load balancer's reset.
 * Whether the server acted on the request is unknown; the caller may send it again, once.
 */
export class ConnectionLost extends Failure {}

/** Socket errors that mean the connection went away under the request (not a refused connection or a timeout). */
const LOST = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/**
 * Rejects anything but an absolute https URL, or plain http on the loopback named by a CA reached
 * so (subject, the URL that named it): ACME over a network is https.
 */
export function httpsUrl(value: string, subject: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Failure(subject, `not a URL: ${value.slice(0, 200)}`);
  }
  if (!caNamedUrlAllowed(url, subject)) throw new Failure(subject, `not an https URL: ${value.slice(0, 200)}`);
  return url;
}

/**
 * TCP connections to the CA opened first thing (netproc's first step, before it loads its trust
 * and drops root): their handshakes run meanwhile, and the first requests' connections are these.
 */
export interface EarlyConnections {
  host: string;
  port: number;
  sockets: Socket[];
}

/** `count` TCP connections to an https URL's server; null for anything else. One that fails is dropped. */
export function connectEarly(url: string, count: number): EarlyConnections | null {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return null;
  }
  if (target.protocol !== 'https:') return null;
  // As the agent names the server: an IPv6 address without its brackets.
  const host = target.hostname.replace(/^\[|\]$/g, '');
  const port = Number(target.port || 443);
  const sockets = Array.from({ length: count }, () => {
    const socket = connect({ host, port });
    // Its failure is nobody's yet: the request that would have used it connects anew, and says why.
    socket.on('error', () => socket.destroy());
    return socket;
  });
  return { host, port, sockets };
}

/**
 * An https.Agent whose first connections are the early ones, their TLS handshakes begun as soon as
 * the agent (and so the trust) exists: a request that finds every kept connection busy, the first
 * nonce's beside the directory's, takes one already through both handshakes.
 */
class PreconnectingAgent extends https.Agent {
  private readonly ready: { key: string; sockets: tls.TLSSocket[] } | null;

  constructor(options: https.AgentOptions, early: EarlyConnections | null) {
    super(options);
    if (early === null) {
      this.ready = null;
      return;
    }
    const { host, port } = early;
    const ready = { key: `${host}:${port}`, sockets: [] as tls.TLSSocket[] };
    for (const raw of early.sockets) {
      if (raw.destroyed) continue;
      const socket = tls.connect({ ...options, host, port, ...(isIP(host) === 0 ? { servername: host } : {}), socket: raw });
      // Until a request takes it, its failure is nobody's: it is dropped, and the request opens its own.
      socket.on('error', () => {
        ready.sockets = ready.sockets.filter((s) => s !== socket);
      });
      ready.sockets.push(socket);
    }
    this.ready = ready;
  }

  override createConnection(options: https.RequestOptions, callback?: (err: Error | null, socket: Duplex) => void): Duplex | null | undefined {
    if (this.ready !== null && this.ready.key === `${options.host ?? ''}:${options.port ?? 443}`) {
      for (let socket = this.ready.sockets.shift(); socket !== undefined; socket = this.ready.sockets.shift()) {
        if (!socket.destroyed) return socket;
      }
    }
    return super.createConnection(options, callback);
  }

  override destroy(): void {
    for (const socket of this.ready?.sockets.splice(0) ?? []) socket.destroy();
    super.destroy();
  }
}

export class HttpClient {
  private readonly agent: PreconnectingAgent;
  /** For a request sent again after a lost connection: a new connection, never a kept one that may be as dead. */
  private readonly freshAgent: https.Agent;
  /** The same two for plain HTTP to the loopback. */
  private readonly plainAgent = new http.Agent({ keepAlive: true, maxSockets: MAX_CONNECTIONS });
  private readonly freshPlainAgent = new http.Agent({ keepAlive: false });

  constructor(private readonly options: HttpOptions) {
    this.agent = new PreconnectingAgent({ keepAlive: true, maxSockets: MAX_CONNECTIONS, secureContext: options.secureContext }, options.early);
    this.freshAgent = new https.Agent({ keepAlive: false, secureContext: options.secureContext });
  }

  close(): void {
    for (const agent of [this.agent, this.freshAgent, this.plainAgent, this.freshPlainAgent]) agent.destroy();
  }

  /**
   * Unsigned GET, following up to three redirects, each to https only (http on the loopback only from a CA reached so). maxBytes lowers the body cap.
   * fresh: on a new connection (after a ConnectionLost).
   */
  async get(url: string, maxBytes?: number, fresh = false): Promise<HttpResponse> {
    let current = url;
    for (let hops = 0; ; hops++) {
      const res = await this.request('GET', current, undefined, maxBytes, fresh);
      const location = res.headers.location;
      if (![301, 302, 303, 307, 308].includes(res.status) || typeof location !== 'string') return res;
      if (hops >= MAX_REDIRECTS) throw new Failure(url, 'too many redirects');
      let next: URL;
      try {
        next = new URL(location, current);
      } catch {
        throw new Failure(url, `redirect to something that is not a URL: ${location.slice(0, 200)}`);
      }
      // Named after the URL asked for: a redirect to http: or file: is the server's doing.
      if (!caNamedUrlAllowed(next, current)) throw new Failure(url, `redirect to a URL that is not https: ${location.slice(0, 200)}`);
      current = next.toString();
    }
  }

  /** A signed POST: never redirected (the JWS names its URL). maxBytes lowers the body cap. */
  post(url: string, body: string, maxBytes?: number, fresh = false): Promise<HttpResponse> {
    return this.request('POST', url, body, maxBytes, fresh);
  }

  private request(method: string, url: string, body?: string, maxBytes?: number, fresh = false): Promise<HttpResponse> {
    const target = httpsUrl(url, url);
    if (target.protocol === 'http:' && !this.options.plainHttp) return Promise.reject(new Failure(url, 'plain http URL from a CA reached over https'));
    const { connectTimeoutMs, requestTimeoutMs, userAgent } = this.options;
    const maxBodyBytes = Math.min(maxBytes ?? Infinity, this.options.maxBodyBytes);
    const headers: Record<string, string> = { 'user-agent': userAgent, accept: '*/*' };
    if (body !== undefined) {
      headers['content-type'] = 'application/jose+json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    trace(url, body === undefined ? `${method}` : `${method} ${body}`);
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (err: Failure | null, res?: HttpResponse): void => {
        if (settled) return;
        settled = true;
        clearTimeout(total);
        if (err) {
          req.destroy();
          reject(err);
        } else resolve(res as HttpResponse);
      };
      const plain = target.protocol === 'http:';
      const agent = plain ? (fresh ? this.freshPlainAgent : this.plainAgent) : fresh ? this.freshAgent : this.agent;
      const req = (plain ? http : https).request(target, { method, headers, agent }, (res) => {
        // A declared length over the cap is refused before a byte of it is read.
        const declared = Number(res.headers['content-length']);
        if (declared > maxBodyBytes) {
          finish(new Failure(url, `response larger than ${maxBodyBytes} bytes`));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBodyBytes) finish(new Failure(url, `response larger than ${maxBodyBytes} bytes`));
          else chunks.push(chunk);
        });
        res.on('end', () => {
          const response = { url, status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) };
          trace(url, `${response.status} ${response.body.toString('utf8')}`);
          finish(null, response);
        });
        // A body cut short (the server closed mid-answer) is not an answer; Node says "aborted".
        const cut = (): Failure => new ConnectionLost(url, 'connection closed before the answer was complete');
        res.on('error', (e) => finish(res.complete ? new Failure(url, e.message) : cut()));
        res.on('close', () => {
          if (!res.complete) finish(cut());
        });
      });
      const total = setTimeout(() => finish(new Failure(url, `no complete answer within ${requestTimeoutMs / 1000} s`)), requestTimeoutMs);
      req.on('socket', (socket) => {
        if (socket.connecting) {
          const connect = setTimeout(() => finish(new Failure(url, `no connection within ${connectTimeoutMs / 1000} s`)), connectTimeoutMs);
          socket.once('connect', () => clearTimeout(connect));
          socket.once('close', () => clearTimeout(connect));
        }
      });
      req.on('error', (e: NodeJS.ErrnoException) => {
        const problem = e.code ? `${e.code}: ${e.message}` : e.message;
        finish(e.code !== undefined && LOST.has(e.code) ? new ConnectionLost(url, problem) : new Failure(url, problem));
      });
      req.end(body);
    });
  }
}
