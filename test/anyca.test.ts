// Issue 12 against a real Pebble: the key types -n and -N make, the CA's API trusted through
// --ca-file, contacts, preferred chains (Pebble with two alternate roots); External Account
// Binding against a Pebble that requires it.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey, randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, labUnavailable, startLab } from '../scripts/pebble-lab.js';
import { ecKeys, needsRootAndLab, openssl, runClient, workDir } from './helpers.js';
import { keyDescription } from '../src/x509/keys.js';
import { KEY_TYPES } from '../src/x509/keytypes.js';

const skip = needsRootAndLab(labUnavailable);

describe('any CA, against Pebble with two alternate roots', { skip }, () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab({ alternateRoots: 2 });
  });
  after(async () => {
    await lab?.stop();
  });
  const env = (): NodeJS.ProcessEnv => ({ NODE_EXTRA_CA_CERTS: lab.tlsCaFile });
  const paths = (w: ReturnType<typeof workDir>): { acct: string; dom: string; args: string[] } => {
    const acct = join(w.priv, 'account.pem');
    const dom = join(w.priv, 'domain.pem');
    return { acct, dom, args: ['--server', lab.directoryUrl, '-C', lab.challengeDir, '-c', w.certs, '-f', acct, '-k', dom] };
  };
  const describeKeyFile = (path: string): string => keyDescription(createPrivateKey(readFileSync(path, 'utf8')));

  test('-n and -N make EC P-256 keys by default', async () => {
    const w = workDir();
    const { acct, dom, args } = paths(w);
    const run = await runClient(['-n', '-N', ...args, 'default-keys.example.test'], { env: env() });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(describeKeyFile(acct), 'EC P-256');
    assert.equal(describeKeyFile(dom), 'EC P-256');
    assert.equal(new X509Certificate(readFileSync(join(w.certs, 'cert.pem'))).publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  });

  // Each type once as the account key and once as the domain key, paired differently each time.
  for (const [index, accountType] of KEY_TYPES.entries()) {
    const domainType = KEY_TYPES[(index + 1) % KEY_TYPES.length] as (typeof KEY_TYPES)[number];
    test(`--account-key-type ${accountType} --key-type ${domainType}: made, 0600, and a certificate issued`, async () => {
      const w = workDir();
      const { acct, dom, args } = paths(w);
      const run = await runClient(['-v', '-n', '-N', '--account-key-type', accountType, '--key-type', domainType, ...args, `${accountType}.${domainType}.example.test`], { env: env() });
      assert.equal(run.status, 0, run.stderr);
      const described = (type: string): string => (type.startsWith('rsa') ? `RSA ${type.slice(3)}` : `EC P-${type.slice(2)}`);
      assert.equal(describeKeyFile(acct), described(accountType));
      assert.equal(describeKeyFile(dom), described(domainType));
      assert.match(run.stderr, new RegExp(`: generating ${described(accountType)} account key$`, 'm'));
      for (const key of [acct, dom]) assert.equal(statSync(key).mode & 0o777, 0o600);
      const leaf = new X509Certificate(readFileSync(join(w.certs, 'cert.pem')));
      assert.equal(keyDescription(leaf.publicKey), described(domainType));
    });
  }

  test('--contact: sent when the account is created, sent again only when the list differs', async () => {
    const w = workDir();
    const { args } = paths(w);
    // The client never reads its account otherwise: a POST to the account URL (in the -vv trace,
    // once or more: a rejected nonce is retried) is an update.
    const updatesAccount = (stderr: string): boolean => /^acme-client: https:\/\/\S+\/my-account\/\S+: POST /m.test(stderr);
    const run = (extra: string[]): ReturnType<typeof runClient> => runClient(['-vv', '-F', '-n', '-N', ...extra, ...args, 'contact.example.test'], { env: env() });

    const created = await run(['--contact', 'mailto:one@example.com']);
    assert.equal(created.status, 0, created.stderr);
    // The CA's answer to the creation, as -vv traces it, lists the contact.
    assert.match(created.stderr, /sign-me-up: 201 \{[^\n]*"contact": \[\s*"mailto:one@example\.com"\s*\]/);
    assert.equal(updatesAccount(created.stderr), false);

    const changed = await run(['--contact', 'mailto:two@example.com', '--contact=mailto:three@example.com']);
    assert.equal(changed.status, 0, changed.stderr);
    assert.equal(updatesAccount(changed.stderr), true, 'the account is updated');
    assert.match(changed.stderr, /my-account\/\S+: 200 \{[^\n]*"contact": \[\s*"mailto:two@example\.com",\s*"mailto:three@example\.com"\s*\]/);
    assert.match(changed.stderr, /: contacts updated to mailto:two@example\.com, mailto:three@example\.com$/m);

    for (const same of [['--contact', 'mailto:three@example.com', '--contact', 'mailto:two@example.com'], []]) {
      const again = await run(same);
      assert.equal(again.status, 0, again.stderr);
      assert.equal(updatesAccount(again.stderr), false, `no update with ${same.join(' ') || 'no --contact'}`);
    }
  });

  describe('--preferred-chain, with the default chain and two alternates', () => {
    const rootName = async (index: number): Promise<string> => new X509Certificate(await lab.rootPem(index)).subject.replace(/^CN=/, '');
    /** The chains a run fetched: the certificate URLs its -vv trace shows POSTs to (a rejected nonce repeats one). */
    const chainsFetched = (stderr: string): number => new Set([...stderr.matchAll(/^acme-client: (https:\/\/\S+\/certZ\/\S+): POST /gm)].map((m) => m[1])).size;
    const issue = async (preferred: string): Promise<{ run: Awaited<ReturnType<typeof runClient>>; issuer: string; fetches: number; w: ReturnType<typeof workDir> }> => {
      const w = workDir();
      const { acct, dom } = ecKeys(w);
      const run = await runClient(['-vv', '--preferred-chain', preferred, '--server', lab.directoryUrl, '-C', lab.challengeDir, '-c', w.certs, '-f', acct, '-k', dom,
        'chain.example.test'], { env: env() });
      assert.equal(run.status, 0, run.stderr);
      const chain = readFileSync(join(w.certs, 'chain.pem'), 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/g) ?? [];
      const top = new X509Certificate(chain[chain.length - 1] ?? '');
      return { run, issuer: top.issuer.replace(/^CN=/, ''), fetches: chainsFetched(run.stderr), w };
    };

    test('the hierarchy of an alternate root is chosen, verifies against that root, and no further chain is fetched', async () => {
      const roots = await Promise.all([0, 1, 2].map(rootName));
      assert.equal(new Set(roots).size, 3, `three distinct roots: ${roots.join(', ')}`);
      const wanted = roots[1] as string;
      const { run, issuer, fetches, w } = await issue(wanted);
      assert.doesNotMatch(run.stderr, /keeping the default/);
      assert.equal(issuer, wanted);
      assert.equal(fetches, 2, 'the default, then the first alternate, which matches');
      const rootFile = join(w.dir, 'root.pem');
      writeFileSync(rootFile, await lab.rootPem(1));
      assert.match(openssl(['verify', '-CAfile', rootFile, '-untrusted', join(w.certs, 'chain.pem'), join(w.certs, 'cert.pem')]), /cert\.pem: OK/);
    });

    test('the default chain\'s own issuer: kept, no alternate fetched', async () => {
      const { issuer, fetches } = await issue(await rootName(0));
      assert.equal(issuer, await rootName(0));
      assert.equal(fetches, 1);
    });

    test('an issuer no chain has: the default, with a warning, exit 0', async () => {
      const { run, issuer, fetches } = await issue('No Such Root CA');
      assert.equal(issuer, await rootName(0));
      assert.equal(fetches, 3, 'every alternate was looked at');
      assert.match(run.stderr, /^acme-client: https:\/\/127\.0\.0\.1:\d+\/certZ\/\S+: no chain offered is issued by "No Such Root CA", keeping the default one$/m);
    });
  });

  describe('trust for the CA\'s API', () => {
    /** A work area with keys, and a root-only (0700) directory holding a copy of the lab's TLS CA. */
    const setup = (): { w: ReturnType<typeof workDir>; args: string[]; hidden: string } => {
      const w = workDir();
      const { acct, dom } = ecKeys(w);
      const hidden = join(w.dir, 'root-only');
      mkdirSync(hidden, { mode: 0o700 });
      copyFileSync(lab.tlsCaFile, join(hidden, 'ca.pem'));
      chmodSync(join(hidden, 'ca.pem'), 0o600);
      return { w, hidden, args: ['--server', lab.directoryUrl, '-C', lab.challengeDir, '-c', w.certs, '-f', acct, '-k', dom] };
    };
    /** A CA that has signed nothing the lab serves. */
    const unrelatedCa = (dir: string): string => {
      const pem = join(dir, 'unrelated-ca.pem');
      openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'unrelated.key'),
        '-out', pem, '-days', '2', '-subj', '/CN=unrelated test CA']);
      return pem;
    };

    test('without any trust for the lab\'s CA the run fails, as one line, and writes nothing', async () => {
      const { w, args } = setup();
      const run = await runClient([...args, 'untrusted.example.test']);
      assert.equal(run.status, 1);
      assert.equal(run.stderr, `acme-client: ${lab.directoryUrl}: UNABLE_TO_VERIFY_LEAF_SIGNATURE: unable to verify the first certificate\n`);
      assert.deepEqual(readdirSync(w.certs), []);
    });

    test('--ca-file in a root-only directory is read before netproc drops root', async () => {
      const { w, args, hidden } = setup();
      const run = await runClient(['-v', '--ca-file', join(hidden, 'ca.pem'), ...args, 'ca-file.example.test']);
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stderr, new RegExp(`netproc: user \\S+ \\(uid \\d+.*files r ${join(hidden, 'ca.pem').replace(/[.]/g, '\\.')}`));
      assert.ok(statSync(join(w.certs, 'cert.pem')).isFile());
    });

    test('--ca-file adds to the system store rather than replacing it', async () => {
      const { w, args } = setup();
      // The lab's CA is trusted through SSL_CERT_FILE only; --ca-file names another CA.
      const run = await runClient(['--ca-file', unrelatedCa(w.dir), ...args, 'ca-file-adds.example.test'], { env: { SSL_CERT_FILE: lab.tlsCaFile } });
      assert.equal(run.status, 0, run.stderr);
    });

    test('SSL_CERT_FILE inside SSL_CERT_DIR, as Debian\'s environment has them, works', async () => {
      const { w, args } = setup();
      // Searchable by the unprivileged netproc, unlike the work area itself.
      chmodSync(w.dir, 0o755);
      const store = join(w.dir, 'store');
      mkdirSync(store, { mode: 0o755 });
      copyFileSync(lab.tlsCaFile, join(store, 'ca.pem'));
      openssl(['rehash', store]);
      const run = await runClient([...args, 'cert-dir.example.test'], { env: { SSL_CERT_DIR: store, SSL_CERT_FILE: join(store, 'ca.pem') } });
      assert.equal(run.status, 0, run.stderr);
    });

    test('SSL_CERT_FILE in a root-only directory works', async () => {
      const { w, args, hidden } = setup();
      const run = await runClient([...args, 'cert-file.example.test'], { env: { SSL_CERT_FILE: join(hidden, 'ca.pem') } });
      assert.equal(run.status, 0, run.stderr);
      assert.ok(statSync(join(w.certs, 'cert.pem')).isFile());
    });

    test('SSL_CERT_DIR in a root-only directory, an SSL_CERT_FILE or --ca-file that cannot be used: one line naming it, nothing written', async () => {
      const { w, args, hidden } = setup();
      openssl(['rehash', hidden]);
      const notCa = join(w.dir, 'not-a-ca.pem');
      copyFileSync(join(w.priv, 'account.pem'), notCa);
      // The pre-flight lets a FIFO by; netproc's read must refuse it at once, not wait for a writer.
      const fifo = join(w.dir, 'fifo.pem');
      execFileSync('mkfifo', [fifo]);
      const cases: [string[], NodeJS.ProcessEnv, string][] = [
        [[], { SSL_CERT_DIR: hidden }, `${hidden}: SSL_CERT_DIR cannot be read once netproc has dropped root: use --ca-file or SSL_CERT_FILE`],
        [[], { SSL_CERT_FILE: join(w.dir, 'missing.pem') }, `${join(w.dir, 'missing.pem')}: SSL_CERT_FILE cannot be read: no such file or directory`],
        [['--ca-file', join(w.dir, 'missing.pem')], {}, `${join(w.dir, 'missing.pem')}: --ca-file file must exist`],
        [['--ca-file', notCa], {}, `${notCa}: no PEM certificate in the CA file`],
        [['--ca-file', fifo], {}, `${fifo}: cannot read CA file: not a regular file`],
      ];
      for (const [extra, env, message] of cases) {
        const run = await runClient([...extra, ...args, 'trust-fails.example.test'], { env });
        assert.equal(run.status, 1, message);
        assert.equal(run.stderr, `acme-client: ${message}\n`);
        assert.deepEqual(readdirSync(w.certs), []);
      }
    });
  });
});

describe('External Account Binding, against a Pebble that requires it', { skip }, () => {
  const kid = 'kid-1';
  const macKey = randomBytes(32).toString('base64url');
  let lab: Lab;
  before(async () => {
    lab = await startLab({ externalAccountMACKeys: { [kid]: macKey } });
  });
  after(async () => {
    await lab?.stop();
  });
  const env = (): NodeJS.ProcessEnv => ({ NODE_EXTRA_CA_CERTS: lab.tlsCaFile });
  /** A work area where -n makes a new account key, and the common arguments. */
  const setup = (): { w: ReturnType<typeof workDir>; args: string[] } => {
    const w = workDir();
    const { dom } = ecKeys(w);
    return { w, args: ['-n', '--server', lab.directoryUrl, '-C', lab.challengeDir, '-c', w.certs, '-f', join(w.priv, 'new-account.pem'), '-k', dom] };
  };
  const keyFile = (w: ReturnType<typeof workDir>, text: string): string => {
    const path = join(w.priv, 'eab.key');
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  };

  test('the right key, with whitespace around it, creates the account and issues; -vv shows no trace of the key', async () => {
    const { w, args } = setup();
    const run = await runClient(['-vv', '--eab-kid', kid, '--eab-hmac-key-file', keyFile(w, `\n  ${macKey}\n\n`), ...args, 'eab.example.test'], { env: env() });
    assert.equal(run.status, 0, run.stderr);
    assert.ok(statSync(join(w.certs, 'cert.pem')).isFile());
    assert.match(run.stderr, /"externalAccountBinding"/, 'the trace shows the binding was sent');
    const raw = Buffer.from(macKey, 'base64url');
    for (const form of [macKey, raw.toString('base64'), raw.toString('hex'), raw.toString('latin1')]) {
      assert.equal((run.stderr + run.stdout).includes(form), false, `the key appears in the output (${form})`);
    }
  });

  test('a wrong key: the CA\'s problem, exit 1, nothing written', async () => {
    const { w, args } = setup();
    const run = await runClient(['--eab-kid', kid, '--eab-hmac-key-file', keyFile(w, randomBytes(32).toString('base64url')), ...args, 'eab-wrong.example.test'], { env: env() });
    assert.equal(run.status, 1);
    // One line: Pebble's own words for a MAC that does not verify.
    assert.match(run.stderr, new RegExp(`^acme-client: ${lab.directoryUrl.replace(/\/dir$/, '')}/sign-me-up: urn:ietf:params:acme:error:unauthorized: external account binding JWS verification error: [^\\n]+\\n$`));
    assert.deepEqual(readdirSync(w.certs), []);
  });

  test('no binding given: one line that names --eab-kid', async () => {
    const { w, args } = setup();
    const run = await runClient([...args, 'eab-missing.example.test'], { env: env() });
    assert.equal(run.status, 1);
    assert.equal(run.stderr, `acme-client: ${lab.directoryUrl.replace(/\/dir$/, '')}/sign-me-up: the CA requires External Account Binding for a new account: give --eab-kid and --eab-hmac-key-file\n`);
    assert.deepEqual(readdirSync(w.certs), []);
  });

  test('a key file that is missing, empty or not base64url: one line naming the file, never its content', async () => {
    const { w, args } = setup();
    const missing = join(w.dir, 'no-such.key');
    const cases: [string, string][] = [
      [missing, `${missing}: --eab-hmac-key-file file must exist`],
      [keyFile(w, ' \n'), `${join(w.priv, 'eab.key')}: EAB key file is empty`],
    ];
    for (const [path, message] of cases) {
      const run = await runClient(['--eab-kid', kid, '--eab-hmac-key-file', path, ...args, 'eab-bad.example.test'], { env: env() });
      assert.equal(run.status, 1, message);
      assert.equal(run.stderr, `acme-client: ${message}\n`);
    }
    for (const bad of [`${macKey}=`, macKey.replace(/^./, '+'), 'a'.repeat(5), `${macKey.slice(0, 10)} ${macKey.slice(10)}`]) {
      const path = keyFile(w, bad);
      const run = await runClient(['--eab-kid', kid, '--eab-hmac-key-file', path, ...args, 'eab-bad.example.test'], { env: env() });
      assert.equal(run.status, 1, bad);
      assert.equal(run.stderr, `acme-client: ${path}: EAB key is not base64url\n`);
    }
    assert.deepEqual(readdirSync(w.certs), []);
    // -n was given: the bad binding is found before a new account key is written.
    assert.deepEqual(readdirSync(w.priv).filter((f) => f.includes('new-account')), []);
  });
});
