// Set-up for `npm test` and `npm run demo` on a fresh Debian machine: npm packages, as root the
// Debian packages the tests and the demo drive (nginx, mandoc, openssl, man-db, bind9 with its
// tools, iproute2, lintian), Pebble >= 2.10 (see pebbleAtLeast210 below), and Node 24 for the
// tests that run on it as well (NODE24 below). Each step runs only when
// something is missing, so a prepared machine pays nothing.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const have = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

// Every devDependency, so that a tree installed before one was added gets it too.
const { devDependencies } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
if (Object.keys(devDependencies).some((name) => !existsSync(join(root, 'node_modules', name, 'package.json')))) {
  execFileSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
}

const wanted = {
  nginx: 'nginx', mandoc: 'mandoc', openssl: 'openssl', man: 'man-db',
  // acme-client-dns01's tests: a real BIND as the zones' authoritative servers, nsupdate and dig beside it.
  named: 'bind9', 'tsig-keygen': 'bind9', nsupdate: 'bind9-dnsutils', dig: 'bind9-dnsutils', ip: 'iproute2',
  // The systemd units' check (systemd-analyze verify).
  'systemd-analyze': 'systemd',
  // Debian's checker of the package `npm run deb` builds.
  lintian: 'lintian',
};
const missing = [...new Set(Object.entries(wanted).filter(([cmd]) => !have(cmd) && !existsSync(`/usr/sbin/${cmd}`)).map(([, pkg]) => pkg))];
if (missing.length > 0) {
  if (process.getuid?.() !== 0) {
    console.error(`setup: missing Debian packages (${missing.join(' ')}); run as root to install them`);
  } else {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
  }
}

// Pebble >= 2.10 (renewalInfo with /set-renewal-info/, profiles, Boulder's checks of "replaces"):
// the system's own when it is that recent, else the one .deb from Debian's forky archive, fetched
// with a private apt configuration (the system's sources, lists and installed packages are left
// alone) into .cache/pebble/ and unpacked there. scripts/pebble-lab.ts picks the binaries the same way.
const PEBBLE_MIN = '2.10';
const cache = join(root, '.cache', 'pebble');
const systemPebble = spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'pebble'], { encoding: 'utf8' });
const systemRecent = systemPebble.status === 0 && existsSync('/usr/bin/pebble')
  && spawnSync('dpkg', ['--compare-versions', systemPebble.stdout, 'ge', PEBBLE_MIN]).status === 0;
if (!systemRecent && !existsSync(join(cache, 'root', 'usr', 'bin', 'pebble')) && process.getuid?.() !== 0) {
  console.error(`setup: no Pebble >= ${PEBBLE_MIN}; run as root to fetch it into ${cache}`);
} else if (!systemRecent && !existsSync(join(cache, 'root', 'usr', 'bin', 'pebble'))) {
  const apt = join(cache, 'apt');
  for (const d of ['etc', 'lists/partial', 'cache/archives/partial', 'debs']) mkdirSync(join(apt, d), { recursive: true });
  writeFileSync(join(apt, 'etc', 'forky.sources'), [
    'Types: deb', 'URIs: http://deb.debian.org/debian', 'Suites: forky', 'Components: main',
    'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg', '',
  ].join('\n'));
  const options = [
    '-o', 'Dir::Etc::SourceList=/dev/null', '-o', `Dir::Etc::SourceParts=${join(apt, 'etc')}`,
    '-o', `Dir::State::Lists=${join(apt, 'lists')}`, '-o', `Dir::Cache=${join(apt, 'cache')}`,
    '-o', 'Dir::State::status=/var/lib/dpkg/status', '-qq',
    // The download goes to root's directory here, which apt's _apt user may not write to.
    '-o', 'APT::Sandbox::User=root',
  ];
  execFileSync('apt-get', [...options, 'update'], { stdio: 'inherit' });
  const debs = join(apt, 'debs');
  for (const f of readdirSync(debs)) rmSync(join(debs, f));
  execFileSync('apt-get', [...options, 'download', 'pebble'], { cwd: debs, stdio: 'inherit' });
  const [deb] = readdirSync(debs).filter((f) => f.endsWith('.deb'));
  if (deb === undefined) throw new Error('setup: apt-get download pebble fetched no .deb');
  const version = execFileSync('dpkg-deb', ['-f', join(debs, deb), 'Version'], { encoding: 'utf8' }).trim();
  if (spawnSync('dpkg', ['--compare-versions', version, 'ge', PEBBLE_MIN]).status !== 0) {
    throw new Error(`setup: Debian's forky archive offers pebble ${version}, older than ${PEBBLE_MIN}`);
  }
  rmSync(join(cache, 'root'), { recursive: true, force: true });
  execFileSync('dpkg-deb', ['-x', join(debs, deb), join(cache, 'root')], { stdio: 'inherit' });
}

// Node 24, the other Node the tests run on (`npm test` runs the end-to-end tests on it too): the
// npm registry's `node` package, whose install fetches the Node binary for this machine as a
// package of its own, into .cache/node24/. The Node that builds and runs the rest stays the system's.
const NODE24_VERSION = '24.21.0';
const node24 = join(root, '.cache', 'node24');
const node24Binary = join(node24, 'node_modules', '.bin', 'node');
const node24Has = spawnSync(node24Binary, ['--version'], { encoding: 'utf8' }).stdout?.trim();
if (node24Has !== `v${NODE24_VERSION}`) {
  rmSync(node24, { recursive: true, force: true });
  mkdirSync(node24, { recursive: true });
  execFileSync('npm', ['install', '--prefix', node24, '--no-save', '--no-audit', '--no-fund', `node@${NODE24_VERSION}`], { stdio: 'inherit' });
  // The binary comes from the package's install script: an npm that skipped it leaves no Node.
  const installed = spawnSync(node24Binary, ['--version'], { encoding: 'utf8' }).stdout?.trim();
  if (installed !== `v${NODE24_VERSION}`) throw new Error(`setup: node@${NODE24_VERSION} installed no Node ${NODE24_VERSION} at ${node24Binary}`);
}
