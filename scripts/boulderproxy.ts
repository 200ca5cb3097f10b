// boulderproxy: Let's Encrypt's Boulder where Pebble 2.10 behaves otherwise, put in front of a real
// Pebble (issuance, renewal windows and the other checks of "replaces", 403 unauthorized and 409
// alreadyReplaced, are still Pebble's). An HTTPS reverse proxy on 127.0.0.1 that passes every
// request on with its Host header unchanged (Pebble builds its URLs, and checks each JWS "url",
// from that header) and, as Boulder does (shared/notes/ca-world-2026.md, from Boulder's source):
//   - answers renewalInfo 404 for a certificate not issued through it (as another CA's);
//   - refuses a newOrder whose "replaces" names such a certificate (wfe2/wfe.go
//     validateReplacementOrder): 404 malformed;
//   - keeps no contacts: account objects lose their "contact" member;
//   - refuses a keyChange to a key that already has an account (409, with that account's URL as
//     Location), which Pebble 2.10 accepts;
//   - puts a fresh Replay-Nonce on every error it makes up, as Boulder does on every error;
// and, when the test asks, once each: a 500 with Retry-After (Boulder's answer when a backend
// fails), a connection reset while a request is in flight, and an order that stays "processing".
// Used by test/boulder.test.ts.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { X509Certificate } from 'node:crypto';
import { Problem, Upstream, proxyInFrontOf, readBody } from './proxyutil.js';

export type { Problem };
import { certificateCertId } from '../src/x509/certid.js';
import { certificateFields } from '../src/x509/names.js';

/** A request the test wants to go wrong once: the first whose method and path (prefix) match. */
export interface Mishap {
  method: string;
  pathPrefix: string;
}

export interface BoulderProxy {
  directoryUrl: string;
  /** Method, path and status of every request, in order (status 0: the connection was reset). */
  readonly requests: { method: string; path: string; status: number }[];
  /** The payload of every newOrder the proxy or Pebble answered (not those refused for a bad nonce), in order. */
  readonly newOrders: Record<string, unknown>[];
  /** The payload of every newAccount Pebble accepted that was not onlyReturnExisting, in order. */
  readonly newAccounts: Record<string, unknown>[];
  /** Every payload POSTed to an account URL (an update), in order. */
  readonly accountUpdates: Record<string, unknown>[];
  /** The CertIDs asked for with renewalInfo. */
  readonly renewalInfoAsked: string[];
  /** The path of Pebble's renewalInfo (the CertID follows it after a slash). */
  renewalInfoPath: string;
  /** Forgets which certificates were issued through it: as a CA that no longer keeps them. */
  forgetCertificates(): void;
  /** Answers the next matching request with this status and Retry-After (null: none); the problem is serverInternal unless given. */
  failOnce: (Mishap & { status: number; retryAfter: string | null; problem?: { type: string; detail: string } }) | null;
  /** Answers every newOrder that carries "replaces" with 500 serverInternal, as Pebble 2.10 does for a serial beginning with a zero byte. */
  failReplaces: boolean;
  /** Resets the connection of the next matching request once its body has arrived, unanswered. */
  resetOnce: Mishap | null;
  /** While true, a valid order is shown as "processing" (no certificate), with Retry-After: 1. */
  holdProcessing: boolean;
  /** Refuses a newAccount that has no contact, as Google Trust Services does. */
  requireContact: boolean;
  stop(): Promise<void>;
}

interface Jws {
  protected: { kid?: string; url?: string; jwk?: Record<string, string> };
  payload: Record<string, unknown> | null;
}

function jwsOf(body: Buffer): Jws | null {
  try {
    const jws = JSON.parse(body.toString('utf8')) as { protected: string; payload: string };
    const decode = (part: string): unknown => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return { protected: decode(jws.protected) as Jws['protected'], payload: jws.payload === '' ? null : (decode(jws.payload) as Record<string, unknown>) };
  } catch {
    return null;
  }
}

export async function startBoulderProxy(lab: Upstream): Promise<BoulderProxy> {
  const upstream = new URL(lab.directoryUrl);
  /** The CertIDs of the certificates issued through the proxy. */
  const issued = new Set<string>();
  // Requests reach `handle` only once the test has the proxy's URL, after the set-up below.
  const front = await proxyInFrontOf(lab, 'boulderproxy', (req, res) => handle(req, res));
  const { forward } = front;

  // Pebble's directory names its newNonce and newAccount paths.
  // Pebble 2.10 refuses a request without a User-Agent.
  const ownHeaders = (host: string): IncomingMessage['headers'] => ({ host, 'user-agent': 'boulderproxy' });
  const directory = JSON.parse((await forward('GET', upstream.pathname, ownHeaders(upstream.host), Buffer.alloc(0))).body.toString('utf8')) as Record<string, string>;
  const pathOf = (url: string | undefined): string => new URL(url ?? '/', lab.directoryUrl).pathname;
  const paths = {
    newNonce: pathOf(directory.newNonce), newAccount: pathOf(directory.newAccount), newOrder: pathOf(directory.newOrder),
    keyChange: pathOf(directory.keyChange), renewalInfo: pathOf(directory.renewalInfo),
  };
  /** The public key of each account created or found through the proxy (its JWK members in order) -> the account URL. */
  const accountsByKey = new Map<string, string>();
  const keyOf = (jwk: Record<string, string>): string => JSON.stringify(Object.keys(jwk).sort().map((k) => [k, jwk[k]]));

  const freshNonce = async (host: string): Promise<string | undefined> => {
    const res = await forward('HEAD', paths.newNonce, ownHeaders(host), Buffer.alloc(0));
    const nonce = res.headers['replay-nonce'];
    return typeof nonce === 'string' ? nonce : undefined;
  };

  const sendProblem = async (req: IncomingMessage, res: ServerResponse, p: Problem, extra: Record<string, string> = {}): Promise<void> => {
    const nonce = await freshNonce(req.headers.host ?? '');
    res.writeHead(p.status, { 'content-type': 'application/problem+json', ...(nonce === undefined ? {} : { 'replay-nonce': nonce }), ...extra });
    res.end(JSON.stringify({ type: `urn:ietf:params:acme:error:${p.type}`, detail: p.detail, status: p.status }));
  };

  const matches = (m: Mishap | null, method: string, path: string): boolean => m !== null && m.method === method && path.startsWith(m.pathPrefix);

  /** wfe2/wfe.go validateReplacementOrder's first check; Pebble makes the others. */
  const unknownReplaced: Problem = { status: 404, type: 'malformed', detail: "Could not validate ARI 'replaces' field :: path contained an Authority Key Identifier that did not match a known issuer" };

  const requests: BoulderProxy['requests'] = [];
  const proxy: BoulderProxy = {
    directoryUrl: '',
    requests,
    newOrders: [],
    newAccounts: [],
    accountUpdates: [],
    renewalInfoAsked: [],
    renewalInfoPath: paths.renewalInfo,
    forgetCertificates: () => issued.clear(),
    failOnce: null,
    resetOnce: null,
    failReplaces: false,
    holdProcessing: false,
    requireContact: false,
    stop: () => front.stop(),
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = req.url ?? '/';
    const method = req.method ?? '';
    const record = { method, path, status: 0 };
    requests.push(record);
    res.on('finish', () => (record.status = res.statusCode));
    const body = await readBody(req);
    if (matches(proxy.resetOnce, method, path)) {
      proxy.resetOnce = null;
      // Closed under the request, unanswered: the client sees a hang-up (ECONNRESET), as from a
      // load balancer's reset or a kept-alive connection the server closed meanwhile.
      req.socket.destroy();
      return;
    }
    if (proxy.failOnce !== null && matches(proxy.failOnce, method, path)) {
      const { status, retryAfter, problem } = proxy.failOnce;
      proxy.failOnce = null;
      await sendProblem(req, res, { status, ...(problem ?? { type: 'serverInternal', detail: 'Error retrieving account' }) }, retryAfter === null ? {} : { 'retry-after': retryAfter });
      return;
    }
    if (method === 'GET' && path.startsWith(`${paths.renewalInfo}/`)) {
      const certId = path.slice(paths.renewalInfo.length + 1);
      proxy.renewalInfoAsked.push(certId);
      if (!issued.has(certId)) {
        await sendProblem(req, res, { status: 404, type: 'malformed', detail: 'Certificate not found' });
        return;
      }
    }
    const jws = method === 'POST' ? jwsOf(body) : null;
    const replaces = jws !== null && path === paths.newOrder ? jws.payload?.replaces : undefined;
    if (typeof replaces === 'string' && proxy.failReplaces) {
      proxy.newOrders.push(jws?.payload ?? {});
      await sendProblem(req, res, { status: 500, type: 'serverInternal', detail: 'could not find order resulting in the given certificate serial number' });
      return;
    }
    if (typeof replaces === 'string' && !issued.has(replaces)) {
      proxy.newOrders.push(jws?.payload ?? {});
      await sendProblem(req, res, unknownReplaced);
      return;
    }
    if (jws !== null && path === paths.newAccount && proxy.requireContact && jws.payload?.onlyReturnExisting !== true && jws.payload?.contact === undefined) {
      await sendProblem(req, res, { status: 400, type: 'invalidContact', detail: 'contact is required' });
      return;
    }
    if (jws !== null && jws.protected.kid !== undefined && pathOf(jws.protected.kid) === path && jws.payload !== null) proxy.accountUpdates.push(jws.payload);
    if (jws !== null && path === paths.keyChange && jws.payload !== null) {
      // The payload is the inner JWS, signed by the new key, which it carries as "jwk".
      const inner = jwsOf(Buffer.from(JSON.stringify(jws.payload)));
      const holder = inner?.protected.jwk === undefined ? undefined : accountsByKey.get(keyOf(inner.protected.jwk));
      if (holder !== undefined) {
        await sendProblem(req, res, { status: 409, type: 'malformed', detail: 'New key is already in use for a different account' }, { location: holder });
        return;
      }
    }

    const answer = await forward(method, path, req.headers, body);
    const badNonce = answer.status >= 400 && answer.body.toString('utf8').includes('urn:ietf:params:acme:error:badNonce');
    if (jws !== null && path === paths.newOrder && !badNonce) proxy.newOrders.push(jws.payload ?? {});
    if (jws !== null && path === paths.newAccount && answer.status < 300 && jws.payload?.onlyReturnExisting !== true) proxy.newAccounts.push(jws.payload ?? {});
    const location = answer.headers.location;
    if (jws?.protected.jwk !== undefined && path === paths.newAccount && answer.status < 300 && typeof location === 'string') accountsByKey.set(keyOf(jws.protected.jwk), location);
    let out = answer.body;
    const headers: Record<string, string | string[] | undefined> = { ...answer.headers };
    const type = String(answer.headers['content-type'] ?? '');
    if (answer.status < 300 && type.startsWith('application/json')) {
      const object = JSON.parse(out.toString('utf8')) as Record<string, unknown>;
      // Boulder keeps no contacts since 2025: its account objects have no contact member.
      if (path === paths.newAccount || (jws?.protected.kid !== undefined && pathOf(jws.protected.kid) === path)) delete object.contact;
      if (proxy.holdProcessing && object.status === 'valid' && typeof object.finalize === 'string') {
        object.status = 'processing';
        delete object.certificate;
        headers['retry-after'] = '1';
      }
      out = Buffer.from(JSON.stringify(object));
    }
    if (answer.status === 200 && type.startsWith('application/pem-certificate-chain') && jws !== null) {
      const leaf = new X509Certificate(out.toString('utf8'));
      const certId = certificateCertId(certificateFields(leaf.raw));
      if (certId !== null) issued.add(certId);
    }
    headers['content-length'] = String(out.length);
    delete headers['transfer-encoding'];
    res.writeHead(answer.status, headers);
    res.end(out);
  };

  proxy.directoryUrl = front.directoryUrl;
  return proxy;
}
