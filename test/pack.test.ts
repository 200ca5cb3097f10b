// What npm ships: `npm pack` holds only what runs (the bundles, the man pages, package.json,
// README), and a global install from that tarball gives working `acme-client`, `acme-client-dns01`
// and `acme-client-server` commands, each reporting the package's version, and their manuals, and
// pulls in no package: everything that runs is in the bundles.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './helpers.js';

test('npm pack ships only what runs, and npm i -g of it gives working acme-client and acme-client-dns01', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'acme-client-pack-'));
  try {
    await packAndInstall(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

async function packAndInstall(dir: string): Promise<void> {
  // --ignore-scripts: the test runs after the build; prepack would only rebuild the same files.
  const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8' })) as
    { filename: string; files: { path: string }[] }[];
  const files = (packed[0]?.files ?? []).map((f) => f.path).sort();
  assert.deepEqual(files.filter((f) => !f.startsWith('dist/')), ['README.md', 'man/acme-client-dns01.1', 'man/acme-client-server.8', 'man/acme-client-server.conf.5', 'man/acme-client.1', 'package.json']);
  assert.ok(files.includes('dist/acme-client.js') && files.includes('dist/acme-client-dns01.js'));
  for (const role of ['netproc', 'acctproc', 'keyproc', 'chngproc', 'certproc', 'fileproc']) {
    // Each child is its loader, its bundle and the bundle's code cache (scripts/build.mjs).
    for (const file of [`${role}.js`, `${role}.bundle.js`, `${role}.bundle.cache`]) assert.ok(files.includes(`dist/procs/${file}`), file);
  }
  for (const file of ['acme-client.bundle.js', 'acme-client.bundle.cache']) assert.ok(files.includes(`dist/${file}`), file);
  // The bundles are CommonJS by dist/package.json.
  assert.ok(files.includes('dist/package.json'));

  const prefix = join(dir, 'prefix');
  execFileSync('npm', ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', join(dir, packed[0]?.filename ?? '')],
    { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const installed = join(prefix, 'lib', 'node_modules', 'acme-client');
  assert.deepEqual(readdirSync(installed).sort(), ['README.md', 'dist', 'man', 'package.json'], 'no node_modules beside the bundles');
  const bin = join(prefix, 'bin', 'acme-client');
  assert.ok(existsSync(bin));
  assert.match(readFileSync(bin, 'utf8').split('\n')[0] ?? '', /^#!\/usr\/bin\/env node$/);
  const run = spawnSync(bin, [], { encoding: 'utf8' });
  assert.equal(run.status, 1);
  assert.match(run.stderr, /^usage: acme-client /m);
  assert.ok(existsSync(join(prefix, 'share', 'man', 'man1', 'acme-client.1')), 'man page installed');

  const dns01 = join(prefix, 'bin', 'acme-client-dns01');
  assert.match(readFileSync(dns01, 'utf8').split('\n')[0] ?? '', /^#!\/usr\/bin\/env node$/);
  const usage = spawnSync(dns01, [], { encoding: 'utf8' });
  assert.equal(usage.status, 1);
  assert.match(usage.stderr, /^usage: acme-client-dns01 /m);
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const dns01Version = spawnSync(dns01, ['--version'], { encoding: 'utf8' });
  assert.equal(dns01Version.stdout, `acme-client-dns01 ${version}\n`);
  assert.equal(dns01Version.status, 0);
  const server = join(prefix, 'bin', 'acme-client-server');
  const serverUsage = spawnSync(server, [], { encoding: 'utf8' });
  assert.equal(serverUsage.status, 1);
  assert.match(serverUsage.stderr, /^acme-client-server: -f config is required\nusage: acme-client-server /);
  assert.equal(spawnSync(server, ['--version'], { encoding: 'utf8' }).stdout, `acme-client-server ${version}\n`);
  const clientVersion = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  assert.equal(clientVersion.stdout, `acme-client ${version}\n`);
  assert.equal(clientVersion.status, 0);
  // man(1) finds both pages where npm put them.
  for (const command of ['acme-client', 'acme-client-dns01', 'acme-client-server', 'acme-client-server.conf']) {
    const page = spawnSync('man', ['-M', join(prefix, 'share', 'man'), command], { encoding: 'utf8', env: { ...process.env, MANPAGER: 'cat', PAGER: 'cat', MANWIDTH: '80' } });
    assert.equal(page.status, 0, page.stderr);
    assert.match(page.stdout, new RegExp(`^NAME\\n\\s+${command} (-|\u2014) `, 'm'), command);
  }
  if (process.getuid?.() === 0) {
    // Parsed by yargs (bundled) before the directories are looked at.
    const missing = join(dir, 'absent');
    const report = spawnSync(bin, ['--isolation-report', '-c', missing, '-C', missing], { encoding: 'utf8' });
    assert.equal(report.stderr, `acme-client: ${missing}: -c directory must exist\nacme-client: ${missing}: -C directory must exist\n`);
    assert.equal(report.status, 1);
  }
}
