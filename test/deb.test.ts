// The Debian package of `npm run deb` (scripts/deb.mjs): what it holds, lintian's verdict, and the
// whole life of it on this machine as the README gives it: `apt-get install ./acme-client_*.deb`,
// one issuance from Pebble by the installed /usr/bin/acme-client, `dpkg -r`, `dpkg -P`, and then
// every file and account as they were before.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { labUnavailable, startLab } from '../scripts/pebble-lab.js';
import { ISSUED_SET, ROOT, RunResult, childrenStarted, ecKeys, isRoot, outcome, prerequisite, workDir } from './helpers.js';

const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
const COMMANDS = ['acme-client', 'acme-client-dns01', 'acme-client-server'];
const ROLES = ['acctproc', 'certproc', 'chngproc', 'fileproc', 'keyproc', 'netproc'];
/** The README's directories and modes, which the postinst makes when they are missing. */
const DIRECTORIES: [string, number][] = [
  ['/etc/acme', 0o700], ['/etc/ssl/acme', 0o755], ['/etc/ssl/acme/private', 0o700], ['/var/www/acme', 0o755], ['/etc/acme-client', 0o700],
];
const aptEnv = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };

/** dpkg's state of the package: installed, config-files, ..., or not-installed when it knows none. */
function packageState(): string {
  const query = spawnSync('dpkg-query', ['-W', '-f', '${db:Status-Status}', 'acme-client'], { encoding: 'utf8' });
  return query.status === 0 ? query.stdout : 'not-installed';
}

function have(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** Why the package cannot be installed here, if it cannot; nodejs must be a dpkg package for Depends. */
function installUnavailable(): string | undefined {
  if (!isRoot) return 'needs root to install a package';
  const nodejs = spawnSync('dpkg-query', ['-W', '-f', '${Status} ${Version}', 'nodejs'], { encoding: 'utf8' });
  const [want, , state, nodejsVersion = ''] = nodejs.stdout.split(' ');
  if (nodejs.status !== 0 || want !== 'install' || state !== 'installed') return 'Node.js is not installed as Debian\'s nodejs package here: Depends: nodejs (>= 20) cannot be met';
  if (spawnSync('dpkg', ['--compare-versions', nodejsVersion, 'ge', '20']).status !== 0) return `the nodejs package here is ${nodejsVersion}, older than 20`;
  // The purge would remove them: this test leaves an administrator's own alone.
  if (packageState() !== 'not-installed') return `a package acme-client is on this machine already (${packageState()})`;
  if (spawnSync('getent', ['passwd', '_acme-client'], { stdio: 'ignore' }).status === 0) return 'a user _acme-client exists already, which the purge would remove';
  return labUnavailable();
}

/**
 * Every path under the trees the package and its scripts write to, and the accounts. The shadow
 * tools' backups of the account files (passwd- ...) are left out: any useradd makes them.
 */
function machineFiles(): string[] {
  const found = execFileSync('find', ['/usr', '/etc', '/var/www', '/var/lib', '-xdev',
    '(', '-path', '/var/lib/apt', '-o', '-path', '/var/lib/dpkg', '-o', '-path', '/var/lib/man-db', '-o', '-path', '/var/lib/systemd', ')', '-prune', '-o', '-print'],
  { encoding: 'utf8', maxBuffer: 256 << 20 }).split('\n');
  const dpkgInfo = readdirSync('/var/lib/dpkg/info').map((f) => join('/var/lib/dpkg/info', f));
  const accounts = ['/etc/passwd', '/etc/group', '/etc/shadow', '/etc/gshadow']
    .flatMap((file) => readFileSync(file, 'utf8').split('\n').filter((line) => line.startsWith('_acme-client:')).map((line) => `${file}: ${line.split(':')[0]}`));
  return [...found, ...dpkgInfo, ...accounts].filter((f) => f !== '' && !/^\/etc\/(passwd|group|shadow|gshadow)-$/.test(f)).sort();
}

/** Whether anything, a dangling link included, has this name. */
function lstatExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The installed command itself, as a shell starts it: its #! line finds the system's node. */
function runInstalled(args: string[], env: NodeJS.ProcessEnv): Promise<RunResult> {
  return outcome(spawn(`/usr/bin/${COMMANDS[0]}`, args, { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
}

describe('npm run deb: the Debian package', () => {
  const out = mkdtempSync(join(tmpdir(), 'acme-client-deb-test-'));
  let deb = '';
  before(() => {
    deb = execFileSync(process.execPath, [join(ROOT, 'scripts', 'deb.mjs'), out], { encoding: 'utf8' }).trim();
  });
  after(() => rmSync(out, { recursive: true, force: true }));

  // Would fail if a command, a child, a manual or a unit were left out, if /usr/bin held copies
  // instead of links to the loaders (a loader finds its bundle beside itself), or if Depends lost nodejs.
  test('acme-client_<version>_all.deb: Depends on nodejs (>= 20); dist/ under /usr/lib/acme-client, the commands in /usr/bin, the manuals, the units', () => {
    assert.equal(basename(deb), `acme-client_${version}_all.deb`);
    const field = (name: string): string => execFileSync('dpkg-deb', ['-f', deb, name], { encoding: 'utf8' }).trim();
    assert.equal(field('Package'), 'acme-client');
    assert.equal(field('Version'), version);
    assert.equal(field('Architecture'), 'all');
    assert.match(field('Depends'), /(^|, )nodejs \(>= 20\)(,|$)/);
    const listing = execFileSync('dpkg-deb', ['-c', deb], { encoding: 'utf8' }).trim().split('\n');
    const files = new Map(listing.map((line) => {
      const [mode = '', owner = '', , , , path = '', , target] = line.split(/\s+/);
      return [path.replace(/^\./, ''), { mode, owner, target }] as const;
    }));
    for (const { owner } of files.values()) assert.equal(owner, 'root/root');
    const shipped = readdirSync(join(ROOT, 'dist'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile())
      .map((e) => join('/usr/lib/acme-client', e.parentPath.slice(join(ROOT, 'dist').length), e.name)).sort();
    assert.deepEqual([...files.keys()].filter((f) => f.startsWith('/usr/lib/acme-client/') && !f.endsWith('/')).sort(), shipped);
    for (const command of COMMANDS) {
      assert.deepEqual(files.get(`/usr/bin/${command}`), { mode: 'lrwxrwxrwx', owner: 'root/root', target: `../lib/acme-client/${command}.js` });
      assert.equal(files.get(`/usr/lib/acme-client/${command}.js`)?.mode, '-rwxr-xr-x');
    }
    const manuals = readdirSync(join(ROOT, 'man'));
    assert.ok(manuals.length >= 5);
    for (const page of manuals) assert.ok(files.has(`/usr/share/man/man${page.slice(-1)}/${page}.gz`), page);
    for (const unit of readdirSync(join(ROOT, 'contrib', 'systemd'))) assert.ok(files.has(`/usr/lib/systemd/system/${unit}`), unit);
  });

  // Would fail on a missing copyright file or changelog, uncompressed manuals, a GPL text copied
  // whole into the copyright file, or files owned by the builder (each an error of lintian's).
  test('lintian reports no error', { skip: prerequisite(have('lintian') ? false : 'needs lintian (node scripts/setup.mjs installs it)') }, () => {
    const checked = spawnSync('lintian', ['--fail-on', 'error', deb], { encoding: 'utf8' });
    assert.doesNotMatch(checked.stdout, /^E: /m);
    assert.equal(checked.status, 0, checked.stdout + checked.stderr);
  });

  // Would fail if the postinst made no user or other modes than the README's, failed when run a
  // second time, if the installed command could not start its children from /usr/lib/acme-client
  // or ran them as another user, or if remove or purge left a file, a directory or the user.
  test('apt-get install ./acme-client_*.deb, an issuance from Pebble by /usr/bin/acme-client, dpkg -r, dpkg -P: nothing left behind', { skip: prerequisite(installUnavailable()) }, async () => {
    const before = machineFiles();
    const existed = new Set(DIRECTORIES.map(([dir]) => dir).filter((dir) => existsSync(dir)));
    const apt = spawnSync('apt-get', ['install', '-y', '-q', '-o', 'DPkg::Lock::Timeout=300', `./${basename(deb)}`], { cwd: out, encoding: 'utf8', env: aptEnv });
    const lab = await startLab();
    try {
      assert.equal(apt.status, 0, apt.stdout + apt.stderr);
      assert.equal(packageState(), 'installed');
      const account = (): string => execFileSync('getent', ['passwd', '_acme-client'], { encoding: 'utf8' });
      const [, , uid = '', gid = '', , home, shell] = account().trim().split(':');
      assert.ok(Number(uid) > 0 && Number(uid) < 1000, `a system uid: ${uid}`);
      assert.equal(execFileSync('getent', ['group', gid], { encoding: 'utf8' }).split(':')[0], '_acme-client');
      assert.deepEqual([home, shell], ['/nonexistent', '/usr/sbin/nologin']);
      const modes = (): string[] => DIRECTORIES.map(([dir]) => `${dir} ${(statSync(dir).mode & 0o7777).toString(8)}`);
      for (const [dir, mode] of DIRECTORIES) {
        if (!existed.has(dir)) assert.equal(statSync(dir).mode & 0o7777, mode, dir);
      }
      const made = { account: account(), modes: modes() };
      // Idempotent: configured again, as dpkg-reconfigure or an interrupted upgrade would.
      const again = spawnSync('/var/lib/dpkg/info/acme-client.postinst', ['configure', version], { encoding: 'utf8' });
      assert.equal(again.status, 0, again.stderr);
      assert.deepEqual({ account: account(), modes: modes() }, made);

      for (const command of COMMANDS) {
        assert.equal(execFileSync(`/usr/bin/${command}`, ['--version'], { encoding: 'utf8' }), `${command} ${version}\n`);
      }
      assert.equal(execFileSync('man', ['-w', 'acme-client'], { encoding: 'utf8' }).trim(), '/usr/share/man/man1/acme-client.1.gz');
      // The defaults work as installed: every default directory is there, the children have their user.
      const report = await runInstalled(['--isolation-report'], {});
      assert.equal(report.status, 0, report.stderr);
      assert.equal([...report.stdout.matchAll(/^ {2}planned: {2}user _acme-client /gm)].length, 4, report.stdout);

      const w = workDir();
      const { acct, dom } = ecKeys(w);
      const run = await runInstalled(['-v', '--server', lab.directoryUrl, '-C', lab.challengeDir, '-c', w.certs, '-f', acct, '-k', dom, 'deb.example.test'],
        { NODE_EXTRA_CA_CERTS: lab.tlsCaFile });
      assert.equal(run.status, 0, run.stderr);
      assert.deepEqual(readdirSync(w.certs).sort(), ISSUED_SET);
      assert.deepEqual(childrenStarted(run.stderr), ROLES);
      // The children that need no root run as the package's user (chngproc and fileproc write files).
      const users = Object.fromEntries([...run.stderr.matchAll(/^acme-client: (\w+): user (\S+)/gm)].map(([, role, user]) => [role, user]));
      assert.deepEqual(users, { acctproc: '_acme-client', certproc: '_acme-client', chngproc: 'root', fileproc: 'root', keyproc: '_acme-client', netproc: '_acme-client' });

      // A nightly instance enabled as `systemctl enable acme-client@example.org.timer` would: the
      // purge removes the link (would fail with a postrm that left it dangling).
      const wants = '/etc/systemd/system/timers.target.wants';
      const madeWants = !existsSync(wants);
      mkdirSync(wants, { recursive: true });
      symlinkSync('/usr/lib/systemd/system/acme-client@.timer', join(wants, 'acme-client@example.org.timer'));
      assert.equal(spawnSync('sh', ['-n', '/var/lib/dpkg/info/acme-client.prerm']).status, 0, 'the prerm is a shell script');

      const removed = spawnSync('dpkg', ['-r', 'acme-client'], { encoding: 'utf8' });
      assert.equal(removed.status, 0, removed.stderr);
      assert.ok(!existsSync('/usr/bin/acme-client') && !existsSync('/usr/lib/acme-client'));
      // Removed, not purged: the user stays, as Debian keeps a removed package's configuration.
      assert.equal(account(), made.account);
      // A run still going at purge time: userdel refuses its user. The purge must still complete
      // (not leave the package half-purged) and say what is left to do. Would fail with a postrm
      // that let deluser's failure end it. Its postrm is what dpkg -P runs; run here by hand, first.
      const sleeper = spawn('sleep', ['600'], { uid: Number(uid), gid: Number(gid), stdio: 'ignore' });
      try {
        const busy = spawnSync('/var/lib/dpkg/info/acme-client.postrm', ['purge'], { encoding: 'utf8' });
        assert.equal(busy.status, 0, busy.stderr);
        assert.match(busy.stderr, /^acme-client: _acme-client: not removed \(in use\?\): deluser --system _acme-client once its processes are gone$/m);
        assert.equal(spawnSync('getent', ['passwd', '_acme-client']).status, 0, 'the user in use is kept');
      } finally {
        sleeper.kill('SIGKILL');
        await new Promise((resolve) => sleeper.once('exit', resolve));
      }
      const purged = spawnSync('dpkg', ['-P', 'acme-client'], { encoding: 'utf8' });
      assert.equal(purged.status, 0, purged.stderr);
      assert.equal(spawnSync('getent', ['passwd', '_acme-client']).status, 2, 'no user _acme-client');
      assert.equal(spawnSync('getent', ['group', '_acme-client']).status, 2, 'no group _acme-client');
      assert.ok(!existsSync(join(wants, 'acme-client@example.org.timer')) && !lstatExists(join(wants, 'acme-client@example.org.timer')), 'the enablement link is gone');
      if (madeWants) rmdirSync(wants);
      const left = machineFiles();
      const [was, is] = [new Set(before), new Set(left)];
      assert.deepEqual({ added: left.filter((f) => !was.has(f)), removed: before.filter((f) => !is.has(f)) }, { added: [], removed: [] });
    } finally {
      await lab.stop();
      // A failed step must not leave the package, or the link the test made, on the machine.
      if (packageState() !== 'not-installed') spawnSync('dpkg', ['-P', 'acme-client'], { stdio: 'ignore' });
      rmSync('/etc/systemd/system/timers.target.wants/acme-client@example.org.timer', { force: true });
    }
  });
});
