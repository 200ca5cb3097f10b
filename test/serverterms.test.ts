// acme-client-server's [account] as the ACME Management Server reads it (#26 point 1):
// accept-terms-of-service makes a missing account at start-up (EAB included), terms URLs are
// checked against the CA's by acme-client --register --accept-terms; without it, the error naming
// --register; no acme-server is Let's Encrypt staging; http:// only for a CA on the loopback.
// Configurations written here in the Management Server's style (its own files are not copied).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { Lab, freePorts, labUnavailable, startLab } from '../scripts/pebble-lab.js';
import { parseServerConfig } from '../src/server/config.js';
import { Failure } from '../src/log.js';
import { needsRootAndLab, openssl, workDir } from './helpers.js';
import { SERVER, postCsr, spawnServer } from './serverproc.js';

const skip = needsRootAndLab(labUnavailable);

function refusal(text: string): string {
  try {
    parseServerConfig('a.ini', text);
  } catch (err) {
    if (err instanceof Failure) return `${err.subject}: ${err.problem}`;
    throw err;
  }
  return 'accepted';
}

// Fails if the key were unknown again (a warning), yes/true/URLs were read otherwise, or a bad
// value (a word that is no URL, yes beside URLs) were taken.
test('accept-terms-of-service: yes or true, one or more URLs (on a line or repeated), no or false as absent', () => {
  const read = (lines: string): unknown => parseServerConfig('a.ini', `[account]\ndir = /a\n${lines}`).acceptTerms;
  assert.equal(read(''), null);
  assert.deepEqual(read('accept-terms-of-service = yes\n'), { any: true });
  assert.deepEqual(read('accept-terms-of-service = True\n'), { any: true });
  assert.equal(read('accept-terms-of-service = no\n'), null);
  assert.equal(read('accept-terms-of-service = false\n'), null);
  assert.deepEqual(read('accept-terms-of-service = https://ca.example/tos-1 https://ca.example/tos-2\naccept-terms-of-service = data:text/plain,ok\n'),
    { any: false, urls: ['https://ca.example/tos-1', 'https://ca.example/tos-2', 'data:text/plain,ok'] });
  assert.deepEqual(parseServerConfig('a.ini', '[account]\ndir = /a\naccept-terms-of-service = yes\n').warnings, []);
  assert.equal(refusal('[account]\ndir = /a\naccept-terms-of-service = sure\n'), 'a.ini:3: accept-terms-of-service: not yes, true, no, false or a URL: sure');
  assert.equal(refusal('[account]\ndir = /a\naccept-terms-of-service = yes https://ca.example/tos\n'),
    'a.ini:3: accept-terms-of-service: yes, true, no or false stands alone: not with terms URLs, nor given twice');
  assert.equal(refusal('[account]\ndir = /a\naccept-terms-of-service =\n'), 'a.ini:3: accept-terms-of-service: empty: yes, true, or the terms URLs accepted');
});

// Fails if the binding keys were unknown, taken apart, or with a relative key file.
test('eab-kid and eab-hmac-key-file: together, the file an absolute path', () => {
  assert.deepEqual(parseServerConfig('a.ini', '[account]\ndir = /a\neab-kid = k1\neab-hmac-key-file = /etc/acmems/eab.key\n').eab, { kid: 'k1', keyFile: '/etc/acmems/eab.key' });
  assert.equal(parseServerConfig('a.ini', '[account]\ndir = /a\n').eab, null);
  assert.equal(refusal('[account]\ndir = /a\neab-kid = k1\n'), 'a.ini:3: eab-kid: eab-kid and eab-hmac-key-file go together');
  assert.equal(refusal('[account]\ndir = /a\neab-kid = k1\neab-hmac-key-file = eab.key\n'), 'a.ini:4: eab-hmac-key-file: not an absolute path: eab.key');
});

// Fails if http:// were refused for a test CA on the loopback, or taken for any other host.
test('acme-server: https, or http:// for a CA on the loopback only; refused otherwise in one line', () => {
  for (const url of ['http://127.0.0.1:4001/directory', 'http://localhost:4001/directory', 'http://[::1]:14000/dir', 'https://ca.example/dir']) {
    assert.equal(parseServerConfig('a.ini', `[account]\ndir = /a\nacme-server = ${url}\n`).acmeServer, url);
  }
  assert.equal(refusal('[account]\ndir = /a\nacme-server = http://ca.example/directory\n'),
    'a.ini:3: acme-server: plain http is for a CA on this host\'s loopback only (127.0.0.0/8, ::1, localhost); use https: http://ca.example/directory');
  assert.equal(refusal('[account]\ndir = /a\nacme-server = ftp://127.0.0.1/dir\n'), 'a.ini:3: acme-server: not an https URL: ftp://127.0.0.1/dir');
});

function runServer(args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [SERVER, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env } });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

// Fails if an unnamed CA were not Let's Encrypt's staging service, if -t did not say the CA, or if
// -t took accept-terms-of-service as leave to make or register the account (it asks no CA).
test('-t -v: no acme-server is Let\'s Encrypt staging; with accept-terms-of-service a missing account is to be made, not an error', () => {
  const w = workDir();
  const account = join(w.dir, 'account');
  const file = join(w.dir, 'a.ini');
  writeFileSync(file, `[account]\ndir = ${account}\naccept-terms-of-service = yes\n[auth "x"]\ndomain = *\n`);
  const checked = runServer(['-t', '-v', '-f', file]);
  assert.equal(checked.status, 0, checked.stderr);
  assert.equal(checked.stderr, 'acme-client-server: https://acme-staging-v02.api.letsencrypt.org/directory: the CA (acme-server)\n'
    + `acme-client-server: ${join(account, 'account.pem')}: no account key yet: made at start-up (accept-terms-of-service)\n`
    + `acme-client-server: ${file}: configuration ok\n`);
  assert.equal(existsSync(account), false, 'nothing made by -t');
  writeFileSync(file, `[account]\ndir = ${account}\n[auth "x"]\ndomain = *\n`);
  const without = runServer(['-t', '-f', file]);
  assert.equal(without.status, 1);
  assert.equal(without.stderr, `acme-client-server: ${join(account, 'account.pem')}: no account key: make one with acme-client-server --register --agree-tos -f ${file}\n`);
});

/** The CA's meta.termsOfService, read as a client would. */
function termsOf(lab: Lab): Promise<string> {
  return new Promise((resolve, reject) => {
    https.get(lab.directoryUrl, { ca: readFileSync(lab.tlsCaFile), headers: { 'user-agent': 'serverterms.test' } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => {
        const terms = (JSON.parse(body) as { meta?: { termsOfService?: unknown } }).meta?.termsOfService;
        if (typeof terms === 'string') resolve(terms);
        else reject(new Error(`no meta.termsOfService in ${body}`));
      });
    }).on('error', reject);
  });
}

/** curl posting a CSR for `name` (its key made here) to the service, without blocking this process. */
function sign(url: string, dir: string, name: string): Promise<{ status: number; body: string }> {
  const key = join(dir, `${name}.key`);
  writeFileSync(key, openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']));
  const csr = join(dir, `${name}.csr`);
  openssl(['req', '-new', '-key', key, '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`, '-out', csr]);
  return postCsr(url, csr);
}

function configText(account: string, acme: string, sign: number, challenge: number, extra: string): string {
  return `[account]\ndir = ${account}\nacme-server = ${acme}\n${extra}\n[mgmt]\nlistener = 127.0.0.1:${sign}\n`
    + `[verification "http"]\ntype = http01\nlistener = 127.0.0.1:${challenge}\n[auth "local"]\nip = 127.0.0.0/8\ndomain = *.terms.example.test\n`;
}

/**
 * A start that is to be refused: its exit status and its lines but those of -v (which tell a
 * start that went through, which is then stopped, rather than waited on for ever).
 */
async function refusedStart(config: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  const server = spawnServer(['-v', '-f', config], env, workDir().dir);
  const started = await Promise.race([server.logged(/listening for POST \/sign/).then(() => true, () => false), server.exited.then(() => false)]);
  if (started) server.proc.kill('SIGKILL');
  const { code } = await server.exited;
  assert.equal(started, false, `the service started:\n${server.stderr()}`);
  const verbose = /^acme-client(-server)?: \S+: (no account key: making|user |generating|directory loaded|loaded |exit status|account created|.* \(acme-server\))/;
  return { code, stderr: server.stderr().split('\n').filter((line) => !verbose.test(line)).join('\n') };
}

describe('accept-terms-of-service at start-up, against Pebble', { skip }, () => {
  let lab: Lab;
  let env: NodeJS.ProcessEnv;
  let ports: [number, number];
  let pebbleTerms: string;
  before(async () => {
    ports = (await freePorts(2)) as [number, number];
    lab = await startLab({ challengeUpstreams: [`127.0.0.1:${ports[1]}`] });
    env = { NODE_EXTRA_CA_CERTS: lab.tlsCaFile };
    pebbleTerms = await termsOf(lab);
  });
  after(async () => {
    await lab?.stop();
  });

  // Fails if the account were not made at start-up (the service would stop with the --register
  // error), made with another mode than 0600, or made but unusable for an order.
  test('yes: account.pem made (0600) and the account registered as it starts; then an order works', async () => {
    const w = workDir();
    const account = join(w.dir, 'account');
    const config = join(w.dir, 'yes.ini');
    writeFileSync(config, configText(account, lab.directoryUrl, ports[0], ports[1], 'accept-terms-of-service = yes'));
    // Pebble's own count of its accounts: a newAccount POST whose nonce it rejected (30% in the
    // suite) shows twice in its request log, but makes one account.
    const accounts = (): number => Number([...lab.requestLog().matchAll(/There are now (\d+) accounts in memory/g)].at(-1)?.[1] ?? 0);
    const accountsBefore = accounts();
    const server = spawnServer(['-v', '-f', config], env, workDir().dir);
    try {
      await server.logged(/listening for POST \/sign/);
      assert.match(server.stderr(), /account\.pem: no account key: making the account at https:\/\/127\.0\.0\.1:\d+\/dir \(accept-terms-of-service\)/);
      assert.equal(statSync(join(account, 'account.pem')).mode & 0o777, 0o600);
      assert.deepEqual(readdirSync(account), ['account.pem'], 'no staged key left');
      assert.equal(accounts(), accountsBefore + 1, 'one account created');
      const answer = await sign(`http://127.0.0.1:${ports[0]}/sign`, w.dir, 'a.terms.example.test');
      assert.equal(answer.status, 200, answer.body);
      assert.match(answer.body, /^-----BEGIN CERTIFICATE-----/);
    } finally {
      server.proc.kill('SIGTERM');
      await server.exited;
    }
  });

  // Fails if terms URLs were taken as yes (the account made whatever the CA's terms), if the line
  // did not name the CA's terms, or if a refused start left a key that the next start would take
  // for an account.
  test('terms URLs: refused naming Pebble\'s terms when not among them, no key left; taken when they are', async () => {
    const w = workDir();
    const account = join(w.dir, 'account');
    const config = join(w.dir, 'urls.ini');
    writeFileSync(config, configText(account, lab.directoryUrl, ports[0], ports[1], 'accept-terms-of-service = https://ca.example/terms-2024\naccept-terms-of-service = https://ca.example/terms-2025'));
    const refused = await refusedStart(config, env);
    assert.equal(refused.code, 1);
    assert.equal(refused.stderr, `acme-client: ${pebbleTerms}: the CA's terms of service, not among those accepted (https://ca.example/terms-2024 https://ca.example/terms-2025)\n`
      + `acme-client-server: ${lab.directoryUrl}: the account could not be made: not started\n`);
    assert.deepEqual(readdirSync(account), [], 'no key left');

    writeFileSync(config, configText(account, lab.directoryUrl, ports[0], ports[1], `accept-terms-of-service = https://ca.example/terms-2025 ${pebbleTerms}`));
    const server = spawnServer(['-v', '-f', config], env, workDir().dir);
    try {
      await server.logged(/listening for POST \/sign/);
      assert.equal(statSync(join(account, 'account.pem')).mode & 0o777, 0o600);
    } finally {
      server.proc.kill('SIGTERM');
      await server.exited;
    }
  });

  // Fails if the service made an account without being told to.
  test('without accept-terms-of-service: the error naming --register, and the CA not asked', async () => {
    const w = workDir();
    const account = join(w.dir, 'account');
    const config = join(w.dir, 'none.ini');
    writeFileSync(config, configText(account, lab.directoryUrl, ports[0], ports[1], ''));
    const asked = lab.requestCount();
    const refused = await refusedStart(config, env);
    assert.equal(refused.code, 1);
    assert.equal(refused.stderr, `acme-client-server: ${join(account, 'account.pem')}: no account key: make one with acme-client-server --register --agree-tos -f ${config}\n`);
    assert.equal(lab.requestCount(), asked);
    assert.equal(existsSync(account), false);
  });
});

describe('accept-terms-of-service at start-up at a CA that wants an external account binding', { skip }, () => {
  const kid = 'terms-kid';
  const macKey = randomBytes(32).toString('base64url');
  let lab: Lab;
  before(async () => {
    lab = await startLab({ externalAccountMACKeys: { [kid]: macKey } });
  });
  after(async () => {
    await lab?.stop();
  });

  // Fails if eab-kid and eab-hmac-key-file were not passed on to the registration at start-up.
  test('without eab-kid the start is refused in one line naming --eab-kid, no key left; with it the account is made', async () => {
    const w = workDir();
    const [sign, challenge] = (await freePorts(2)) as [number, number];
    const account = join(w.dir, 'account');
    const config = join(w.dir, 'eab.ini');
    const env = { NODE_EXTRA_CA_CERTS: lab.tlsCaFile };
    writeFileSync(config, configText(account, lab.directoryUrl, sign, challenge, 'accept-terms-of-service = true'));
    const refused = await refusedStart(config, env);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^acme-client: \S+\/sign-me-up: the CA requires External Account Binding for a new account: give --eab-kid and --eab-hmac-key-file\n/);
    assert.deepEqual(readdirSync(account), []);

    const macFile = join(w.priv, 'eab.key');
    writeFileSync(macFile, `${macKey}\n`, { mode: 0o600 });
    writeFileSync(config, configText(account, lab.directoryUrl, sign, challenge, `accept-terms-of-service = true\neab-kid = ${kid}\neab-hmac-key-file = ${macFile}`));
    const server = spawnServer(['-v', '-f', config], env, workDir().dir);
    try {
      await server.logged(/listening for POST \/sign/);
      assert.equal(statSync(join(account, 'account.pem')).mode & 0o777, 0o600);
      assert.match(lab.requestLog(), /POST \/sign-me-up -> calling handler\(\)/);
    } finally {
      server.proc.kill('SIGTERM');
      await server.exited;
    }
  });
});
