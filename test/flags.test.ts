// Every classic flag end to end against Pebble: -t (dns-01 through a hook, wildcards), -r, -e,
// -b, -O, -a, -v/-vv, and the renewal window with short-lived certificates.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Lab, labUnavailable, startLab } from '../scripts/pebble-lab.js';
import { CLIENT, contents, ecKeys, makeKey, needsRootAndLab, openssl, runClient, runWithHook, workDir } from './helpers.js';

const skip = needsRootAndLab(labUnavailable);

describe('classic flags against Pebble', { skip }, () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab();
  });
  after(async () => {
    await lab?.stop();
  });
  const env = (): NodeJS.ProcessEnv => ({ NODE_EXTRA_CA_CERTS: lab.tlsCaFile });
  /** A work area with EC keys made by openssl (fast), and the common arguments. */
  const setup = (): { w: ReturnType<typeof workDir>; args: string[] } => {
    const w = workDir();
    const { acct, dom } = ecKeys(w);
    return { w, args: ['--server', lab.directoryUrl, '-C', lab.challengeDir, '-c', w.certs, '-f', acct, '-k', dom] };
  };
  const names = (certs: string): string => new X509Certificate(readFileSync(join(certs, 'cert.pem'))).subjectAltName ?? '';

  /** A dns-01 hook: publish base64url(SHA-256(key authorization)) at _acme-challenge.<name>, echo the line. */
  const dnsHook = async (line: string): Promise<string> => {
    const [type, identifier, keyAuthorization] = line.split(' ');
    assert.equal(type, 'dns-01');
    const host = `_acme-challenge.${(identifier ?? '').replace(/^\*\./, '')}.`;
    const value = createHash('sha256').update(keyAuthorization ?? '').digest('base64url');
    const res = await fetch(`${lab.challtestsrvUrl}/set-txt`, { method: 'POST', body: JSON.stringify({ host, value }) });
    assert.equal(res.status, 200);
    return `${line}\n`;
  };

  test('-t dns-01: a hook on stdin/stdout gets example.test and *.example.test issued', async () => {
    const { w, args } = setup();
    const run = await runWithHook(['-t', 'dns-01', ...args.filter((a, i) => a !== '-C' && args[i - 1] !== '-C'), 'dns.example.test', '*.dns.example.test'], env(), dnsHook);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.lines.length, 2);
    for (const line of run.lines) assert.match(line, /^dns-01 (\*\.)?dns\.example\.test [A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(run.lines.map((l) => l.split(' ')[1]), ['dns.example.test', '*.dns.example.test'], 'command-line order');
    assert.equal(names(w.certs), 'DNS:dns.example.test, DNS:*.dns.example.test');
  });

  test('-t: a wrong echo is a token mismatch, EOF a short read; nothing is written', async () => {
    for (const [reply, message] of [['wrong line\n', '<stdin>: token mismatch'], [null, '<stdin>: short read']] as const) {
      const { w, args } = setup();
      const run = await runWithHook(['-t', 'dns-01', ...args, 'mismatch.example.test'], env(), async () => reply);
      assert.equal(run.status, 1);
      assert.match(run.stderr, new RegExp(`^acme-client: ${message.replace(/[<>]/g, '.')}$`, 'm'));
      assert.deepEqual(readdirSync(w.certs), []);
    }
  });

  // Would fail if the write's error event had no listener in chngproc: Node's stack trace for an
  // unhandled 'error' event, and no line of ours.
  test('-t: a caller that stops reading is one line, <stdout>: write EPIPE', async () => {
    const { w, args } = setup();
    const run = await new Promise<{ status: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [CLIENT, '-t', 'dns-01', ...args, 'epipe.example.test'],
        { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env() }, stdio: ['pipe', 'pipe', 'pipe'] });
      // The caller is gone before acme-client writes its first line.
      child.stdout.destroy();
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('error', reject);
      child.on('close', (status) => resolve({ status, stderr }));
    });
    assert.equal(run.status, 1);
    assert.deepEqual(run.stderr.split('\n').filter((line) => line !== ''), ['acme-client: <stdout>: write EPIPE'], run.stderr);
    assert.deepEqual(readdirSync(w.certs), []);
  });

  test('-t with a type the CA does not offer: <authorization url>: no <type> challenge', async () => {
    const { w, args } = setup();
    const run = await runWithHook(['-t', 'carrier-pigeon-01', ...args, 'pigeon.example.test'], env(), async (line) => `${line}\n`);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /^acme-client: https:\/\/127\.0\.0\.1:\d+\/authZ\/\S+: no carrier-pigeon-01 challenge$/m);
    assert.deepEqual(run.lines, []);
    assert.deepEqual(readdirSync(w.certs), []);
  });

  test('-m: per-name default directories are created (cert dir 0755, key dirs 0700) and used', async () => {
    const name = `m${process.pid}.example.test`;
    const dirs = [join('/etc/ssl/acme', name), join('/etc/ssl/acme/private', name), join('/etc/acme', name)];
    try {
      const run = await runClient(['-m', '-n', '-N', '--server', lab.directoryUrl, '-C', lab.challengeDir, name], { env: env() });
      assert.equal(run.status, 0, run.stderr);
      assert.deepEqual(dirs.map((d) => statSync(d).mode & 0o777), [0o755, 0o700, 0o700]);
      assert.ok(statSync(join(dirs[0] as string, 'cert.pem')).isFile());
      assert.equal(statSync(join(dirs[1] as string, 'privkey.pem')).mode & 0o777, 0o600);
      assert.equal(statSync(join(dirs[2] as string, 'privkey.pem')).mode & 0o777, 0o600);
    } finally {
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    }
  });

  test('-t: a trailing CR in the echo is tolerated', async () => {
    const { w, args } = setup();
    const run = await runWithHook(['-t', 'dns-01', ...args, 'crlf.example.test'], env(), async (line) => (await dnsHook(line)).replace('\n', '\r\n'));
    assert.equal(run.status, 0, run.stderr);
    assert.ok(statSync(join(w.certs, 'cert.pem')).isFile());
  });

  test('-r revokes at the CA and removes the files; again: no certificate found', async () => {
    const { w, args } = setup();
    assert.equal((await runClient([...args, 'revoke.example.test'], { env: env() })).status, 0);
    const serial = new X509Certificate(readFileSync(join(w.certs, 'cert.pem'))).serialNumber;
    assert.deepEqual(await lab.certStatus(serial).then((s) => (s as { Status: string }).Status), 'Valid');
    const saved = contents(w.certs);

    const revoke = await runClient(['-r', ...args, 'revoke.example.test'], { env: env() });
    assert.equal(revoke.status, 0, revoke.stderr);
    assert.deepEqual(readdirSync(w.certs), []);
    assert.equal(await lab.certStatus(serial).then((s) => (s as { Status: string }).Status), 'Revoked');

    const again = await runClient(['-r', ...args, 'revoke.example.test'], { env: env() });
    assert.equal(again.status, 1);
    assert.equal(again.stderr, `acme-client: ${join(w.certs, 'cert.pem')}: no certificate found\n`);

    // The CA already revoked it: a warning, the files still go, exit 0.
    for (const [f, text] of Object.entries(saved)) writeFileSync(join(w.certs, f), text);
    const already = await runClient(['-r', ...args, 'revoke.example.test'], { env: env() });
    assert.equal(already.status, 0, already.stderr);
    assert.match(already.stderr, /already revoked/);
    assert.deepEqual(readdirSync(w.certs), []);
  });

  // Would fail if -r still asked for the domain key or the challenge directory (the pre-flight's
  // "-k file must exist"), or with -N made a domain key: revoking after the key was deleted as
  // compromised is what -r is for. Neither keyproc nor chngproc has a part in a revocation.
  test('-r needs neither the domain key nor the challenge directory, and -N makes no key', async () => {
    const { w } = setup();
    const [acct, dom] = [join(w.priv, 'account.pem'), join(w.priv, 'domain.pem')];
    const issued = await runClient(['--server', lab.directoryUrl, '-C', lab.challengeDir, '-c', w.certs, '-f', acct, '-k', dom, 'nokey.example.test'], { env: env() });
    assert.equal(issued.status, 0, issued.stderr);
    const serial = new X509Certificate(readFileSync(join(w.certs, 'cert.pem'))).serialNumber;
    rmSync(dom);
    const gone = ['--server', lab.directoryUrl, '-C', join(w.dir, 'no-such-dir'), '-c', w.certs, '-f', acct, '-k', dom];
    const revoke = await runClient(['-r', ...gone, 'nokey.example.test'], { env: env() });
    assert.equal(revoke.status, 0, revoke.stderr);
    assert.equal(revoke.stderr, '');
    assert.equal(await lab.certStatus(serial).then((s) => (s as { Status: string }).Status), 'Revoked');
    assert.deepEqual(readdirSync(w.certs), []);
    // Again with -N, after a new issuance: the key is not made.
    makeKey(dom, 'ec-p256-sec1');
    assert.equal((await runClient(['--server', lab.directoryUrl, '-C', lab.challengeDir, '-c', w.certs, '-f', acct, '-k', dom, 'nokey.example.test'], { env: env() })).status, 0);
    rmSync(dom);
    const withN = await runClient(['-r', '-N', ...gone, 'nokey.example.test'], { env: env() });
    assert.equal(withN.status, 0, withN.stderr);
    assert.equal(existsSync(dom), false, '-r -N made a domain key');
  });

  test('-r refuses a certificate whose names differ from the command line', async () => {
    const { w, args } = setup();
    assert.equal((await runClient([...args, 'rname.example.test', 'www.rname.example.test'], { env: env() })).status, 0);
    const before = contents(w.certs);
    const run = await runClient(['-r', ...args, 'rname.example.test'], { env: env() });
    assert.equal(run.status, 1);
    assert.equal(run.stderr, `acme-client: ${join(w.certs, 'cert.pem')}: unknown SAN entry: www.rname.example.test\n`);
    assert.deepEqual(contents(w.certs), before);
  });

  test('-e adds names; without it a new name is refused; a dropped name is refused; case does not matter', async () => {
    const { w, args } = setup();
    const issued = await runClient([...args, 'e.example.test'], { env: env() });
    assert.equal(issued.status, 0, issued.stderr);
    const before = contents(w.certs);

    const noE = await runClient([...args, 'e.example.test', 'new.e.example.test'], { env: env() });
    assert.equal(noE.status, 1);
    assert.equal(noE.stderr, `acme-client: ${join(w.certs, 'cert.pem')}: domain not listed: new.e.example.test\n`);
    assert.deepEqual(contents(w.certs), before);

    const withE = await runClient(['-e', ...args, 'e.example.test', 'new.e.example.test'], { env: env() });
    assert.equal(withE.status, 0, withE.stderr);
    assert.equal(names(w.certs), 'DNS:e.example.test, DNS:new.e.example.test');

    const dropped = await runClient([...args, 'e.example.test'], { env: env() });
    assert.equal(dropped.status, 1);
    assert.equal(dropped.stderr, `acme-client: ${join(w.certs, 'cert.pem')}: unknown SAN entry: new.e.example.test\n`);

    const upper = await runClient([...args, 'E.Example.TEST', 'NEW.e.example.test'], { env: env() });
    assert.equal(upper.status, 2, upper.stderr);
  });

  // Would fail if -b copied instead of linking, backed up after replacing, overwrote a backup whose
  // epoch was taken (the second run lands in the first one's second), left half a set behind where
  // an epoch was partly taken, or did not move on to the next free number.
  test('-b hard-links the old files under one epoch before replacing; a run whose second is taken uses the next free number', async () => {
    const { w, args } = setup();
    assert.equal((await runClient([...args, 'b.example.test'], { env: env() })).status, 0);
    const first = contents(w.certs);
    const inode = statSync(join(w.certs, 'cert.pem')).ino;
    const one = await runClient(['-b', '-F', ...args, 'b.example.test'], { env: env() });
    assert.equal(one.status, 0, one.stderr);
    const backups = (): string[] => readdirSync(w.certs).filter((f) => /-\d+\.pem$/.test(f)).sort();
    const [firstEpoch, ...others] = [...new Set(backups().map((f) => f.replace(/^.*-(\d+)\.pem$/, '$1')))];
    assert.deepEqual(others, []);
    assert.deepEqual(backups(), ['cert', 'chain', 'fullchain'].map((f) => `${f}-${firstEpoch}.pem`));
    assert.equal(statSync(join(w.certs, `cert-${firstEpoch}.pem`)).ino, inode, 'a hard link, not a copy');
    assert.equal(readFileSync(join(w.certs, `fullchain-${firstEpoch}.pem`), 'utf8'), first['fullchain.pem']);
    const second = contents(w.certs);

    // Every second from the first run's to five minutes ahead is taken, as if the next run came in
    // the same second: by a chain-<epoch>.pem alone, so that each try links cert.pem, finds chain
    // taken, and must undo its link.
    const free = Math.floor(Date.now() / 1000) + 300;
    for (let epoch = Number(firstEpoch) + 1; epoch < free; epoch++) writeFileSync(join(w.certs, `chain-${epoch}.pem`), '');
    const two = await runClient(['-b', '-F', ...args, 'b.example.test'], { env: env() });
    assert.equal(two.status, 0, two.stderr);
    for (let epoch = Number(firstEpoch) + 1; epoch < free; epoch++) rmSync(join(w.certs, `chain-${epoch}.pem`));
    assert.deepEqual(backups(), ['cert', 'chain', 'fullchain'].flatMap((f) => [`${f}-${firstEpoch}.pem`, `${f}-${free}.pem`]).sort(),
      'the first set kept, the next one at the first free number, nothing left where an epoch was taken');
    for (const f of ['cert', 'chain', 'fullchain']) {
      assert.equal(readFileSync(join(w.certs, `${f}-${firstEpoch}.pem`), 'utf8'), first[`${f}.pem`]);
      assert.equal(readFileSync(join(w.certs, `${f}-${free}.pem`), 'utf8'), second[`${f}.pem`]);
    }
  });

  test('-O puts the TLS Feature (status_request) in the CSR sent to finalize, with a warning', async () => {
    const { w, args } = setup();
    const run = await runClient(['-O', '-vv', ...args, 'ocsp.example.test'], { env: env() });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /must-staple/);
    const finalize = run.stderr.split('\n').find((l) => l.includes('/finalize-order/') && l.includes('POST {'));
    assert.ok(finalize, 'the -vv trace shows the finalize request');
    const jws = JSON.parse(finalize.slice(finalize.indexOf('POST ') + 5)) as { payload: string };
    const { csr } = JSON.parse(Buffer.from(jws.payload, 'base64url').toString('utf8')) as { csr: string };
    const der = join(w.dir, 'csr.der');
    writeFileSync(der, Buffer.from(csr, 'base64url'));
    assert.match(openssl(['req', '-inform', 'DER', '-in', der, '-noout', '-text']), /TLS Feature:\s*\n\s*status_request/);
  });

  test('-a: a warning when it differs from the CA\'s terms of service, none when equal', async () => {
    const { args } = setup();
    const dir = await fetch(lab.directoryUrl).catch(() => null);
    assert.equal(dir, null, 'plain fetch does not trust Pebble (sanity)');
    const differ = await runClient(['-a', 'https://example.test/old-terms.pdf', ...args, 'tos.example.test'], { env: env() });
    assert.equal(differ.status, 0, differ.stderr);
    assert.match(differ.stderr, /^acme-client: https:\/\/example\.test\/old-terms\.pdf: differs from the CA's terms of service/m);
    const tos = /terms of service (\S+);/.exec(differ.stderr)?.[1] ?? '';
    const same = await runClient(['-F', '-a', tos, ...args, 'tos.example.test'], { env: env() });
    assert.equal(same.status, 0, same.stderr);
    assert.doesNotMatch(same.stderr, /terms of service/);
  });

  test('-v tells each step; -vv traces HTTP bodies but never a private key', async () => {
    const { w, args } = setup();
    const v = await runClient(['-v', ...args, 'verbose.example.test'], { env: env() });
    assert.equal(v.status, 0, v.stderr);
    for (const step of ['directory loaded', 'account', 'authorization valid', 'finalized', 'certificate downloaded', 'created']) {
      assert.match(v.stderr, new RegExp(step), step);
    }
    const vv = await runClient(['-vv', '-F', ...args, 'verbose.example.test'], { env: env() });
    assert.equal(vv.status, 0, vv.stderr);
    assert.match(vv.stderr, /POST \{"protected"/);
    assert.doesNotMatch(vv.stderr, /PRIVATE KEY/);
    for (const key of ['account.pem', 'domain.pem']) {
      const body = readFileSync(join(w.priv, key), 'utf8').split('\n').filter((l) => l && !l.startsWith('-----'));
      for (const line of body) assert.ok(!vv.stderr.includes(line), `a line of ${key} appears in the trace`);
    }
  });

  test('-N creates a domain key that cannot be read by others, and only when missing', async () => {
    const { w, args } = setup();
    const dom = join(w.priv, 'new-domain.pem');
    const withNew = args.map((a) => (a.endsWith('domain.pem') ? dom : a));
    const run = await runClient(['-N', ...withNew, 'newkey.example.test'], { env: env() });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(statSync(dom).mode & 0o777, 0o600);
    const key = readFileSync(dom, 'utf8');
    chmodSync(join(w.certs, 'cert.pem'), 0o444);
    copyFileSync(dom, join(w.dir, 'saved.pem'));
    const again = await runClient(['-N', '-F', ...withNew, 'newkey.example.test'], { env: env() });
    assert.equal(again.status, 0, again.stderr);
    assert.equal(readFileSync(dom, 'utf8'), key, 'an existing key is never replaced');
  });
});

// Today's lifetimes (Let's Encrypt's 6-day shortlived and 45-day tlsserver profiles): with --no-ari
// the run after an issuance decides on the lifetime alone, has nothing to do and asks the CA nothing.
for (const days of [6, 45]) {
  describe(`renewal of a ${days}-day certificate`, { skip }, () => {
    let lab: Lab;
    before(async () => {
      lab = await startLab({ certificateValidityPeriod: days * 86400 });
    });
    after(async () => {
      await lab?.stop();
    });

    test('issued, then the next run exits 2 without a request to the CA, saying why', async () => {
      const w = workDir();
      const { acct, dom } = ecKeys(w);
      const args = ['-v', '--server', lab.directoryUrl, '-C', lab.challengeDir, '-c', w.certs, '-f', acct, '-k', dom, `short${days}.example.test`];
      const env = { SSL_CERT_FILE: lab.tlsCaFile };
      const first = await runClient(args, { env });
      assert.equal(first.status, 0, first.stderr);
      const requests = lab.requestCount();
      const second = await runClient(['--no-ari', ...args], { env });
      assert.equal(second.status, 2, second.stderr);
      assert.equal(lab.requestCount(), requests, 'nothing sent to the CA');
      assert.match(second.stderr, new RegExp(`cert\\.pem: certificate valid: ${days - 1} days left`));
    });
  });
}
