// The vocabulary of every channel: one discriminated union per direction, and a parser for each
// that a receiving child applies before acting (a child never trusts its peer). The channels form
// the C original's star around netproc, plus certproc -> fileproc:
//
//   acctproc <-> netproc <-> keyproc        netproc <-> chngproc
//                  netproc <-> certproc -> fileproc

import * as c from '../check.js';
import { ACCOUNT_ALGS, type AccountAlg, type FlattenedJws } from '../acme/jws.js';

// ---- netproc <-> acctproc: the account key signs; only signatures and the thumbprint come back.
// acctproc's ready says whether it has just created the key (-n): an account for it cannot exist yet.
// 'eab' asks for the External Account Binding of a new account at `url`: acctproc alone holds the
// MAC key (--eab-hmac-key-file), and answers null when it was given none.
// --rollover-account-key: 'keyChange' asks for the inner JWS of §7.3.5 (signed with the new key,
// for `account` at `url`); 'keyChanged' says the CA has accepted it, and gets no answer: acctproc
// replaces the key file and its exit status says so.
// The account's URL is kept beside its key (src/fsutil/accountfile.ts), as lego and certbot keep
// it, so that a known account needs no lookup: ready carries what the file holds (null: nothing
// usable), and 'account' gives acctproc the URL the CA has just named, for it to write; no answer.
export type NetToAcct =
  | { op: 'sign'; id: number; url: string; nonce: string; payload: string; kid: string | null }
  | { op: 'thumbprint'; id: number }
  | { op: 'eab'; id: number; url: string }
  | { op: 'keyChange'; id: number; url: string; account: string }
  | { op: 'keyChanged' }
  | ({ op: 'account' } & KnownAccount);
export type AcctToNet =
  | { op: 'ready'; alg: AccountAlg; created: boolean; account: KnownAccount | null }
  | { op: 'signature'; id: number; jws: FlattenedJws }
  | { op: 'thumbprint'; id: number; thumbprint: string }
  | { op: 'eab'; id: number; jws: FlattenedJws | null }
  | { op: 'keyChange'; id: number; jws: FlattenedJws };

/**
 * An account's URL at a CA (`server`: its directory URL), as kept beside the account key, and the
 * CA's newNonce URL as its directory named it then (null: not kept), for the next run's first
 * nonce to be asked while the directory is on its way.
 */
export interface KnownAccount {
  server: string;
  url: string;
  newNonce: string | null;
}

export function knownAccount(m: c.Fields): KnownAccount {
  return { server: c.string(m, 'server', 4096), url: c.string(m, 'url', 4096), newNonce: c.optionalString(m, 'newNonce', 4096) };
}

export function parseNetToAcct(v: unknown): NetToAcct {
  const m = c.object(v);
  switch (m.op) {
    case 'sign':
      return { op: 'sign', id: c.integer(m, 'id'), url: c.string(m, 'url', 4096), nonce: c.base64url(m, 'nonce', 1024),
        payload: c.string(m, 'payload'), kid: c.optionalString(m, 'kid', 4096) };
    case 'thumbprint':
      return { op: 'thumbprint', id: c.integer(m, 'id') };
    case 'eab':
      return { op: 'eab', id: c.integer(m, 'id'), url: c.string(m, 'url', 4096) };
    case 'keyChange':
      return { op: 'keyChange', id: c.integer(m, 'id'), url: c.string(m, 'url', 4096), account: c.string(m, 'account', 4096) };
    case 'keyChanged':
      return { op: 'keyChanged' };
    case 'account':
      return { op: 'account', ...knownAccount(m) };
    default:
      return c.unknownOp(m.op);
  }
}

export function parseAcctToNet(v: unknown): AcctToNet {
  const m = c.object(v);
  switch (m.op) {
    case 'ready':
      return { op: 'ready', alg: c.oneOf(m, 'alg', ACCOUNT_ALGS), created: c.boolean(m, 'created'),
        account: m.account === null ? null : knownAccount(c.object(m.account, 'account')) };
    case 'signature':
      return { op: 'signature', id: c.integer(m, 'id'), jws: flattenedJws(m.jws) };
    case 'thumbprint':
      return { op: 'thumbprint', id: c.integer(m, 'id'), thumbprint: c.base64url(m, 'thumbprint', 64) };
    case 'eab':
      return { op: 'eab', id: c.integer(m, 'id'), jws: m.jws === null ? null : flattenedJws(m.jws) };
    case 'keyChange':
      return { op: 'keyChange', id: c.integer(m, 'id'), jws: flattenedJws(m.jws) };
    default:
      return c.unknownOp(m.op);
  }
}

function flattenedJws(v: unknown): FlattenedJws {
  const j = c.object(v, 'jws');
  return { protected: c.base64url(j, 'protected'), payload: c.base64url(j, 'payload'), signature: c.base64url(j, 'signature', 4096) };
}

// ---- keyproc -> netproc: the CSR, and the public key the issued certificate must carry.
export type KeyToNet = { op: 'csr'; csr: string; publicKey: string };
export type NetToKey = never;

export function parseKeyToNet(v: unknown): KeyToNet {
  const m = c.object(v);
  if (m.op !== 'csr') return c.unknownOp(m.op);
  return { op: 'csr', csr: c.base64url(m, 'csr'), publicKey: c.base64url(m, 'publicKey', 8192) };
}

export function parseNever(v: unknown): never {
  return c.unknownOp(c.object(v).op);
}

// ---- netproc <-> chngproc: one request per authorization; the ack means "the CA may look now",
// "failed" that it could not be published (chngproc has said why, and keeps what it published
// until netproc hangs up).
export type NetToChng = { op: 'challenge'; id: number; identifier: string; token: string; keyAuthorization: string };
export type ChngToNet = { op: 'ack' | 'failed'; id: number };

export function parseNetToChng(v: unknown): NetToChng {
  const m = c.object(v);
  if (m.op !== 'challenge') return c.unknownOp(m.op);
  return { op: 'challenge', id: c.integer(m, 'id'), identifier: c.string(m, 'identifier', 300), token: c.string(m, 'token', 4096),
    keyAuthorization: c.string(m, 'keyAuthorization', 4096) };
}

export function parseChngToNet(v: unknown): ChngToNet {
  const m = c.object(v);
  if (m.op !== 'ack' && m.op !== 'failed') return c.unknownOp(m.op);
  return { op: m.op, id: c.integer(m, 'id') };
}

// ---- certproc <-> netproc: certproc judges the certificate on disk before any network traffic,
// asking netproc for the CA's renewal information (RFC 9773) first when that decides, and checks
// the chain the CA sends before fileproc may write it. With --csr (no keyproc) a renew is preceded
// by the request certproc has read and checked, with the names that come from it.
export type CertToNet =
  | { op: 'renewal-info'; certId: string }
  | { op: 'current'; reason: string }
  | { op: 'request'; csr: string; publicKey: string; names: string[] }
  | { op: 'renew'; reason: string; replaces: string | null; pendingOrder?: { url: string; publicKey: string } }
  | { op: 'revoke'; certificate: string };
/**
 * renewal-info: `offered` false when the CA's directory has no renewalInfo; `window` null when
 * asking failed (netproc has warned); times in milliseconds since the epoch.
 * chain: `renewalInfo` says whether the CA offers renewal information, for the next runs.
 * pending-order: the order was still processing at --poll-timeout; the next run looks at it first.
 */
export type NetToCert =
  | { op: 'ready' }
  | { op: 'renewal-info'; offered: boolean; window: { start: number; end: number } | null; retryAfterMs: number | null; explanationUrl: string | null }
  | { op: 'chain'; pem: string; publicKey: string; renewalInfo: boolean }
  | { op: 'revoked'; already: boolean }
  | { op: 'pending-order'; url: string; publicKey: string };

export function parseCertToNet(v: unknown): CertToNet {
  const m = c.object(v);
  switch (m.op) {
    case 'renewal-info':
      return { op: 'renewal-info', certId: c.string(m, 'certId', 1024) };
    case 'current':
      return { op: 'current', reason: c.string(m, 'reason', 1024) };
    case 'renew':
    {
      const pending = m.pendingOrder === undefined ? null : c.object(m.pendingOrder, 'pendingOrder');
      return {
        op: 'renew', reason: c.string(m, 'reason', 1024), replaces: c.optionalString(m, 'replaces', 1024),
        ...(pending === null ? {} : { pendingOrder: { url: c.string(pending, 'url', 4096), publicKey: c.base64url(pending, 'publicKey', 8192) } }),
      };
    }
    case 'request':
      return { op: 'request', csr: c.base64url(m, 'csr'), publicKey: c.base64url(m, 'publicKey', 8192), names: c.stringArray(m, 'names') };
    case 'revoke':
      return { op: 'revoke', certificate: c.base64url(m, 'certificate') };
    default:
      return c.unknownOp(m.op);
  }
}

export function parseNetToCert(v: unknown): NetToCert {
  const m = c.object(v);
  switch (m.op) {
    case 'ready':
      return { op: 'ready' };
    case 'renewal-info': {
      const window = m.window === null ? null : c.object(m.window, 'window');
      return {
        op: 'renewal-info', offered: c.boolean(m, 'offered'),
        window: window === null ? null : { start: c.integer(window, 'start'), end: c.integer(window, 'end') },
        retryAfterMs: m.retryAfterMs === null ? null : c.integer(m, 'retryAfterMs'),
        explanationUrl: c.optionalString(m, 'explanationUrl', 2000),
      };
    }
    case 'chain':
      return { op: 'chain', pem: c.string(m, 'pem'), publicKey: c.base64url(m, 'publicKey', 8192), renewalInfo: c.boolean(m, 'renewalInfo') };
    case 'revoked':
      return { op: 'revoked', already: c.boolean(m, 'already') };
    case 'pending-order':
      return { op: 'pending-order', url: c.string(m, 'url', 4096), publicKey: c.base64url(m, 'publicKey', 8192) };
    default:
      return c.unknownOp(m.op);
  }
}

// ---- certproc -> fileproc: what to put in the cert dir, already checked. `state` is the text of
// the renewal state file (src/x509/renewal.ts), or null to leave it as it is.
export type CertToFile =
  | { op: 'install'; cert: string; chain: string; state: string | null }
  | { op: 'state'; state: string }
  | { op: 'remove' };
export type FileToCert = never;

export function parseCertToFile(v: unknown): CertToFile {
  const m = c.object(v);
  switch (m.op) {
    case 'install':
      return { op: 'install', cert: c.string(m, 'cert'), chain: c.string(m, 'chain'), state: c.optionalString(m, 'state', 64 * 1024) };
    case 'state':
      return { op: 'state', state: c.string(m, 'state', 64 * 1024) };
    case 'remove':
      return { op: 'remove' };
    default:
      return c.unknownOp(m.op);
  }
}

// ---- acme-client-server's parent <-> frontproc (the HTTP front). frontproc reads each request,
// refuses what it can judge alone (413, 415) and hands the rest over with the CSR's names; the
// parent decides (403, cache, order) and answers by id. It publishes challenges to frontproc,
// which acks each once it would serve it.
export type FrontToServer =
  | { op: 'ready' }
  | { op: 'sign'; id: number; peer: string; authentication: string | null; body: string; names: string[]; sha256: string }
  | { op: 'published'; token: string };
export type ServerToFront =
  /** SIGHUP: [mgmt] max-size, header-timeout and max-connections again. */
  | { op: 'settings'; maxSize: number; headerTimeout: number; maxConnections: number }
  | { op: 'publish'; token: string; keyAuthorization: string }
  | { op: 'withdraw'; token: string }
  | { op: 'answer'; id: number; status: number; body: string; retryAfter: number | null }
  | { op: 'drain' };

/** Retry-After, in seconds, of a 503 for a busy or stopping service (a restart, an order or two). */
export const BUSY_RETRY_AFTER_S = 10;

const SHA256_HEX = /^[0-9a-f]{64}$/;

export function parseFrontToServer(v: unknown): FrontToServer {
  const m = c.object(v);
  switch (m.op) {
    case 'ready':
      return { op: 'ready' };
    case 'sign': {
      const sha256 = c.string(m, 'sha256', 64);
      if (!SHA256_HEX.test(sha256)) throw new c.ShapeError('sha256 is not a SHA-256 in hex');
      return { op: 'sign', id: c.integer(m, 'id'), peer: c.string(m, 'peer', 64), authentication: c.optionalString(m, 'authentication', 1024),
        body: c.string(m, 'body', 2 << 20), names: c.stringArray(m, 'names'), sha256 };
    }
    case 'published':
      return { op: 'published', token: c.base64url(m, 'token', 256) };
    default:
      return c.unknownOp(m.op);
  }
}

export function parseServerToFront(v: unknown): ServerToFront {
  const m = c.object(v);
  switch (m.op) {
    case 'settings':
      return { op: 'settings', maxSize: c.integer(m, 'maxSize'), headerTimeout: c.integer(m, 'headerTimeout'), maxConnections: c.integer(m, 'maxConnections') };
    case 'publish':
      return { op: 'publish', token: c.base64url(m, 'token', 256), keyAuthorization: c.string(m, 'keyAuthorization', 4096) };
    case 'withdraw':
      return { op: 'withdraw', token: c.base64url(m, 'token', 256) };
    case 'answer': {
      const status = c.integer(m, 'status');
      if (status < 200 || status > 599) throw new c.ShapeError('status is not an HTTP status');
      return { op: 'answer', id: c.integer(m, 'id'), status, body: c.string(m, 'body', 1 << 19),
        retryAfter: m.retryAfter === null ? null : c.integer(m, 'retryAfter') };
    }
    case 'drain':
      return { op: 'drain' };
    default:
      return c.unknownOp(m.op);
  }
}
