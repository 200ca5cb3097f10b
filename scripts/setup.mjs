// Set-up for `npm test` and `npm run demo` on a fresh Debian machine: npm packages, and as root the
// Debian packages the tests and the demo drive (pebble with pebble-challtestsrv, nginx, mandoc,
// openssl, man-db, bind9 with its tools, iproute2). Each step runs only when something is missing,
// so a prepared machine pays nothing.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
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
  pebble: 'pebble', 'pebble-challtestsrv': 'pebble', nginx: 'nginx', mandoc: 'mandoc', openssl: 'openssl', man: 'man-db',
  // acme-client-dns01's tests: a real BIND as the zones' authoritative servers, nsupdate and dig beside it.
  named: 'bind9', 'tsig-keygen': 'bind9', nsupdate: 'bind9-dnsutils', dig: 'bind9-dnsutils', ip: 'iproute2',
  // The systemd units' check (systemd-analyze verify).
  'systemd-analyze': 'systemd',
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
