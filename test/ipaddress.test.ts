// IP address identifiers (RFC 8738) end to end against Pebble: 127.0.0.1 and ::1 validated over
// http-01 by nginx listening on both loopback addresses, the CSR and certificate carrying them as
// iPAddress names, and certproc comparing them in canonical form.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, labUnavailable, startLab } from '../scripts/pebble-lab.js';
import { ecKeys, needsRootAndLab, runClient, runWithHook, workDir } from './helpers.js';

const skip = needsRootAndLab(labUnavailable);

describe('IP address identifiers against Pebble', { skip }, () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab({ ipv6: true });
  });
  after(async () => {
    await lab?.stop();
  });
  const env = (): NodeJS.ProcessEnv => ({ NODE_EXTRA_CA_CERTS: lab.tlsCaFile });
  const setup = (): { w: ReturnType<typeof workDir>; args: string[] } => {
    const w = workDir();
    const { acct, dom } = ecKeys(w);
    return { w, args: ['--server', lab.directoryUrl, '-c', w.certs, '-f', acct, '-k', dom] };
  };
  const leaf = (certs: string): X509Certificate => new X509Certificate(readFileSync(join(certs, 'cert.pem')));

  test('127.0.0.1 and ::1 (written long-hand) issue as iPAddress names; the next run, spelt another way, has nothing to do', async () => {
    const { w, args } = setup();
    const first = await runClient([...args, '-C', lab.challengeDir, '127.0.0.1', '0:0:0:0:0:0:0:1', 'ip.example.test'], { env: env() });
    assert.equal(first.status, 0, first.stderr);
    const cert = leaf(w.certs);
    // Pebble lists the DNS names first, whatever the order asked for.
    assert.deepEqual(cert.subjectAltName?.split(', ').sort(), ['DNS:ip.example.test', 'IP Address:0:0:0:0:0:0:0:1', 'IP Address:127.0.0.1']);
    assert.doesNotMatch(cert.subject, /CN=(127\.0\.0\.1|::1)/);
    assert.deepEqual(readdirSync(lab.challengeDir), []);

    // --no-ari: the addresses are matched on this machine, with no renewal window to ask Pebble for.
    const requests = lab.requestCount();
    const second = await runClient(['--no-ari', ...args, '-C', lab.challengeDir, '127.0.0.1', '::1', 'IP.example.test'], { env: env() });
    assert.equal(second.status, 2, second.stderr);
    assert.equal(lab.requestCount(), requests, 'certproc matched the addresses without asking the CA');
  });

  test('-t http-01: the caller is asked for 127.0.0.1 by its address', async () => {
    const { w, args } = setup();
    const run = await runWithHook(['-t', 'http-01', ...args, '127.0.0.1'], env(), async (line) => {
      const [, , keyAuthorization] = line.split(' ');
      writeFileSync(join(lab.challengeDir, (keyAuthorization ?? '').split('.')[0] ?? ''), keyAuthorization ?? '');
      return `${line}\n`;
    });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.lines.length, 1);
    assert.match(run.lines[0] ?? '', /^http-01 127\.0\.0\.1 [A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    assert.equal(leaf(w.certs).subjectAltName, 'IP Address:127.0.0.1');
  });
});
