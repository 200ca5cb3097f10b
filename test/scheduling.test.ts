// The nightly run as documented: the systemd units in contrib/systemd/ pass systemd-analyze
// verify and reload the web server only on exit 0; the README's crontab line, run by sh as cron
// would with a stand-in systemctl, reloads after a new certificate and not otherwise.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, labUnavailable, startLab } from '../scripts/pebble-lab.js';
import { CLIENT, ROOT, ecKeys, isRoot, workDir } from './helpers.js';

const UNITS = join(ROOT, 'contrib', 'systemd');
const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';
const inCi = process.env.CI === 'true';

/** A directory with a stand-in `systemctl` that only records its arguments, and the record. */
function standInSystemctl(): { bin: string; log: string } {
  const { dir } = workDir();
  const bin = join(dir, 'bin');
  const log = join(dir, 'systemctl.log');
  mkdirSync(bin);
  writeFileSync(join(bin, 'systemctl'), `#!/bin/sh\necho "$*" >> '${log}'\n`, { mode: 0o755 });
  return { bin, log };
}

const recorded = (log: string): string[] => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter((l) => l !== '') : []);

describe('systemd units', { skip: !existsSync(SYSTEMD_ANALYZE) && !inCi ? `${SYSTEMD_ANALYZE} is not installed` : false }, () => {
  /** The units as an instance (verify wants one), with our manuals where man(1) finds them. */
  const verify = (edit: (timer: string) => string = (t) => t): { status: number | null; output: string } => {
    const { dir } = workDir();
    writeFileSync(join(dir, 'acme-client@example.org.service'), readFileSync(join(UNITS, 'acme-client@.service'), 'utf8'));
    writeFileSync(join(dir, 'acme-client@example.org.timer'), edit(readFileSync(join(UNITS, 'acme-client@.timer'), 'utf8')));
    mkdirSync(join(dir, 'man', 'man1'), { recursive: true });
    for (const page of ['acme-client.1', 'acme-client-dns01.1']) copyFileSync(join(ROOT, 'man', page), join(dir, 'man', 'man1', page));
    const run = spawnSync(SYSTEMD_ANALYZE, ['verify', 'acme-client@example.org.service', 'acme-client@example.org.timer'],
      { cwd: dir, encoding: 'utf8', env: { ...process.env, MANPATH: join(dir, 'man'), SYSTEMD_LOG_LEVEL: 'notice' } });
    return { status: run.status, output: run.stdout + run.stderr };
  };

  test('systemd-analyze verify finds nothing to say about acme-client@.service and acme-client@.timer', () => {
    const clean = verify();
    assert.equal(clean.output, '');
    assert.equal(clean.status, 0);
    // The check can fail: a misspelt key is reported.
    assert.match(verify((timer) => timer.replace('Persistent=', 'Persistnt=')).output, /Unknown key 'Persistnt'/);
  });

  test('the service: exit 2 is success, twice a day at a random time, catching up after downtime', () => {
    const service = readFileSync(join(UNITS, 'acme-client@.service'), 'utf8');
    const timer = readFileSync(join(UNITS, 'acme-client@.timer'), 'utf8');
    assert.match(service, /^SuccessExitStatus=2$/m);
    assert.match(service, /^EnvironmentFile=\/etc\/acme-client\/%i\.conf$/m);
    assert.match(timer, /^OnCalendar=\*-\*-\* 00,12:00:00$/m);
    assert.match(timer, /^RandomizedDelaySec=12h$/m);
    assert.match(timer, /^Persistent=true$/m);
    // The children create network and mount namespaces and change uid: nothing may forbid that.
    assert.match(service, /^RestrictNamespaces=mnt net$/m);
    assert.doesNotMatch(service, /^(PrivateUsers|MemoryDenyWriteExecute|PrivateNetwork|SystemCallFilter|CapabilityBoundingSet)=/m);
  });

  test("ExecStopPost reloads the web server after exit 0 only, and a failed reload fails the unit", () => {
    const line = /^ExecStopPost=\/bin\/sh -c '(.*)'$/m.exec(readFileSync(join(UNITS, 'acme-client@.service'), 'utf8'))?.[1];
    assert.ok(line !== undefined);
    const script = line.replaceAll('$$', '$'); // systemd's escape for a literal $
    const { bin, log } = standInSystemctl();
    const stopPost = (code: string, status: string, reload = 'systemctl reload nginx'): number | null =>
      spawnSync('/bin/sh', ['-c', script], { env: { PATH: `${bin}:/usr/bin:/bin`, EXIT_CODE: code, EXIT_STATUS: status, RELOAD: reload } }).status;
    assert.equal(stopPost('exited', '2'), 0);
    assert.equal(stopPost('exited', '1'), 0);
    assert.equal(stopPost('killed', 'TERM'), 0);
    assert.deepEqual(recorded(log), []);
    assert.equal(stopPost('exited', '0'), 0);
    assert.deepEqual(recorded(log), ['reload nginx']);
    assert.equal(stopPost('exited', '0', 'false'), 1);
    assert.equal(stopPost('exited', '0', ''), 0, 'no RELOAD, nothing to run');
  });
});

const skipCron = !isRoot ? 'needs root (acme-client must be run as root)' : labUnavailable();

describe("the README's crontab line", { skip: skipCron !== undefined && !inCi ? skipCron : false }, () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab();
  });
  after(async () => {
    await lab?.stop();
  });

  test('run by sh: a new certificate reloads nginx; nothing to do or a failure does not', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const cronLine = /^ {4}((?:\S+ ){5})(\/usr\/local\/bin\/acme-client -v \S.* && systemctl reload nginx)$/m.exec(readme);
    assert.ok(cronLine !== null, 'the crontab line is in the README');
    const command = (cronLine[2] as string).replace('/usr/local/bin/acme-client', 'acme-client');
    // The installed acme-client, pointed at this lab: the same command line plus where the lab keeps things.
    const w = workDir();
    const { acct, dom } = ecKeys(w);
    const { bin, log } = standInSystemctl();
    writeFileSync(join(bin, 'acme-client'), `#!/bin/sh
exec '${process.execPath}' '${CLIENT}' --server '${lab.directoryUrl}' -C '${lab.challengeDir}' -c "\${CERTDIR:-${w.certs}}" -f '${acct}' -k '${dom}' "$@"
`, { mode: 0o755 });
    const cron = (env: NodeJS.ProcessEnv = {}) =>
      spawnSync('/bin/sh', ['-c', command], { encoding: 'utf8', env: { PATH: `${bin}:/usr/bin:/bin`, NODE_EXTRA_CA_CERTS: lab.tlsCaFile, ...env } });

    const issued = cron();
    assert.equal(issued.status, 0, issued.stderr);
    assert.deepEqual(recorded(log), ['reload nginx']);
    const nothing = cron();
    assert.equal(nothing.status, 2, nothing.stderr);
    assert.deepEqual(recorded(log), ['reload nginx'], 'no reload when nothing changed');
    const failed = cron({ CERTDIR: join(w.dir, 'absent') });
    assert.equal(failed.status, 1);
    assert.match(failed.stderr, /-c directory must exist/);
    assert.deepEqual(recorded(log), ['reload nginx'], 'no reload after a failure');
  });
});
