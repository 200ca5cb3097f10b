// acme-client run by a user who is not root, end to end against the Pebble lab: the README's
// set-up for a user of its own (seed 000's: a system user, its directories, its crontab line, sudo
// for the reloads) run for real, then that crontab line as cron runs it; and runs where the kernel
// gives the user namespaces, and where it refuses them. The tests run as root (CI does): each
// switches to its unprivileged user itself, and that user owns the files it is given.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, labUnavailable, startLab } from '../scripts/pebble-lab.js';
import { CLIENT, ISSUED_SET, NOBODY, ROOT, ecKeys, isRoot, nobodyHasNoUserNamespaces, ownedBy, prerequisite, readableCopy, runClient, runWithoutUserNamespaces, workDir } from './helpers.js';

const skip = prerequisite(!isRoot ? 'needs root: the tests create their user, or switch to nobody' : labUnavailable());

/** The indented block that follows `<!-- <marker>: ... -->` in the README, one line each. */
function readmeBlock(marker: string): string[] {
  const lines = readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n');
  const start = lines.findIndex((l) => l.startsWith(`<!-- ${marker}: `));
  assert.ok(start >= 0, `the README has a ${marker} block`);
  const block: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('    ')) block.push(line.slice(4));
    else if (line !== '' || block.length > 0) break;
  }
  assert.ok(block.length > 0, `the README's ${marker} block is not empty`);
  return block;
}

const recorded = (log: string): string[] => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter((l) => l !== '') : []);

describe("the README's user of its own: set-up, then its crontab line as cron runs it", { skip }, () => {
  let lab: Lab;
  // The README's names, put where this test may put things: the user's name made unique, its home
  // and the challenge directory (the one the lab's nginx serves) under a directory of the test's.
  const name = `acme-cert-${randomBytes(3).toString('hex')}`;
  const top = mkdtempSync(join(tmpdir(), 'acme-client-nonroot-'));
  const home = join(top, 'home');
  let created = false;
  const localise = (text: string): string => text.replaceAll('/var/lib/acme-cert', home).replaceAll('/var/www/acme-challenge', lab.challengeDir).replaceAll('acme-cert', name);

  before(async () => {
    chmodSync(top, 0o755);
    lab = await startLab();
  });
  after(async () => {
    if (created) execFileSync('userdel', [name]);
    rmSync(top, { recursive: true, force: true });
    await lab?.stop();
  });

  // Would fail if acme-client refused a user who is not root (as it did: "must be run as root"),
  // if the children could not be confined as that user (a jail that cannot mount, a namespace the
  // user may not make), if a night with nothing to do printed anything or exited 0 (cron would
  // mail, sudo would reload every night), or if the README's set-up, crontab line or sudoers lines
  // stopped fitting together.
  test('the first night issues and asks sudo for both reloads; the second prints nothing and exits 2', () => {
    // The set-up, as root, line by line as the README gives it.
    for (const line of readmeBlock('set-up')) {
      execFileSync('/bin/sh', ['-ec', localise(line)], { stdio: ['ignore', 'ignore', 'pipe'] });
      if (line.startsWith('useradd ')) created = true;
    }
    const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }));
    const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }));
    assert.notEqual(uid, 0);
    assert.equal(statSync(join(home, 'private')).mode & 0o777, 0o700);
    assert.equal(statSync(join(home, 'private', 'account.pem')).uid, uid);

    // The crontab: its PATH, and the entry's command (after the five time fields).
    const crontab = readmeBlock('crontab');
    const path = /^PATH=(.*)$/.exec(crontab[0] as string)?.[1];
    assert.ok(path !== undefined, 'the crontab sets PATH');
    const entry = /^(?:\S+ ){5}(.*)$/.exec(crontab[1] as string)?.[1];
    assert.ok(entry !== undefined && crontab.length === 2, 'one crontab entry');
    const command = localise(entry);

    // What sudo is asked to run must be what the sudoers lines allow, to this user, without a password.
    const asked = [...command.matchAll(/\bsudo (\S[^&]*?)\s*(?:&&|$)/g)].map((m) => m[1] as string);
    const allowed = readmeBlock('sudoers').map((l) => {
      const m = /^(\S+) ALL=\(root\) NOPASSWD: (.+)$/.exec(localise(l));
      assert.ok(m !== null && m[1] === name, l);
      return m[2] as string;
    });
    assert.deepEqual(asked, allowed);
    assert.deepEqual(asked, ['/bin/systemctl reload nginx.service', '/usr/sbin/postfix reload']);

    // On cron's PATH: `acme-client`, the built client pointed at the lab, and a stand-in `sudo`
    // that records what it is asked.
    const bin = join(top, 'bin');
    const log = join(top, 'sudo.log');
    execFileSync('install', ['-d', '-m', '0755', bin]);
    writeFileSync(log, '');
    chownSync(log, uid, gid);
    const ca = join(top, 'lab-ca.pem');
    writeFileSync(ca, readFileSync(lab.tlsCaFile), { mode: 0o644 });
    writeFileSync(join(bin, 'acme-client'), `#!/bin/sh
NODE_EXTRA_CA_CERTS='${ca}' exec '${process.execPath}' '${CLIENT}' --server '${lab.directoryUrl}' "$@"
`, { mode: 0o755 });
    writeFileSync(join(bin, 'sudo'), `#!/bin/sh\necho "$*" >> '${log}'\n`, { mode: 0o755 });
    // As cron runs a user's entry: sh -c, in the home directory, as the user with only its groups,
    // with HOME, LOGNAME and SHELL set and PATH as the crontab says.
    const night = () => spawnSync('/bin/sh', ['-c', command], {
      uid, gid, cwd: home, encoding: 'utf8',
      env: { HOME: home, LOGNAME: name, SHELL: '/bin/sh', PATH: `${bin}:${path}` },
    });

    const first = night();
    assert.equal(first.status, 0, first.stderr);
    const certs = join(home, 'certs');
    const files = readdirSync(certs);
    for (const file of ISSUED_SET) assert.ok(files.includes(file), `${file} in ${files.join(' ')}`);
    assert.ok(files.some((f) => /^cert-\d{8}T\d{6}Z\.pem$/.test(f)), '--dated kept a dated copy');
    for (const file of files) assert.equal(statSync(join(certs, file)).uid, uid, `${file} belongs to ${name}`);
    const subject = execFileSync('openssl', ['x509', '-noout', '-ext', 'subjectAltName', '-in', join(certs, 'cert.pem')], { encoding: 'utf8' });
    assert.match(subject, /DNS:example\.org, DNS:www\.example\.org/);
    assert.deepEqual(recorded(log), allowed, 'both reloads, in order');
    assert.deepEqual(readdirSync(lab.challengeDir), [], 'the challenge files are gone');

    const second = night();
    assert.equal(second.status, 2, second.stderr);
    assert.equal(second.stdout + second.stderr, '', 'a night with nothing to do prints nothing: cron mails whatever is printed');
    assert.deepEqual(recorded(log), allowed, 'no reload when nothing changed');
  });
});

describe('as a user who is not root, with and without user namespaces', { skip }, () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab();
  });
  after(async () => {
    await lab?.stop();
  });

  /** A work area nobody owns, with its keys, and the lab's CA where nobody can read it. */
  const nobodysArea = () => {
    const w = workDir();
    const { acct, dom } = ecKeys(w);
    const ca = readableCopy(lab.tlsCaFile, w, NOBODY);
    ownedBy(w, NOBODY);
    const args = (name: string): string[] => ['--server', lab.directoryUrl, '-c', w.certs, '-C', lab.challengeDir, '-f', acct, '-k', dom, name];
    return { w, args, env: { NODE_EXTRA_CA_CERTS: ca } };
  };

  // Would fail if a child lacked its own user namespace (it would then share the parent's), if
  // the plan claimed a layer it did not apply, or if the report left out what a run that is not
  // root's does not protect.
  test('--isolation-report: every child in a user namespace of its own, nothing missing, and what is left open', { skip: isRoot && prerequisite(nobodyHasNoUserNamespaces()) }, async () => {
    const { w, env } = nobodysArea();
    const run = await runClient(['--isolation-report', '-c', w.certs, '-C', w.www, '-f', join(w.priv, 'account.pem'), '-k', join(w.priv, 'domain.pem')], { env, ...NOBODY });
    assert.equal(run.status, 0, run.stderr);
    const section = (role: string): string => run.stdout.slice(run.stdout.indexOf(`\n${role}:`)).split('\n').slice(1, 5).join('\n');
    for (const role of ['netproc', 'acctproc', 'keyproc', 'chngproc', 'certproc', 'fileproc']) {
      assert.match(section(role), /user namespace: its own \(uid 0 there is uid 65534 here\)/, role);
      assert.match(section(role), /planned: {2}user the invoking user \(uid 65534\), own user namespace, no capabilities;/, role);
      assert.match(section(role), /not applied: nothing/, role);
    }
    assert.match(section('netproc'), /interfaces \[[^\]]*eth|interfaces \[lo,/);
    for (const role of ['acctproc', 'keyproc', 'certproc', 'chngproc', 'fileproc']) assert.match(section(role), /interfaces \[\]/, role);
    assert.match(section('chngproc'), new RegExp(`jailed to ${w.www}`));
    assert.match(section('fileproc'), new RegExp(`jailed to ${w.certs}`));
    assert.match(run.stdout, /^not root: every child runs as uid 65534, the invoking user/m);
    assert.doesNotMatch(run.stdout, /missing layer/);
  });

  // Would fail if the probe took a refused user namespace for a granted one (every child would
  // then fail to start), if the run stopped where it should go on with the permission model alone,
  // or if it kept quiet under -v (or spoke without it) about what was not applied.
  test('where the kernel refuses user namespaces: the run goes on, -v and --isolation-report say what was not applied', async () => {
    const { w, args, env } = nobodysArea();
    const issued = await runWithoutUserNamespaces(['-v', ...args('nouserns.example.test')], { env, user: NOBODY });
    assert.equal(issued.status, 0, issued.stderr);
    assert.deepEqual(readdirSync(w.certs).sort(), ISSUED_SET);
    assert.match(issued.stderr, /^acme-client: isolation: the kernel refuses this user a user namespace: children run in the invoking user's own namespaces, so each can read the others' memory, all but netproc can reach the network, and chngproc and fileproc are not jailed$/m);
    assert.match(issued.stderr, /^acme-client: acctproc: user the invoking user \(uid 65534\), no user namespace; network host; .*lacking user namespace, network namespace$/m);
    assert.match(issued.stderr, /^acme-client: fileproc: user the invoking user \(uid 65534\), no user namespace; .*lacking user namespace, network namespace, mount namespace jail$/m);

    const quiet = await runWithoutUserNamespaces(args('nouserns.example.test'), { env, user: NOBODY });
    assert.equal(quiet.status, 2, quiet.stderr);
    assert.equal(quiet.stdout + quiet.stderr, '', 'without -v a night with nothing to do stays silent');

    const report = await runWithoutUserNamespaces(['--isolation-report', '-c', w.certs, '-C', w.www, '-f', join(w.priv, 'account.pem'), '-k', join(w.priv, 'domain.pem')], { env, user: NOBODY });
    assert.equal(report.status, 0, report.stderr);
    assert.match(report.stdout, /^missing layer: the kernel refuses this user a user namespace: /m);
    assert.match(report.stdout, /^without user namespaces, the permission model alone confines them: each can read the others' memory\.$/m);
    assert.match(report.stdout, /^fileproc:\n {2}observed: .* user namespace: the parent's\n.*\n {2}not applied: user namespace, network namespace, mount namespace jail$/m);
    assert.match(report.stdout, /^netproc:\n(?:.*\n){2} {2}not applied: user namespace$/m);
  });
});
