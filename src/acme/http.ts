// The transport under the ACME conversation: HTTPS only, kept-alive connections, a connect and a
// total timeout on every request, a cap on every response body, and redirects followed only on
// unsigned GETs (a signed request is bound to its URL). Used by netproc alone.

import https from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import type { SecureContext } from 'node:tls';
import { Failure, trace } from '../log.js';

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
}

const MAX_REDIRECTS = 3;

/** Rejects anything but an absolute https URL: ACME over plain HTTP or another scheme is refused. */
export function httpsUrl(value: string, subject: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Failure(subject, `not a URL: ${value.slice(0, 200)}`);
  }
  if (url.protocol !== 'https:') throw new Failure(subject, `not an https URL: ${value.slice(0, 200)}`);
  return url;
}

export class HttpClient {
  private readonly agent: https.Agent;

  constructor(private readonly options: HttpOptions) {
    this.agent = new https.Agent({ keepAlive: true, maxSockets: 8, secureContext: options.secureContext });
  }

  close(): void {
    this.agent.destroy();
  }

  /** Unsigned GET, following up to three redirects, each to https only. maxBytes lowers the body cap. */
  async get(url: string, maxBytes?: number): Promise<HttpResponse> {
    let current = url;
    for (let hops = 0; ; hops++) {
      const res = await this.request('GET', current, undefined, maxBytes);
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
      if (next.protocol !== 'https:') throw new Failure(url, `redirect to a URL that is not https: ${location.slice(0, 200)}`);
      current = next.toString();
    }
  }

  /** A signed POST: never redirected (the JWS names its URL). maxBytes lowers the body cap. */
  post(url: string, body: string, maxBytes?: number): Promise<HttpResponse> {
    return this.request('POST', url, body, maxBytes);
  }

  private request(method: string, url: string, body?: string, maxBytes?: number): Promise<HttpResponse> {
    const target = httpsUrl(url, url);
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
      const req = https.request(target, { method, headers, agent: this.agent }, (res) => {
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
        const cut = (): Failure => new Failure(url, 'connection closed before the answer was complete');
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
      req.on('error', (e: NodeJS.ErrnoException) => finish(new Failure(url, e.code ? `${e.code}: ${e.message}` : e.message)));
      req.end(body);
    });
  }
}
