// Issue 12 against a real Pebble: the key types -n and -N make, the CA's API trusted through
// --ca-file, contacts, preferred chains (Pebble with two alternate roots).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, labUnavailable, startLab } from '../scripts/pebble-lab.js';
import { needsRootAndLab, runClient, workDir } from './helpers.js';
import { KEY_TYPES, keyDescription } from '../src/x509/keys.js';

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
});
