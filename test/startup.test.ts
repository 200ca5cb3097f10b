// How a run starts, which decides what the nightly "nothing to do" and an issuance cost: the no-op
// starts certproc alone; when work is certain the children start at once, netproc first, which
// fetches the directory at once yet signs nothing before certproc's verdict, and the others in the
// background.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { getPriority } from 'node:os';
import { join } from 'node:path';
import { childrenOf, childrenStarted, ecKeys, needsRootAndLab, procStat, runClient, runWithHook, workDir } from './helpers.js';
import { Lab, labUnavailable, startLab } from '../scripts/pebble-lab.js';

const skip = needsRootAndLab(labUnavailable);

/** The child whose plan -v printed first: the first started. */
const firstStarted = (stderr: string): string | undefined => /^acme-client: (\w+): user .*; network /m.exec(stderr)?.[1];

/** A process's nice value, or undefined once it is gone. */
const niceOf = (pid: number): number | undefined => {
  const nice = procStat(pid)?.[16];
  return nice === undefined ? undefined : Number(nice);
};

describe('start-up', { skip }, () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab();
  });
  after(async () => {
    await lab?.stop();
  });

  test('the nightly no-op starts certproc alone and asks the CA nothing (--no-ari), or certproc, netproc and fileproc to ask the window; -v shows the plan of each child that starts', async () => {
    const w = workDir();
    const { acct, dom } = ecKeys(w);
    const env = { SSL_CERT_FILE: lab.tlsCaFile };
    const args = ['-v', '--server', lab.directoryUrl, '-C', lab.challengeDir, '-c', w.certs, '-f', acct, '-k', dom, 'noop.example.test'];
    const first = await runClient(args, { env });
    assert.equal(first.status, 0, first.stderr);
    assert.deepEqual(childrenStarted(first.stderr), ['acctproc', 'certproc', 'chngproc', 'fileproc', 'keyproc', 'netproc']);
    // No cert.pem: work is certain, and netproc starts first, to send the first request while the others start.
    assert.equal(firstStarted(first.stderr), 'netproc');
    const requests = lab.requestCount();
    const noop = await runClient(['--no-ari', ...args], { env });
    assert.equal(noop.status, 2, noop.stderr);
    assert.deepEqual(childrenStarted(noop.stderr), ['certproc']);
    assert.equal(lab.requestCount(), requests, 'nothing sent to the CA');
    // Pebble publishes renewal information: asking it reads no key.
    const asking = await runClient(args, { env });
    assert.equal(asking.status, 2, asking.stderr);
    assert.deepEqual(childrenStarted(asking.stderr), ['certproc', 'fileproc', 'netproc']);
    assert.equal(firstStarted(asking.stderr), 'certproc');
    assert.equal(lab.requestCount(), requests + 2, 'the directory and the renewal information');
  });

  test('sure of work, every child but netproc starts in the background, at nice 10', async () => {
    const w = workDir();
    const { acct, dom } = ecKeys(w);
    const own = getPriority();
    let seen: Record<string, number | undefined> = {};
    const run = await runWithHook(['-t', 'dns-01', '--server', lab.directoryUrl, '-c', w.certs, '-f', acct, '-k', dom, 'nice.example.test'], { SSL_CERT_FILE: lab.tlsCaFile }, async (_line, pid) => {
      seen = { parent: niceOf(pid), ...Object.fromEntries([...childrenOf(pid)].map(([role, child]) => [role, niceOf(child)])) };
      return null; // the challenge is not published: the run ends there
    });
    assert.equal(run.status, 1, run.stderr);
    // keyproc ends once it has handed over the CSR, which may be before the first line.
    const { keyproc, ...lasting } = seen;
    assert.deepEqual(lasting, { parent: own, netproc: own, certproc: 10, acctproc: 10, chngproc: 10, fileproc: 10 });
    if (keyproc !== undefined) assert.equal(keyproc, 10);
  });

  test('-r without a certificate: children started before certproc\'s verdict send the CA nothing but the directory GET', async () => {
    const w = workDir();
    const { acct, dom } = ecKeys(w);
    const requests = lab.requests().length;
    const run = await runClient(['--server', lab.directoryUrl, '-C', lab.challengeDir, '-c', w.certs, '-f', acct, '-k', dom, '-r', 'absent.example.test'],
      { env: { NODE_EXTRA_CA_CERTS: lab.tlsCaFile } });
    assert.equal(run.stderr, `acme-client: ${join(w.certs, 'cert.pem')}: no certificate found\n`);
    assert.equal(run.status, 1);
    // netproc starts first and fetches the directory at once (it may be stopped before it has);
    // nothing signed goes before certproc's verdict.
    assert.deepEqual(lab.requests().slice(requests).filter((r) => !(r.method === 'GET' && r.path === '/dir')), []);
    assert.deepEqual(readdirSync(w.certs), []);
  });
});
