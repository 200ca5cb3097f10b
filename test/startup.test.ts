// How a run starts, which decides what the nightly "nothing to do" and an issuance cost: the
// no-op loads no yargs; when work is certain the children start at once yet send nothing to the
// CA before certproc's verdict; the children needed last start at a lower priority.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, childrenOf, ecKeys, isRoot, runClient, runWithHook, snapshot, workDir } from './helpers.js';
import { Lab, labUnavailable, startLab } from '../scripts/pebble-lab.js';

const skip = !isRoot ? 'needs root (acme-client must be run as root)' : labUnavailable();

/** A copy of dist/ without the yargs chunk: what a run can do that never loads yargs. */
function distWithoutYargs(): { client: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'acme-client-noyargs-'));
  cpSync(join(ROOT, 'dist'), dir, { recursive: true });
  assert.deepEqual(readdirSync(join(dir, 'chunks')), ['yargs.js']);
  rmSync(join(dir, 'chunks', 'yargs.js'));
  return { client: join(dir, 'acme-client.js'), dir };
}

/** Field 19 of /proc/<pid>/stat: the nice value. */
function niceOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

describe('start-up', { skip }, () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab();
  });
  after(async () => {
    await lab?.stop();
  });

  test('the nightly no-op runs without yargs; a run with work needs it', async () => {
    const w = workDir();
    const { acct, dom } = ecKeys(w);
    const env = { NODE_EXTRA_CA_CERTS: lab.tlsCaFile };
    const args = ['--server', lab.directoryUrl, '-C', lab.challengeDir, '-c', w.certs, '-f', acct, '-k', dom, 'noyargs.example.test'];
    assert.equal((await runClient(args, { env })).status, 0);
    const issued = snapshot(w.certs);
    const copy = distWithoutYargs();
    try {
      const requests = lab.requestCount();
      const noop = await runClient(args, { env, client: copy.client });
      assert.equal(noop.stderr, '');
      assert.equal(noop.status, 2);
      assert.equal(lab.requestCount(), requests, 'nothing sent to the CA');
      // The control: with work to do the same copy fails for want of yargs, and touches nothing.
      const forced = await runClient(['-F', ...args], { env, client: copy.client });
      assert.equal(forced.status, 1);
      assert.match(forced.stderr, /yargs/);
      assert.deepEqual(snapshot(w.certs), issued);
    } finally {
      rmSync(copy.dir, { recursive: true, force: true });
    }
  });

  test('-r without a certificate: children started before certproc\'s verdict send nothing to the CA', async () => {
    const w = workDir();
    const { acct, dom } = ecKeys(w);
    const requests = lab.requestCount();
    const run = await runClient(['--server', lab.directoryUrl, '-C', lab.challengeDir, '-c', w.certs, '-f', acct, '-k', dom, '-r', 'absent.example.test'],
      { env: { NODE_EXTRA_CA_CERTS: lab.tlsCaFile } });
    assert.equal(run.stderr, `acme-client: ${join(w.certs, 'cert.pem')}: no certificate found\n`);
    assert.equal(run.status, 1);
    assert.equal(lab.requestCount(), requests);
    assert.deepEqual(readdirSync(w.certs), []);
  });

  test('keyproc and fileproc start at a lower priority than the conversation; each child has one V8 helper thread', async () => {
    const w = workDir();
    const { acct, dom } = ecKeys(w);
    let nice = new Map<string, number>();
    let flags = new Map<string, boolean>();
    // At the first -t line every child is alive: look, then end the run with EOF.
    const run = await runWithHook(['--server', lab.directoryUrl, '-t', 'dns-01', '-c', w.certs, '-f', acct, '-k', dom, 'nice.example.test'],
      { NODE_EXTRA_CA_CERTS: lab.tlsCaFile }, async (_line, pid) => {
        const children = [...childrenOf(pid)];
        nice = new Map(children.map(([role, child]) => [role, niceOf(child)]));
        flags = new Map(children.map(([role, child]) => [role, readFileSync(`/proc/${child}/cmdline`, 'utf8').split('\0').includes('--v8-pool-size=1')]));
        return null;
      });
    assert.equal(run.status, 1);
    assert.deepEqual(Object.fromEntries([...nice].sort()),
      { acctproc: 0, certproc: 0, chngproc: 0, fileproc: 10, keyproc: 10, netproc: 0 });
    assert.deepEqual([...flags.values()], [true, true, true, true, true, true]);
  });
});
