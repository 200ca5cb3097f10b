// The nightly run as documented, run as documented: the README's (and the manual's) crontab line
// by sh as cron runs it, and the systemd unit's ExecStart and ExecStopPost with the environment
// file the README writes, each against the Pebble lab with a stand-in systemctl. A night with
// nothing to do must print nothing at all (cron mails any output) and not reload; a new
// certificate reloads; a failure does not. systemd-analyze verify checks the units' text.

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

/**
 * A unit's command line as systemd makes it an argv (systemd.service(5), "Command lines"): quotes
 * group, "$$" is a "$", "${NAME}" is the variable's value within its word, and "$NAME" standing as
 * a word of its own is the value split at whitespace.
 */
function systemdArgv(line: string, env: Record<string, string>): string[] {
  const substitute = (text: string): string => text.replace(/\$\$|\$\{(\w+)\}/g, (all, name: string | undefined) => (all === '$$' ? '$' : env[name as string] ?? ''));
  const argv: string[] = [];
  let at = 0;
  for (;;) {
    while (line[at] === ' ') at++;
    if (at >= line.length) return argv;
    const splitWord = /^\$(\w+)(?= |$)/.exec(line.slice(at));
    if (splitWord) {
      argv.push(...(env[splitWord[1] as string] ?? '').split(/\s+/).filter((w) => w !== ''));
      at += splitWord[0].length;
      continue;
    }
    let word = '';
    while (at < line.length && line[at] !== ' ') {
      const quote = line[at];
      if (quote === "'" || quote === '"') {
        const end = line.indexOf(quote, at + 1);
        assert.ok(end > at, `unbalanced ${quote} in ${line}`);
        word += substitute(line.slice(at + 1, end));
        at = end + 1;
      } else {
        const end = line.slice(at).search(/[ '"]/);
        const stop = end < 0 ? line.length : at + end;
        word += substitute(line.slice(at, stop));
        at = stop;
      }
    }
    argv.push(word);
  }
}

const readme = (): string => readFileSync(join(ROOT, 'README.md'), 'utf8');

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

  // Would fail if a unit gained a key systemd does not know, or lost a section or setting it needs.
  test('systemd-analyze verify finds nothing to say about acme-client@.service and acme-client@.timer', () => {
    const clean = verify();
    assert.equal(clean.output, '');
    assert.equal(clean.status, 0);
    // The check can fail: a misspelt key is reported.
    assert.match(verify((timer) => timer.replace('Persistent=', 'Persistnt=')).output, /Unknown key 'Persistnt'/);
  });

  // Would fail if the timer ran once a day, all machines at the same moment, or skipped the runs
  // missed while the machine was off; or if the service forbade the namespaces the children make.
  test('the timer: twice a day at a random time, catching up after downtime; nothing forbids the children\'s namespaces', () => {
    const service = readFileSync(join(UNITS, 'acme-client@.service'), 'utf8');
    const timer = readFileSync(join(UNITS, 'acme-client@.timer'), 'utf8');
    assert.match(timer, /^OnCalendar=\*-\*-\* 00,12:00:00$/m);
    assert.match(timer, /^RandomizedDelaySec=12h$/m);
    assert.match(timer, /^Persistent=true$/m);
    // The children create network and mount namespaces and change uid: nothing may forbid that.
    assert.match(service, /^RestrictNamespaces=mnt net$/m);
    assert.doesNotMatch(service, /^(PrivateUsers|MemoryDenyWriteExecute|PrivateNetwork|SystemCallFilter|CapabilityBoundingSet)=/m);
  });
});

const skipLab = !isRoot ? 'needs root (these tests run acme-client as root)' : labUnavailable();

describe('the documented nightly lines, run against the lab', { skip: skipLab !== undefined && !inCi ? skipLab : false }, () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab();
  });
  after(async () => {
    await lab?.stop();
  });

  /**
   * A stand-in systemctl, and an `acme-client` on the same PATH that is the built client pointed
   * at this lab: the documented command line, plus where the lab keeps things ($CERTDIR, when
   * set, replaces the certificate directory: one that does not exist makes a run fail).
   */
  const installed = (): { bin: string; log: string; certs: string; absent: string } => {
    const w = workDir();
    const { acct, dom } = ecKeys(w);
    const { bin, log } = standInSystemctl();
    writeFileSync(join(bin, 'acme-client'), `#!/bin/sh
exec '${process.execPath}' '${CLIENT}' --server '${lab.directoryUrl}' -C '${lab.challengeDir}' -c "\${CERTDIR:-${w.certs}}" -f '${acct}' -k '${dom}' "$@"
`, { mode: 0o755 });
    return { bin, log, certs: w.certs, absent: join(w.dir, 'absent') };
  };

  // Would fail if: the documented line kept -v (certproc's plan and "certificate valid" are
  // printed every night, and cron mails them); a run with nothing to do printed anything without
  // -v, or exited 0 (a reload every night); a failure exited 0; a new certificate exited non-zero.
  test('the crontab line, run by sh as cron does: a new certificate reloads; a night with nothing to do prints nothing and does not reload; a failure does not', () => {
    const text = readme();
    const cronLine = /^ {4}(?:\S+ ){5}(\/usr\/bin\/acme-client \S.* && systemctl reload nginx)$/m.exec(text);
    assert.ok(cronLine !== null, 'the crontab line is in the README');
    const documented = cronLine[1] as string;
    // The manual's EXAMPLES give the same command (at another time of night).
    const manual = readFileSync(join(ROOT, 'man', 'acme-client.1'), 'utf8');
    assert.match(manual, new RegExp(`^(?:\\S+ ){5}${documented.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`, 'm'), 'the manual\'s crontab line is the README\'s');
    const command = documented.replace('/usr/bin/acme-client', 'acme-client');
    const { bin, log, absent } = installed();
    const cron = (env: NodeJS.ProcessEnv = {}) =>
      spawnSync('/bin/sh', ['-c', command], { encoding: 'utf8', env: { PATH: `${bin}:/usr/bin:/bin`, NODE_EXTRA_CA_CERTS: lab.tlsCaFile, ...env } });

    const issued = cron();
    assert.equal(issued.status, 0, issued.stderr);
    assert.deepEqual(recorded(log), ['reload nginx']);
    const nothing = cron();
    assert.equal(nothing.status, 2, nothing.stderr);
    assert.equal(nothing.stdout + nothing.stderr, '', 'a night with nothing to do prints nothing: cron mails whatever is printed');
    assert.deepEqual(recorded(log), ['reload nginx'], 'no reload when nothing changed');
    const failed = cron({ CERTDIR: absent });
    assert.equal(failed.status, 1);
    assert.match(failed.stderr, /-c directory must exist/);
    assert.deepEqual(recorded(log), ['reload nginx'], 'no reload after a failure');
  });

  // Would fail if: ExecStopPost reloaded on any exit but 0 (or never); SuccessExitStatus lost the
  // 2 (every quiet night a failed unit); ExecStart stopped splitting $ACME_CLIENT_ARGS into
  // arguments or lost ${ACME_CLIENT}; the README's environment file kept -v (the journal would
  // get two lines every run); a failed reload did not fail the unit.
  test("the unit's ExecStart and ExecStopPost with the README's environment file: exit 0 reloads, exit 2 is a silent success, exit 1 a failure without reload", () => {
    const unit = readFileSync(join(UNITS, 'acme-client@.service'), 'utf8');
    const setting = (key: string): string[] => [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1] as string);
    const [execStart] = setting('ExecStart');
    const [execStopPost] = setting('ExecStopPost');
    assert.ok(execStart !== undefined && execStopPost !== undefined);
    assert.deepEqual(setting('EnvironmentFile'), ['/etc/acme-client/%i.conf']);
    const successStatuses = new Set([0, ...setting('SuccessExitStatus').flatMap((s) => s.split(/\s+/).map(Number))]);
    // The environment file as the README writes it with printf; the unit's comment shows the same.
    const printf = /^ {4}printf '%s\\n' ((?:'[^']*' )+)\\\n {8}> \/etc\/acme-client\/example\.org\.conf$/m.exec(readme());
    assert.ok(printf !== null, "the README's printf line writing the environment file");
    const fileLines = [...(printf[1] as string).matchAll(/'([^']*)'/g)].map((m) => m[1] as string);
    for (const line of fileLines) assert.match(unit, new RegExp(`^#   ${line.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`, 'm'), 'the unit\'s comment shows the README\'s file');
    const fromFile = Object.fromEntries(fileLines.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    const defaults = Object.fromEntries(setting('Environment').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    const { bin, log, absent } = installed();

    /** One start of the unit as systemd runs it: ExecStart, then ExecStopPost told how it ended. */
    const start = (extra: Record<string, string> = {}): { status: number | null; output: string; failed: boolean } => {
      const env: Record<string, string> = { PATH: `${bin}:/usr/bin:/bin`, NODE_EXTRA_CA_CERTS: lab.tlsCaFile, ...defaults, ...fromFile, ...extra };
      const [command, ...args] = systemdArgv(execStart, env);
      const main = spawnSync(command as string, args, { encoding: 'utf8', env });
      const [shell, ...shellArgs] = systemdArgv(execStopPost, env);
      const stopPost = spawnSync(shell as string, shellArgs, { encoding: 'utf8', env: { ...env, EXIT_CODE: 'exited', EXIT_STATUS: String(main.status) } });
      return { status: main.status, output: main.stdout + main.stderr + stopPost.stdout + stopPost.stderr, failed: !successStatuses.has(main.status as number) || stopPost.status !== 0 };
    };

    const issued = start();
    assert.equal(issued.status, 0, issued.output);
    assert.equal(issued.failed, false);
    assert.deepEqual(recorded(log), ['reload nginx']);
    const nothing = start();
    assert.equal(nothing.status, 2, nothing.output);
    assert.equal(nothing.failed, false, 'exit 2 is a success of the unit');
    assert.equal(nothing.output, '', 'nothing to do, nothing in the journal');
    assert.deepEqual(recorded(log), ['reload nginx'], 'no reload when nothing changed');
    const failure = start({ CERTDIR: absent });
    assert.equal(failure.status, 1);
    assert.equal(failure.failed, true);
    assert.match(failure.output, /-c directory must exist/);
    assert.deepEqual(recorded(log), ['reload nginx'], 'no reload after a failure');
    const reloadFails = start({ RELOAD: 'false', ACME_CLIENT_ARGS: `-F ${fromFile.ACME_CLIENT_ARGS ?? ''}` });
    assert.equal(reloadFails.status, 0, reloadFails.output);
    assert.equal(reloadFails.failed, true, 'a failed reload fails the unit');
  });
});
