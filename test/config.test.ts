// acme-client --config: OpenBSD's acme-client.conf(5) run end to end against a real Pebble, with
// configurations in the style of OpenBSD's etc/examples/acme-client.conf: several authorities,
// several domains, macros, every domain one after another on one nightly line.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey, randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { AddressInfo, Socket, createServer } from 'node:net';
import { join } from 'node:path';
import { Lab, labUnavailable, startLab } from '../scripts/pebble-lab.js';
import { CLIENT, needsRootAndLab, openssl, runClient, workDir } from './helpers.js';

const skip = needsRootAndLab(labUnavailable);

type Work = ReturnType<typeof workDir>;

/** Two authorities (one account RSA, made by OpenBSD's default, one ECDSA) on the same Pebble, two domains, macros. */
function openbsdStyle(lab: Lab, w: Work, extra = ''): string {
  return `#
# acme-client.conf in the style of OpenBSD's /etc/examples/acme-client.conf
#
api_url="${lab.directoryUrl}"
priv="${w.priv}"
ssl="${w.certs}"
acme="${lab.challengeDir}"

authority pebble {
\tapi url $api_url
\taccount key $priv/pebble-privkey.pem
\tcontact "mailto:hostmaster@example.test"
}

authority pebble-ecdsa {
\tapi url $api_url
\taccount key $priv/pebble-ecdsa-privkey.pem ecdsa
}
${extra}
domain one.example.test {
\talternative names { www.one.example.test, \\
\t\tstatic.one.example.test }
\tdomain key $priv/one.example.test.key
\tdomain certificate $ssl/one.example.test.crt
\tdomain full chain certificate "one.example.test.fullchain.pem"
\tsign with pebble
\tchallengedir $acme
}

domain two {
\tdomain name two.example.test
\tdomain key $priv/two.example.test.key ecdsa
\tdomain full chain certificate $ssl/two.example.test.fullchain.pem
\tdomain chain certificate $ssl/two.example.test.chain.pem
\tsign with pebble-ecdsa
\tchallengedir $acme
}
`;
}

function serial(path: string): string {
  return new X509Certificate(readFileSync(path)).serialNumber;
}

describe('acme-client --config against Pebble', { skip }, () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab();
  });
  after(async () => {
    await lab?.stop();
  });
  const env = (): NodeJS.ProcessEnv => ({ NODE_EXTRA_CA_CERTS: lab.tlsCaFile });

  test('every domain block on one line: keys made as OpenBSD makes them, the files the blocks name; then 2; -F on one handle renews that one alone', async () => {
    const w = workDir();
    const conf = join(w.dir, 'acme-client.conf');
    writeFileSync(conf, openbsdStyle(lab, w));

    const first = await runClient(['--config', conf], { env: env() });
    assert.equal(first.status, 0, first.stderr);
    assert.equal(first.stdout, '');
    assert.deepEqual(readdirSync(w.certs).sort(), [
      'one.example.test.crt', 'one.example.test.crt.acme-client-state.json', 'one.example.test.fullchain.pem',
      'two.example.test.chain.pem', 'two.example.test.fullchain.pem', 'two.example.test.fullchain.pem.acme-client-state.json',
    ]);
    // Missing keys are made as OpenBSD makes them: rsa is RSA of 4096 bits, ecdsa is P-384.
    const kinds = Object.fromEntries(readdirSync(w.priv).map((name) => {
      const key = createPrivateKey(readFileSync(join(w.priv, name)));
      assert.equal(statSync(join(w.priv, name)).mode & 0o777, 0o600, name);
      return [name, `${key.asymmetricKeyType} ${key.asymmetricKeyDetails?.modulusLength ?? key.asymmetricKeyDetails?.namedCurve}`];
    }));
    assert.deepEqual(kinds, {
      'pebble-privkey.pem': 'rsa 4096', 'pebble-ecdsa-privkey.pem': 'ec secp384r1',
      'one.example.test.key': 'rsa 4096', 'two.example.test.key': 'ec secp384r1',
    });

    const one = readFileSync(join(w.certs, 'one.example.test.crt'), 'utf8');
    const oneFull = readFileSync(join(w.certs, 'one.example.test.fullchain.pem'), 'utf8');
    assert.equal(one.match(/BEGIN CERTIFICATE/g)?.length, 1);
    assert.ok(oneFull.startsWith(one) && oneFull.length > one.length, 'the full chain is the certificate then the chain');
    assert.equal(new X509Certificate(one).subjectAltName, 'DNS:one.example.test, DNS:www.one.example.test, DNS:static.one.example.test');
    const twoFull = readFileSync(join(w.certs, 'two.example.test.fullchain.pem'), 'utf8');
    const twoChain = readFileSync(join(w.certs, 'two.example.test.chain.pem'), 'utf8');
    assert.ok(twoFull.endsWith(twoChain) && twoFull.length > twoChain.length);
    const twoLeaf = new X509Certificate(twoFull);
    assert.equal(twoLeaf.subjectAltName, 'DNS:two.example.test');
    assert.equal(twoLeaf.publicKey.asymmetricKeyDetails?.namedCurve, 'secp384r1');
    const roots = join(w.dir, 'issuers.pem');
    writeFileSync(roots, await lab.issuerPems());
    assert.match(openssl(['verify', '-CAfile', roots, '-untrusted', join(w.certs, 'two.example.test.chain.pem'), join(w.certs, 'two.example.test.fullchain.pem')]), /: OK/);

    // The nightly no-op: nothing changed anywhere, exit 2, nothing said.
    const second = await runClient(['--config', conf], { env: env() });
    assert.equal(second.status, 2, second.stderr);
    assert.equal(second.stderr, '');

    // A handle picks its block alone; -F as OpenBSD's.
    const oneSerial = serial(join(w.certs, 'one.example.test.crt'));
    const twoSerial = serial(join(w.certs, 'two.example.test.fullchain.pem'));
    const forced = await runClient(['--config', conf, '-F', 'two'], { env: env() });
    assert.equal(forced.status, 0, forced.stderr);
    assert.match(forced.stderr, /two\.example\.test\.fullchain\.pem: forcing renewal/);
    assert.equal(serial(join(w.certs, 'one.example.test.crt')), oneSerial);
    assert.notEqual(serial(join(w.certs, 'two.example.test.fullchain.pem')), twoSerial);

    // A chain file that no longer goes with its full chain (a run killed between two renames) is renewed.
    writeFileSync(join(w.certs, 'two.example.test.chain.pem'), one);
    const mended = await runClient(['--config', conf, 'two'], { env: env() });
    assert.equal(mended.status, 0, mended.stderr);
    assert.match(mended.stderr, /two\.example\.test\.chain\.pem, two\.example\.test\.fullchain\.pem do not match, renewing/);
    assert.ok(readFileSync(join(w.certs, 'two.example.test.fullchain.pem'), 'utf8').endsWith(readFileSync(join(w.certs, 'two.example.test.chain.pem'), 'utf8')));
  });

  test('a failing domain: the others still run, its line names it, exit 1; exit 1 even when others changed', async () => {
    const w = workDir();
    const conf = join(w.dir, 'acme-client.conf');
    // First in the file: a domain whose challenge directory no web server serves.
    const unserved = `
domain broken.example.test {
\tdomain key $priv/broken.key
\tdomain certificate $ssl/broken.crt
\tchallengedir "${w.www}"
}
`;
    writeFileSync(conf, openbsdStyle(lab, w, unserved));
    const first = await runClient(['--config', conf], { env: env() });
    assert.equal(first.status, 1, first.stderr);
    assert.match(first.stderr, /^acme-client: broken\.example\.test: failed$/m);
    assert.doesNotMatch(first.stderr, /^acme-client: (one\.example\.test|two): failed$/m);
    assert.equal(existsSync(join(w.certs, 'broken.crt')), false);
    assert.ok(statSync(join(w.certs, 'one.example.test.crt')).isFile(), 'the domains after the failing one ran');
    assert.ok(statSync(join(w.certs, 'two.example.test.fullchain.pem')).isFile());

    // Without the broken block's handle: exit 2, nothing to do.
    const good = await runClient(['--config', conf, 'one.example.test', 'two'], { env: env() });
    assert.equal(good.status, 2, good.stderr);
    // All of them, the good ones renewed: still 1, since one failed.
    const forced = await runClient(['--config', conf, '-F'], { env: env() });
    assert.equal(forced.status, 1, forced.stderr);
    assert.match(forced.stderr, /^acme-client: broken\.example\.test: failed$/m);
    assert.equal(forced.stderr.match(/: forcing renewal$/gm)?.length, 2);
  });

  test('a name dropped from a block renews its certificate, as OpenBSD; -r revokes it and removes the files the block names', async () => {
    const w = workDir();
    const conf = join(w.dir, 'acme-client.conf');
    writeFileSync(conf, openbsdStyle(lab, w));
    const first = await runClient(['--config', conf, 'one.example.test'], { env: env() });
    assert.equal(first.status, 0, first.stderr);
    writeFileSync(conf, openbsdStyle(lab, w).replace(', \\\n\t\tstatic.one.example.test }', ' }'));
    const dropped = await runClient(['--config', conf, 'one.example.test'], { env: env() });
    assert.equal(dropped.status, 0, dropped.stderr);
    assert.match(dropped.stderr, /one\.example\.test\.crt: domain list changed \(static\.one\.example\.test dropped\), forcing renewal/);
    assert.equal(new X509Certificate(readFileSync(join(w.certs, 'one.example.test.crt'))).subjectAltName, 'DNS:one.example.test, DNS:www.one.example.test');

    const leaf = serial(join(w.certs, 'one.example.test.crt'));
    // A revocation needs neither the domain key nor the challenge directory, and makes no key
    // (where a run that issues makes the missing ones, as OpenBSD).
    const domainKey = join(w.priv, 'one.example.test.key');
    rmSync(domainKey);
    writeFileSync(conf, openbsdStyle(lab, w).replace(', \\\n\t\tstatic.one.example.test }', ' }').replace(`acme="${lab.challengeDir}"`, `acme="${join(w.dir, 'no-such-dir')}"`));
    const revoked = await runClient(['--config', conf, '-r', 'one.example.test'], { env: env() });
    assert.equal(revoked.status, 0, revoked.stderr);
    assert.equal(revoked.stderr, '');
    assert.deepEqual(readdirSync(w.certs), []);
    assert.equal(existsSync(domainKey), false);
    assert.equal((await lab.certStatus(leaf) as { Status?: string }).Status, 'Revoked');
  });

  test('SIGTERM during one domain stops it and every one after it: exit 1, each named', async () => {
    const w = workDir();
    const conf = join(w.dir, 'acme-client.conf');
    // A CA that takes the connection and never answers holds the first domain's run in flight.
    const held: Socket[] = [];
    const silent = createServer((socket) => held.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const connected = once(silent, 'connection');
    const port = (silent.address() as AddressInfo).port;
    writeFileSync(conf, openbsdStyle(lab, w, `
authority silent {
\tapi url "https://127.0.0.1:${port}/dir"
\taccount key $priv/silent.pem
}

domain first.example.test {
\tdomain key $priv/first.key
\tdomain full chain certificate $ssl/first.pem
\tsign with silent
\tchallengedir $acme
}
`));
    try {
      const child = spawn(process.execPath, [CLIENT, '--config', conf], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env() }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const closed = once(child, 'close');
      await connected;
      child.kill('SIGTERM');
      const [status] = await closed as [number | null];
      assert.equal(status, 1, stderr);
      assert.match(stderr, /^acme-client: acme-client: stopped by SIGTERM$/m);
      assert.match(stderr, /^acme-client: first\.example\.test: failed$/m);
      assert.match(stderr, /^acme-client: one\.example\.test: not run: stopped by SIGTERM$/m);
      assert.match(stderr, /^acme-client: two: not run: stopped by SIGTERM$/m);
      assert.deepEqual(readdirSync(w.certs), []);
    } finally {
      for (const socket of held) socket.destroy();
      silent.close();
    }
  });

  test('-n checks and prints the configuration, asks the CA nothing, makes no key; an unknown handle and a bad file are refused with their place', async () => {
    const w = workDir();
    const conf = join(w.dir, 'acme-client.conf');
    writeFileSync(conf, openbsdStyle(lab, w));
    const requests = lab.requestCount();
    const check = await runClient(['--config', conf, '-n'], { env: env() });
    assert.equal(check.status, 0, check.stderr);
    assert.match(check.stdout, /^authority pebble \{\n\tapi url "https:\/\/127\.0\.0\.1:\d+\/dir"\n\taccount key "[^"]+\/pebble-privkey\.pem" rsa\n\tcontact "mailto:hostmaster@example\.test"\n\}\n/);
    assert.match(check.stdout, /\ndomain two \{\n\tdomain name "two\.example\.test"\n\tdomain key "[^"]+\/two\.example\.test\.key" ecdsa\n/);
    assert.equal(lab.requestCount(), requests);
    assert.deepEqual(readdirSync(w.priv), []);

    const unknown = await runClient(['--config', conf, 'three'], { env: env() });
    assert.equal(unknown.status, 1);
    assert.equal(unknown.stderr, `acme-client: ${conf}: domain three not found\n`);

    writeFileSync(conf, `${openbsdStyle(lab, w)}\ndomain three {\n\tsign with nowhere\n}\n`);
    const bad = await runClient(['--config', conf, '-n'], { env: env() });
    assert.equal(bad.status, 1);
    const lines = openbsdStyle(lab, w).split('\n').length;
    assert.equal(bad.stderr, `acme-client: ${conf}:${lines + 2}: sign with: unknown authority\n` +
      `acme-client: ${conf}:${lines + 1}: no domain key file specified for domain three\n`);
    assert.equal(bad.stdout, '');
  });
});

describe('acme-client --config -e keyid:key, against a Pebble that requires External Account Binding', { skip }, () => {
  const kid = 'kid-conf';
  const macKey = randomBytes(32).toString('base64url');
  let lab: Lab;
  before(async () => {
    lab = await startLab({ externalAccountMACKeys: { [kid]: macKey } });
  });
  after(async () => {
    await lab?.stop();
  });

  test('the binding makes the account, the domain is issued; without it the CA refuses and the domain is named; once made, no -e is needed', async () => {
    const w = workDir();
    const conf = join(w.dir, 'acme-client.conf');
    writeFileSync(conf, `authority eab {\n\tapi url "${lab.directoryUrl}"\n\taccount key "${w.priv}/eab.pem" ecdsa\n}\n` +
      `domain eab.example.test {\n\tdomain key "${w.priv}/eab.example.test.key" ecdsa\n\tdomain full chain certificate "${w.certs}/eab.pem"\n` +
      `\tchallengedir "${lab.challengeDir}"\n}\n`);
    const env = { NODE_EXTRA_CA_CERTS: lab.tlsCaFile };
    const without = await runClient(['--config', conf], { env });
    assert.equal(without.status, 1);
    assert.match(without.stderr, /^acme-client: eab\.example\.test: failed$/m);
    const run = await runClient(['--config', conf, '-e', `${kid}:${macKey}`], { env });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(new X509Certificate(readFileSync(join(w.certs, 'eab.pem'))).subjectAltName, 'DNS:eab.example.test');
    // The account made, later runs need no -e: the man page tells to give it to the first run alone.
    const later = await runClient(['--config', conf, '-F'], { env });
    assert.equal(later.status, 0, later.stderr);
  });
});
