// certbot's account key (a JSON Web Key file, accounts/<server>/directory/<id>/private_key.json) as
// -f, against Pebble: the account it made is the one the run uses, and the file is never rewritten.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, labUnavailable, startLab } from '../scripts/pebble-lab.js';
import { ISSUED_SET, ecKeys, needsRootAndLab, runClient, snapshot, workDir } from './helpers.js';

const skip = needsRootAndLab(labUnavailable);

describe('certbot\'s JSON Web Key account key as -f, against Pebble', { skip }, () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab();
  });
  after(async () => {
    await lab?.stop();
  });
  const env = (): NodeJS.ProcessEnv => ({ NODE_EXTRA_CA_CERTS: lab.tlsCaFile });

  /** An account made with the PEM key, and the same key as certbot writes it, beside it. */
  const accountMadeElsewhere = async (name: string): Promise<{ w: ReturnType<typeof workDir>; dom: string; jwkFile: string; base: string[] }> => {
    const w = workDir();
    const { acct, dom } = ecKeys(w);
    const base = ['-v', '--server', lab.directoryUrl, '-C', lab.challengeDir, '-c', w.certs, '-k', dom];
    const first = await runClient([...base, '-f', acct, name], { env: env() });
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stderr, /: account created$/m);
    const jwkFile = join(w.priv, 'private_key.json');
    writeFileSync(jwkFile, JSON.stringify(createPrivateKey(readFileSync(acct, 'utf8')).export({ format: 'jwk' })), { mode: 0o600 });
    return { w, dom, jwkFile, base };
  };

  // Would fail if -f read PEM only (the run fails on the JSON), or if the key were read otherwise
  // than as the same key (the CA would make a new account: "account created").
  test('a JSON Web Key -f finds the account the same key made: "account exists", renewed, the file untouched', async () => {
    const { w, jwkFile, base } = await accountMadeElsewhere('certbot-key.example.test');
    const before = snapshot(w.priv);
    const run = await runClient(['-F', ...base, '-f', jwkFile, 'certbot-key.example.test'], { env: env() });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /: account exists$/m);
    assert.doesNotMatch(run.stderr, /account created/);
    assert.deepEqual(readdirSync(w.certs).sort(), ISSUED_SET);
    assert.deepEqual(snapshot(w.priv), before, 'the key files as they were');
  });

  // Would fail if a rollover replaced certbot's file with a PEM one (and kept the JSON as .old).
  test('--rollover-account-key from a JSON Web Key -f: refused in one line, the file and the account unchanged', async () => {
    const { w, jwkFile } = await accountMadeElsewhere('certbot-rollover.example.test');
    const before = snapshot(w.priv);
    const run = await runClient(['-n', '--rollover-account-key', join(w.priv, 'new.pem'), '--server', lab.directoryUrl, '-f', jwkFile], { env: env() });
    assert.equal(run.status, 1, run.stderr);
    assert.equal(run.stderr, `acme-client: ${jwkFile}: a JSON Web Key account key is not replaced: roll over from a PEM copy of it (-f)\n`);
    const after = snapshot(w.priv);
    // -n made the new key before acctproc read the old one; nothing else changed.
    delete after['new.pem'];
    assert.deepEqual(after, before);
  });
});
