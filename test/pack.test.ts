// What npm ships: `npm pack` holds only what runs (the bundles, the man pages, package.json,
// README), and a global install from that tarball gives working `acme-client`, `acme-client-dns01`
// and `acme-client-server` commands, each reporting the package's version, and their manuals, and
// pulls in no package: everything that runs is in the bundles. The installed acme-client then
// issues a certificate from Pebble, its children started from the installed tree.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labUnavailable, startLab } from '../scripts/pebble-lab.js';
import { ISSUED_SET, ROOT, childrenOf, childrenStarted, ecKeys, needsRootAndLab, runWithHook, workDir } from './helpers.js';

const ROLES = ['acctproc', 'certproc', 'chngproc', 'fileproc', 'keyproc', 'netproc'];

describe('npm pack, and npm i -g of the tarball', () => {
  const dir = mkdtempSync(join(tmpdir(), 'acme-client-pack-'));
  const prefix = join(dir, 'prefix');
  let files: string[] = [];
  before(() => {
    // --ignore-scripts: the test runs after the build; prepack would only rebuild the same files.
    const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8' })) as
      { filename: string; files: { path: string }[] }[];
    files = (packed[0]?.files ?? []).map((f) => f.path).sort();
    execFileSync('npm', ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', join(dir, packed[0]?.filename ?? '')],
      { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('npm pack ships only what runs, and npm i -g of it gives working acme-client and acme-client-dns01', () => {
    packAndInstall(dir, prefix, files);
  });

  // Would fail if a child's permission allow-list or jail named code that is not in the package
  // (the repository's dist/, node_modules), if the installed parent started the repository's
  // children, or if a bundle needed a module that npm did not install.
  test('the installed acme-client issues from Pebble, every child started from the installed tree', { skip: needsRootAndLab(labUnavailable) }, async () => {
    const lab = await startLab();
    try {
      const installed = join(prefix, 'lib', 'node_modules', 'acme-client-privsep');
      const w = workDir();
      const { acct, dom } = ecKeys(w);
      const seen = new Map<string, number>();
      const commands: string[] = [];
      // -t http-01: the run waits at each challenge while its children are alive to be looked at.
      const run = await runWithHook(['-v', '--server', lab.directoryUrl, '-t', 'http-01', '-c', w.certs, '-f', acct, '-k', dom, 'installed.example.test'],
        { NODE_EXTRA_CA_CERTS: lab.tlsCaFile }, async (line, pid) => {
          const [type, , keyAuthorization = ''] = line.split(' ');
          assert.equal(type, 'http-01', line);
          for (const [role, child] of childrenOf(pid)) {
            seen.set(role, child);
            commands.push(readFileSync(`/proc/${child}/cmdline`, 'utf8').replaceAll('\0', ' '));
          }
          writeFileSync(join(lab.challengeDir, keyAuthorization.split('.')[0] as string), keyAuthorization);
          return `${line}\n`;
        }, join(prefix, 'bin', 'acme-client'));
      assert.equal(run.status, 0, run.stderr);
      assert.deepEqual(readdirSync(w.certs).sort(), ISSUED_SET);
      assert.deepEqual(childrenStarted(run.stderr), ROLES, 'every child started and said its plan');
      // The children alive at the challenge (keyproc ends once its request is sent).
      assert.ok(['certproc', 'chngproc', 'fileproc', 'netproc'].every((role) => seen.has(role)), [...seen.keys()].join(' '));
      for (const command of commands) {
        assert.ok(command.includes(join(installed, 'dist', 'procs')), command);
        assert.ok(!command.includes(join(ROOT, 'dist')), command);
      }
    } finally {
      await lab.stop();
    }
  });
});

function packAndInstall(dir: string, prefix: string, files: string[]): void {
  assert.deepEqual(files.filter((f) => !f.startsWith('dist/')), ['README.md', 'man/acme-client-dns01.1', 'man/acme-client-server.8', 'man/acme-client-server.conf.5', 'man/acme-client.1', 'man/acme-client.conf.5', 'package.json']);
  assert.ok(files.includes('dist/acme-client.js') && files.includes('dist/acme-client-dns01.js'));
  for (const role of ['netproc', 'acctproc', 'keyproc', 'chngproc', 'certproc', 'fileproc']) {
    // Each child is its loader, its bundle and the bundle's code cache (scripts/build.mjs).
    for (const file of [`${role}.js`, `${role}.bundle.js`, `${role}.bundle.cache`]) assert.ok(files.includes(`dist/procs/${file}`), file);
  }
  for (const file of ['acme-client.bundle.js', 'acme-client.bundle.cache']) assert.ok(files.includes(`dist/${file}`), file);
  // The bundles are CommonJS by dist/package.json.
  assert.ok(files.includes('dist/package.json'));

  const installed = join(prefix, 'lib', 'node_modules', 'acme-client-privsep');
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
