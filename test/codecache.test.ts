// The code caches the build puts beside every bundle (scripts/build.mjs, scripts/bundle-loader.cjs):
// this Node takes each one; the loader gives V8 only a cache made of the bundle as it is; a run
// whose caches are missing or cut short still does all it should, as an ordinary compile; and so
// does a run on a Node other than the one that built them (Node 24 for a build on Node 20, as when
// Debian's nodejs is upgraded under the installed package), whose V8 refuses them.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, labUnavailable, startLab } from '../scripts/pebble-lab.js';
import { NODE24, ROOT, ecKeys, needsRootAndLab, prerequisite, runClient, workDir } from './helpers.js';

const DIST = join(ROOT, 'dist');

/** Every bundle in dist/, as a path relative to it. */
function bundles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.bundle.js')).sort();
}

// Run in a fresh Node with the flags the parent gives its children, as V8 checks its flags against
// the cache's: prints, for each bundle, whether its cache matches it and whether V8 took it.
const CHECK = `
const { crc32 } = require('node:zlib');
const { readFileSync } = require('node:fs');
const { Script } = require('node:vm');
for (const filename of JSON.parse(process.argv[1])) {
  const source = readFileSync(filename);
  const cache = readFileSync(filename.replace(/\\.js$/, '.cache'));
  const matches = crc32(cache.subarray(4), crc32(source)) === cache.readUInt32BE(0);
  const script = new Script(source.toString('utf8'), { filename, cachedData: cache.subarray(4) });
  console.log(filename, matches ? 'matches' : 'differs', script.cachedDataRejected ? 'rejected' : 'taken');
}`;

test('every command and child has a loader, its bundle and a code cache this Node takes', () => {
  const found = bundles(DIST);
  const loaders = ['acme-client.js', 'acme-client-dns01.js', 'acme-client-server.js',
    ...['acctproc', 'certproc', 'chngproc', 'fileproc', 'frontproc', 'keyproc', 'netproc'].map((r) => join('procs', `${r}.js`))];
  assert.deepEqual(found, loaders.map((f) => f.replace(/\.js$/, '.bundle.js')).sort());
  for (const loader of loaders) {
    assert.match(readFileSync(join(DIST, loader), 'utf8'), new RegExp(`/${loader.replace(/^procs\//, '').replace(/\.js$/, '')}\\.bundle\\.cache\``), loader);
  }
  const files = JSON.stringify(found.map((f) => join(DIST, f)));
  for (const flags of [[], ['--v8-pool-size=1'], ['--v8-pool-size=1', '--use-openssl-ca']]) {
    const lines = execFileSync(process.execPath, [...flags, '-e', CHECK, files], { encoding: 'utf8' }).trim().split('\n');
    assert.equal(lines.length, found.length);
    for (const line of lines) assert.match(line, / matches taken$/, `node ${flags.join(' ')}: ${line}`);
  }
});

/** Why the tests of another Node cannot run: no Node 24, or it is the Node that built dist/. */
function otherNodeMissing(): string | undefined {
  const version = spawnSync(NODE24, ['--version'], { encoding: 'utf8' }).stdout?.trim();
  if (version === undefined || version === '') return `no Node 24 at ${NODE24} (node scripts/setup.mjs installs it)`;
  return version === process.version ? `${NODE24} is the Node that built dist/` : undefined;
}
const otherNode = otherNodeMissing();

// Would fail if the loader stopped at a cache V8 refuses (a throw on cachedDataRejected), or if
// V8 took a cache of another version's.
test('on another Node than the build\'s (24): V8 refuses every cache, and the commands run as usual', { skip: prerequisite(otherNode) }, () => {
  const found = bundles(DIST);
  const lines = execFileSync(NODE24, ['--v8-pool-size=1', '-e', CHECK, JSON.stringify(found.map((f) => join(DIST, f)))], { encoding: 'utf8' }).trim().split('\n');
  assert.equal(lines.length, found.length);
  for (const line of lines) assert.match(line, / matches rejected$/, line);
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  for (const command of ['acme-client', 'acme-client-dns01', 'acme-client-server']) {
    const run = spawnSync(NODE24, [join(DIST, `${command}.js`), '--version'], { encoding: 'utf8' });
    assert.equal(run.stdout, `${command} ${version}\n`, run.stderr);
    assert.equal(run.status, 0);
  }
});

test('the loader gives V8 no cache but one made of the bundle as it is: an edit of the same length runs, a damaged cache is ignored', () => {
  const work = mkdtempSync(join(tmpdir(), 'acme-client-cache-'));
  try {
    const bundle = join(work, 'x.bundle.js');
    const cache = join(work, 'x.bundle.cache');
    const said = (): string => execFileSync(process.execPath, [join(work, 'x.js')], { encoding: 'utf8' });
    // A bundle as the build writes one, its loader, and its cache.
    const write = (word: string): void => writeFileSync(bundle, `(function (exports, require, module, __filename, __dirname) {\nprocess.stdout.write(${JSON.stringify(word)});\n})`);
    write('AAAA');
    writeFileSync(join(work, 'x.js'), readFileSync(join(ROOT, 'scripts', 'bundle-loader.cjs'), 'utf8').replaceAll('__BUNDLE__', 'x'));
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'code-cache.cjs'), bundle]);
    assert.equal(said(), 'AAAA');
    // V8 alone knows a bundle from its cache by its length only: it would run AAAA here.
    write('BBBB');
    assert.equal(said(), 'BBBB');
    write('AAAA');
    // Bytes in the middle of V8's data changed, the length kept: V8 would crash on it.
    const damaged = readFileSync(cache);
    for (let i = 0; i < 64; i++) damaged[Math.floor(damaged.length / 2) + i] ^= 0xff;
    writeFileSync(cache, damaged);
    assert.equal(said(), 'AAAA');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

describe('runs without their caches, against Pebble', { skip: needsRootAndLab(labUnavailable) }, () => {
  let lab: Lab;
  let copies = '';
  before(async () => {
    lab = await startLab();
    copies = mkdtempSync(join(tmpdir(), 'acme-client-nocache-'));
    // The children read their code after dropping to an unprivileged user.
    chmodSync(copies, 0o755);
  });
  after(async () => {
    await lab?.stop();
    if (copies !== '') rmSync(copies, { recursive: true, force: true });
  });

  for (const [variant, spoil] of [
    ['missing', (cache: string) => rmSync(cache)],
    ['cut short', (cache: string) => truncateSync(cache, Math.floor(statSync(cache).size / 2))],
  ] as const) {
    test(`caches ${variant}: a certificate is issued, and the next run has nothing to do`, async () => {
      const dist = join(copies, variant.replace(' ', '-'));
      cpSync(DIST, dist, { recursive: true });
      for (const bundle of bundles(dist)) spoil(join(dist, bundle.replace(/\.js$/, '.cache')));
      const client = join(dist, 'acme-client.js');
      const w = workDir();
      const { acct, dom } = ecKeys(w);
      const args = ['--server', lab.directoryUrl, '-C', lab.challengeDir, '-c', w.certs, '-f', acct, '-k', dom, 'nocache.example.test'];
      const env = { NODE_EXTRA_CA_CERTS: lab.tlsCaFile };
      const first = await runClient(args, { env, client });
      assert.equal(first.status, 0, first.stderr);
      assert.equal(first.stderr, '');
      assert.match(readFileSync(join(w.certs, 'cert.pem'), 'utf8'), /^-----BEGIN CERTIFICATE-----/);
      const second = await runClient(args, { env, client });
      assert.equal(second.status, 2, second.stderr);
    });
  }

  test('caches of another Node (run on 24, built on 20): a certificate is issued, and the next run has nothing to do', { skip: prerequisite(otherNode) }, async () => {
    const w = workDir();
    const { acct, dom } = ecKeys(w);
    const args = ['--server', lab.directoryUrl, '-C', lab.challengeDir, '-c', w.certs, '-f', acct, '-k', dom, 'othernode.example.test'];
    const env = { NODE_EXTRA_CA_CERTS: lab.tlsCaFile };
    const first = await runClient(args, { env, node: NODE24 });
    assert.equal(first.status, 0, first.stderr);
    assert.equal(first.stderr, '');
    assert.match(readFileSync(join(w.certs, 'cert.pem'), 'utf8'), /^-----BEGIN CERTIFICATE-----/);
    const second = await runClient(args, { env, node: NODE24 });
    assert.equal(second.status, 2, second.stderr);
  });
});
