// The ACME conversation (RFC 8555), one function per resource, over HttpClient and a Signer. The
// signer is acctproc on the other end of a channel: this module never holds a key. Nonces come
// from every Replay-Nonce the CA sends (§7.2) and from newNonce when none is left (for a large
// order, a few ahead), at its published rate (src/acme/ratelimit.ts).

import { setTimeout as sleep } from 'node:timers/promises';
import { TOKEN } from '../check.js';
import { Failure, debug, utcTime, warn } from '../log.js';
import type { FlattenedJws } from './jws.js';
import { ConnectionLost, HttpClient, HttpResponse } from './http.js';
import { caNamedUrlAllowed } from './caurl.js';
import { Deadline } from './poll.js';
import { NEW_NONCE_LIMIT, SIGNED_REQUEST_LIMIT, TokenBucket } from './ratelimit.js';
import { canonicalIp } from '../x509/ip.js';
import {
  Authorization, Directory, ERROR_PREFIX, Order, Problem, RenewalInfo, describeProblem, parseAccount, parseAuthorization, parseDirectory,
  parseJson, parseOrder, parseProblem, parseRenewalInfo,
} from './types.js';

export interface Signer {
  sign(url: string, nonce: string, payload: string, kid: string | null): Promise<FlattenedJws>;
}

/** What an account is created with (§7.3), besides agreeing to the terms of service. */
export interface AccountFields {
  /** Contact URIs; an existing account with others gets these (§7.3.2). Empty: left as they are. */
  contact: string[];
  /** §7.3.4: the External Account Binding of an account created at `newAccountUrl`, or null for none. */
  externalAccountBinding(newAccountUrl: string): Promise<FlattenedJws | null>;
  /** The account's URL as the CA has just named it (found or created), to be kept for the next runs. */
  keep(accountUrl: string): Promise<void>;
}

const EAB_REQUIRED = 'give --eab-kid and --eab-hmac-key-file';
/** Google Trust Services refuses an account without a contact (ca-world notes); others may too. */
const CONTACT_REQUIRED = 'the CA wants a contact for a new account: give --contact mailto:<address>';

/** A problem document the CA answered with; the message is `<url>: <type>: <detail>`. */
export class AcmeProblem extends Failure {
  constructor(url: string, readonly document: Problem, readonly status: number, readonly retryAfter: number | null = null) {
    super(url, describeProblem(document) + whenToRetry(retryAfter));
  }
  is(type: string): boolean {
    return this.document.type === ERROR_PREFIX + type;
  }
}

const BAD_NONCE_RETRIES = 10;
/**
 * Server errors that pass: Boulder answers 500 with `Retry-After: 60` (wfe2 when a backend call
 * fails), and a load balancer in front of any CA answers 502, 503 or 504 while it restarts. Each is
 * waited out (its Retry-After, or TRANSIENT_WAIT_MS without one) at most BUSY_RETRIES times.
 */
const TRANSIENT_STATUSES = new Set([500, 502, 503, 504]);
const TRANSIENT_WAIT_MS = 2_000;
/**
 * Waits on a server error or 429 before giving up. A server error's Retry-After is waited a minute
 * at most; a 429's longer than a minute is a rate limit, reported with its time, not waited.
 */
const BUSY_RETRIES = 3;
const MAX_RETRY_AFTER_MS = 60_000;
/** A renewal information answer is a few hundred bytes; anything near this is not one. */
const MAX_RENEWAL_INFO_BYTES = 64 * 1024;
/** A chain travels to certproc in one IPC frame (1 MiB of JSON): far more than any real chain. */
const MAX_CHAIN_BYTES = 512 * 1024;
/** Alternate chains looked at: Let's Encrypt offers one, Pebble as many as it is told. */
const MAX_ALTERNATES = 8;
/** Beyond a year a Retry-After is nonsense; it is still reported, as "a year from now". */
const MAX_REPORTED_RETRY_MS = 366 * 86_400_000;

/** Retry-After as milliseconds, from delta-seconds or an HTTP-date (§8.2); null when absent or bad. */
export function retryAfterMs(res: HttpResponse, now = Date.now()): number | null {
  const value = res.headers['retry-after'];
  if (typeof value !== 'string') return null;
  if (/^\s*\d{1,15}\s*$/.test(value)) return Number(value) * 1000;
  // Every HTTP-date form starts with a day name; Date.parse alone would take "1.5" for 2001.
  if (!/^\s*[A-Za-z]{3}/.test(value)) return null;
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/** "; retry after <UTC time>" for a Retry-After that was not waited out, else "". */
function whenToRetry(ms: number | null): string {
  if (ms === null) return '';
  const at = new Date(Date.now() + Math.min(ms, MAX_REPORTED_RETRY_MS));
  return `; retry after ${utcTime(at.getTime())}`;
}

/** The targets of a response's Link entries with relation `rel` (RFC 8288), resolved against its URL. */
export function linkTargets(res: HttpResponse, rel: string): string[] {
  const header = res.headers.link;
  // Node joins repeated Link headers with ", ", which cannot occur inside <...>.
  const text = Array.isArray(header) ? header.join(', ') : (header ?? '');
  const targets: string[] = [];
  for (const [, target, params] of text.matchAll(/<([^>]*)>([^<]*)/g)) {
    const relation = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(params ?? '');
    const relations = (relation?.[1] ?? relation?.[2] ?? '').toLowerCase().split(/\s+/);
    if (!relations.includes(rel)) continue;
    try {
      targets.push(new URL(target ?? '', res.url).toString());
    } catch {
      // not a URL: not a chain anyone can fetch
    }
  }
  return targets;
}

/**
 * How long to wait before asking again: a server error's Retry-After, capped at a minute
 * (TRANSIENT_WAIT_MS without one); a 429's when it is a minute or less. A 429 asking for longer is
 * a rate limit: reported, with the time it gave. Whether the run's budget leaves the wait is the
 * caller's question.
 */
export function busyWait(res: HttpResponse): number | null {
  const wait = retryAfterMs(res);
  if (TRANSIENT_STATUSES.has(res.status)) return wait === null ? TRANSIENT_WAIT_MS : Math.min(wait, MAX_RETRY_AFTER_MS);
  if (res.status !== 429) return null;
  return wait !== null && wait <= MAX_RETRY_AFTER_MS ? wait : null;
}

export class AcmeClient {
  private readonly nonces: string[] = [];
  /** Requests waiting for a nonce, served in turn by the next answer's or newNonce's. */
  private readonly waiting: { resolve: (nonce: string) => void; reject: (err: unknown) => void }[] = [];
  /** newNonce requests on their way (or waiting for their turn) for those waiting. */
  private asking = 0;
  /** newNonce at most at the CA's published rate: a large order's first wave asks for many. */
  private readonly newNonceRate = new TokenBucket(NEW_NONCE_LIMIT);
  /** Every signed request, each sending of it, at most at the CA's published rate. */
  private readonly signedRate = new TokenBucket(SIGNED_REQUEST_LIMIT);
  private dir: Directory | null = null;
  private directoryLoad: Promise<Directory> | null = null;
  /** A newNonce fetched ahead (prefetchNonce), taken by the first request that finds no nonce kept. */
  private nonceAhead: Promise<string> | null = null;
  private kid: string | null = null;
  /** Set while the account URL is a kept one the CA has not yet accepted: how to find it instead. */
  private unconfirmed: AccountFields | null = null;
  /** The names newOrder asked for: an authorization for anything else is refused. */
  private requested: Set<string> | null = null;

  /**
   * `budget`: the time the run may still spend on the CA (--poll-timeout and --timeout); a wait
   * before a retry that would not leave it is not made, and the error is reported instead.
   */
  constructor(private readonly http: HttpClient, private readonly signer: Signer, private readonly directoryUrl: string, private readonly budget: Deadline) {}

  /** Whether to ask again after `wait`: not past the retries, nor past the run's budget. */
  private retrying(url: string, res: HttpResponse, retries: number): number | null {
    const wait = busyWait(res);
    if (wait === null || retries >= BUSY_RETRIES || !this.budget.leaves(wait)) return null;
    debug(url, `${TRANSIENT_STATUSES.has(res.status) ? 'server error' : 'busy'} (HTTP ${res.status}), retrying in ${Math.ceil(wait / 1000)} s`);
    return wait;
  }

  get directory(): Directory {
    if (this.dir === null) throw new Error('directory not loaded');
    return this.dir;
  }

  /**
   * An unsigned GET, with server errors, 429 and a lost connection retried as post() does.
   * `retryRate`: a rate each request after the first also keeps (newNonce's: the caller's first
   * took its turn already).
   */
  private async unsigned(url: string, maxBytes?: number, retryRate?: TokenBucket): Promise<HttpResponse> {
    let lost = false;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) await retryRate?.take();
      let res: HttpResponse;
      try {
        res = await this.http.get(url, maxBytes, lost);
      } catch (err) {
        if (!(err instanceof ConnectionLost) || lost) throw err;
        lost = true;
        debug(url, `${err.problem}; asking again on a new connection`);
        continue;
      }
      const wait = this.retrying(url, res, attempt);
      if (wait === null) return res;
      await sleep(wait);
    }
  }

  /** The directory, fetched once per run (a second call while it is on its way waits for the first). */
  loadDirectory(): Promise<Directory> {
    this.directoryLoad ??= this.fetchDirectory();
    return this.directoryLoad;
  }

  private async fetchDirectory(): Promise<Directory> {
    const res = await this.unsigned(this.directoryUrl);
    if (res.status !== 200) throw this.failure(res);
    this.dir = parseDirectory(parseJson(res.body, this.directoryUrl), this.directoryUrl);
    debug(this.directoryUrl, 'directory loaded');
    return this.dir;
  }

  private keepNonce(res: HttpResponse): void {
    const nonce = res.headers['replay-nonce'];
    if (typeof nonce === 'string' && TOKEN.test(nonce)) this.giveNonce(nonce);
  }

  /** To the request that has waited longest for one, or kept. */
  private giveNonce(nonce: string): void {
    const waiter = this.waiting.shift();
    if (waiter !== undefined) waiter.resolve(nonce);
    else if (this.nonces.length < 64) this.nonces.push(nonce);
  }

  /**
   * Fetches a nonce now, for the first signed request, whose signature acctproc may still be
   * unable to make: the round trip is then off the conversation's path. Not when one is kept.
   * `keptUrl`: the newNonce URL an earlier run kept (the account file): asked at once, without
   * waiting for the directory; one that gives no nonce (the CA has moved it) costs that request,
   * and the directory's is asked then.
   */
  prefetchNonce(keptUrl: string | null = null): void {
    if (this.nonces.length > 0 || this.nonceAhead !== null) return;
    const fromDirectory = (): Promise<string> => this.loadDirectory().then(() => this.newNonceRate.take()).then(() => this.freshNonce());
    this.nonceAhead = keptUrl === null ? fromDirectory() : this.keptNonce(keptUrl).then((nonce) => nonce ?? fromDirectory());
    this.nonceAhead.catch(() => undefined);
  }

  /**
   * Fetches `count` more nonces to keep, once the first (prefetchNonce) has come: an order of many
   * names then starts its authorizations with as many requests in flight as the newNonce burst
   * allows, not with one. After the first, so that a CA refusing it is not asked again before
   * its Retry-After; and after the directory, which the first (from a kept URL) may not wait for.
   * A failure is nobody's: a request finding no nonce waits for the next one, as always.
   */
  stockNonces(count: number): void {
    if (count <= 0) return;
    Promise.all([this.nonceAhead, this.loadDirectory()]).then(() => {
      for (let i = 0; i < count; i++) {
        (async () => {
          await this.newNonceRate.take();
          this.giveNonce(await this.freshNonce());
        })().catch(() => undefined);
      }
    }, () => undefined);
  }

  /**
   * Whether `url` is of the directory's origin: a newNonce URL is kept (the account file) and asked
   * (keptNonce) only then.
   */
  ofDirectoryOrigin(url: string): boolean {
    try {
      return new URL(url).origin === new URL(this.directoryUrl).origin;
    } catch {
      return false;
    }
  }

  /** A nonce from a kept newNonce URL of the directory's origin, or null. */
  private async keptNonce(url: string): Promise<string | null> {
    if (!this.ofDirectoryOrigin(url)) return null;
    try {
      await this.newNonceRate.take();
      const res = await this.http.get(url);
      const nonce = res.headers['replay-nonce'];
      return res.status < 300 && typeof nonce === 'string' && TOKEN.test(nonce) ? nonce : null;
    } catch {
      return null;
    }
  }

  /**
   * A nonce for the next signed request: one kept, the one fetched ahead, or the next to come, from
   * an answer to a request in flight or from newNonce, asked for those waiting at most at its
   * published rate. So a large order's requests in flight grow with its nonces: ten at first (the
   * newNonce burst), then twenty more a second.
   */
  private nonce(): Promise<string> {
    const kept = this.nonces.pop();
    if (kept !== undefined) return Promise.resolve(kept);
    const ahead = this.nonceAhead;
    if (ahead !== null) {
      this.nonceAhead = null;
      return ahead;
    }
    const next = new Promise<string>((resolve, reject) => this.waiting.push({ resolve, reject }));
    if (this.waiting.length > this.asking) void this.askNonce();
    return next;
  }

  /** One newNonce for those waiting, at its turn; none once an answer has served them meanwhile. */
  private async askNonce(): Promise<void> {
    this.asking++;
    try {
      await this.newNonceRate.take();
      if (this.waiting.length === 0) return;
      await this.loadDirectory();
      this.giveNonce(await this.freshNonce());
    } catch (err) {
      this.waiting.shift()?.reject(err);
    } finally {
      this.asking--;
    }
  }

  /** A newNonce request, its turn at the newNonce rate taken already by the caller. */
  private async freshNonce(): Promise<string> {
    const { newNonce } = this.directory;
    // GET (204), not HEAD (200): a HEAD answer has no length, after which some servers (Pebble, and
    // Go's HTTP server under it) close the connection, and the next request pays a TLS handshake.
    const res = await this.unsigned(newNonce, undefined, this.newNonceRate);
    if (res.status >= 400) throw this.failure(res);
    const nonce = res.headers['replay-nonce'];
    if (typeof nonce !== 'string' || !TOKEN.test(nonce)) throw new Failure(newNonce, 'no usable Replay-Nonce');
    return nonce;
  }

  private failure(res: HttpResponse): Failure {
    const type = String(res.headers['content-type'] ?? '').toLowerCase();
    // Retry-After on an error is the CA saying when to come back (rateLimited, 503): say it.
    const retryAfter = retryAfterMs(res);
    if (type.startsWith('application/problem+json') || type.startsWith('application/json')) {
      let document: Problem | null = null;
      try {
        document = parseProblem(JSON.parse(res.body.toString('utf8')));
      } catch {
        // not JSON: fall through to the bare status
      }
      // application/json only counts when it really is an ACME problem.
      if (document !== null && (type.startsWith('application/problem+json') || document.type.startsWith(ERROR_PREFIX))) {
        return new AcmeProblem(res.url, document, res.status, retryAfter);
      }
    }
    return new Failure(res.url, `HTTP status ${res.status}${whenToRetry(retryAfter)}`);
  }

  /**
   * A signed POST (§6.2). payload null is POST-as-GET. badNonce is retried with the nonce of the
   * error response (§6.5; another request's, when one was waiting for a nonce before it), at most
   * BAD_NONCE_RETRIES times; server errors and 429 are waited out
   * at most BUSY_RETRIES times (busyWait); a connection lost in flight is sent again once, on a new
   * connection and signed with another nonce (the lost one may have been used). A redirect is an
   * error: the JWS is bound to its URL. `sendAfter`: signed meanwhile, sent only once it has settled.
   */
  async post(url: string, payload: unknown | null, useJwk = false, maxBytes?: number, resendWhenLost = true, sendAfter?: Promise<unknown>): Promise<HttpResponse> {
    const body = payload === null ? '' : JSON.stringify(payload);
    // Its failure is taken below, once signed; meanwhile it must not count as unhandled.
    sendAfter?.catch(() => undefined);
    let badNonces = 0;
    let waits = 0;
    let lost = false;
    for (;;) {
      const jws = await this.signer.sign(url, await this.nonce(), body, useJwk ? null : this.requireKid());
      await sendAfter;
      await this.signedRate.take();
      let res: HttpResponse;
      try {
        res = await this.http.post(url, JSON.stringify(jws), maxBytes, lost);
      } catch (err) {
        if (!(err instanceof ConnectionLost) || lost || !resendWhenLost) throw err;
        lost = true;
        debug(url, `${err.problem}; sending it again on a new connection with a fresh nonce`);
        continue;
      }
      this.keepNonce(res);
      if (!useJwk && res.status < 300) this.unconfirmed = null;
      if (res.status >= 300 && res.status < 400) {
        const location = res.headers.location;
        const to = typeof location === 'string' ? ` to ${location.slice(0, 200)}` : '';
        throw new Failure(url, `HTTP status ${res.status}: redirect${to} not followed for a signed request`);
      }
      if (res.status < 400) return res;
      const err = this.failure(res);
      if (err instanceof AcmeProblem && err.is('badNonce')) {
        if (++badNonces > BAD_NONCE_RETRIES) {
          throw new Failure(url, `${err.problem} (nonce rejected ${badNonces} times in a row, giving up)`);
        }
        debug(url, 'nonce rejected, retrying');
        continue;
      }
      const fields = this.unconfirmed;
      if (fields !== null && !useJwk && err instanceof AcmeProblem && err.is('accountDoesNotExist')) {
        // The kept URL is stale (another CA's, a database reset): the key's account, found or made, instead.
        debug(this.kid ?? url, `the CA knows no account at this URL: looking up the key's (${err.problem})`);
        this.unconfirmed = null;
        await this.account(false, fields);
        continue;
      }
      const wait = this.retrying(url, res, waits++);
      if (wait !== null) {
        await sleep(wait);
        continue;
      }
      throw err;
    }
  }

  /** The account's URL, as the CA last confirmed it (after a lookup that replaced a kept one too). */
  get accountUrl(): string {
    return this.requireKid();
  }

  private requireKid(): string {
    if (this.kid === null) throw new Error('no account URL yet');
    return this.kid;
  }

  /**
   * §7.3.1 then §7.3: find the account for this key, create it when there is none. A key made in
   * this run (newKey) cannot have an account yet: it is created without asking. `known`: the URL
   * an earlier run kept, used without asking unless contacts are to be compared; should the CA
   * answer a request signed with it accountDoesNotExist, the account is looked up then (post).
   */
  async account(newKey: boolean, fields: AccountFields, known: string | null = null): Promise<string> {
    if (known !== null && !newKey && fields.contact.length === 0) {
      this.kid = known;
      this.unconfirmed = fields;
      return known;
    }
    const { newAccount } = this.directory;
    const found = newKey ? null : await this.findAccount();
    const res = found ?? (await this.createAccount(fields));
    if (found === null) debug(newAccount, 'account created');
    this.kid = this.location(res, newAccount, 'account');
    if (this.kid !== known) await fields.keep(this.kid);
    if (found !== null && fields.contact.length > 0) await this.updateContacts(found, fields.contact);
    return this.kid;
  }

  /** §7.3.1: the CA's answer for the account of the signer's key, or null when it has none. */
  private async findAccount(): Promise<HttpResponse | null> {
    const { newAccount } = this.directory;
    try {
      const res = await this.post(newAccount, { onlyReturnExisting: true }, true);
      debug(newAccount, 'account exists');
      return res;
    } catch (err) {
      if (err instanceof AcmeProblem && err.is('accountDoesNotExist')) return null;
      throw err;
    }
  }

  /** §7.3.1 for a key change: the account must exist, and is never created. */
  async existingAccount(): Promise<string> {
    const { newAccount } = this.directory;
    const res = await this.findAccount();
    if (res === null) throw new Failure(newAccount, 'the CA knows no account for this key');
    this.kid = this.location(res, newAccount, 'account');
    return this.kid;
  }

  /** The URL key changes go to (§7.3.5); a CA without one cannot roll an account key over. */
  keyChangeUrl(): string {
    const { keyChange } = this.directory;
    if (keyChange === null) throw new Failure(this.directoryUrl, 'the CA offers no account key change (no keyChange in its directory)');
    return keyChange;
  }

  /**
   * §7.3.5: the outer JWS, signed with the old key as the account, carries the inner one. Never
   * sent again after a lost connection: had the first reached the CA, the account would now have
   * the new key and a second one, signed with the old, could only be refused, hiding that.
   */
  async changeKey(inner: FlattenedJws): Promise<void> {
    const url = this.keyChangeUrl();
    try {
      await this.post(url, inner, false, undefined, false);
    } catch (err) {
      if (!(err instanceof ConnectionLost)) throw err;
      throw new Failure(url, `${err.problem}: whether the CA now knows the account by the new key is unknown; the account key file is unchanged`);
    }
  }

  /**
   * §7.3.2: an existing account whose contacts differ from `contact` (in any order) is given them.
   * An account object with no contact member at all is a CA that keeps none: Let's Encrypt since
   * 2025 (Boulder drops contacts and answers an update with the account unchanged), so an update
   * would be sent, and "made", on every run. It is not sent.
   */
  private async updateContacts(found: HttpResponse, contact: string[]): Promise<void> {
    const url = this.requireKid();
    const kept = parseAccount(parseJson(found.body, url), url).contact;
    if (kept === null) {
      debug(url, 'the CA keeps no contacts: not updated');
      return;
    }
    const sorted = (list: string[]): string => JSON.stringify([...list].sort());
    if (sorted(kept) === sorted(contact)) return;
    await this.post(url, { contact });
    debug(url, `contacts updated to ${contact.join(', ')}`);
  }

  /** §7.3 and §7.3.4. A CA that wants a binding and was given none is told what to give it. */
  private async createAccount(fields: AccountFields): Promise<HttpResponse> {
    const { newAccount, externalAccountRequired } = this.directory;
    const binding = await fields.externalAccountBinding(newAccount);
    if (binding === null && externalAccountRequired) throw new Failure(newAccount, `the CA requires External Account Binding for a new account: ${EAB_REQUIRED}`);
    try {
      const payload = {
        termsOfServiceAgreed: true,
        ...(fields.contact.length > 0 ? { contact: fields.contact } : {}),
        ...(binding === null ? {} : { externalAccountBinding: binding }),
      };
      return await this.post(newAccount, payload, true);
    } catch (err) {
      if (binding === null && err instanceof AcmeProblem && err.is('externalAccountRequired')) throw new Failure(newAccount, `${err.problem}; ${EAB_REQUIRED}`);
      // Google Trust Services refuses an account without a contact; no CA words this alike, so a
      // refusal that names contacts, or is invalidContact, is taken for it when none was given.
      if (fields.contact.length === 0 && err instanceof AcmeProblem && (err.is('invalidContact') || /contact/i.test(err.document.detail))) {
        throw new Failure(newAccount, `${err.problem}; ${CONTACT_REQUIRED}`);
      }
      throw err;
    }
  }

  /** The Location of a created resource: required, and https (or http to the loopback) like every other ACME URL. */
  private location(res: HttpResponse, subject: string, what: string): string {
    const location = res.headers.location;
    if (typeof location !== 'string') throw new Failure(subject, `no ${what} URL (Location) in the answer`);
    let url: URL;
    try {
      url = new URL(location, subject);
    } catch {
      throw new Failure(subject, `${what} URL (Location) is not a URL: ${location.slice(0, 200)}`);
    }
    if (!caNamedUrlAllowed(url, subject)) throw new Failure(subject, `${what} URL (Location) is not https: ${location.slice(0, 200)}`);
    return url.toString();
  }

  /**
   * RFC 9773 §4.2: the CA's suggested renewal window for a certificate, and how long the CA asks to
   * be left alone before the next question (Retry-After). An unauthenticated GET. null: the CA
   * does not know the certificate (404).
   */
  async renewalInfo(certId: string): Promise<{ info: RenewalInfo; retryAfter: number | null } | null> {
    const base = this.directory.renewalInfo;
    if (base === null) throw new Error('the CA offers no renewal information');
    const url = `${base.replace(/\/$/, '')}/${certId}`;
    const res = await this.unsigned(url, MAX_RENEWAL_INFO_BYTES);
    if (res.status === 404) return null;
    if (res.status !== 200) throw this.failure(res);
    return { info: parseRenewalInfo(parseJson(res.body, url), url), retryAfter: retryAfterMs(res) };
  }

  /**
   * §7.4, with the profile to issue under (omitted: the CA's default) and, for a renewal, the
   * CertID of the certificate it replaces (RFC 9773 §5). An IP address is an identifier of type
   * ip (RFC 8738 §3).
   */
  async newOrder(names: string[], extra: { profile: string | null; replaces: string | null }): Promise<{ url: string; order: Order }> {
    const { newOrder } = this.directory;
    this.requested = new Set(names.map((n) => n.toLowerCase()));
    const identifiers = names.map((value) => ({ type: canonicalIp(value) === null ? 'dns' : 'ip', value }));
    const payload: Record<string, unknown> = { identifiers };
    if (extra.profile !== null) payload.profile = extra.profile;
    if (extra.replaces !== null) payload.replaces = extra.replaces;
    const res = await this.post(newOrder, payload);
    // 201 Created is what §7.4 says; some CAs answer an identical pending order with 200.
    if (res.status !== 201 && res.status !== 200) throw new Failure(newOrder, `unexpected HTTP status ${res.status}`);
    const url = this.location(res, newOrder, 'order');
    return { url, order: parseOrder(parseJson(res.body, url), url) };
  }

  async order(url: string): Promise<{ order: Order; retryAfter: number | null }> {
    const res = await this.post(url, null);
    return { order: parseOrder(parseJson(res.body, url), url), retryAfter: retryAfterMs(res) };
  }

  async authorization(url: string): Promise<{ authz: Authorization; retryAfter: number | null }> {
    const res = await this.post(url, null);
    const authz = parseAuthorization(parseJson(res.body, url), url);
    // An authorization for a name never asked for would have us publish a challenge for it.
    const name = (authz.wildcard ? '*.' : '') + authz.identifier.toLowerCase();
    if (this.requested !== null && !this.requested.has(name)) throw new Failure(url, `authorization for ${name.slice(0, 260)}, which was not requested`);
    return { authz, retryAfter: retryAfterMs(res) };
  }

  /** §7.5.2: give up an authorization that will not be used, rather than leave it pending at the CA. */
  async deactivateAuthorization(url: string): Promise<void> {
    await this.post(url, { status: 'deactivated' });
  }

  /** §7.5.1: tell the CA the challenge is ready; the payload is exactly {}. */
  async respond(challengeUrl: string, published?: Promise<unknown>): Promise<void> {
    await this.post(challengeUrl, {}, false, undefined, true, published);
  }

  /** §7.4: finalize with the CSR (base64url DER); the order as it left it, and the wait the CA asks for. */
  async finalize(url: string, csr: string): Promise<{ order: Order; retryAfter: number | null }> {
    const res = await this.post(url, { csr });
    return { order: parseOrder(parseJson(res.body, url), url), retryAfter: retryAfterMs(res) };
  }

  /** §7.4.2: the PEM chain, checked by certproc, and the URLs of the alternate chains offered with it. */
  async certificate(url: string): Promise<{ pem: string; alternates: string[] }> {
    const res = await this.post(url, null, false, MAX_CHAIN_BYTES);
    const type = String(res.headers['content-type'] ?? '').toLowerCase();
    if (!type.startsWith('application/pem-certificate-chain')) warn(url, `unexpected content type "${type.slice(0, 80)}"`);
    return { pem: res.body.toString('utf8'), alternates: linkTargets(res, 'alternate').slice(0, MAX_ALTERNATES) };
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
