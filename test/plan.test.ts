// How the parent plans each child's confinement, including on machines that lack a layer.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Capabilities, childCommand, planChild, resolveUser } from '../src/isolation.js';
import { Failure } from '../src/log.js';

const nobody = { name: 'nobody', uid: 65534, gid: 65534 };
const full: Capabilities = { permissionFlag: '--experimental-permission', netns: true, jail: true, missing: [] };
const none: Capabilities = { permissionFlag: null, netns: false, jail: false, missing: ['a', 'b'] };
const keyNeeds = { reads: ['/etc/acme/privkey.pem'], writes: [], root: false, jailDir: null };
const dirNeeds = { reads: ['/var/www/acme'], writes: ['/var/www/acme'], root: true, jailDir: '/var/www/acme' };

test('with every layer: netproc keeps the network, others get a namespace, root roles a jail', () => {
  assert.deepEqual(planChild('netproc', { reads: [], writes: [], root: false, jailDir: null }, nobody, full),
    { role: 'netproc', drop: nobody, network: 'host', jail: null, reads: [], writes: [], missing: [] });
  const acct = planChild('acctproc', keyNeeds, nobody, full);
  assert.equal(acct.network, 'none');
  assert.deepEqual(acct.drop, nobody);
  const chng = planChild('chngproc', dirNeeds, nobody, full);
  assert.equal(chng.drop, null);
  assert.equal(chng.jail, '/var/www/acme');
});

test('without the layers the plan says what is missing, and still runs', () => {
  const chng = planChild('chngproc', dirNeeds, nobody, none);
  assert.deepEqual(chng.missing, ['file allow-list', 'network namespace', 'mount namespace jail']);
  assert.equal(chng.network, 'host');
  assert.equal(chng.jail, null);
  const cmd = childCommand(chng, [], '/x/chngproc.js', ['{}', '{}'], none, null);
  assert.deepEqual(cmd, { file: process.execPath, args: ['/x/chngproc.js', '{}', '{}'] });
});

test('the command line carries the allow-list, one flag per path', () => {
  const acct = planChild('acctproc', { ...keyNeeds, writes: ['/etc/acme/privkey.pem'] }, nobody, full);
  const cmd = childCommand(acct, [], '/x/acctproc.js', ['{}'], full, null);
  assert.equal(cmd.file, '/usr/bin/unshare');
  assert.deepEqual(cmd.args, ['--net', '--', process.execPath, '--experimental-permission', '--allow-fs-read=/x/acctproc.js',
    '--disable-warning=ExperimentalWarning', '--allow-fs-read=/etc/acme/privkey.pem', '--allow-fs-write=/etc/acme/privkey.pem', '/x/acctproc.js', '{}']);
});

test('resolveUser: numeric ids, root refused, unknown refused', () => {
  assert.deepEqual(resolveUser('1234:5678'), { name: '1234:5678', uid: 1234, gid: 5678 });
  assert.deepEqual(resolveUser('nobody'), { name: 'nobody', uid: 65534, gid: 65534 });
  assert.throws(() => resolveUser('0'), (e: unknown) => e instanceof Failure && e.problem === 'children must not run as root');
  assert.throws(() => resolveUser('no-such-user-here'), (e: unknown) => e instanceof Failure && e.problem === 'no such user');
  assert.equal(resolveUser(undefined).uid !== 0, true);
});
