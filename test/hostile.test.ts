// A hostile or broken CA (test/fakeca.ts, one misbehaviour per test): the client must stop with
// exit 1 and exactly one `acme-client: <subject>: <problem>` line, and leave the cert dir (which
// holds an old certificate set, due for renewal) and the challenge dir byte for byte as they were.
// The protocol's legitimate detours (badNonce, Retry-After, processing, orderNotReady) must instead
// end in a certificate.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Exchange, FakeCa, Reply, Script, editJson, problem } from './fakeca.js';
import { RunResult, isRoot, makeKey, openssl, prerequisite, runClient, runWithHook, snapshot, workDir, procStat } from './helpers.js';

const NAMES = ['hostile.example.test', 'www.hostile.example.test'];
const skip = prerequisite(isRoot ? false : 'needs root (these tests run acme-client as root)');

interface Area {
  dir: string;
  certs: string;
  www: string;
  acct: string;
  dom: string;
}

/** Keys and the old certificate set, made once and copied into each test's work area. */
let seed: string;

function area(): Area {
  const w = workDir();
  const acct = join(w.priv, 'account.pem');
  const dom = join(w.priv, 'domain.pem');
  copyFileSync(join(seed, 'account.pem'), acct);
  copyFileSync(join(seed, 'domain.pem'), dom);
  for (const f of ['cert.pem', 'chain.pem', 'fullchain.pem']) copyFileSync(join(seed, f), join(w.certs, f));
  return { dir: w.dir, certs: w.certs, www: w.www, acct, dom };
}

/** Names, modes and contents of a directory's entries. */

/**
 * --no-ari: the fake CA offers no renewal information, and what it answers when asked for it is
 * test/ari.test.ts's subject; here every misbehaviour meets the issuance alone.
 */
function args(ca: FakeCa, a: Area, extra: string[] = []): string[] {
  return [...extra, '--no-ari', '--server', ca.directoryUrl, '-C', a.www, '-c', a.certs, '-f', a.acct, '-k', a.dom, ...NAMES];
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

interface Rejection {
  /** The misbehaviour, or a maker of it for a script that looks at the work area. */
  script: Script | { withArea: (a: Area) => Script };
  /** The one line, without "acme-client: " (a string is matched exactly). */
  expect: (ca: FakeCa, a: Area) => string | RegExp;
  /** Lines the client prints on purpose (warnings), not counted. */
  allow?: RegExp[];
  extra?: string[];
}

/** Runs the client against a CA scripted to misbehave: exit 1, one line, nothing written. */
async function rejected(r: Rejection): Promise<{ ca: FakeCa; run: RunResult; a: Area }> {
  const a = area();
  const ca = await FakeCa.start(typeof r.script === 'function' ? r.script : r.script.withArea(a));
  try {
    const before = { certs: snapshot(a.certs), www: snapshot(a.www), top: readdirSync(a.dir).sort() };
    const run = await runClient(args(ca, a, r.extra), { env: { NODE_EXTRA_CA_CERTS: ca.caFile } });
    assert.equal(run.status, 1, `exit status\n${run.stderr}`);
    assert.equal(run.stdout, '');
    assert.ok(!run.stderr.includes('\u001b'), 'no escape character reaches stderr');
    const lines = run.stderr.split('\n').slice(0, -1).filter((l) => !(r.allow ?? []).some((re) => re.test(l)));
    assert.equal(lines.length, 1, `exactly one line on stderr:\n${run.stderr}`);
    const line = lines[0] as string;
    if (process.env.HOSTILE_SHOW) process.stdout.write(`# ${line}\n`);
    assert.ok(line.startsWith('acme-client: '), line);
    const want = r.expect(ca, a);
    if (typeof want === 'string') assert.equal(line.slice('acme-client: '.length), want);
    else assert.match(line.slice('acme-client: '.length), want);
    assert.deepEqual(snapshot(a.certs), before.certs, 'cert dir unchanged');
    assert.deepEqual(snapshot(a.www), before.www, 'challenge dir unchanged');
    assert.deepEqual(readdirSync(a.dir).sort(), before.top, 'nothing written next to the challenge dir');
    return { ca, run, a };
  } finally {
    await ca.stop();
    rmSync(a.dir, { recursive: true, force: true });
  }
}

/** Runs the client against a CA with a legitimate detour: exit 0, a new certificate for NAMES. */
async function issued(script: Script, allow: RegExp[] = []): Promise<{ ca: FakeCa; run: RunResult }> {
  const ca = await FakeCa.start(script);
  const a = area();
  try {
    const old = readFileSync(join(a.certs, 'cert.pem'), 'utf8');
    const run = await runClient(args(ca, a), { env: { NODE_EXTRA_CA_CERTS: ca.caFile } });
    assert.equal(run.status, 0, run.stderr);
    const stray = run.stderr.split('\n').slice(0, -1).filter((l) => !allow.some((re) => re.test(l)));
    assert.deepEqual(stray, [], 'nothing on stderr');
    const cert = readFileSync(join(a.certs, 'cert.pem'), 'utf8');
    assert.notEqual(cert, old);
    assert.equal(new X509Certificate(cert).subjectAltName, NAMES.map((n) => `DNS:${n}`).join(', '));
    assert.equal(readFileSync(join(a.certs, 'fullchain.pem'), 'utf8'), cert + readFileSync(join(a.certs, 'chain.pem'), 'utf8'));
    assert.deepEqual(readdirSync(a.www), [], 'challenge files removed');
    return { ca, run };
  } finally {
    await ca.stop();
    rmSync(a.dir, { recursive: true, force: true });
  }
}

/** A script that changes one route's replies, from the `from`-th request on that route (1-based). */
type Change = (ex: Exchange, normal: () => Promise<Reply>, ca: FakeCa) => Reply | 'hang' | 'reset' | Promise<Reply | 'hang' | 'reset'>;
function on(route: Exchange['route'], change: Change, from = 1, to = Infinity): Script {
  return (ex, normal, ca) => (ex.route === route && ex.count >= from && ex.count <= to ? change(ex, normal, ca) : undefined);
}

const edit = (route: Exchange['route'], fn: (o: Record<string, unknown>) => Record<string, unknown> | void): Script =>
  on(route, async (_ex, normal) => editJson(await normal(), fn));

/** The first authz/challenge in an authorization object, for editing. */
function challenges(o: Record<string, unknown>): Record<string, unknown>[] {
  return o.challenges as Record<string, unknown>[];
}

/** Gap in ms between the n-th request (1-based) on a route and the next one for the same URL. */
function gap(ca: FakeCa, route: Exchange['route'], n = 1): number {
  const list = ca.requests(route);
  const x = list[n - 1];
  const y = list.slice(n).find((e) => e.path === x?.path);
  assert.ok(x && y, `a request after the ${n}th ${route} request for the same URL`);
  return y.at - x.at;
}

const TEST = { timeout: 60_000 };

/** When each authorization URL was asked for, by the CA's clock. */
function looksPer(ca: FakeCa, route: Exchange['route']): Map<string, number[]> {
  const looks = new Map<string, number[]>();
  for (const ex of ca.requests(route)) looks.set(ex.path, [...(looks.get(ex.path) ?? []), ex.at]);
  return looks;
}

/**
 * Whether some resource was looked at `pollTimeoutMs` or more after newOrder reached the CA:
 * the poll deadline starts once the order is answered, so a client that looks until its deadline
 * makes such a look however loaded the machine, and one that gives up early cannot.
 */
function lastLookAfterDeadline(ca: FakeCa, looks: Map<string, number[]>, pollTimeoutMs: number): boolean {
  const ordered = ca.requests('newOrder')[0]?.at ?? Infinity;
  return [...looks.values()].some((times) => (times.at(-1) ?? 0) >= ordered + pollTimeoutMs);
}

/** /proc/<pid>/cmdline as one string, or null when gone. */
function commandLine(pid: string): string | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return null;
  }
}

/**
 * Stops (SIGSTOP) the keyproc of the run whose certificate directory is `certs` as soon as it
 * exists: it is then still setting up its jail (unshare, mounts, chroot, Node's start), before it
 * reads the key. Its pid, for SIGCONT; null when no such run started within 15 s.
 */
async function holdKeyproc(certs: string): Promise<number | null> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    for (const pid of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
      if (!commandLine(pid)?.includes('procs/keyproc.js')) continue;
      const parent = procStat(Number(pid))?.[1];
      if (parent === undefined) continue;
      if (!commandLine(parent)?.split('\0').includes(certs)) continue;
      process.kill(Number(pid), 'SIGSTOP');
      // Were the test to fail before letting it go, a stopped keyproc would keep its run alive.
      process.once('exit', () => {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // gone, as it should be
        }
      });
      return Number(pid);
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  return null;
}

describe('a hostile CA', { skip }, () => {
  before(() => {
    seed = mkdtempSync(join(tmpdir(), 'acme-hostile-seed-'));
    makeKey(join(seed, 'account.pem'), 'ec-p256-sec1');
    makeKey(join(seed, 'domain.pem'), 'ec-p256-sec1');
    // The old set: a 90-day certificate for NAMES with 10 days left, so that the lifetime rule
    // sends the client to the CA, signed by an old issuer (chain.pem). `openssl ca` is what can
    // date a certificate in the past.
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(seed, 'old-ca.key'),
      '-subj', '/CN=old issuer', '-days', '100', '-out', join(seed, 'chain.pem')]);
    openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(seed, 'old.key'),
      '-subj', `/CN=${NAMES[0]}`, '-addext', `subjectAltName=${NAMES.map((n) => `DNS:${n}`).join(',')}`, '-out', join(seed, 'old.csr')]);
    writeFileSync(join(seed, 'ca.cnf'), `[ca]\ndefault_ca = old\n[old]\ndatabase = ${join(seed, 'index.txt')}\nnew_certs_dir = ${seed}\n` +
      `serial = ${join(seed, 'serial')}\ndefault_md = sha256\npolicy = any\ncopy_extensions = copy\n[any]\ncommonName = supplied\n`);
    writeFileSync(join(seed, 'index.txt'), '');
    writeFileSync(join(seed, 'serial'), '1000\n');
    const date = (days: number): string => new Date(Date.now() + days * 86_400_000).toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z').slice(2);
    openssl(['ca', '-batch', '-notext', '-config', join(seed, 'ca.cnf'), '-cert', join(seed, 'chain.pem'), '-keyfile', join(seed, 'old-ca.key'),
      '-in', join(seed, 'old.csr'), '-startdate', date(-80), '-enddate', date(10), '-out', join(seed, 'cert.pem')]);
    writeFileSync(join(seed, 'fullchain.pem'), readFileSync(join(seed, 'cert.pem'), 'utf8') + readFileSync(join(seed, 'chain.pem'), 'utf8'));
  });
  after(() => rmSync(seed, { recursive: true, force: true }));

  test('the fake CA issues when it behaves (the baseline), over one kept-alive connection', TEST, async () => {
    const { ca } = await issued(() => undefined);
    // One connection per authorization worked on at once, and no more: newNonce is fetched by GET,
    // since a HEAD answer ends the connection (as Pebble's does) and the next request would
    // pay for a new one.
    assert.equal(ca.connections, NAMES.length);
    assert.ok(ca.log.some((ex) => ex.route === 'newNonce' && ex.method === 'GET'));
  });

  describe('responses larger than the cap', () => {
    test('a 5 MiB directory, announced by Content-Length', TEST, async () => {
      await rejected({
        script: on('directory', () => ({ status: 200, headers: { 'content-type': 'application/json' }, body: Buffer.alloc(5 << 20, 0x20) })),
        expect: (ca) => `${ca.directoryUrl}: response larger than 4194304 bytes`,
      });
    });
    test('a 5 MiB authorization, chunked', TEST, async () => {
      await rejected({
        script: on('authz', () => ({ status: 200, headers: { 'content-type': 'application/json' }, body: Buffer.alloc(5 << 20, 0x20), chunked: true })),
        expect: (ca) => new RegExp(`^${escape(ca.base)}/authz/1/\\d: response larger than 4194304 bytes$`),
      });
    });
    test('a 600 kB certificate chain (the chain cap is lower: it must fit one IPC frame)', TEST, async () => {
      await rejected({
        script: on('certificate', async (_ex, normal) => {
          const r = await normal();
          return { ...r, body: r.body.toString() + '\n'.repeat(600 * 1024) };
        }),
        expect: (ca) => `${ca.base}/cert/1: response larger than 524288 bytes`,
      });
    });
    test('a 100 kB header', TEST, async () => {
      await rejected({
        script: on('newOrder', async (_ex, normal) => ({ ...(await normal()), headers: { 'content-type': 'application/json', 'x-junk': 'x'.repeat(100_000) } })),
        expect: (ca) => new RegExp(`^${escape(ca.base)}/new-order: HPE_HEADER_OVERFLOW: .+$`),
      });
    });
  });

  describe('broken answers', () => {
    test('malformed JSON', TEST, async () => {
      await rejected({
        // The order as newOrder answers it: the first order JSON read (finalize needs no read of its own).
        script: on('newOrder', async (_ex, normal) => ({ ...(await normal()), body: '{"status": "pending", "authorizations": [' })),
        expect: (ca) => `${ca.base}/order/1: malformed JSON`,
      });
    });
    test('JSON that is not an object', TEST, async () => {
      await rejected({
        script: on('directory', () => ({ status: 200, headers: { 'content-type': 'application/json' }, body: '["newOrder"]' })),
        expect: (ca) => `${ca.directoryUrl}: response is not a JSON object`,
      });
    });
    test('a body cut short', TEST, async () => {
      await rejected({
        script: on('newOrder', async (_ex, normal) => ({ ...(await normal()), truncate: true })),
        expect: (ca) => `${ca.base}/new-order: connection closed before the answer was complete`,
      });
    });
    test('a connection cut without an answer', TEST, async () => {
      await rejected({
        script: on('newAccount', () => 'reset'),
        expect: (ca) => new RegExp(`^${escape(ca.base)}/new-acct: (ECONNRESET|socket hang up).*$`),
      });
    });
    test('a directory without newOrder', TEST, async () => {
      await rejected({ script: edit('directory', (o) => void delete o.newOrder), expect: (ca) => `${ca.directoryUrl}: newOrder is missing` });
    });
    test('a directory whose newNonce is a number', TEST, async () => {
      await rejected({ script: edit('directory', (o) => void (o.newNonce = 42)), expect: (ca) => `${ca.directoryUrl}: newNonce is not a string` });
    });
    test('an order without finalize', TEST, async () => {
      await rejected({ script: edit('newOrder', (o) => void delete o.finalize), expect: (ca) => `${ca.base}/order/1: finalize is missing` });
    });
    test('an order whose authorizations are not strings', TEST, async () => {
      await rejected({ script: edit('newOrder', (o) => void (o.authorizations = [{ url: 'x' }])), expect: (ca) => `${ca.base}/order/1: authorizations is not a list of strings` });
    });
    test('an authorization without challenges', TEST, async () => {
      await rejected({
        script: edit('authz', (o) => void delete o.challenges),
        expect: (ca) => new RegExp(`^${escape(ca.base)}/authz/1/\\d: challenges is not a list of at most 100$`),
      });
    });
    test('a challenge in an unknown status', TEST, async () => {
      await rejected({
        script: edit('authz', (o) => void ((challenges(o)[0] as Record<string, unknown>).status = 'bogus')),
        expect: (ca) => new RegExp(`^${escape(ca.base)}/authz/1/\\d: unknown status "bogus"$`),
      });
    });
    test('an authorization whose status is a number', TEST, async () => {
      await rejected({
        script: edit('authz', (o) => void (o.status = 1)),
        expect: (ca) => new RegExp(`^${escape(ca.base)}/authz/1/\\d: status is not a string$`),
      });
    });
    test('an authorization for a name that was not requested', TEST, async () => {
      await rejected({
        script: edit('authz', (o) => void (o.identifier = { type: 'dns', value: 'victim.example.org' })),
        expect: (ca) => new RegExp(`^${escape(ca.base)}/authz/1/\\d: authorization for victim\\.example\\.org, which was not requested$`),
      });
    });
  });

  describe('challenge tokens that are not base64url', () => {
    const tokens: [string, string, string][] = [
      ['../x', '../x', 'challenge token is not base64url'],
      ['a/b', 'a/b', 'challenge token is not base64url'],
      ['empty', '', 'challenge token is not base64url'],
      ['10 kB', 'A'.repeat(10 * 1024), 'challenge token of 10240 characters (at most 256)'],
      ['with a newline', 'abc\ndef', 'challenge token is not base64url'],
    ];
    for (const [label, token, message] of tokens) {
      test(`token ${label}`, TEST, async () => {
        await rejected({
          script: edit('authz', (o) => void ((challenges(o)[0] as Record<string, unknown>).token = token)),
          expect: (ca) => new RegExp(`^${escape(ca.base)}/chall/1/\\d/0: ${escape(message)}$`),
        });
      });
    }
  });

  describe('certificate chains', () => {
    const pem = (body: string): Reply => ({ status: 200, headers: { 'content-type': 'application/pem-certificate-chain' }, body });
    const certPath = (a: Area): string => join(a.certs, 'cert.pem');
    test('not PEM', TEST, async () => {
      await rejected({
        script: on('certificate', () => pem('this is not a certificate\n')),
        expect: (_ca, a) => `${certPath(a)}: bad certificate chain: no PEM certificate found, only 25 bytes of non-PEM text`,
      });
    });
    test('empty', TEST, async () => {
      await rejected({ script: on('certificate', () => pem('')), expect: (_ca, a) => `${certPath(a)}: bad certificate chain: no certificate: the chain is empty` });
    });
    test('a leaf for other names', TEST, async () => {
      await rejected({
        script: on('certificate', async (_ex, normal, ca) => {
          await normal();
          return pem(await ca.issue(ca.lastCsr as string, ['other.example.test', NAMES[1] as string]));
        }),
        expect: (_ca, a) => `${certPath(a)}: certificate names other.example.test, which was not requested`,
      });
    });
    test('a leaf for another key', TEST, async () => {
      await rejected({
        script: on('certificate', async (_ex, normal, ca) => {
          await normal();
          return pem(await ca.issue(ca.lastCsr as string, NAMES, { otherKey: true }));
        }),
        expect: (_ca, a) => `${certPath(a)}: certificate is not for our domain key`,
      });
    });
    test('a leaf not signed by the next certificate', TEST, async () => {
      await rejected({
        script: on('certificate', async (_ex, normal, ca) => {
          await normal();
          return pem(await ca.issue(ca.lastCsr as string, NAMES, { otherIssuer: true }));
        }),
        expect: (_ca, a) => `${certPath(a)}: certificate is not signed by the next in the chain`,
      });
    });
    test('a leaf alone', TEST, async () => {
      await rejected({
        script: on('certificate', async (_ex, normal) => {
          const body = (await normal()).body.toString();
          return pem(body.slice(0, body.indexOf('-----END CERTIFICATE-----') + 26));
        }),
        expect: (_ca, a) => `${certPath(a)}: bad certificate chain: no issuer certificate`,
      });
    });
    test('junk after the chain', TEST, async () => {
      await rejected({
        script: on('certificate', async (_ex, normal) => pem(`${(await normal()).body.toString()}junk\n`)),
        expect: (_ca, a) => `${certPath(a)}: bad certificate chain: unexpected content after certificate 2: 4 bytes of non-PEM text`,
      });
    });
    test('a private key after the chain', TEST, async () => {
      await rejected({
        script: on('certificate', async (_ex, normal) => pem(`${(await normal()).body.toString()}${readFileSync(join(seed, 'old.key'), 'utf8')}`)),
        expect: (_ca, a) => `${certPath(a)}: bad certificate chain: unexpected content after certificate 2: a "PRIVATE KEY" PEM block`,
      });
    });
  });

  describe('URLs on another scheme', () => {
    for (const scheme of ['http://127.0.0.1:1/order/1', 'file:///etc/passwd']) {
      test(`an order Location ${scheme}`, TEST, async () => {
        await rejected({
          script: on('newOrder', async (_ex, normal) => ({ ...(await normal()), headers: { 'content-type': 'application/json', location: scheme } })),
          expect: (ca) => `${ca.base}/new-order: order URL (Location) is not https: ${scheme}`,
        });
      });
      test(`a finalize URL ${scheme}`, TEST, async () => {
        await rejected({ script: edit('newOrder', (o) => void (o.finalize = scheme)), expect: (ca) => `${ca.base}/order/1: not an https URL: ${scheme}` });
      });
    }
    test('an account Location http://', TEST, async () => {
      await rejected({
        script: on('newAccount', async (_ex, normal) => {
          const r = await normal();
          return r.status < 300 ? { ...r, headers: { ...r.headers, location: 'http://127.0.0.1:1/acct/1' } } : r;
        }),
        expect: (ca) => `${ca.base}/new-acct: account URL (Location) is not https: http://127.0.0.1:1/acct/1`,
      });
    });
    test('an authorization URL file://', TEST, async () => {
      await rejected({ script: edit('newOrder', (o) => void (o.authorizations = ['file:///etc/shadow'])), expect: (ca) => `${ca.base}/order/1: not an https URL: file:///etc/shadow` });
    });
    test('a certificate URL http://', TEST, async () => {
      await rejected({
        script: edit('finalize', (o) => void (o.certificate = 'http://127.0.0.1:1/cert/1')),
        expect: (ca) => `${ca.base}/finalize/1: not an https URL: http://127.0.0.1:1/cert/1`,
      });
    });
    test('a directory redirected to http://', TEST, async () => {
      await rejected({
        script: on('directory', () => ({ status: 302, headers: { location: 'http://127.0.0.1:1/dir' }, body: '' })),
        expect: (ca) => `${ca.directoryUrl}: redirect to a URL that is not https: http://127.0.0.1:1/dir`,
      });
    });
    test('a redirect on a signed POST is not followed', TEST, async () => {
      const { ca } = await rejected({
        script: (ex) => {
          if (ex.path === '/elsewhere') return problem(500, 'serverInternal', 'followed a redirect');
          return ex.route === 'authz' ? { status: 307, headers: { location: `/elsewhere` }, body: '' } : undefined;
        },
        expect: (ca) => new RegExp(`^${escape(ca.base)}/authz/1/\\d: HTTP status 307: redirect to /elsewhere not followed for a signed request$`),
      });
      assert.equal(ca.log.filter((e) => e.path === '/elsewhere').length, 0);
    });
    test('a redirect answering newAccount is not taken for an account', TEST, async () => {
      await rejected({
        script: on('newAccount', () => ({ status: 302, headers: { location: 'https://127.0.0.1:1/acct/9' }, body: '' })),
        expect: (ca) => `${ca.base}/new-acct: HTTP status 302: redirect to https://127.0.0.1:1/acct/9 not followed for a signed request`,
      });
    });
  });

  describe('problem documents', () => {
    test('externalAccountRequired without a binding given (as ZeroSSL answers): the line names --eab-kid', TEST, async () => {
      await rejected({
        // The first newAccount is the look-up (onlyReturnExisting), the second the creation.
        script: on('newAccount', () => problem(400, 'externalAccountRequired', 'EAB credentials are required'), 2),
        expect: (ca) => `${ca.base}/new-acct: urn:ietf:params:acme:error:externalAccountRequired: EAB credentials are required; give --eab-kid and --eab-hmac-key-file`,
      });
    });
    test('shown as <url>: <type>: <detail>, with subproblems', TEST, async () => {
      await rejected({
        script: on('newOrder', () => problem(400, 'rejectedIdentifier', 'Error creating new order :: 2 identifiers rejected', {
          subproblems: [
            { type: 'urn:ietf:params:acme:error:rejectedIdentifier', detail: 'not allowed', identifier: { type: 'dns', value: NAMES[0] } },
            { type: 'urn:ietf:params:acme:error:caa', detail: 'CAA forbids', identifier: { type: 'dns', value: NAMES[1] } },
          ],
        })),
        expect: (ca) => `${ca.base}/new-order: urn:ietf:params:acme:error:rejectedIdentifier: Error creating new order :: 2 identifiers rejected; ` +
          `${NAMES[0]}: urn:ietf:params:acme:error:rejectedIdentifier: not allowed; ${NAMES[1]}: urn:ietf:params:acme:error:caa: CAA forbids`,
      });
    });
    test('a flood of subproblems is cut to twenty', TEST, async () => {
      const sub = { type: 'urn:ietf:params:acme:error:caa', detail: 'no', identifier: { type: 'dns', value: NAMES[0] } };
      await rejected({
        script: on('newOrder', () => problem(400, 'rejectedIdentifier', 'many', { subproblems: Array.from({ length: 500 }, () => sub) })),
        expect: (ca) => `${ca.base}/new-order: urn:ietf:params:acme:error:rejectedIdentifier: many; ` +
          `${Array.from({ length: 20 }, () => `${NAMES[0]}: urn:ietf:params:acme:error:caa: no`).join('; ')}; and 480 more`,
      });
    });
    test('control characters and direction overrides in the detail are neutralised', TEST, async () => {
      await rejected({
        script: on('newOrder', () => problem(403, 'unauthorized', 'no \u001b[2J\u001b[31mway\nacme-client: forged: line\r\u0007 \u202eexe.txt\u2066', {
          subproblems: [{ type: 'urn:ietf:params:acme:error:dns\u001b]0;title\u0007', detail: 'x\u009b1m', identifier: { type: 'dns', value: 'a\u001bb' } }],
        })),
        expect: (ca) => `${ca.base}/new-order: urn:ietf:params:acme:error:unauthorized: no ?[2J?[31mway acme-client: forged: line?? ?exe.txt?; ` +
          'a?b: urn:ietf:params:acme:error:dns?]0;title?: x?1m',
      });
    });
    test('a failed validation shows the challenge\'s problem, sanitised', TEST, async () => {
      await rejected({
        script: on('authz', async (_ex, normal) => editJson(await normal(), (o) => {
          o.status = 'invalid';
          const c = challenges(o)[0] as Record<string, unknown>;
          c.status = 'invalid';
          c.error = { type: 'urn:ietf:params:acme:error:connection', detail: 'refused\u001b[1A\u001b[2K' };
        }), 2),
        expect: () => new RegExp(`^(${NAMES.map(escape).join('|')}): validation failed: urn:ietf:params:acme:error:connection: refused\\?\\[1A\\?\\[2K$`),
      });
    });
    test('rateLimited with Retry-After in seconds says when to retry', TEST, async () => {
      const at = Date.now() + 3600_000;
      const { run } = await rejected({
        script: on('newOrder', () => ({ ...problem(429, 'rateLimited', 'too many certificates for this name'), headers: { 'content-type': 'application/problem+json', 'retry-after': '3600' } })),
        expect: (ca) => new RegExp(`^${escape(ca.base)}/new-order: urn:ietf:params:acme:error:rateLimited: too many certificates for this name; retry after \\S+Z$`),
      });
      const when = Date.parse(/retry after (\S+)$/m.exec(run.stderr)?.[1] ?? '');
      assert.ok(Math.abs(when - at) < 120_000, `retry time ${new Date(when).toISOString()} near ${new Date(at).toISOString()}`);
    });
    test('rateLimited with Retry-After as an HTTP-date says that date', TEST, async () => {
      const at = new Date(Date.now() + 2 * 86_400_000);
      const { run } = await rejected({
        script: on('newOrder', () => ({ ...problem(429, 'rateLimited', 'slow down'), headers: { 'content-type': 'application/problem+json', 'retry-after': at.toUTCString() } })),
        expect: (ca) => new RegExp(`^${escape(ca.base)}/new-order: urn:ietf:params:acme:error:rateLimited: slow down; retry after \\S+Z$`),
      });
      const when = Date.parse(/retry after (\S+)$/m.exec(run.stderr)?.[1] ?? '');
      assert.ok(Math.abs(when - at.getTime()) < 120_000, `retry time ${new Date(when).toISOString()} near ${at.toISOString()}`);
    });
    // Would fail if a Retry-After past busyWait's minute were waited (capped) and the order tried
    // again: a second newOrder, or this test's own timeout.
    test('an absurd Retry-After is reported, capped at a year, without waiting', TEST, async () => {
      const started = Date.now();
      const { ca, run } = await rejected({
        script: on('newOrder', () => ({ ...problem(429, 'rateLimited', 'forever'), headers: { 'content-type': 'application/problem+json', 'retry-after': '99999999999999' } })),
        expect: (ca) => new RegExp(`^${escape(ca.base)}/new-order: urn:ietf:params:acme:error:rateLimited: forever; retry after \\S+Z$`),
      });
      const when = Date.parse(/retry after (\S+)$/m.exec(run.stderr)?.[1] ?? '');
      assert.ok(when - started < 367 * 86_400_000 && when - started > 360 * 86_400_000);
      assert.equal(ca.requests('newOrder').length, 1, 'reported at once, not waited on and asked again');
    });
    // A server error's Retry-After is waited a minute at most, and only within the run's budget
    // (--poll-timeout + 4 x --timeout, here 1 + 20 s): would fail (this test's timeout, or a second
    // newOrder) if the two hours were waited, or the capped minute waited past the budget.
    test('a plain 503 with a long Retry-After, no time left to wait: reported with the time', TEST, async () => {
      const { ca } = await rejected({
        script: on('newOrder', () => ({ status: 503, headers: { 'content-type': 'text/html', 'retry-after': '7200' }, body: '<h1>down</h1>' })),
        extra: ['--poll-timeout', '1', '--timeout', '5'],
        expect: (ca) => new RegExp(`^${escape(ca.base)}/new-order: HTTP status 503; retry after \\S+Z$`),
      });
      assert.equal(ca.requests('newOrder').length, 1);
    });
    test('a name list over the CA\'s limit: the CA\'s refusal of the order, in one line', TEST, async () => {
      await rejected({
        script: on('newOrder', () => problem(400, 'rejectedIdentifier', 'Order has 2 identifiers; the limit is 1', {
          subproblems: [{ type: 'urn:ietf:params:acme:error:rejectedIdentifier', detail: 'over the limit', identifier: { type: 'dns', value: NAMES[1] } }],
        })),
        expect: (ca) => `${ca.base}/new-order: urn:ietf:params:acme:error:rejectedIdentifier: Order has 2 identifiers; the limit is 1; `
          + `${NAMES[1]}: urn:ietf:params:acme:error:rejectedIdentifier: over the limit`,
      });
    });
    test('an invalid order after finalize shows its problem', TEST, async () => {
      await rejected({
        script: on('finalize', () => problem(400, 'badCSR', 'key too weak')),
        expect: (ca) => `${ca.base}/finalize/1: urn:ietf:params:acme:error:badCSR: key too weak`,
      });
    });
  });

  describe('badNonce', () => {
    test('retried with the nonce of the error response', TEST, async () => {
      let given = '';
      const { ca } = await issued((ex, _normal, ca) => {
        if (ex.route !== 'newOrder' || ex.count !== 1) return undefined;
        given = ca.nonce();
        return { ...problem(400, 'badNonce', 'stale'), headers: { 'content-type': 'application/problem+json', 'replay-nonce': given } };
      });
      const orders = ca.requests('newOrder');
      assert.equal(orders.length, 2);
      assert.equal(orders[1]?.jws?.protected.nonce, given);
    });
    // Would fail if badNonce were retried without a bound (this test's timeout) or with another one.
    test('a CA that always says badNonce: exit 1 after a bounded number of tries', TEST, async () => {
      const { ca } = await rejected({
        script: on('newAccount', () => problem(400, 'badNonce', 'never good enough')),
        expect: (ca) => `${ca.base}/new-acct: urn:ietf:params:acme:error:badNonce: never good enough (nonce rejected 11 times in a row, giving up)`,
      });
      assert.equal(ca.requests('newAccount').length, 11);
    });
  });

  describe('Retry-After honoured', () => {
    test('503 with Retry-After in seconds', TEST, async () => {
      const { ca } = await issued(on('newOrder', () => ({ status: 503, headers: { 'retry-after': '2' }, body: '' }), 1, 1));
      assert.ok(gap(ca, 'newOrder') >= 1950, `waited ${gap(ca, 'newOrder')} ms`);
    });
    test('429 with Retry-After as an HTTP-date', TEST, async () => {
      const { ca } = await issued(on('newOrder', () => ({ ...problem(429, 'rateLimited', 'wait'), headers: { 'content-type': 'application/problem+json', 'retry-after': new Date(Date.now() + 3000).toUTCString() } }), 1, 1));
      assert.ok(gap(ca, 'newOrder') >= 1000, `waited ${gap(ca, 'newOrder')} ms`);
    });
    test('503 on the directory', TEST, async () => {
      const { ca } = await issued(on('directory', () => ({ status: 503, headers: { 'retry-after': '1' }, body: '' }), 1, 1));
      assert.ok(gap(ca, 'directory') >= 950);
    });
    test('503 on newNonce', TEST, async () => {
      const { ca } = await issued(on('newNonce', () => ({ status: 503, headers: { 'retry-after': '1', 'replay-nonce': '' }, body: '' }), 1, 1));
      assert.ok(gap(ca, 'newNonce') >= 950);
    });
    test('while waiting for the validation', TEST, async () => {
      // The order's first look comes once the challenges are answered.
      const { ca } = await issued(on('order', async (_ex, normal) => {
        const r = editJson(await normal(), (o) => {
          o.status = 'pending';
        });
        return { ...r, headers: { ...r.headers, 'retry-after': '2' } };
      }, 1, 1));
      assert.ok(gap(ca, 'order', 1) >= 1950, `waited ${gap(ca, 'order', 1)} ms`);
    });
    test('an order in processing, with Retry-After', TEST, async () => {
      let finalized = false;
      let lookedAfterFinalize = 0;
      const { ca } = await issued((ex, normal) => {
        if (ex.route === 'finalize') {
          finalized = true;
          return normal().then((r) => editJson(r, (o) => { o.status = 'processing'; delete o.certificate; }));
        }
        // The first two looks after finalize: still processing, come back in a second.
        if (ex.route === 'order' && finalized && ++lookedAfterFinalize <= 2) {
          return normal().then((r) => ({ ...editJson(r, (o) => { o.status = 'processing'; delete o.certificate; }), headers: { 'content-type': 'application/json', 'retry-after': '1' } }));
        }
        return undefined;
      });
      const finalizedAt = ca.requests('finalize')[0]?.at ?? Infinity;
      const after = ca.requests('order').filter((ex) => ex.at > finalizedAt);
      assert.equal(after.length, 3);
      assert.ok((after[1]?.at ?? 0) - (after[0]?.at ?? 0) >= 950, 'waited the first Retry-After');
      assert.ok((after[2]?.at ?? 0) - (after[1]?.at ?? 0) >= 950, 'waited the second Retry-After');
      assert.equal(ca.requests('finalize').length, 1);
    });
    test('the finalize answer\'s own Retry-After, before the first look at the order', TEST, async () => {
      const { ca } = await issued((ex, normal) => {
        if (ex.route !== 'finalize') return undefined;
        return normal().then((r) => ({ ...editJson(r, (o) => { o.status = 'processing'; delete o.certificate; }), headers: { 'content-type': 'application/json', 'retry-after': '1' } }));
      });
      const finalized = ca.log.find((ex) => ex.route === 'finalize');
      const next = ca.log.find((ex) => ex.route === 'order' && finalized !== undefined && ex.at > finalized.at);
      assert.ok(finalized && next, 'the order was looked at after finalize');
      assert.ok(next.at - finalized.at >= 950, `waited ${next.at - finalized.at} ms`);
    });
    test('a challenge in processing', TEST, async () => {
      await issued((ex, normal) => {
        if (ex.route === 'challenge') return normal().then((r) => editJson(r, (o) => void (o.status = 'processing')));
        if (ex.route === 'authz' && ex.count >= 3 && ex.count <= 6) {
          return normal().then((r) => editJson(r, (o) => {
            o.status = 'pending';
            for (const c of challenges(o)) if (c.status === 'valid') c.status = 'processing';
          }));
        }
        return undefined;
      });
    });
    test('orderNotReady on finalize: the order is read again and finalized again', TEST, async () => {
      const { ca } = await issued(on('finalize', () => problem(403, 'orderNotReady', 'not yet'), 1, 1));
      assert.equal(ca.requests('finalize').length, 2);
      const paths = ca.log.map((e) => e.route);
      const first = paths.indexOf('finalize');
      assert.ok(paths.slice(first + 1, paths.lastIndexOf('finalize')).includes('order'), 'order read between the two finalizes');
    });
    test('an answer to finalize lost (orderNotReady), the order already processing: waited for, not finalized again', TEST, async () => {
      let finalized = false;
      let lookedAfter = 0;
      const { ca } = await issued(async (ex, normal) => {
        if (ex.route === 'finalize') {
          await normal();
          finalized = true;
          return problem(403, 'orderNotReady', 'an answer that was lost');
        }
        if (ex.route === 'order' && finalized && ++lookedAfter === 1) {
          return editJson(await normal(), (o) => {
            o.status = 'processing';
            delete o.certificate;
          });
        }
        return undefined;
      });
      assert.equal(ca.requests('finalize').length, 1);
      assert.ok(lookedAfter >= 2, 'the processing order was looked at again');
    });
    test('orderNotReady for ever: exit 1 after a bounded number of tries', TEST, async () => {
      const { ca } = await rejected({
        script: on('finalize', () => problem(403, 'orderNotReady', 'never')),
        expect: (ca) => `${ca.base}/finalize/1: urn:ietf:params:acme:error:orderNotReady: never`,
      });
      assert.equal(ca.requests('finalize').length, 4);
    });
    test('application/pem-certificate-chain with CRLF line endings', TEST, async () => {
      await issued(on('certificate', async (_ex, normal) => {
        const r = await normal();
        return { ...r, body: r.body.toString().replace(/\n/g, '\r\n') };
      }));
    });
  });

  describe('a CA that never finishes', () => {
    // Would fail if --poll-timeout were not the deadline (a longer one makes more looks than the
    // backoff allows within 3 s; none, this test's timeout), if the backoff were lost (a look every
    // few ms), or if the client gave up before the deadline.
    // Validation is watched through the order (§7.1.6), one look for every name.
    test('an order whose authorizations stay pending for ever: the client gives up at --poll-timeout, backing off', TEST, async () => {
      const { ca } = await rejected({
        script: edit('order', (o) => {
          o.status = 'pending';
        }),
        extra: ['--poll-timeout', '3'],
        expect: (ca) => `${ca.base}/order/1: authorizations still pending, giving up`,
      });
      // Looks 10, 20, 40 ... 2560 ms apart fit 9 in 3 s (load only makes them fewer), a 10th if a
      // timer fires a millisecond early.
      const looks = looksPer(ca, 'order');
      for (const [path, times] of looks) assert.ok(times.length <= 11, `${path} looked at ${times.length} times`);
      assert.ok(lastLookAfterDeadline(ca, looks, 3000), 'looked at until the deadline');
    });
    // Would fail if the authorizations were not read at the deadline: the line would name the
    // order's URL only ("authorizations still pending"), not the name that failed and why. They
    // read pending at first and invalid once the challenges are answered.
    test('an order left pending after an authorization has failed: at --poll-timeout the line names it, and why', TEST, async () => {
      const orderPending = edit('order', (o) => {
        o.status = 'pending';
      });
      const authzInvalid = on('authz', async (_ex, normal) => editJson(await normal(), (o) => {
        o.status = 'invalid';
        const c = challenges(o)[0] as Record<string, unknown>;
        c.status = 'invalid';
        c.error = { type: 'urn:ietf:params:acme:error:unauthorized', detail: 'wrong key authorization' };
      }), NAMES.length + 1);
      await rejected({
        script: async (ex, normal, ca) => (await orderPending(ex, normal, ca)) ?? authzInvalid(ex, normal, ca),
        extra: ['--poll-timeout', '2'],
        expect: () => new RegExp(`^(${NAMES.map(escape).join('|')}): validation failed: urn:ietf:params:acme:error:unauthorized: wrong key authorization$`),
      });
    });
    // Would fail if authorizations read valid at the deadline were not followed by a look at the
    // order: with -t a caller may take the whole --poll-timeout, and the run then ended with
    // "authorizations still pending", the order never looked at, though the CA had validated
    // every name. The wait is the scenario itself: a caller that confirms after the deadline.
    test('-t confirmed after --poll-timeout: names the CA has validated still get their certificate', TEST, async () => {
      const ca = await FakeCa.start(() => undefined);
      const a = area();
      try {
        const extra = ['-t', 'dns-01', '--poll-timeout', '1'];
        const cli = args(ca, a, extra).filter((arg, i, all) => arg !== '-C' && all[i - 1] !== '-C');
        const run = await runWithHook(cli, { NODE_EXTRA_CA_CERTS: ca.caFile }, async (line) => {
          await sleep(1200);
          return `${line}\n`;
        });
        assert.equal(run.status, 0, run.stderr);
        assert.equal(run.stderr, '');
        assert.ok(ca.requests('order').length >= 1, 'the order looked at once more');
      } finally {
        await ca.stop();
        rmSync(a.dir, { recursive: true, force: true });
      }
    });
    // Would fail if the Retry-After were ignored (the backoff's many looks), or waited past the
    // deadline (a minute, or a day: this test's timeout), or the look at the deadline skipped.
    test('a day-long Retry-After while polling is cut to the poll deadline', TEST, async () => {
      const { ca } = await rejected({
        script: on('order', async (_ex, normal) => {
          const r = editJson(await normal(), (o) => {
            o.status = 'pending';
          });
          return { ...r, headers: { ...r.headers, 'retry-after': '86400' } };
        }),
        extra: ['--poll-timeout', '3'],
        expect: (ca) => `${ca.base}/order/1: authorizations still pending, giving up`,
      });
      // The order: looked at once (answering the day-long Retry-After), then once more at the
      // deadline (twice if a timer fires a millisecond early).
      const looks = looksPer(ca, 'order');
      for (const [path, times] of looks) assert.ok(times.length <= 3, `${path} looked at ${times.length} times`);
      assert.ok(lastLookAfterDeadline(ca, looks, 3000), 'looked at again at the deadline');
    });
    test('an order left ready after finalize is looked at, never finalized again, until the poll deadline', TEST, async () => {
      const { ca } = await rejected({
        script: (ex, normal) => {
          if (ex.route !== 'finalize' && ex.route !== 'order') return undefined;
          return normal().then((r) => editJson(r, (o) => {
            o.status = 'ready';
            delete o.certificate;
          }));
        },
        extra: ['--poll-timeout', '3'],
        expect: (ca) => `${ca.base}/order/1: order still ready after finalize, giving up`,
      });
      assert.equal(ca.requests('finalize').length, 1);
      assert.ok(ca.requests('order').length >= 2, 'the order was looked at again');
    });
    test('a server that accepts and never answers hits the request timeout', TEST, async () => {
      await rejected({
        script: on('directory', () => 'hang'),
        extra: ['--timeout', '2'],
        expect: (ca) => `${ca.directoryUrl}: no complete answer within 2 s`,
      });
    });
    test('a server that stops answering after a challenge was published: timeout, challenge removed', TEST, async () => {
      let published: string[] = [];
      await rejected({
        script: {
          // The first look at the order comes once every challenge is answered.
          withArea: (a) => on('order', () => {
            published = readdirSync(a.www);
            return 'hang';
          }, 1),
        },
        extra: ['--timeout', '2'],
        expect: (ca) => `${ca.base}/order/1: no complete answer within 2 s`,
      });
      assert.equal(published.length, 2, 'both challenges were published when the CA stopped answering');
    });
    // Would fail if chngproc left its challenges behind when keyproc's failure ends the run, or if
    // netproc waited out the CA instead of ending with its peer (a second line, the timeout's).
    test('a broken domain key ends the run while the CA holds its answer: keyproc\'s line alone, challenge removed', TEST, async () => {
      let published = null as string[] | null;
      let keyproc: Promise<number | null> = Promise.resolve(null);
      await rejected({
        script: {
          withArea: (a) => {
            writeFileSync(a.dom, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
            // keyproc reads the key at its start: held until the challenges are out, so that its
            // failure comes while the CA holds its answer, whatever the machine's load.
            keyproc = holdKeyproc(a.certs);
            return on('order', async (): Promise<'hang'> => {
              published = readdirSync(a.www);
              const pid = await keyproc;
              if (pid !== null) process.kill(pid, 'SIGCONT');
              return 'hang';
            }, 1);
          },
        },
        // Waited out, the CA's silence would add its own line: only keyproc's end gives one line.
        extra: ['--timeout', '20'],
        expect: (_ca, a) => new RegExp(`^${escape(a.dom)}: cannot parse private key: `),
      });
      assert.notEqual(await keyproc, null, 'keyproc was held before it read the key');
      // rejected() found the challenge dir as it was: removed, since it had been published.
      assert.deepEqual(published?.length, 2, 'both challenges were published when the CA held its answer');
    });
  });
});
