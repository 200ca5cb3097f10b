// The ACME conversation (RFC 8555), one function per resource, over HttpClient and a Signer. The
// signer is acctproc on the other end of a channel: this module never holds a key. Nonces come
// from every Replay-Nonce the CA sends (§7.2) and newNonce only when none is left.

import { Failure, debug, warn } from '../log.js';
import type { FlattenedJws } from './jws.js';
import { HttpClient, HttpResponse } from './http.js';
import {
  Authorization, Directory, ERROR_PREFIX, Order, Problem, describeProblem, parseAuthorization, parseDirectory, parseJson,
  parseOrder, parseProblem,
} from './types.js';

export interface Signer {
  sign(url: string, nonce: string, payload: string, kid: string | null): Promise<FlattenedJws>;
}

/** A problem document the CA answered with; the message is `<url>: <type>: <detail>`. */
export class AcmeProblem extends Failure {
  constructor(url: string, readonly document: Problem, readonly status: number) {
    super(url, describeProblem(document));
  }
  is(type: string): boolean {
    return this.document.type === ERROR_PREFIX + type;
  }
}

const BAD_NONCE_RETRIES = 10;
const MAX_RETRY_AFTER_MS = 60_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Retry-After as milliseconds, from delta-seconds or an HTTP-date (§8.2); null when absent or bad. */
export function retryAfterMs(res: HttpResponse, now = Date.now()): number | null {
  const value = res.headers['retry-after'];
  if (typeof value !== 'string') return null;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

export class AcmeClient {
  private readonly nonces: string[] = [];
  private dir: Directory | null = null;
  private kid: string | null = null;

  constructor(private readonly http: HttpClient, private readonly signer: Signer, private readonly directoryUrl: string) {}

  get directory(): Directory {
    if (this.dir === null) throw new Error('directory not loaded');
    return this.dir;
  }

  async loadDirectory(): Promise<Directory> {
    const res = await this.http.get(this.directoryUrl);
    if (res.status !== 200) throw this.failure(res);
    this.dir = parseDirectory(parseJson(res.body, this.directoryUrl), this.directoryUrl);
    debug(this.directoryUrl, 'directory loaded');
    return this.dir;
  }

  private keepNonce(res: HttpResponse): void {
    const nonce = res.headers['replay-nonce'];
    if (typeof nonce === 'string' && /^[A-Za-z0-9_-]{1,512}$/.test(nonce) && this.nonces.length < 64) this.nonces.push(nonce);
  }

  private async nonce(): Promise<string> {
    const kept = this.nonces.pop();
    if (kept !== undefined) return kept;
    const res = await this.http.head(this.directory.newNonce);
    const nonce = res.headers['replay-nonce'];
    if (typeof nonce !== 'string' || !/^[A-Za-z0-9_-]{1,512}$/.test(nonce)) throw new Failure(this.directory.newNonce, 'no usable Replay-Nonce');
    return nonce;
  }

  private failure(res: HttpResponse): Failure {
    const type = String(res.headers['content-type'] ?? '');
    if (type.startsWith('application/problem+json')) {
      try {
        return new AcmeProblem(res.url, parseProblem(JSON.parse(res.body.toString('utf8'))), res.status);
      } catch {
        // fall through to the bare status
      }
    }
    return new Failure(res.url, `HTTP status ${res.status}`);
  }

  /**
   * A signed POST (§6.2). payload null is POST-as-GET. badNonce is retried with a fresh nonce
   * (§6.5); 503 and 429 with a short Retry-After are waited out a bounded number of times.
   */
  async post(url: string, payload: unknown | null, useJwk = false): Promise<HttpResponse> {
    const body = payload === null ? '' : JSON.stringify(payload);
    for (let attempt = 0; ; attempt++) {
      const jws = await this.signer.sign(url, await this.nonce(), body, useJwk ? null : this.requireKid());
      const res = await this.http.post(url, JSON.stringify(jws));
      this.keepNonce(res);
      if (res.status < 400) return res;
      const err = this.failure(res);
      if (attempt >= BAD_NONCE_RETRIES) throw err;
      if (err instanceof AcmeProblem && err.is('badNonce')) {
        debug(url, 'nonce rejected, retrying');
        continue;
      }
      const wait = retryAfterMs(res);
      if ((res.status === 503 || res.status === 429) && wait !== null && wait <= MAX_RETRY_AFTER_MS && attempt < 3) {
        debug(url, `busy (HTTP ${res.status}), retrying in ${Math.ceil(wait / 1000)} s`);
        await sleep(wait);
        continue;
      }
      throw err;
    }
  }

  private requireKid(): string {
    if (this.kid === null) throw new Error('no account URL yet');
    return this.kid;
  }

  /** §7.3.1 then §7.3: find the account for this key, create it when there is none. */
  async account(): Promise<string> {
    const { newAccount } = this.directory;
    let res: HttpResponse;
    try {
      res = await this.post(newAccount, { onlyReturnExisting: true }, true);
      debug(newAccount, 'account exists');
    } catch (err) {
      if (!(err instanceof AcmeProblem && err.is('accountDoesNotExist'))) throw err;
      res = await this.post(newAccount, { termsOfServiceAgreed: true }, true);
      debug(newAccount, 'account created');
    }
    const location = res.headers.location;
    if (typeof location !== 'string') throw new Failure(newAccount, 'no account URL (Location) in the answer');
    this.kid = location;
    return location;
  }

  /** §7.4 */
  async newOrder(names: string[]): Promise<{ url: string; order: Order }> {
    const { newOrder } = this.directory;
    const res = await this.post(newOrder, { identifiers: names.map((value) => ({ type: 'dns', value })) });
    if (res.status !== 201) throw new Failure(newOrder, `unexpected HTTP status ${res.status}`);
    const location = res.headers.location;
    if (typeof location !== 'string') throw new Failure(newOrder, 'no order URL (Location) in the answer');
    const url = new URL(location, newOrder).toString();
    return { url, order: parseOrder(parseJson(res.body, url), url) };
  }

  async order(url: string): Promise<{ order: Order; retryAfter: number | null }> {
    const res = await this.post(url, null);
    return { order: parseOrder(parseJson(res.body, url), url), retryAfter: retryAfterMs(res) };
  }

  async authorization(url: string): Promise<{ authz: Authorization; retryAfter: number | null }> {
    const res = await this.post(url, null);
    return { authz: parseAuthorization(parseJson(res.body, url), url), retryAfter: retryAfterMs(res) };
  }

  /** §7.5.1: tell the CA the challenge is ready; the payload is exactly {}. */
  async respond(challengeUrl: string): Promise<void> {
    await this.post(challengeUrl, {});
  }

  /** §7.4: finalize with the CSR (base64url DER). */
  async finalize(url: string, csr: string): Promise<Order> {
    const res = await this.post(url, { csr });
    return parseOrder(parseJson(res.body, url), url);
  }

  /** §7.4.2: the PEM chain. */
  async certificate(url: string): Promise<string> {
    const res = await this.post(url, null);
    const type = String(res.headers['content-type'] ?? '');
    if (!type.startsWith('application/pem-certificate-chain')) warn(url, `unexpected content type "${type.slice(0, 80)}"`);
    return res.body.toString('utf8');
  }

  /** §7.6: revoke with the account key. Returns false when the CA says it was already revoked. */
  async revoke(certificate: string): Promise<boolean> {
    try {
      await this.post(this.directory.revokeCert, { certificate });
      return true;
    } catch (err) {
      if (err instanceof AcmeProblem && err.is('alreadyRevoked')) return false;
      throw err;
    }
  }
}
