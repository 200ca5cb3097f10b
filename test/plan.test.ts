// How the parent plans each child's confinement, including on machines that lack a layer.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Capabilities, childCommand, nodeInJail, permissionFlagOf, planChild, probeCapabilities, resolveUser } from '../src/isolation.js';
import { Failure } from '../src/log.js';
import { parseCommandLine } from '../src/args.js';
import { resolvePaths } from '../src/defaults.js';
import { planAll, roleConfigs } from '../src/parent/plans.js';
import { CLIENT, NOBODY, ecKeys, nobodyHasNoUserNamespaces, prerequisite, workDir } from './helpers.js';

const nobody = { name: 'nobody', uid: 65534, gid: 65534 };
const full: Capabilities = { root: true, userns: false, permissionFlag: '--experimental-permission', netns: true, jail: true, parentDeathSignal: true, missing: [] };
const none: Capabilities = { root: true, userns: false, permissionFlag: null, netns: false, jail: false, parentDeathSignal: false, missing: ['a', 'b'] };
const keyNeeds = { reads: ['/etc/acme/privkey.pem'], writes: [], root: false, jailDir: null };
const dirNeeds = { reads: ['/var/www/acme'], writes: ['/var/www/acme'], root: true, jailDir: '/var/www/acme' };

test('with every layer: netproc keeps the network, others get a namespace, root roles a jail', () => {
  assert.deepEqual(planChild('netproc', { reads: [], writes: [], root: false, jailDir: null }, nobody, full),
    { role: 'netproc', drop: nobody, invoker: null, network: 'host', jail: null, reads: [], writes: [], missing: [] });
  const acct = planChild('acctproc', keyNeeds, nobody, full);
  assert.equal(acct.network, 'none');
  assert.deepEqual(acct.drop, nobody);
  const chng = planChild('chngproc', dirNeeds, nobody, full);
  assert.equal(chng.drop, null);
  assert.equal(chng.jail, '/var/www/acme');
});

test('without the layers the plan says what is missing, and still runs', () => {
  const chng = planChild('chngproc', dirNeeds, nobody, none);
  assert.deepEqual(chng.missing, ['file allow-list', 'network namespace', 'mount namespace jail']);
  assert.equal(chng.network, 'host');
  assert.equal(chng.jail, null);
  const cmd = childCommand(chng, [], '/x/chngproc.js', ['{}', '{}'], none, null);
  assert.deepEqual(cmd, { file: process.execPath, args: ['/x/chngproc.js', '{}', '{}'] });
});

test('the command line carries the allow-list, one flag per path', () => {
  const acct = planChild('acctproc', { ...keyNeeds, writes: ['/etc/acme/privkey.pem'] }, nobody, full);
  const cmd = childCommand(acct, [], '/x/acctproc.js', ['{}'], full, null);
  // setpriv first: the kernel's SIGTERM on the parent's death covers the child from its start.
  assert.equal(cmd.file, '/usr/bin/setpriv');
  assert.deepEqual(cmd.args, ['--pdeathsig', 'TERM', '--', '/usr/bin/unshare', '--net', '--', process.execPath, '--experimental-permission', '--allow-fs-read=/x/acctproc.js',
    '--allow-fs-read=/x/acctproc.bundle.js', '--allow-fs-read=/x/acctproc.bundle.cache', '--disable-warning=ExperimentalWarning', '--allow-fs-read=/etc/acme/privkey.pem', '--allow-fs-write=/etc/acme/privkey.pem', '/x/acctproc.js', '{}']);
});

test('resolveUser: numeric ids, root refused, unknown refused', () => {
  assert.deepEqual(resolveUser('1234:5678'), { name: '1234:5678', uid: 1234, gid: 5678 });
  assert.deepEqual(resolveUser('nobody'), { name: 'nobody', uid: 65534, gid: 65534 });
  assert.throws(() => resolveUser('0'), (e: unknown) => e instanceof Failure && e.problem === 'children must not run as root');
  assert.throws(() => resolveUser('no-such-user-here'), (e: unknown) => e instanceof Failure && e.problem === 'no such user');
  assert.equal(resolveUser(undefined).uid !== 0, true);
});

test('the jail: the one directory is writable; /, /usr, /dev and the code directory are not', {
  skip: prerequisite(process.getuid?.() !== 0 ? 'needs root (mount namespaces)' : (await probeCapabilities()).jail ? false : 'no mount namespaces here'),
}, () => tryTheJail({ ...full, permissionFlag: null }));

// Would fail if a Node outside /usr (a release unpacked in a directory of its own) were bound with
// its directory, or could not run in the jail when bound alone (the jail's shell makes the file's
// directory and an empty file to bind it on).
test('the jail of a Node binary outside /usr: the binary alone is bound, and runs', {
  skip: prerequisite(process.getuid?.() !== 0 ? 'needs root (mount namespaces, a bind mount of node)' : !existsSync('/var/tmp') ? 'no /var/tmp'
    : (await probeCapabilities()).jail ? false : 'no mount namespaces here'),
}, () => {
  const dir = mkdtempSync('/var/tmp/acme-client-node-');
  try {
    withNodeAt(join(dir, 'node'), (node) => {
      assert.equal(nodeInJail(node), node);
      tryTheJail({ ...full, permissionFlag: null }, undefined, node);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// Would fail if the jail could not be built in the child's own user namespace (a mount the kernel
// refuses there, as it refuses a read-only remount of the tmpfs itself), or left a way out.
test('the jail, started by a user who is not root: the same, built in a user namespace of its own', {
  skip: prerequisite(process.getuid?.() !== 0 ? 'needs root (to run the jail as nobody)' : nobodyHasNoUserNamespaces()),
}, () => tryTheJail({ ...full, root: false, userns: true, permissionFlag: null }, NOBODY));

// Would fail if a Node binary outside /usr made the jail bind a directory around it (the host's
// root, a home directory, a PREFIX with npm's configuration) read-only into itself, where other
// files of the host would be readable again; or bind a place the jail makes itself (its bin and
// lib links, /dev).
test('the jail binds /usr, or a Node binary elsewhere alone, never a directory around it', () => {
  assert.equal(nodeInJail('/usr/bin/node'), '/usr');
  assert.equal(nodeInJail('/usr/local/bin/node'), '/usr');
  for (const real of ['/opt/node-v20.20.2/bin/node', '/home/ops/.nvm/versions/node/v20.20.2/bin/node', '/home/ops/bin/node', '/root/.local/bin/node', '/opt/node', '/node']) {
    assert.equal(nodeInJail(real), real, real);
  }
  for (const [real, top] of [['/bin/node', '/bin'], ['/lib/x/node', '/lib'], ['/lib64/node', '/lib64'], ['/dev/shm/node', '/dev'], ['/proc/1/root/node', '/proc']]) {
    assert.throws(() => nodeInJail(real as string), (e: unknown) => e instanceof Failure && e.subject === real && e.problem.startsWith(`Node's binary cannot be taken into a jail from ${top}:`), real);
  }
});

// Would fail if the refusal came as the first jailed child is spawned, with netproc and certproc
// running already (the run then stalled until its deadline), or said more than one line.
test('a Node binary no jail can take in: one line, exit 1, before any child starts', {
  skip: prerequisite(process.getuid?.() !== 0 ? 'needs root (a bind mount of node)' : !existsSync('/dev/shm') ? 'no /dev/shm'
    : (await probeCapabilities()).jail ? false : 'no mount namespaces here'),
}, () => {
  // This Node, seen at a path under /dev, which a jail makes itself.
  withNodeAt(`/dev/shm/acme-client-node-${process.pid}`, (node) => {
    const w = workDir();
    const { acct, dom } = ecKeys(w);
    const run = spawnSync(node, [CLIENT, '--server', 'https://127.0.0.1:9/dir', '--timeout', '1', '--poll-timeout', '1', '-C', w.www, '-c', w.certs, '-f', acct, '-k', dom, 'jail.example.test'],
      { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' }, timeout: 30_000 });
    assert.equal(run.stderr, `acme-client: ${node}: Node's binary cannot be taken into a jail from /dev: install Node under /usr, or in a directory of its own such as /opt/node\n`);
    assert.equal(run.status, 1);
  });
});

/** `body` given this Node's binary bind-mounted at `path`, on an empty file made there and removed after. */
function withNodeAt(path: string, body: (node: string) => void): void {
  writeFileSync(path, '', { flag: 'wx' });
  try {
    execFileSync('mount', ['--bind', process.execPath, path]);
    try {
      body(path);
    } finally {
      execFileSync('umount', ['--lazy', path]);
    }
  } finally {
    rmSync(path, { force: true });
  }
}

/** A stand-in child started under a fileproc's plan with `caps`, as root or as `user`. */
function tryTheJail(caps: Capabilities, user?: { uid: number; gid: number }, node?: string): void {
  const top = mkdtempSync(join(tmpdir(), 'acme-client-jailtest-'));
  try {
    // Names that fstab(5) must carry escaped (the jail's bind mounts are one such table).
    const [code, work, root] = ['code #1\v', 'work \\ dir\t2\nx y none bind 0 0', 'root'].map((d) => join(top, d)) as [string, string, string];
    for (const d of [code, work, root]) mkdirSync(d);
    // Stands in for a child: tries to create a file in each place and says which it could. A
    // jail that failed would let it write the host's /usr: what it made outside work/ it removes.
    const script = join(code, 'probe.js');
    writeFileSync(script, `const fs = require('fs');
const places = ${JSON.stringify(['/x', '/usr/x', '/dev/x', join(code, 'x'), join(work, 'x')])};
const made = places.filter((p) => { try { fs.writeFileSync(p, '', { flag: 'wx' }); return true; } catch { return false; } });
for (const p of made) if (p !== ${JSON.stringify(join(work, 'x'))}) fs.unlinkSync(p);
const devices = ['/dev/null', '/dev/urandom'].every((d) => fs.statSync(d).isCharacterDevice());
process.stdout.write(JSON.stringify({ made, devices }));
`);
    writeFileSync(join(code, 'package.json'), '{ "type": "commonjs" }\n');
    if (user !== undefined) {
      chmodSync(top, 0o755);
      for (const d of [code, work, root]) chownSync(d, user.uid, user.gid);
    }
    const plan = planChild('fileproc', { reads: [work], writes: [work], root: true, jailDir: work }, caps.root ? nobody : null, caps);
    let run;
    if (node === undefined) {
      const cmd = childCommand(plan, [], script, [], caps, root);
      run = spawnSync(cmd.file, cmd.args, { encoding: 'utf8', ...user });
    } else {
      // Another Node binary's path: the command is made by a parent that runs as that Node.
      const parent = join(top, 'parent.mjs');
      writeFileSync(parent, `import { spawnSync } from 'node:child_process';
import { childCommand } from ${JSON.stringify(new URL('../src/isolation.js', import.meta.url).href)};
const cmd = childCommand(${JSON.stringify(plan)}, [], ${JSON.stringify(script)}, [], ${JSON.stringify(caps)}, ${JSON.stringify(root)});
process.exitCode = spawnSync(cmd.file, cmd.args, { stdio: 'inherit' }).status ?? 1;
`);
      run = spawnSync(node, [parent], { encoding: 'utf8', ...user });
    }
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), { made: [join(work, 'x')], devices: true });
    assert.deepEqual(readdirSync(work), ['x'], 'the one directory is the real one');
    assert.deepEqual(readdirSync(root), [], 'the jail left nothing on the host');
  } finally {
    rmSync(top, { recursive: true, force: true });
  }
}

// Would fail if a child of a user who is not root were started outside a user namespace (unshare
// would then refuse it the network namespace), or if setpriv came before unshare, where the move
// into the namespace would clear its parent-death signal and give back the capabilities it dropped.
test('not root: unshare --user first, then setpriv inside drops every capability; netproc keeps the network', () => {
  const caps: Capabilities = { ...full, root: false, userns: true };
  const acct = planChild('acctproc', keyNeeds, null, caps);
  assert.equal(acct.drop, null);
  assert.deepEqual(acct.invoker, { uid: process.getuid?.(), userns: true });
  const node = [process.execPath, '--experimental-permission', '--allow-fs-read=/x/acctproc.js', '--allow-fs-read=/x/acctproc.bundle.js', '--allow-fs-read=/x/acctproc.bundle.cache',
    '--disable-warning=ExperimentalWarning', '--allow-fs-read=/etc/acme/privkey.pem', '/x/acctproc.js', '{}'];
  const setpriv = ['/usr/bin/setpriv', '--pdeathsig', 'TERM', '--bounding-set', '-all', '--inh-caps', '-all', '--no-new-privs', '--'];
  assert.deepEqual(childCommand(acct, [], '/x/acctproc.js', ['{}'], caps, null), { file: '/usr/bin/unshare', args: ['--user', '--map-root-user', '--net', '--', ...setpriv, ...node] });
  const net = childCommand(planChild('netproc', { reads: [], writes: [], root: false, jailDir: null }, null, caps), [], '/x/netproc.js', [], { ...caps, permissionFlag: null }, null);
  assert.deepEqual(net, { file: '/usr/bin/unshare', args: ['--user', '--map-root-user', '--', ...setpriv, process.execPath, '/x/netproc.js'] });
});

// Would fail if, without user namespaces, a plan claimed the namespaces it cannot have, or a
// child were started through an unshare that the kernel refuses it.
test('not root, without user namespaces: the plan lacks them, and setpriv alone starts the child', () => {
  const caps: Capabilities = { ...full, root: false, userns: false, netns: false, jail: false };
  const chng = planChild('chngproc', dirNeeds, null, caps);
  assert.deepEqual(chng.missing, ['user namespace', 'network namespace', 'mount namespace jail']);
  assert.deepEqual(childCommand(chng, [], '/x/chngproc.js', [], { ...caps, permissionFlag: null }, null),
    { file: '/usr/bin/setpriv', args: ['--pdeathsig', 'TERM', '--no-new-privs', '--', process.execPath, '/x/chngproc.js'] });
});

// Would fail if the probe's setpriv call were wrong (every child would then start without the
// parent-death signal) or if a setpriv without --pdeathsig were taken for one that has it.
test('the probe finds setpriv with --pdeathsig here (util-linux 2.33 and later)', { skip: prerequisite(process.platform !== 'linux' ? 'Linux only' : false) }, async () => {
  assert.equal((await probeCapabilities()).parentDeathSignal, true);
});

test('the permission model\'s flag follows the Node version, and this Node knows the one it gives', () => {
  assert.equal(permissionFlagOf('18.20.4'), null);
  assert.equal(permissionFlagOf('20.20.2'), '--experimental-permission');
  assert.equal(permissionFlagOf('22.12.0'), '--experimental-permission');
  assert.equal(permissionFlagOf('22.13.0'), '--permission');
  assert.equal(permissionFlagOf('23.4.0'), '--experimental-permission');
  assert.equal(permissionFlagOf('23.5.0'), '--permission');
  assert.equal(permissionFlagOf('24.11.1'), '--permission');
  const flag = permissionFlagOf(process.versions.node);
  assert.ok(flag !== null && process.allowedNodeEnvironmentFlags.has(flag), `${process.version} takes ${flag}`);
});

// Would fail if acctproc were allowed the account URL file in a run that makes the key (it opens
// none then), or not allowed it in a run that reads one (it could keep no URL).
test('acctproc may open the account URL file beside a key it reads, not beside one it makes', () => {
  const opts = parseCommandLine(['-f', '/etc/acme/a.pem', 'example.org']);
  const paths = resolvePaths(opts, 'example.org');
  for (const create of [false, true]) {
    const configs = roleConfigs(opts, ['example.org'], paths, 'https://ca.example.test/dir', { createAccountKey: create, createDomainKey: false });
    const acct = planAll(opts, paths, configs, nobody, full).acctproc;
    const file = '/etc/acme/a.pem.account.json';
    assert.deepEqual([acct.reads.includes(file), acct.writes.includes(file)], [!create, !create], `create: ${create}`);
    assert.equal(acct.writes.includes('/etc/acme/a.pem'), create);
  }
});
