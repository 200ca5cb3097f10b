// The acme-dns provider: its HTTP API (POST /register, POST /update with X-Api-User and
// X-Api-Key). _acme-challenge.<domain> is a CNAME to the account's fulldomain, in a zone acme-dns
// serves, and an update sets one of the two TXT values acme-dns keeps there: enough for a name
// and its wildcard. acme-dns has no call to delete a value; the next update replaces the older.
//
// The credentials, one account per domain, live in a JSON file in the layout lego and
// certbot-dns-acmedns use ({"example.org": {"username", "password", "fulldomain", "subdomain",
// "allowfrom"}}), readable by root alone.

import { lstatSync, readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import * as c from '../check.js';
import { writeFileAtomic } from '../fsutil/atomic.js';
import { Failure, sanitize } from '../log.js';
import type { Provider, TxtRecord } from './provider.js';

export interface AcmeDnsAccount {
  username: string;
  password: string;
  fulldomain: string;
  subdomain: string;
  allowfrom: string[];
}

export type AcmeDnsAccounts = Record<string, AcmeDnsAccount>;

const REQUEST_TIMEOUT_MS = 30_000;

/** An account as /register answers it and the accounts file keeps it, or null when it is not one. */
function accountOf(value: unknown): AcmeDnsAccount | null {
  try {
    const o = c.object(value, 'account');
    const field = (key: string): string => {
      const v = c.string(o, key, 1024);
      if (v === '') throw new c.ShapeError(`${key} is empty`);
      return v;
    };
    return {
      username: field('username'), password: field('password'), fulldomain: field('fulldomain'), subdomain: field('subdomain'),
      allowfrom: o.allowfrom === undefined ? [] : c.stringArray(o, 'allowfrom'),
    };
  } catch (err) {
    if (err instanceof c.ShapeError) return null;
    throw err;
  }
}

/** The accounts file, refused when anyone but its owner may read it. A missing file is empty only when `mayBeMissing`. */
export function readAccounts(path: string, mayBeMissing: boolean): AcmeDnsAccounts {
  let mode: number;
  try {
    const stat = lstatSync(path);
    if (!stat.isFile()) throw new Failure(path, 'acme-dns accounts: not a regular file');
    mode = stat.mode & 0o7777;
  } catch (err) {
    if (err instanceof Failure) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && mayBeMissing) return {};
    throw new Failure(path, `cannot read acme-dns accounts: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if ((mode & 0o077) !== 0) throw new Failure(path, `mode ${mode.toString(8).padStart(4, '0')}, must be 0600: it holds acme-dns passwords`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Failure(path, `acme-dns accounts: not JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Failure(path, 'acme-dns accounts: not a JSON object of domains');
  const accounts: AcmeDnsAccounts = {};
  for (const [domain, value] of Object.entries(parsed)) {
    const account = accountOf(value);
    if (account === null) throw new Failure(path, `acme-dns accounts: ${domain}: needs username, password, fulldomain and subdomain`);
    accounts[domain] = account;
  }
  return accounts;
}

async function post(url: URL, headers: Record<string, string>, body: unknown): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS), redirect: 'error',
    });
  } catch (err) {
    const cause = (err as { cause?: NodeJS.ErrnoException }).cause;
    throw new Failure(url.href, `acme-dns not reachable: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
  }
  const text = await response.text();
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Said below, with the status.
  }
  if (!response.ok) {
    const reason = (parsed as { error?: unknown } | null)?.error;
    throw new Failure(url.href, `acme-dns answered HTTP ${response.status}${typeof reason === 'string' ? `: ${sanitize(reason).slice(0, 200)}` : ''}`);
  }
  if (parsed === null) throw new Failure(url.href, `acme-dns answered HTTP ${response.status} without JSON`);
  return parsed;
}

/** POST /register: a new account, whose fulldomain _acme-challenge.<domain> must be a CNAME to. */
export async function registerAccount(apiUrl: URL): Promise<AcmeDnsAccount> {
  const url = new URL('register', apiUrl);
  const answer = await post(url, {}, undefined);
  const account = accountOf(answer);
  if (account === null) throw new Failure(url.href, 'acme-dns answered without username, password, fulldomain and subdomain');
  return { ...account, fulldomain: account.fulldomain.replace(/\.$/, '').toLowerCase() };
}

export async function writeAccounts(path: string, accounts: AcmeDnsAccounts): Promise<void> {
  await writeFileAtomic(dirname(path), basename(path), `${JSON.stringify(accounts, null, 2)}\n`, { mode: 0o600, durable: true });
}

export class AcmeDnsProvider implements Provider {
  constructor(private readonly apiUrl: URL, private readonly accounts: AcmeDnsAccounts, private readonly accountsFile: string) {}

  private account(domain: string): AcmeDnsAccount {
    const account = this.accounts[domain];
    if (account === undefined) throw new Failure(domain, `no acme-dns account in ${this.accountsFile}; register one with --acme-dns-register`);
    return account;
  }

  async present(record: TxtRecord): Promise<void> {
    const account = this.account(record.domain);
    // Without the CNAME the value would land where the CA never looks: say so now, not after the wait.
    if (record.name !== account.fulldomain.replace(/\.$/, '').toLowerCase()) {
      throw new Failure(`_acme-challenge.${record.domain}`, `is not a CNAME to ${account.fulldomain} (it leads to ${record.name}); create it`);
    }
    await post(new URL('update', this.apiUrl), { 'X-Api-User': account.username, 'X-Api-Key': account.password }, { subdomain: account.subdomain, txt: record.value });
  }

  /** acme-dns cannot delete a value: it keeps the two latest, and the next update replaces the older. */
  async cleanUp(): Promise<void> {}
}
