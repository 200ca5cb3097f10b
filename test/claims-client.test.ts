// Claims of acme-client(1):
//   - -b: "Nothing is backed up on a run that changes nothing", and before removing the files
//     after -r, each is hard-linked to NAME-EPOCH.pem, one number for all three, "the next free
//     number" when that one is taken (against Pebble);
//   - --user "as uid or uid:gid, the group ID defaulting to the user ID", and without it
//     "_acme-client if it exists, else nobody"; no user at all: no child is started. Seen from
//     inside each child (--isolation-report has each one report its own credentials), with
//     /etc/passwd replaced in a mount namespace of the test's own;
//   - a certificate "not have expired": one the CA sends already expired is refused (fake CA).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';
import { Lab, labUnavailable, startLab } from '../scripts/pebble-lab.js';
import { FakeCa } from './fakeca.js';
import { CLIENT, STATE_FILE, contents, ecKeys, isRoot, makeKey, needsRootAndLab, outcome, prerequisite, runClient, snapshot, workDir } from './helpers.js';

const DAY_MS = 86_400_000;

describe('acme-client -b against Pebble', { skip: needsRootAndLab(labUnavailable) }, () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab();
  });
  after(async () => {
    await lab?.stop();
  });
  const env = (): NodeJS.ProcessEnv => ({ NODE_EXTRA_CA_CERTS: lab.tlsCaFile });
  const setup = (): { w: ReturnType<typeof workDir>; args: string[] } => {
    const w = workDir();
    const { acct, dom } = ecKeys(w);
    return { w, args: ['--server', lab.directoryUrl, '-C', lab.challengeDir, '-c', w.certs, '-f', acct, '-k', dom] };
  };

  test('-b on a run that changes nothing: exit 2, the directory byte for byte as it was, no backup', async () => {
    // Would fail if fileproc backed up before knowing there is something to replace (backUp
    // called for the renewal state alone, or before the order is known).
    const { w, args } = setup();
    const issued = await runClient([...args, 'same.example.test'], { env: env() });
    assert.equal(issued.status, 0, issued.stderr);
    // A first night asks the CA's window (Pebble offers renewal information) and keeps it with its
    // Retry-After: the next night asks nothing and writes nothing.
    assert.equal((await runClient([...args, 'same.example.test'], { env: env() })).status, 2);
    const before = snapshot(w.certs);
    const again = await runClient(['-b', ...args, 'same.example.test'], { env: env() });
    assert.equal(again.status, 2, again.stderr);
    assert.deepEqual(snapshot(w.certs), before);
    // Without the renewal state, the CA's window is asked and fileproc runs to keep it: the
    // certificate files stay as they are all the same, and nothing is backed up.
    rmSync(join(w.certs, STATE_FILE));
    const asked = await runClient(['-b', '-v', ...args, 'same.example.test'], { env: env() });
    assert.equal(asked.status, 2, asked.stderr);
    assert.match(asked.stderr, /^acme-client: fileproc: user /m, 'fileproc ran');
    const { [STATE_FILE]: state, ...certificateFiles } = snapshot(w.certs);
    assert.ok(state !== undefined, 'the state kept again');
    const { [STATE_FILE]: _, ...certificateFilesBefore } = before;
    assert.deepEqual(certificateFiles, certificateFilesBefore);
  });

  test('-b -r: the three files hard-linked under one number, the next free one, then removed', async () => {
    // Would fail if -r removed without backing up, if the three took different numbers, or if a
    // taken number were overwritten rather than skipped (backUp in src/procs/fileproc.ts).
    const { w, args } = setup();
    const issued = await runClient([...args, 'revoked.example.test'], { env: env() });
    assert.equal(issued.status, 0, issued.stderr);
    const files = contents(w.certs);
    const inode = statSync(join(w.certs, 'cert.pem')).ino;
    // Every number the run could start from is taken by a cert-EPOCH.pem already there.
    const from = Math.floor(Date.now() / 1000);
    const taken = 600;
    for (let epoch = from; epoch < from + taken; epoch++) writeFileSync(join(w.certs, `cert-${epoch}.pem`), 'taken\n');
    const revoked = await runClient(['-b', '-r', ...args, 'revoked.example.test'], { env: env() });
    assert.equal(revoked.status, 0, revoked.stderr);
    const next = from + taken;
    const left = readdirSync(w.certs).filter((f) => !/^cert-\d+\.pem$/.test(f) || Number(f.slice(5, -4)) >= next).sort();
    assert.deepEqual(left, [`cert-${next}.pem`, `chain-${next}.pem`, `fullchain-${next}.pem`]);
    for (const name of ['cert', 'chain', 'fullchain']) assert.equal(readFileSync(join(w.certs, `${name}-${next}.pem`), 'utf8'), files[`${name}.pem`]);
    assert.equal(statSync(join(w.certs, `cert-${next}.pem`)).ino, inode, 'a hard link, not a copy');
    assert.equal(readFileSync(join(w.certs, `cert-${from}.pem`), 'utf8'), 'taken\n', 'a taken number is left alone');
  });
});

describe('acme-client --user and its default', { skip: prerequisite(isRoot ? false : 'needs root') }, () => {
  /** The children that drop root, and the uid and gid each reported from inside itself. */
  const observed = (report: string): Record<string, string> => {
    const found: Record<string, string> = {};
    for (const [, role, uid, gid] of report.matchAll(/^(\w+):\n {2}observed: uid (\d+) gid (\d+) /gm)) {
      if (uid !== '0') found[role as string] = `${uid}:${gid}`;
    }
    return found;
  };
  const unprivileged = (id: string): Record<string, string> => ({ netproc: id, acctproc: id, keyproc: id, certproc: id });

  /** --isolation-report with `passwd` as /etc/passwd (in a mount namespace of its own), or the system's. */
  const report = (args: string[], passwd?: string): Promise<{ status: number | null; stdout: string; stderr: string }> => {
    const w = workDir();
    const command = [process.execPath, CLIENT, '--isolation-report', '-C', w.www, '-c', w.certs, '-f', join(w.priv, 'a.pem'), '-k', join(w.priv, 'd.pem'), ...args];
    const [file, argv] = passwd === undefined ? [command[0] as string, command.slice(1)]
      : ['unshare', ['-m', '--propagation', 'private', 'sh', '-c', 'mount --bind "$0" /etc/passwd && exec "$@"', passwd, ...command]];
    return outcome(spawn(file, argv, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, stdio: ['ignore', 'pipe', 'pipe'] }));
  };
  const passwdWith = (lines: string[]): string => {
    const file = join(workDir().dir, 'passwd');
    writeFileSync(file, ['root:x:0:0:root:/root:/bin/sh', ...lines, ''].join('\n'));
    return file;
  };

  test('--user uid:gid and --user uid (the group the same number) run the children as those IDs, with no passwd entry', async () => {
    // Would fail if a numeric --user were looked up in /etc/passwd, or its group defaulted to
    // anything but the user ID (resolveUser in src/isolation.ts).
    const both = await report(['--user', '12345:23456']);
    assert.equal(both.status, 0, both.stderr);
    assert.deepEqual(observed(both.stdout), unprivileged('12345:23456'));
    const one = await report(['--user', '12346']);
    assert.equal(one.status, 0, one.stderr);
    assert.deepEqual(observed(one.stdout), unprivileged('12346:12346'));
  });

  test('without --user: _acme-client when it exists, before nobody; else nobody; neither: one line, no child', async () => {
    // Would fail if the default users were tried in another order (DEFAULT_USERS), or a run
    // without any went ahead.
    const nobody = 'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin';
    const both = await report([], passwdWith([nobody, '_acme-client:x:4242:4243::/nonexistent:/usr/sbin/nologin']));
    assert.equal(both.status, 0, both.stderr);
    assert.deepEqual(observed(both.stdout), unprivileged('4242:4243'));
    const onlyNobody = await report([], passwdWith([nobody]));
    assert.equal(onlyNobody.status, 0, onlyNobody.stderr);
    assert.deepEqual(observed(onlyNobody.stdout), unprivileged('65534:65534'));
    const neither = await report([], passwdWith([]));
    assert.equal(neither.status, 1);
    assert.equal(neither.stderr, 'acme-client: _acme-client, nobody: no unprivileged user to run the children as (use --user)\n');
    assert.equal(neither.stdout, '', 'no child reported');
  });
});

describe('acme-client refuses a certificate the CA sends already expired', { skip: prerequisite(isRoot ? false : 'needs root') }, () => {
  test('one line, exit 1, nothing written', async () => {
    // Would fail without certproc's expiry check (src/procs/certproc.ts): the chain is otherwise
    // good (names, key, signature), and would be installed.
    const w = workDir();
    const dom = makeKey(join(w.priv, 'domain.pem'), 'rsa2048-pkcs8');
    const acct = makeKey(join(w.priv, 'account.pem'), 'ec-p256-sec1');
    const name = 'expired.example.test';
    const now = Date.now();
    const chain = expiredChain(readFileSync(dom, 'utf8'), name, new Date(now - 90 * DAY_MS), new Date(now - DAY_MS));
    const ca = await FakeCa.start((ex) => (ex.route === 'certificate'
      ? { status: 200, headers: { 'content-type': 'application/pem-certificate-chain' }, body: chain }
      : undefined));
    try {
      const run = await runClient(['--server', `${ca.base}/dir`, '-C', w.www, '-c', w.certs, '-f', acct, '-k', dom, name],
        { env: { NODE_EXTRA_CA_CERTS: ca.caFile } });
      assert.equal(run.status, 1, run.stderr);
      assert.match(run.stderr, /^acme-client: \S+: certificate has already expired\n/);
      assert.deepEqual(readdirSync(w.certs), []);
      assert.equal(ca.requests('certificate').length, 1, 'the certificate was fetched');
    } finally {
      await ca.stop();
    }
  });
});

/** A leaf for `name` on the domain key's public half, valid from notBefore to notAfter, and the CA that signed it. */
function expiredChain(domainKeyPem: string, name: string, notBefore: Date, notAfter: Date): string {
  const { privateKey: caKey, publicKey: caPublic } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const caSigner = forge.pki.privateKeyFromPem(caKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  const caSubject = [{ name: 'commonName', value: 'claims test CA' }];
  const ca = forge.pki.createCertificate();
  ca.publicKey = forge.pki.publicKeyFromPem(caPublic.export({ type: 'spki', format: 'pem' }).toString());
  ca.serialNumber = '01';
  ca.validity.notBefore = new Date(notBefore.getTime() - DAY_MS);
  ca.validity.notAfter = new Date(Date.now() + 365 * DAY_MS);
  ca.setSubject(caSubject);
  ca.setIssuer(caSubject);
  ca.setExtensions([{ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true }]);
  ca.sign(caSigner, forge.md.sha256.create());
  const leaf = forge.pki.createCertificate();
  leaf.publicKey = forge.pki.publicKeyFromPem(createPublicKey(domainKeyPem).export({ type: 'spki', format: 'pem' }).toString());
  leaf.serialNumber = '02';
  leaf.validity.notBefore = notBefore;
  leaf.validity.notAfter = notAfter;
  leaf.setSubject([{ name: 'commonName', value: name }]);
  leaf.setIssuer(caSubject);
  leaf.setExtensions([{ name: 'basicConstraints', cA: false }, { name: 'subjectAltName', altNames: [{ type: 2, value: name }] }]);
  leaf.sign(caSigner, forge.md.sha256.create());
  const pem = forge.pki.certificateToPem(leaf) + forge.pki.certificateToPem(ca);
  assert.ok(Date.parse(new X509Certificate(pem).validTo) < Date.now(), 'expired');
  return pem;
}
