// The parent's checks that come before any child: usage, names, root, pre-flight. No CA needed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { USAGE } from '../src/args.js';
import { ROOT, isRoot, prerequisite, runClient, workDir } from './helpers.js';

// Would fail if --help were an unknown option again, printed on stderr, or exited otherwise than 0.
test('--help of each command: its usage on stdout and where its manual is, nothing on stderr, exit 0', async () => {
  const dist = join(ROOT, 'dist');
  const client = await runClient(['--help']);
  assert.equal(client.status, 0, client.stderr);
  assert.equal(client.stderr, '');
  assert.equal(client.stdout, `${USAGE}\nSee acme-client(1) and acme-client.conf(5).\n`);
  const expected: [string, RegExp][] = [
    ['acme-client-dns01.js', /^usage: acme-client-dns01 --provider [^\n]+\n {7}acme-client-dns01 --version \| --help\nSee acme-client-dns01\(1\)\.\n$/],
    ['acme-client-server.js', /^usage: acme-client-server \[-tv\] -f config \.\.\.\n[^]*acme-client-server --version \| --help\nSee acme-client-server\(8\) and acme-client-server\.conf\(5\)\.\n$/],
  ];
  for (const [command, usage] of expected) {
    const run = await runClient(['--help'], { client: join(dist, command) });
    assert.equal(run.status, 0, `${command}: ${run.stderr}`);
    assert.equal(run.stderr, '', command);
    assert.match(run.stdout, usage, command);
  }
});

test('no domain: usage on stderr, exit 1', async () => {
  const run = await runClient([]);
  assert.equal(run.status, 1);
  assert.equal(run.stdout, '');
  assert.equal(run.stderr, `acme-client: no domain given\n${USAGE}\n`);
});

test('unknown flag: one problem line and the usage line, exit 1', async () => {
  const run = await runClient(['-x', 'example.com']);
  assert.equal(run.status, 1);
  assert.equal(run.stderr, `acme-client: unknown option -- x\n${USAGE}\n`);
});

test('bad domain syntax, exit 1', async () => {
  const run = await runClient(['-c', '/nonexistent', 'exa!mple.com']);
  assert.equal(run.status, 1);
  assert.equal(run.stderr, 'acme-client: exa!mple.com: bad domain syntax\n');
});

test('a wildcard is a bad name without -t', async () => {
  const run = await runClient(['*.example.com']);
  assert.equal(run.status, 1);
  assert.equal(run.stderr, 'acme-client: *.example.com: bad domain syntax\n');
});

// Would fail if a user who is not root were still refused ("must be run as root"), or if --user
// were taken without root, who alone can give the children another uid.
test('not root: the pre-flight speaks, not a refusal; --user needs root', { skip: prerequisite(isRoot ? false : 'needs root to run the client as nobody') }, async () => {
  const run = await runClient(['-c', '/nonexistent', '-C', '/nonexistent', '-f', '/nonexistent/a', '-k', '/nonexistent/d', 'example.com'], { uid: 65534, gid: 65534 });
  assert.equal(run.status, 1);
  assert.equal(run.stderr, ['/nonexistent: -c directory must exist', '/nonexistent/d: -k file must exist', '/nonexistent: -C directory must exist', '/nonexistent/a: -f file must exist']
    .map((line) => `acme-client: ${line}\n`).join(''));
  const user = await runClient(['--user', 'nobody', 'example.com'], { uid: 65534, gid: 65534 });
  assert.equal(user.status, 1);
  assert.equal(user.stderr, 'acme-client: nobody: --user needs root: not root, the children run as the invoking user\n');
});

test('pre-flight: every missing path is reported before exiting 1', { skip: prerequisite(isRoot ? false : 'needs root') }, async () => {
  const w = workDir();
  const missing = (name: string): string => join(w.dir, name);
  const run = await runClient(['-c', missing('no-certs'), '-C', missing('no-www'), '-f', missing('acct.pem'), '-k', missing('dom.pem'), 'example.com']);
  assert.equal(run.status, 1);
  assert.equal(run.stderr, [
    `acme-client: ${missing('no-certs')}: -c directory must exist`,
    `acme-client: ${missing('dom.pem')}: -k file must exist`,
    `acme-client: ${missing('no-www')}: -C directory must exist`,
    `acme-client: ${missing('acct.pem')}: -f file must exist`,
    '',
  ].join('\n'));
});

test('pre-flight: -n, -N and -t lift the checks on what they create or replace', { skip: prerequisite(isRoot ? false : 'needs root') }, async () => {
  const w = workDir();
  const run = await runClient(['-n', '-N', '-t', 'dns-01', '-c', join(w.dir, 'nope'), '-C', join(w.dir, 'nope2'), '-f', join(w.dir, 'a.pem'), '-k', join(w.dir, 'd.pem'), 'example.com']);
  assert.equal(run.status, 1);
  assert.equal(run.stderr, `acme-client: ${join(w.dir, 'nope')}: -c directory must exist\n`);
});

test('--server must be an https URL, or http on the loopback', { skip: prerequisite(isRoot ? false : 'needs root') }, async () => {
  const w = workDir();
  const run = await runClient(['--server', 'http://192.0.2.1/dir', '-c', w.certs, '-C', w.www, '-n', '-N', '-f', join(w.priv, 'a'), '-k', join(w.priv, 'd'), 'example.com']);
  assert.equal(run.status, 1);
  assert.equal(run.stderr, 'acme-client: http://192.0.2.1/dir: plain http is for a CA on this host\'s loopback only (127.0.0.0/8, ::1, localhost); use https\n');
  const other = await runClient(['--server', 'ftp://127.0.0.1:1/dir', '-c', w.certs, '-C', w.www, '-n', '-N', '-f', join(w.priv, 'a'), '-k', join(w.priv, 'd'), 'example.com']);
  assert.equal(other.stderr, 'acme-client: ftp://127.0.0.1:1/dir: not an https URL nor the name of a CA (letsencrypt, letsencrypt-staging, zerossl, google, google-staging)\n');
});

test('--user: an unknown user or root is refused before anything starts', { skip: prerequisite(isRoot ? false : 'needs root') }, async () => {
  const w = workDir();
  const args = ['-n', '-N', '-c', w.certs, '-C', w.www, '-f', join(w.priv, 'a.pem'), '-k', join(w.priv, 'd.pem'), 'example.com'];
  const unknown = await runClient(['--user', 'no-such-user-here', ...args]);
  assert.equal(unknown.status, 1);
  assert.equal(unknown.stderr, 'acme-client: no-such-user-here: no such user\n');
  const root = await runClient(['--user', 'root', ...args]);
  assert.equal(root.status, 1);
  assert.equal(root.stderr, 'acme-client: root: children must not run as root\n');
});

test('--isolation-report: each child describes its own confinement, and the cost is measured', { skip: prerequisite(isRoot ? false : 'needs root') }, async () => {
  const w = workDir();
  // --user: whatever users this machine has (the package's _acme-client comes first when installed).
  const run = await runClient(['--isolation-report', '--user', 'nobody', '-c', w.certs, '-C', w.www, '-f', join(w.priv, 'a.pem'), '-k', join(w.priv, 'd.pem')]);
  assert.equal(run.status, 0, run.stderr);
  const section = (role: string): string => run.stdout.slice(run.stdout.indexOf(`${role}:`)).split('\n').slice(0, 4).join('\n');
  for (const role of ['netproc', 'acctproc', 'keyproc', 'certproc']) assert.match(section(role), /observed: uid 65534 gid 65534 .*reads \/etc\/shadow: no spawns processes: no/, role);
  for (const role of ['chngproc', 'fileproc']) assert.match(section(role), /observed: uid 0 gid 0 .*interfaces \[\] reads \/etc\/shadow: no/, role);
  assert.match(section('netproc'), /interfaces \[[^\]]*lo/);
  assert.match(section('acctproc'), /interfaces \[\]/);
  assert.match(section('fileproc'), new RegExp(`jailed to ${w.certs}`));
  assert.match(run.stdout, /^ {2}confined: {3}\d+ ms, [\d.]+ MiB PSS$/m);
  assert.match(run.stdout, /^ {2}unconfined: \d+ ms, [\d.]+ MiB PSS$/m);
});

test('relative paths are made absolute before any child sees them', { skip: prerequisite(isRoot ? false : 'needs root') }, async () => {
  const w = workDir();
  const run = await runClient(['-v', '--isolation-report', '-c', 'certs', '-C', 'www', '-f', 'private/a.pem', '-k', 'private/d.pem'], { cwd: w.dir });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, new RegExp(`jailed to ${w.certs}`));
  assert.match(run.stdout, new RegExp(`r ${join(w.priv, 'a.pem')}`));
});

test('a bad --timeout is refused before any child starts', { skip: prerequisite(isRoot ? false : 'needs root') }, async () => {
  const w = workDir();
  const run = await runClient(['--timeout', '0', '-c', w.certs, '-C', w.www, '-n', '-N', '-f', join(w.priv, 'a'), '-k', join(w.priv, 'd'), 'example.com']);
  assert.equal(run.status, 1);
  assert.equal(run.stderr, `acme-client: --timeout needs whole seconds from 1 to 86400: 0\n${USAGE}\n`);
});

test('misused extensions: one line naming the option, the usage line, exit 1', async () => {
  const cases: [string[], string][] = [
    [['--key-type', 'rsa1024', 'example.com'], '--key-type: unknown key type "rsa1024" (one of rsa2048, rsa3072, rsa4096, ec256, ec384)'],
    [['--eab-kid', 'kid-1', 'example.com'], '--eab-kid and --eab-hmac-key-file go together'],
    [['--rollover-account-key', '/etc/acme/new.pem', 'example.com'], '--rollover-account-key takes no domain'],
    [['--contact', 'mailto:a@b@example.org', 'example.com'], '--contact: not one e-mail address: "mailto:a@b@example.org" (as in mailto:admin@example.org)'],
  ];
  for (const [args, problem] of cases) {
    const run = await runClient(args);
    assert.equal(run.status, 1, problem);
    assert.equal(run.stderr, `acme-client: ${problem}\n${USAGE}\n`);
  }
});
