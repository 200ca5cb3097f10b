// dns-persist-01 (draft-ietf-acme-dns-persist, as Pebble 2.10's va/va.go checks it): a standing TXT
// record at `_validation-persist.<name>` naming the CA (one of the challenge's
// issuer-domain-names) and the account (accounturi), with policy=wildcard for a wildcard name and
// an optional persistUntil (Unix time). The record is the administrator's, published once:
// netproc only reads it, and says what is wrong with it before asking the CA to look.

import { utcTime } from '../log.js';

/** The challenge a standing DNS record answers, with no challenge file and no caller. */
export const PERSIST_CHALLENGE = 'dns-persist-01';
export const PERSIST_LABEL = '_validation-persist';

/** The record's name for a name as given (`*.example.org` and `example.org` share one). */
export function persistRecordName(name: string): string {
  return `${PERSIST_LABEL}.${name.replace(/^\*\./, '')}`;
}

/** A domain name as the draft compares issuers: lower case, without the root's trailing dot. */
function normalDomain(text: string): string {
  return text.toLowerCase().replace(/\.$/, '');
}

/** What a record says; `problem` when it cannot be read as a dns-persist-01 record. */
export type PersistRecord =
  | { issuer: string; accountUri: string; policy: string | null; persistUntil: number | null; problem?: undefined }
  | { problem: string };

/**
 * `issuer-domain-name *(";" key=value)`, read as Pebble reads it: whitespace around every part,
 * empty parts skipped, keys case-insensitive and each at most once, unknown keys ignored;
 * accounturi required, persistUntil a whole number of seconds.
 */
export function parsePersistRecord(text: string): PersistRecord {
  const [issuerPart = '', ...parts] = text.split(';').map((part) => part.trim());
  if (issuerPart === '') return { problem: 'no issuer domain name before the first ";"' };
  const params = new Map<string, string>();
  for (const part of parts) {
    if (part === '') continue;
    const equals = part.indexOf('=');
    if (equals < 0) return { problem: `parameter without "=": ${part}` };
    const key = part.slice(0, equals).trim().toLowerCase();
    if (params.has(key)) return { problem: `${key} given twice` };
    params.set(key, part.slice(equals + 1).trim());
  }
  const accountUri = params.get('accounturi');
  if (accountUri === undefined || accountUri === '') return { problem: 'no accounturi' };
  const until = params.get('persistuntil');
  if (until !== undefined && !/^[0-9]{1,15}$/.test(until)) return { problem: `persistUntil is not a Unix time: ${until}` };
  const policy = params.get('policy');
  return { issuer: normalDomain(issuerPart), accountUri, policy: policy === undefined ? null : policy.toLowerCase(), persistUntil: until === undefined ? null : Number(until) };
}

/** What the record must say for this CA, account and name. */
export interface PersistWanted {
  /** The challenge's issuer-domain-names: any one of them will do. */
  issuers: string[];
  accountUrl: string;
  wildcard: boolean;
  /** Unix time in milliseconds. */
  now: number;
}

/** How close a record comes to being the one wanted: the problem of the closest one is said. */
const Closeness = { Unreadable: 0, OtherCa: 1, OtherAccount: 2, NoWildcardPolicy: 3, Expired: 4 } as const;

function judge(text: string, recordName: string, wanted: PersistWanted): { closeness: number; problem: string } | null {
  const shown = JSON.stringify(text.length > 120 ? `${text.slice(0, 120)}...` : text);
  const record = parsePersistRecord(text);
  if (record.problem !== undefined) return { closeness: Closeness.Unreadable, problem: `TXT record at ${recordName} is not a dns-persist-01 record (${record.problem}): ${shown}` };
  if (!wanted.issuers.includes(record.issuer)) {
    return { closeness: Closeness.OtherCa, problem: `TXT record at ${recordName} is for another CA, ${record.issuer} (this CA is ${wanted.issuers.join(' or ')})` };
  }
  if (record.accountUri !== wanted.accountUrl) {
    return { closeness: Closeness.OtherAccount, problem: `TXT record at ${recordName} names another account, ${record.accountUri} (this account is ${wanted.accountUrl})` };
  }
  if (wanted.wildcard && record.policy !== 'wildcard') {
    return { closeness: Closeness.NoWildcardPolicy, problem: `TXT record at ${recordName} has no policy=wildcard, which a wildcard name needs` };
  }
  if (record.persistUntil !== null && record.persistUntil * 1000 < wanted.now) {
    return { closeness: Closeness.Expired, problem: `TXT record at ${recordName} expired at ${utcTime(record.persistUntil * 1000)} (persistUntil=${record.persistUntil})` };
  }
  return null;
}

/**
 * null when one of the TXT records found at `recordName` authorizes the account for the name;
 * else what is wrong, said of the record that comes closest.
 */
export function persistProblem(records: string[], recordName: string, wanted: PersistWanted): string | null {
  if (records.length === 0) return `no TXT record at ${recordName}: publish the one acme-client --persist-records prints`;
  let closest: { closeness: number; problem: string } | null = null;
  for (const text of records) {
    const verdict = judge(text, recordName, wanted);
    if (verdict === null) return null;
    if (closest === null || verdict.closeness > closest.closeness) closest = verdict;
  }
  return (closest as { problem: string }).problem;
}

/** A TXT value in zone-file form: quoted, in strings of at most 255 octets (RFC 1035 §3.3.14). */
function txtData(value: string): string {
  const strings: string[] = [];
  for (let at = 0; at < value.length; at += 255) strings.push(`"${value.slice(at, at + 255)}"`);
  return strings.join(' ');
}

/**
 * The zone-file lines to publish for `names` (as given, wildcards with `*.`): one record per
 * record name, with policy=wildcard where any name sharing it is a wildcard.
 */
export function persistRecords(names: string[], issuer: string, accountUrl: string): string[] {
  const wildcard = new Map<string, boolean>();
  for (const name of names) {
    const recordName = persistRecordName(name);
    wildcard.set(recordName, (wildcard.get(recordName) ?? false) || name.startsWith('*.'));
  }
  return [...wildcard].map(([recordName, isWildcard]) =>
    `${recordName}. IN TXT ${txtData(`${issuer}; accounturi=${accountUrl}${isWildcard ? '; policy=wildcard' : ''}`)}`);
}

/** A CA's URL as it may stand in a record: nothing that would end or split the value. */
export function recordSafe(text: string): boolean {
  return /^[\x21-\x7e]+$/.test(text) && !/[;"\\]/.test(text);
}
