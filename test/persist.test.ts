// dns-persist-01: the record reader and judge (no network), then end to end against Pebble 2.10
// with the records set through pebble-challtestsrv: --persist-records prints what to publish,
// -t dns-persist-01 issues with no challenge published and no chngproc, and every wrong or
// missing record is said, one line each, before the CA is asked to look at any.
//
// What would make each fail: a record judged without its accounturi, policy or persistUntil (the
// error run issues, or Pebble's own refusal comes instead of ours); chngproc started, or a
// challenge answered before every record is read (the POST /chalZ/ count); --persist-records
// with another issuer or without policy=wildcard (the printed records differ).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, freePorts, labUnavailable, startLab } from '../scripts/pebble-lab.js';
import { childrenStarted, ecKeys, needsRootAndLab, openssl, runClient, workDir } from './helpers.js';
import { spawnServer } from './serverproc.js';
import { parsePersistRecord, persistProblem, persistRecords } from '../src/acme/persist.js';
import { parseChallenge } from '../src/acme/types.js';

const ACCOUNT = 'https://ca.example/acct/1';
const wanted = { issuers: ['ca.example'], accountUrl: ACCOUNT, wildcard: false, now: Date.UTC(2026, 11, 6) };
const NAME = '_validation-persist.example.org';

test('parsePersistRecord: read as Pebble reads it', () => {
  assert.deepEqual(parsePersistRecord(' CA.Example. ; AccountURI = https://ca.example/acct/1 ;; Policy=WILDCARD; persistUntil=1735689600; other=x'),
    { issuer: 'ca.example', accountUri: ACCOUNT, policy: 'wildcard', persistUntil: 1735689600 });
  assert.deepEqual(parsePersistRecord('ca.example; accounturi=a; accounturi=b'), { problem: 'accounturi given twice' });
  assert.deepEqual(parsePersistRecord('ca.example; policy=wildcard'), { problem: 'no accounturi' });
  assert.deepEqual(parsePersistRecord('; accounturi=x'), { problem: 'no issuer domain name before the first ";"' });
  assert.deepEqual(parsePersistRecord('ca.example; accounturi=x; persistUntil=soon'), { problem: 'persistUntil is not a Unix time: soon' });
  assert.deepEqual(parsePersistRecord('ca.example; accounturi=x; wildcard'), { problem: 'parameter without "=": wildcard' });
});

// Would fail if a name that cannot stand in a record were taken from the CA, or if another
// challenge's issuer-domain-names could fail a run that does not use it.
test('issuer-domain-names: domain names, lower case, without the trailing dot; read on dns-persist-01 only', () => {
  const challenge = (type: string, names: unknown): Record<string, unknown> => ({ type, url: 'https://ca.example/chal/1', status: 'pending', 'issuer-domain-names': names });
  assert.deepEqual(parseChallenge(challenge('dns-persist-01', ['CA.Example.', 'ca2.example']), 'https://ca.example/authz/1').issuerDomainNames, ['ca.example', 'ca2.example']);
  // An odd list is taken as none: the dns-persist-01 challenge comes with every authorization, and an
  // http-01 run must not fail on it (a dns-persist-01 run refuses a challenge without one).
  const eleven = Array.from({ length: 11 }, (_, i) => `ca${i}.example`);
  for (const bad of [[], ['ca.example; accounturi=x'], ['ca example'], 'ca.example', eleven, ['cä.example']]) {
    assert.equal(parseChallenge(challenge('dns-persist-01', bad), 'https://ca.example/authz/1').issuerDomainNames, null, JSON.stringify(bad));
  }
  assert.equal(parseChallenge(challenge('http-01', ['ca example']), 'https://ca.example/authz/1').issuerDomainNames, null);
});

test('persistProblem: the closest record says what is wrong', () => {
  const good = `ca.example; accounturi=${ACCOUNT}`;
  assert.equal(persistProblem([good], NAME, wanted), null);
  assert.equal(persistProblem(['v=spf1 -all', good], NAME, wanted), null, 'any one record will do');
  assert.match(persistProblem([], NAME, wanted) ?? '', /^no TXT record at _validation-persist\.example\.org: /);
  assert.equal(persistProblem([`other.example; accounturi=${ACCOUNT}`], NAME, wanted),
    `TXT record at ${NAME} is for another CA, other.example (this CA is ca.example)`);
  // Another CA's record and ours for another account: ours is the one that is closer.
  assert.equal(persistProblem([`other.example; accounturi=${ACCOUNT}`, 'ca.example; accounturi=https://ca.example/acct/2'], NAME, wanted),
    `TXT record at ${NAME} names another account, https://ca.example/acct/2 (this account is ${ACCOUNT})`);
  assert.equal(persistProblem([good], NAME, { ...wanted, wildcard: true }), `TXT record at ${NAME} has no policy=wildcard, which a wildcard name needs`);
  assert.equal(persistProblem([`${good}; policy=wildcard`], NAME, { ...wanted, wildcard: true }), null);
  assert.equal(persistProblem([`${good}; persistUntil=1000000000`], NAME, wanted),
    `TXT record at ${NAME} expired at 2001-09-09T01:46:40Z (persistUntil=1000000000)`);
  assert.equal(persistProblem([`${good}; persistUntil=${wanted.now / 1000 + 1}`], NAME, wanted), null);
  assert.equal(persistProblem(['v=spf1 -all'], NAME, wanted), `TXT record at ${NAME} is not a dns-persist-01 record (no accounturi): "v=spf1 -all"`);
});

test('persistRecords: one record per name, policy=wildcard where a wildcard shares it, long values split', () => {
  assert.deepEqual(persistRecords(['example.org', '*.example.org', 'www.example.org'], 'ca.example', ACCOUNT), [
    `_validation-persist.example.org. IN TXT "ca.example; accounturi=${ACCOUNT}; policy=wildcard"`,
    `_validation-persist.www.example.org. IN TXT "ca.example; accounturi=${ACCOUNT}"`,
  ]);
  const long = `https://ca.example/${'a'.repeat(300)}`;
  const [line] = persistRecords(['example.org'], 'ca.example', long);
  assert.equal(line, `_validation-persist.example.org. IN TXT "ca.example; accounturi=${long.slice(0, 255 - 23)}" "${long.slice(255 - 23)}"`);
});

const skip = needsRootAndLab(labUnavailable);

describe('dns-persist-01 against Pebble 2.10', { skip }, () => {
  let lab: Lab;
  before(async () => {
    // Every valid authorization is reused: a second --persist-records finds the names authorized.
    lab = await startLab({ authzReuse: 100 });
  });
  after(async () => {
    await lab?.stop();
  });
  const env = (): NodeJS.ProcessEnv => ({ NODE_EXTRA_CA_CERTS: lab.tlsCaFile });
  const setTxt = async (host: string, value: string): Promise<void> => {
    const res = await fetch(`${lab.challtestsrvUrl}/set-txt`, { method: 'POST', body: JSON.stringify({ host, value }) });
    assert.equal(res.status, 200);
  };
  /** Challenges answered at Pebble since `from` (its request log's length then). */
  const answered = (from: number): number => lab.requestLog().slice(from).split('\n').filter((l) => / POST \/chalZ\/\S* -> calling handler\(\)$/.test(l)).length;
  const setup = (): { w: ReturnType<typeof workDir>; acct: string; issueArgs: string[] } => {
    const w = workDir();
    const { acct, dom } = ecKeys(w);
    return { w, acct, issueArgs: ['--server', lab.directoryUrl, '-c', w.certs, '-f', acct, '-k', dom, '-t', 'dns-persist-01', '--dns-server', `127.0.0.1:${lab.dnsPort}`] };
  };
  /** --persist-records for `names`: the account's URL and the lines printed. */
  const records = async (acct: string, names: string[]): Promise<{ account: string; lines: string[] }> => {
    const run = await runClient(['--persist-records', '--server', lab.directoryUrl, '-f', acct, ...names], { env: env() });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stderr, '');
    const lines = run.stdout.split('\n').slice(0, -1);
    const account = /accounturi=(https:\/\/\S+?)[;"]/.exec(lines[0] ?? '')?.[1];
    assert.ok(account !== undefined, run.stdout);
    return { account, lines };
  };

  test('--persist-records, then -t dns-persist-01 issues for an apex and a wildcard: no challenge published, no chngproc', async () => {
    const { w, acct, issueArgs } = setup();
    const { account, lines } = await records(acct, ['apex.persist.test', '*.wild.persist.test']);
    // The issuer domain name is the challenge's issuer-domain-names: Pebble's is pebble.letsencrypt.org.
    assert.deepEqual(lines, [
      `_validation-persist.apex.persist.test. IN TXT "pebble.letsencrypt.org; accounturi=${account}"`,
      `_validation-persist.wild.persist.test. IN TXT "pebble.letsencrypt.org; accounturi=${account}; policy=wildcard"`,
    ]);
    for (const line of lines) {
      const [, host, value] = /^(\S+) IN TXT "(.*)"$/.exec(line) as unknown as [string, string, string];
      await setTxt(host, value);
    }
    const from = lab.requestLog().length;
    const run = await runClient(['-v', ...issueArgs, 'apex.persist.test', '*.wild.persist.test'], { env: env() });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, '', 'nothing for a caller to do');
    assert.deepEqual(childrenStarted(run.stderr), ['acctproc', 'certproc', 'fileproc', 'keyproc', 'netproc']);
    // One answer a name, as netproc says; Pebble's log counts a POST again when its nonce was
    // rejected (ACME_TEST_NONCE_REJECT), so there it is at least one a name.
    assert.deepEqual(run.stderr.split('\n').filter((l) => / dns-persist-01 challenge answered$/.test(l)).map((l) => /(apex|\*\.wild)\.persist\.test/.exec(l)?.[0]).sort(),
      ['*.wild.persist.test', 'apex.persist.test']);
    assert.ok(answered(from) >= 2, 'the CA was asked to look');
    assert.equal(new X509Certificate(readFileSync(join(w.certs, 'cert.pem'))).subjectAltName, 'DNS:apex.persist.test, DNS:*.wild.persist.test');
    // Authorized now, the names' authorizations show only the challenge that validated them (as
    // Boulder's do): the issuer domain name comes from the directory's caaIdentities instead.
    assert.deepEqual((await records(acct, ['apex.persist.test', '*.wild.persist.test'])).lines, lines);
  });

  // #27 point 4: the manual says dns-account-01 is not supported yet "where Pebble 2.10 offers it".
  test('Pebble 2.10 offers dns-persist-01 with issuer-domain-names and no token, and dns-account-01, for a new name', async () => {
    const { acct } = setup();
    const traced = await runClient(['-vv', '--persist-records', '--server', lab.directoryUrl, '-f', acct, 'offered.persist.test'], { env: env() });
    assert.equal(traced.status, 0, traced.stderr);
    const authz = /authZ\/\S+: 200 (\{.*\})$/m.exec(traced.stderr)?.[1];
    assert.ok(authz !== undefined, traced.stderr);
    const challenges = (JSON.parse(authz) as { challenges: Record<string, unknown>[] }).challenges;
    assert.deepEqual(challenges.map((c) => c.type).sort(), ['dns-01', 'dns-account-01', 'dns-persist-01', 'http-01', 'tls-alpn-01']);
    const persist = challenges.find((c) => c.type === 'dns-persist-01');
    assert.deepEqual(persist?.['issuer-domain-names'], ['pebble.letsencrypt.org']);
    assert.equal(persist?.token, undefined);
    // Would fail if the order made to read the issuer's name left its authorization pending.
    const last = [...traced.stderr.matchAll(/authZ\/\S+: 200 (\{.*\})$/gm)].at(-1)?.[1] as string;
    assert.equal((JSON.parse(last) as { status: string }).status, 'deactivated');
  });

  test('every missing or wrong record is said, in command-line order, and no challenge is answered', async () => {
    const { w, acct, issueArgs } = setup();
    const { account } = await records(acct, ['ok.persist.test']);
    await setTxt('_validation-persist.ok.persist.test.', `pebble.letsencrypt.org; accounturi=${account}`);
    await setTxt('_validation-persist.other-account.persist.test.', 'pebble.letsencrypt.org; accounturi=https://127.0.0.1:1/my-account/1');
    await setTxt('_validation-persist.nopolicy.persist.test.', `pebble.letsencrypt.org; accounturi=${account}`);
    await setTxt('_validation-persist.expired.persist.test.', `pebble.letsencrypt.org; accounturi=${account}; persistUntil=1000000000`);
    await setTxt('_validation-persist.other-ca.persist.test.', `ca.example; accounturi=${account}`);
    const from = lab.requestLog().length;
    const run = await runClient([...issueArgs, 'ok.persist.test', 'none.persist.test', 'other-account.persist.test', '*.nopolicy.persist.test',
      'expired.persist.test', 'other-ca.persist.test'], { env: env() });
    assert.equal(run.status, 1);
    const rn = (name: string): string => `_validation-persist.${name}.persist.test`;
    assert.deepEqual(run.stderr.split('\n').slice(0, -1), [
      `acme-client: none.persist.test: no TXT record at ${rn('none')}: publish the one acme-client --persist-records prints`,
      `acme-client: other-account.persist.test: TXT record at ${rn('other-account')} names another account, https://127.0.0.1:1/my-account/1 (this account is ${account})`,
      `acme-client: *.nopolicy.persist.test: TXT record at ${rn('nopolicy')} has no policy=wildcard, which a wildcard name needs`,
      `acme-client: expired.persist.test: TXT record at ${rn('expired')} expired at 2001-09-09T01:46:40Z (persistUntil=1000000000)`,
      `acme-client: other-ca.persist.test: TXT record at ${rn('other-ca')} is for another CA, ca.example (this CA is pebble.letsencrypt.org)`,
    ]);
    assert.equal(answered(from), 0, 'the CA is not asked to look while any record is wrong');
    assert.deepEqual(readdirSync(w.certs), []);

    const [silent] = (await freePorts(1)) as [number];
    const unasked = await runClient([...issueArgs, '--dns-server', `127.0.0.1:${silent}`, 'ok.persist.test'], { env: env() });
    assert.equal(unasked.status, 1);
    assert.equal(unasked.stderr, `acme-client: ok.persist.test: TXT lookup of ${rn('ok')} through 127.0.0.1:${silent} failed: ECONNREFUSED\n`);
  });

  // Would fail if the block ran acme-client without -t dns-persist-01 or its --dns-server (no
  // certificate), or if a missing record came back as 500 rather than 421 with its reason.
  test('acme-client-server: a dns-persist01 block issues through the records printed for the service\'s account; a name without one is 421', async () => {
    const w = workDir();
    const [sign] = (await freePorts(1)) as [number];
    const configFile = join(w.dir, 'server.ini');
    const accountDir = join(w.dir, 'account');
    writeFileSync(configFile, `[account]
dir = ${accountDir}
acme-server = ${lab.directoryUrl}
[mgmt]
listener = 127.0.0.1:${sign}
[verification "persist"]
type = dns-persist01
dns-server = 127.0.0.1:${lab.dnsPort}
[auth "local"]
ip = 127.0.0.1
domain = *.srv.persist.test
`);
    const registered = spawnServer(['--register', '--agree-tos', '-f', configFile], env(), w.dir);
    assert.deepEqual(await registered.exited, { code: 0, signal: null }, registered.stderr());
    const { lines } = await records(join(accountDir, 'account.pem'), ['a.srv.persist.test']);
    const [, host, value] = /^(\S+) IN TXT "(.*)"$/.exec(lines[0] ?? '') as unknown as [string, string, string];
    await setTxt(host, value);
    const server = spawnServer(['-v', '-f', configFile], env(), w.dir);
    try {
      await server.logged(/listening for POST \/sign/);
      const post = async (name: string): Promise<{ status: number; body: string }> => {
        const key = join(w.dir, `${name}.key`);
        writeFileSync(key, openssl(['genrsa', '2048']));
        const csr = openssl(['req', '-new', '-key', key, '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`]);
        const res = await fetch(`http://127.0.0.1:${sign}/sign`, { method: 'POST', body: csr });
        return { status: res.status, body: await res.text() };
      };
      const issued = await post('a.srv.persist.test');
      assert.equal(issued.status, 200, issued.body);
      assert.equal(new X509Certificate(issued.body).subjectAltName, 'DNS:a.srv.persist.test');
      const refused = await post('b.srv.persist.test');
      assert.equal(refused.status, 421);
      assert.match(refused.body, /^validation failed: b\.srv\.persist\.test: no TXT record at _validation-persist\.b\.srv\.persist\.test: /);
    } finally {
      server.proc.kill('SIGTERM');
      await server.exited;
    }
  });
});
