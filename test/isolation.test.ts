// Every boundary of the design card, tried from inside a confined child. The breakout hook exists
// only in the test build (build/breakout-dist/): each child, once confined, attempts what its role
// must never do and reports the outcome; every attempt must fail.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer, Server, Socket } from 'node:net';
import { once } from 'node:events';
import { lstatSync, readFileSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { FrameDecoder, encodeFrame } from '../src/ipc/frame.js';
import { join } from 'node:path';
import { NOBODY, ROOT, childrenOf, nobodyHasNoUserNamespaces, ecKeys, eventually, isRoot, ownedBy, prerequisite, makeKey, openssl, readableCopy, runWithHook, workDir, procStat } from './helpers.js';
import { Lab, labUnavailable, startLab } from '../scripts/pebble-lab.js';
import { DEFAULT_CERT_FILES } from '../src/defaults.js';

const BREAKOUT_CLIENT = join(ROOT, 'build', 'breakout-dist', 'acme-client.js');
const rootOnly = prerequisite(isRoot ? false : 'needs root: children drop from root to an unprivileged user');

test('the shipped bundles carry no breakout hook', () => {
  const files = readdirSync(join(ROOT, 'dist'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js'));
  assert.ok(files.includes('acme-client.bundle.js') && files.includes(join('procs', 'netproc.bundle.js')), 'every bundle is looked at');
  for (const file of files) assert.doesNotMatch(readFileSync(join(ROOT, 'dist', file), 'utf8'), /ACME_CLIENT_BREAKOUT|breakout/, file);
  assert.match(readFileSync(join(ROOT, 'build', 'breakout-dist', 'procs', 'netproc.bundle.js'), 'utf8'), /ACME_CLIENT_BREAKOUT/);
});

describe('breakout attempts from confined children', { skip: rootOnly }, () => {
  let server: Server;
  let port = 0;
  const held: Socket[] = [];
  before(async () => {
    // A CA that takes the connection and never answers: netproc waits, and every other child
    // runs its attempts (a CA that failed at once would have the parent stop them first).
    server = createServer((s) => held.push(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  after(() => {
    for (const s of held) s.destroy();
    server?.close();
  });

  test('every forbidden action fails, in every child', () => tryEveryBreakout(port));
});

// Would fail if a child started as a user who is not root lost a layer that its role's breakouts
// meet: the network namespace (acctproc's connect), the jail (chngproc's and fileproc's writes,
// which that user's own files would otherwise allow), or the allow-list (netproc's key reads).
describe('breakout attempts from confined children, run as a user who is not root', { skip: rootOnly || prerequisite(nobodyHasNoUserNamespaces()) }, () => {
  let server: Server;
  let port = 0;
  const held: Socket[] = [];
  before(async () => {
    server = createServer((s) => held.push(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  after(() => {
    for (const s of held) s.destroy();
    server?.close();
  });

  test('every forbidden action fails, in every child, though the user owns every file', () => tryEveryBreakout(port, NOBODY));
});

/** Runs the breakout build against a CA that never answers (on `port`), as root or as `user`. */
async function tryEveryBreakout(port: number, user?: { uid: number; gid: number }): Promise<void> {
  {
    const w = workDir();
    const { acct: accountKey, dom: domainKey } = ecKeys(w);
    const victim = join(w.dir, 'victim');
    writeFileSync(victim, 'original\n');
    symlinkSync(victim, join(w.www, 'planted'));
    if (user !== undefined) ownedBy(w, user);
    const targets = { accountKey, domainKey, certDir: w.certs, challengeDir: w.www, outside: victim, symlink: join(w.www, 'planted'), port };
    const expected = [
      'netproc read account key', 'netproc read domain key', 'netproc read /etc/shadow', 'netproc write cert dir',
      'acctproc connect to loopback', 'keyproc read account key',
      'chngproc write outside challenge dir', 'chngproc write through planted symlink',
      'certproc write cert dir', 'certproc write outside', 'fileproc write outside cert dir', 'fileproc open outside cert dir',
      ...['netproc', 'acctproc', 'keyproc', 'chngproc', 'certproc', 'fileproc'].map((r) => `${r} spawn /bin/sh`),
    ];
    // Not spawnSync: the loopback server above lives in this process and must keep answering.
    const run = spawn(process.execPath, [BREAKOUT_CLIENT, '--server', `https://127.0.0.1:${port}/dir`, '-c', w.certs, '-C', w.www, '-f', accountKey, '-k', domainKey, 'breakout.example.test'],
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ACME_CLIENT_BREAKOUT: JSON.stringify(targets) }, stdio: ['ignore', 'ignore', 'pipe'], ...user });
    let stderr = '';
    const lines = (): string[] => stderr.split('\n').filter((l) => l.startsWith('breakout '));
    const reported = (): boolean => expected.every((what) => lines().some((l) => l.startsWith(`breakout ${what}:`)));
    run.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (reported()) run.kill('SIGTERM');
    });
    await once(run, 'close');
    for (const what of expected) {
      const line = lines().find((l) => l.startsWith(`breakout ${what}:`));
      assert.ok(line, `no attempt reported for "${what}"\n${stderr}`);
      assert.match(line, /: failed \(/, line);
    }
    assert.deepEqual(lines().filter((l) => !/: failed \(/.test(l)), []);
    assert.equal(readFileSync(victim, 'utf8'), 'original\n');
    assert.deepEqual(readdirSync(w.certs), []);
    assert.equal(readlinkSync(join(w.www, 'planted')), victim);
  }
}

function status(pid: number, field: string): string {
  return new RegExp(`^${field}:[ \\t]*(.*)$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '';
}

/** Whether the process has stopped (state T), waiting for it a bounded while. */
function stopped(pid: number): Promise<boolean> {
  return eventually(() => procStat(pid)?.[0] === 'T');
}

/** Opens /proc/<pid>/mem as nobody, the way a compromised same-uid sibling would. */
function readMemAsNobody(pid: number): string {
  const probe = spawnSync(process.execPath, ['-e', `try { require('fs').openSync('/proc/${pid}/mem', 'r'); console.log('OPENED') } catch (e) { console.log(e.code) }`],
    { uid: 65534, gid: 65534, encoding: 'utf8' });
  return probe.stdout.trim();
}

describe('users, namespaces and memory of the running children', { skip: rootOnly || prerequisite(labUnavailable()) }, () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab();
  });
  after(async () => {
    await lab?.stop();
  });

  test('unprivileged children run as nobody with no groups, are non-dumpable, and only netproc has the network', async () => {
    const w = workDir();
    const { acct, dom } = ecKeys(w);
    // The control: a process merely running as nobody can have its memory opened by another.
    const control = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { uid: 65534, gid: 65534, stdio: 'ignore' });
    try {
      assert.equal(readMemAsNobody(control.pid as number), 'OPENED', 'control: a same-uid process that did not drop in-process is readable');
      let tree = new Map<string, number>();
      const uids = new Map<string, string>();
      const groups = new Map<string, string>();
      const mem = new Map<string, string>();
      const netns = new Map<string, boolean>();
      const mine = readlinkSync('/proc/self/ns/net');
      // keyproc ends once its request is sent: the test build stops it once confined (and the
      // other children's attempts all fail, as the test above checks), so that it is there to look at.
      const hook = { accountKey: acct, domainKey: dom, certDir: w.certs, challengeDir: w.www, outside: join(w.dir, 'outside'), symlink: join(w.www, 'none'), port: 9, stop: 'keyproc' };
      // At the first -t line every other child is alive and confined: look, then end the run with EOF.
      // --user nobody: the control is nobody, whatever users this machine has (_acme-client comes first).
      const run = await runWithHook(['--server', lab.directoryUrl, '--user', 'nobody', '-t', 'dns-01', '-c', w.certs, '-f', acct, '-k', dom, 'tree.example.test'],
        { NODE_EXTRA_CA_CERTS: lab.tlsCaFile, ACME_CLIENT_BREAKOUT: JSON.stringify(hook) }, async (_line, pid) => {
          tree = childrenOf(pid);
          const keyproc = tree.get('keyproc');
          assert.ok(keyproc !== undefined, 'keyproc is stopped, not gone');
          try {
            assert.equal(await stopped(keyproc), true, 'keyproc stopped itself once confined');
            for (const [role, child] of tree) {
              uids.set(role, status(child, 'Uid').split(/\s+/).join(' '));
              groups.set(role, status(child, 'Groups'));
              netns.set(role, readlinkSync(`/proc/${child}/ns/net`) === mine);
              mem.set(role, readMemAsNobody(child));
            }
            process.kill(keyproc, 'SIGCONT');
          } catch (err) {
            // A stopped keyproc would outlive the failed test, its key in memory.
            process.kill(keyproc, 'SIGKILL');
            throw err;
          }
          return null;
        }, BREAKOUT_CLIENT);
      assert.equal(run.status, 1);
      assert.match(run.stderr, /<stdin>: short read/);
      assert.deepEqual([...tree.keys()].sort(), ['acctproc', 'certproc', 'chngproc', 'fileproc', 'keyproc', 'netproc']);
      for (const role of ['netproc', 'acctproc', 'keyproc', 'certproc', 'chngproc']) {
        assert.equal(uids.get(role), '65534 65534 65534 65534', `${role} uid (real, effective, saved, fs)`);
        assert.equal(groups.get(role), '', `${role} has no supplementary groups`);
        assert.notEqual(mem.get(role), 'OPENED', `${role}'s memory must not be readable by a same-uid sibling`);
      }
      assert.equal(uids.get('fileproc'), '0 0 0 0', 'fileproc stays root to write the cert dir (jailed)');
      assert.equal(netns.get('netproc'), true, 'netproc has the host network');
      for (const role of ['acctproc', 'keyproc', 'certproc', 'chngproc', 'fileproc']) assert.equal(netns.get(role), false, `${role} has its own network namespace`);
    } finally {
      control.kill();
    }
  });
});

/**
 * Opens /proc/<pid>/mem as nobody, in a user namespace of its own (as every child started by a
 * user who is not root is) or in nobody's own (as they are where the kernel refuses that).
 */
function readMemAsChild(pid: number, ownUserNamespace: boolean): string {
  const read = [process.execPath, '-e', `try { require('fs').openSync('/proc/${pid}/mem', 'r'); console.log('OPENED') } catch (e) { console.log(e.code) }`];
  const probe = spawnSync(ownUserNamespace ? '/usr/bin/unshare' : read[0] as string, ownUserNamespace ? ['--user', '--map-root-user', '--', ...read] : read.slice(1),
    { uid: 65534, gid: 65534, encoding: 'utf8' });
  return probe.stdout.trim();
}

describe('namespaces and memory of the running children, run as a user who is not root', { skip: rootOnly || prerequisite(labUnavailable()) || prerequisite(nobodyHasNoUserNamespaces()) }, () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab();
  });
  after(async () => {
    await lab?.stop();
  });

  // Would fail if a child shared the parent's user namespace, or another child's (a sibling
  // could then open its memory, as the control shows a process of the same user outside one
  // can), if a child kept the capabilities its namespace gave it, or if a child but netproc had
  // the host's network.
  test('each child has a user namespace of its own, which keeps its siblings out of its memory; only netproc has the network', async () => {
    const w = workDir();
    const { acct, dom } = ecKeys(w);
    const ca = readableCopy(lab.tlsCaFile, w, NOBODY);
    ownedBy(w, NOBODY);
    let tree = new Map<string, number>();
    const userns = new Map<string, string>();
    const netns = new Map<string, boolean>();
    const fromSibling = new Map<string, string>();
    const fromOutside = new Map<string, string>();
    const capabilities = new Map<string, string>();
    const hook = { accountKey: acct, domainKey: dom, certDir: w.certs, challengeDir: w.www, outside: join(w.dir, 'outside'), symlink: join(w.www, 'none'), port: 9, stop: 'keyproc' };
    const run = await runWithHook(['--server', lab.directoryUrl, '-t', 'dns-01', '-c', w.certs, '-f', acct, '-k', dom, 'tree.example.test'],
      { NODE_EXTRA_CA_CERTS: ca, ACME_CLIENT_BREAKOUT: JSON.stringify(hook) }, async (_line, pid) => {
        tree = childrenOf(pid);
        const keyproc = tree.get('keyproc');
        assert.ok(keyproc !== undefined, 'keyproc is stopped, not gone');
        try {
          assert.equal(await stopped(keyproc), true, 'keyproc stopped itself once confined');
          for (const [role, child] of tree) {
            userns.set(role, readlinkSync(`/proc/${child}/ns/user`));
            netns.set(role, readlinkSync(`/proc/${child}/ns/net`) === readlinkSync('/proc/self/ns/net'));
            fromSibling.set(role, readMemAsChild(child, true));
            fromOutside.set(role, readMemAsChild(child, false));
            capabilities.set(role, ['CapPrm', 'CapEff', 'CapBnd'].map((field) => status(child, field)).join(' '));
          }
          process.kill(keyproc, 'SIGCONT');
        } catch (err) {
          process.kill(keyproc, 'SIGKILL');
          throw err;
        }
        return null;
      }, BREAKOUT_CLIENT, NOBODY);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /<stdin>: short read/);
    const roles = ['acctproc', 'certproc', 'chngproc', 'fileproc', 'keyproc', 'netproc'];
    assert.deepEqual([...tree.keys()].sort(), roles);
    const mine = readlinkSync('/proc/self/ns/user');
    assert.equal(new Set([mine, ...userns.values()]).size, roles.length + 1, 'six user namespaces, none the parent\'s, none shared');
    for (const role of roles) {
      // Root of its user namespace, it must hold nothing there: else a jailed child could chroot out.
      assert.equal(capabilities.get(role), '0000000000000000 0000000000000000 0000000000000000', `${role} holds no capability`);
      assert.equal(fromOutside.get(role), 'OPENED', `control: a process of the same user outside any user namespace opens ${role}'s memory`);
      assert.notEqual(fromSibling.get(role), 'OPENED', `${role}'s memory must not be readable from another child's position`);
    }
    assert.equal(netns.get('netproc'), true, 'netproc has the host network');
    for (const role of roles.filter((r) => r !== 'netproc')) assert.equal(netns.get(role), false, `${role} has its own network namespace`);
  });
});

/** Starts one child from dist/ on its own, with the test playing its peer on fd 3. */
function startChild(role: string, config: unknown): { child: ReturnType<typeof spawn>; peer: Duplex; next: () => Promise<unknown> } {
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'procs', `${role}.js`), JSON.stringify(config), JSON.stringify({ drop: null, report: false })],
    { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] }); // fd 4: the lifeline
  const peer = child.stdio[3] as Duplex;
  const decoder = new FrameDecoder();
  const inbox: unknown[] = [];
  const waiting: ((m: unknown) => void)[] = [];
  peer.on('data', (chunk: Buffer) => {
    for (const m of decoder.push(chunk)) (waiting.shift() ?? ((x: unknown) => inbox.push(x)))(m);
  });
  const next = (): Promise<unknown> => (inbox.length > 0 ? Promise.resolve(inbox.shift()) : new Promise((r) => waiting.push(r)));
  return { child, peer, next };
}

const exited = (child: ReturnType<typeof spawn>): Promise<number | null> =>
  child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((r) => child.once('exit', (code) => r(code)));

describe('planted symlinks are replaced, never followed', () => {
  test('chngproc: a symlink named like the token', async () => {
    const w = workDir();
    const victim = join(w.dir, 'passwd');
    writeFileSync(victim, 'root:x:0:0::/root:/bin/sh\n');
    const token = 'TOKEN_planted-0123456789';
    symlinkSync(victim, join(w.www, token));
    const keyAuthorization = `${token}.${'A'.repeat(43)}`;
    const { child, peer, next } = startChild('chngproc', { challengeDir: w.www, challengeType: 'http-01', verbose: 0 });
    peer.write(encodeFrame({ op: 'challenge', id: 7, identifier: 'x.example.test', token, keyAuthorization }));
    assert.deepEqual(await next(), { op: 'ack', id: 7 });
    const published = lstatSync(join(w.www, token));
    assert.ok(published.isFile() && !published.isSymbolicLink());
    assert.equal(readFileSync(join(w.www, token), 'utf8'), keyAuthorization);
    assert.equal(readFileSync(victim, 'utf8'), 'root:x:0:0::/root:/bin/sh\n');
    peer.end();
    assert.equal(await exited(child), 0);
    assert.deepEqual(readdirSync(w.www), [], 'removed at the end');
    assert.equal(readFileSync(victim, 'utf8'), 'root:x:0:0::/root:/bin/sh\n');
  });

  test('fileproc: symlinks named cert.pem, cert.pem~ and chain.pem', async () => {
    const w = workDir();
    const victim = join(w.dir, 'passwd');
    writeFileSync(victim, 'root:x:0:0::/root:/bin/sh\n');
    for (const name of ['cert.pem', 'cert.pem~', 'chain.pem']) symlinkSync(victim, join(w.certs, name));
    const key = join(w.dir, 'k.pem');
    makeKey(key, 'ec-p256-sec1');
    const pem = (cn: string): string => openssl(['req', '-x509', '-new', '-key', key, '-subj', `/CN=${cn}`, '-days', '1']);
    const [cert, chain] = [pem('leaf.example.test'), pem('issuer')];
    const { child, peer } = startChild('fileproc', { certDir: w.certs, files: DEFAULT_CERT_FILES, backup: false, dated: false, keep: 0, verbose: 0 });
    peer.write(encodeFrame({ op: 'install', cert, chain }));
    assert.equal(await exited(child), 2, 'changed');
    for (const name of ['cert.pem', 'chain.pem', 'fullchain.pem']) {
      const st = lstatSync(join(w.certs, name));
      assert.ok(st.isFile() && !st.isSymbolicLink(), name);
    }
    assert.equal(readFileSync(join(w.certs, 'fullchain.pem'), 'utf8'), cert + chain);
    assert.equal(readFileSync(victim, 'utf8'), 'root:x:0:0::/root:/bin/sh\n');
    assert.equal(readlinkSync(join(w.certs, 'cert.pem~')), victim, 'an unrelated planted link is left alone');
  });
});
