// --dated and --keep against Pebble: each new certificate also kept under its UTC time, the stable
// names plain files holding the newest, and --keep pruning the oldest sets.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, labUnavailable, startLab } from '../scripts/pebble-lab.js';
import { ecKeys, needsRootAndLab, runClient, workDir } from './helpers.js';

const skip = needsRootAndLab(labUnavailable);
const DATED = /^(cert|chain|fullchain)-(\d{8}T\d{6}Z)\.pem$/;

/** The dated sets of a directory: time -> the three names present for it. */
function datedSets(dir: string): Map<string, string[]> {
  const sets = new Map<string, string[]>();
  for (const name of readdirSync(dir).sort()) {
    const match = DATED.exec(name);
    if (match !== null) sets.set(match[2] as string, [...(sets.get(match[2] as string) ?? []), match[1] as string]);
  }
  return sets;
}

/** 20261206T162100Z for a Date. */
const stampOf = (ms: number): string => new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');

describe('--dated and --keep against Pebble', { skip }, () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab();
  });
  after(async () => {
    await lab?.stop();
  });

  // Would fail if --dated wrote nothing, wrote under another name or time, wrote links as the
  // stable names, or overwrote a set of the same second; or if --keep kept the oldest, or a part.
  test('each issuance is kept as cert-<UTC time>.pem with its chain and full chain; --keep 2 keeps the newest two whole', async () => {
    const w = workDir();
    const { acct, dom } = ecKeys(w);
    const args = ['--dated', '--server', lab.directoryUrl, '-C', lab.challengeDir, '-c', w.certs, '-f', acct, '-k', dom, 'dated.example.test'];
    const env = { NODE_EXTRA_CA_CERTS: lab.tlsCaFile };
    // What a killed run of this certificate left, and what another certificate's run in the same
    // directory is writing right now. Would fail if fileproc removed every temporary file it found.
    const stale = ['.cert.pem.0123456789ab.tmp', '.fullchain-20260101T000000Z.pem.0123456789ab.tmp'];
    const others = '.other.pem.0123456789ab.tmp';
    for (const name of [...stale, others]) writeFileSync(join(w.certs, name), 'x');
    const installs: string[] = [];
    for (const extra of [[], ['-F'], ['-F'], ['-F', '--keep', '2']]) {
      const started = Date.now();
      const run = await runClient([...extra, ...args], { env });
      assert.equal(run.status, 0, run.stderr);
      const newest = [...datedSets(w.certs).keys()].sort().at(-1) as string;
      // Each run adds its set at a second from its start on (later when that second is taken).
      assert.ok(newest >= stampOf(started - 1000) && !installs.includes(newest), `${newest} after ${stampOf(started)}`);
      installs.push(newest);
      for (const name of ['cert', 'chain', 'fullchain']) {
        assert.ok(lstatSync(join(w.certs, `${name}.pem`)).isFile(), `${name}.pem is a file, not a link`);
        assert.equal(readFileSync(join(w.certs, `${name}-${newest}.pem`), 'utf8'), readFileSync(join(w.certs, `${name}.pem`), 'utf8'), `${name}.pem is the newest`);
      }
    }
    assert.deepEqual(readdirSync(w.certs).filter((name) => name.endsWith('.tmp')), [others], 'its own stale temporaries removed, another\'s kept');
    const sets = datedSets(w.certs);
    assert.deepEqual([...sets.keys()].sort(), installs.slice(-2).sort(), 'the two newest sets, and only those');
    for (const parts of sets.values()) assert.deepEqual(parts, ['cert', 'chain', 'fullchain']);
  });

  test('--keep without --dated, and a --keep that is not a count: one usage line, exit 1', async () => {
    for (const [args, problem] of [[['--keep', '2'], '--keep goes with --dated'], [['--dated', '--keep', '0'], '--keep needs a whole number from 1 to 1000: 0']] as const) {
      const run = await runClient([...args, 'dated.example.test']);
      assert.equal(run.status, 1);
      assert.equal(run.stderr.split('\n')[0], `acme-client: ${problem}`);
    }
  });
});
