// RFC 8555 resources as netproc uses them, each parsed from the CA's JSON and checked: the CA is
// on the other side of the internet, so a missing or mistyped field is an error with the URL as
// its subject, never a crash or a guess.

import * as c from '../check.js';
import { Failure } from '../log.js';
import { httpsUrl } from './http.js';
import { canonicalIp } from '../x509/ip.js';

type Json = c.Fields;

/** Runs a parse of `subject`'s JSON; a field of the wrong shape becomes `<subject>: <field> ...`. */
function shaped<T>(subject: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof c.ShapeError) throw new Failure(subject, err.message);
    throw err;
  }
}

function url(o: Json, key: string, subject: string): string {
  return httpsUrl(c.string(o, key, 4096), subject).toString();
}

export function parseJson(body: Buffer, subject: string): Json {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new Failure(subject, 'malformed JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Failure(subject, 'response is not a JSON object');
  return value as Json;
}

// §7.1.1
export interface Directory {
  newNonce: string;
  newAccount: string;
  newOrder: string;
  revokeCert: string;
  termsOfService: string | null;
  /** RFC 9773 §4: where renewal information is, when the CA offers it. */
  renewalInfo: string | null;
  /** meta.profiles: the names of the profiles the CA offers, or null when it says nothing of them. */
  profiles: string[] | null;
  /** meta.externalAccountRequired (§7.3.4): a new account needs an External Account Binding. */
  externalAccountRequired: boolean;
  /** §7.3.5, which some CAs (ZeroSSL, SSL.com) do not offer. */
  keyChange: string | null;
  /** meta.caaIdentities: the names the CA goes by in CAA records, and in dns-persist-01 records. */
  caaIdentities: string[] | null;
}

export function parseDirectory(o: Json, subject: string): Directory {
  return shaped(subject, () => {
    const meta = o.meta === undefined ? {} : c.object(o.meta, 'meta');
    const tos = meta.termsOfService;
    return {
      newNonce: url(o, 'newNonce', subject),
      newAccount: url(o, 'newAccount', subject),
      newOrder: url(o, 'newOrder', subject),
      revokeCert: url(o, 'revokeCert', subject),
      termsOfService: typeof tos === 'string' ? tos : null,
      renewalInfo: o.renewalInfo === undefined ? null : url(o, 'renewalInfo', subject),
      profiles: meta.profiles === undefined ? null : Object.keys(c.object(meta.profiles, 'meta.profiles')),
      externalAccountRequired: meta.externalAccountRequired === true,
      keyChange: o.keyChange === undefined ? null : url(o, 'keyChange', subject),
      caaIdentities: caaIdentities(meta),
    };
  });
}

// §7.1.2: what netproc looks at of an account.
export interface Account {
  /** null when the object has no contact member: a CA that keeps none (Let's Encrypt since 2025). */
  contact: string[] | null;
}

export function parseAccount(o: Json, subject: string): Account {
  return shaped(subject, () => ({ contact: o.contact === undefined ? null : c.stringArray(o, 'contact', 100) }));
}

// §7.1.3
export type OrderStatus = 'pending' | 'ready' | 'processing' | 'valid' | 'invalid';
export interface Order {
  status: OrderStatus;
  authorizations: string[];
  finalize: string;
  certificate: string | null;
  error: Problem | null;
}

function status<T extends string>(o: Json, allowed: readonly T[]): T {
  const v = c.string(o, 'status', 1024);
  if (!(allowed as readonly string[]).includes(v)) throw new c.ShapeError(`unknown status "${v.slice(0, 40)}"`);
  return v as T;
}

export function parseOrder(o: Json, subject: string): Order {
  return shaped(subject, () => {
    const authorizations = c.stringArray(o, 'authorizations');
    if (authorizations.length === 0) throw new c.ShapeError('authorizations is empty');
    return {
      status: status(o, ['pending', 'ready', 'processing', 'valid', 'invalid'] as const),
      authorizations: authorizations.map((a) => httpsUrl(a, subject).toString()),
      finalize: url(o, 'finalize', subject),
      certificate: o.certificate === undefined ? null : url(o, 'certificate', subject),
      error: o.error === undefined ? null : parseProblem(o.error),
    };
  });
}

// §7.1.4
export type AuthorizationStatus = 'pending' | 'valid' | 'invalid' | 'deactivated' | 'expired' | 'revoked';
export type ChallengeStatus = 'pending' | 'processing' | 'valid' | 'invalid';
export interface Challenge {
  type: string;
  url: string;
  status: ChallengeStatus;
  token: string | null;
  /** dns-persist-01: the names by which the record may name the CA (lower case, no trailing dot). */
  issuerDomainNames: string[] | null;
  error: Problem | null;
}
export interface Authorization {
  identifier: string;
  wildcard: boolean;
  status: AuthorizationStatus;
  challenges: Challenge[];
}

export function parseAuthorization(o: Json, subject: string): Authorization {
  return shaped(subject, () => {
    const id = c.object(o.identifier, 'identifier');
    if (id.type !== 'dns' && id.type !== 'ip') throw new c.ShapeError('identifier is not of type dns or ip');
    const value = c.string(id, 'value', 300);
    const list = o.challenges;
    if (!Array.isArray(list) || list.length > 100) throw new c.ShapeError('challenges is not a list of at most 100');
    return {
      // Identifiers are compared case-insensitively (RFC 8555 §7.1.4 leaves case to DNS), an
      // address in the form the names were given in (RFC 8738 lets a CA write it its own way).
      identifier: id.type === 'ip' ? ipIdentifier(value) : value.toLowerCase(),
      wildcard: o.wildcard === true,
      status: status(o, ['pending', 'valid', 'invalid', 'deactivated', 'expired', 'revoked'] as const),
      challenges: list.map((challenge) => parseChallenge(c.object(challenge, 'challenge'), subject)),
    };
  });
}

function ipIdentifier(value: string): string {
  const canonical = canonicalIp(value);
  if (canonical === null) throw new c.ShapeError(`identifier of type ip is not an IP address: ${JSON.stringify(value.slice(0, 60))}`);
  return canonical;
}

// §8.1 (and RFC 8737 §3): a token is base64url. It becomes a file name in the challenge dir, so
// '../x', 'a/b', '' or a huge one are refused here, before chngproc (which checks again) is asked.
function token(o: Json, subject: string): string | null {
  if (o.token === undefined) return null;
  const v = shaped(subject, () => c.string(o, 'token'));
  if (!c.TOKEN.test(v)) throw new Failure(subject, v.length > 256 ? `challenge token of ${v.length} characters (at most 256)` : 'challenge token is not base64url');
  return v;
}

/** The draft's limit on issuer-domain-names; each must be a domain name, as it goes into a record. */
const MAX_ISSUER_DOMAIN_NAMES = 10;
const DOMAIN = /^[a-z0-9_-]{1,63}(\.[a-z0-9_-]{1,63})*$/;

/** A list of domain names, lower case, without the root's trailing dot. */
function domainNames(o: Json, key: string, max: number): string[] {
  const names = c.stringArray(o, key, max).map((name) => name.toLowerCase().replace(/\.$/, ''));
  if (names.length === 0 || !names.every((name) => name.length <= 253 && DOMAIN.test(name))) throw new c.ShapeError(`${key} is not a list of domain names`);
  return names;
}

/** Read only for --persist-records: a CA's odd list there must not fail every run, so it is taken as none. */
function caaIdentities(meta: Json): string[] | null {
  try {
    return meta.caaIdentities === undefined ? null : domainNames(meta, 'caaIdentities', 100);
  } catch {
    return null;
  }
}

/**
 * Taken as none when odd: every authorization carries this challenge, whatever -t the run uses, and
 * an http-01 run must not fail on it. A dns-persist-01 run refuses a challenge without it.
 */
function issuerDomainNames(o: Json): string[] | null {
  try {
    return o['issuer-domain-names'] === undefined ? null : domainNames(o, 'issuer-domain-names', MAX_ISSUER_DOMAIN_NAMES);
  } catch {
    return null;
  }
}

export function parseChallenge(o: Json, subject: string): Challenge {
  return shaped(subject, () => {
    const challengeUrl = url(o, 'url', subject);
    const type = c.string(o, 'type', 64);
    return {
      type,
      url: challengeUrl,
      status: status(o, ['pending', 'processing', 'valid', 'invalid'] as const),
      token: token(o, challengeUrl),
      issuerDomainNames: type === 'dns-persist-01' ? issuerDomainNames(o) : null,
      error: o.error === undefined ? null : parseProblem(o.error),
    };
  });
}

// RFC 9773 §4.2: the CA's suggested renewal window, and why it suggests it.
export interface RenewalInfo {
  window: { start: number; end: number };
  explanationUrl: string | null;
}

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i;

export function parseRenewalInfo(o: Json, subject: string): RenewalInfo {
  return shaped(subject, () => {
    const window = c.object(o.suggestedWindow, 'suggestedWindow');
    const when = (key: string): number => {
      const text = c.string(window, key, 64);
      const ms = RFC3339.test(text) ? Date.parse(text) : NaN;
      if (Number.isNaN(ms)) throw new c.ShapeError(`suggestedWindow.${key} is not an RFC 3339 date`);
      return ms;
    };
    const [start, end] = [when('start'), when('end')];
    if (end <= start) throw new c.ShapeError('suggestedWindow ends before it starts');
    const explanation = o.explanationURL;
    return { window: { start, end }, explanationUrl: typeof explanation === 'string' ? explanation.slice(0, 2000) : null };
  });
}

// §6.7: problem documents, with subproblems (§6.7.1).
export interface Problem {
  type: string;
  detail: string;
  subproblems: { identifier: string | null; type: string; detail: string }[];
  /** Subproblems beyond those kept. */
  omitted: number;
}

/** Subproblems kept: a CA listing hundreds would otherwise make one line of hundreds of kB. */
const KEPT_SUBPROBLEMS = 20;

export function parseProblem(value: unknown): Problem {
  const o = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : {};
  const all: unknown[] = Array.isArray(o.subproblems) ? o.subproblems : [];
  const sub = all.slice(0, KEPT_SUBPROBLEMS);
  return {
    type: typeof o.type === 'string' ? o.type.slice(0, 200) : 'about:blank',
    detail: typeof o.detail === 'string' ? o.detail.slice(0, 2000) : '',
    subproblems: sub.map((s: unknown) => {
      const p = typeof s === 'object' && s !== null ? (s as Json) : {};
      const ident = typeof p.identifier === 'object' && p.identifier !== null ? (p.identifier as Json).value : undefined;
      return {
        identifier: typeof ident === 'string' ? ident.slice(0, 260) : null,
        type: typeof p.type === 'string' ? p.type.slice(0, 200) : '',
        detail: typeof p.detail === 'string' ? p.detail.slice(0, 2000) : '',
      };
    }),
    omitted: all.length - sub.length,
  };
}

export function describeProblem(p: Problem): string {
  const main = p.detail ? `${p.type}: ${p.detail}` : p.type;
  const subs = p.subproblems.map((s) => `${s.identifier ?? '?'}: ${s.type}: ${s.detail}`);
  const more = p.omitted > 0 ? [`and ${p.omitted} more`] : [];
  return [main, ...subs, ...more].join('; ');
}

export const ERROR_PREFIX = 'urn:ietf:params:acme:error:';
