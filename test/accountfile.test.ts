// The account URL file beside the account key (src/fsutil/accountfile.ts): what is taken from it,
// and what is not. Each case would fail if the file were trusted further than it is here.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { linkSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccountFile } from '../src/fsutil/accountfile.js';

const SERVER = 'https://ca.example.test/dir';
const URL_OF = 'https://ca.example.test/acct/1';

// Every case's directory is made under one, removed at the end.
const top = mkdtempSync(join(tmpdir(), 'acme-accountfile-test-'));
after(() => rmSync(top, { recursive: true, force: true }));

function fileWith(content: unknown): string {
  const path = join(mkdtempSync(join(top, 'case-')), 'account.pem.account.json');
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content), { mode: 0o600 });
  return path;
}

function accountOf(path: string, key: string): unknown {
  const file = AccountFile.open(path);
  try {
    return file?.accountOf(key) ?? null;
  } finally {
    file?.close();
  }
}

test('the kept account is the key\'s own, at the directory\'s origin, https, of a size a message carries', () => {
  assert.deepEqual(accountOf(fileWith({ server: SERVER, url: URL_OF, key: 'k1' }), 'k1'), { server: SERVER, url: URL_OF, newNonce: null });
  assert.equal(accountOf(fileWith({ server: SERVER, url: URL_OF, key: 'k1' }), 'k2'), null, 'another key\'s account');
  assert.equal(accountOf(fileWith({ server: SERVER, url: URL_OF }), 'k1'), null, 'no key named');
  assert.equal(accountOf(fileWith({ server: SERVER, url: 'https://elsewhere.example.test/acct/1', key: 'k1' }), 'k1'), null, 'another origin');
  assert.equal(accountOf(fileWith({ server: SERVER, url: 'http://ca.example.test/acct/1', key: 'k1' }), 'k1'), null, 'plain http');
  assert.equal(accountOf(fileWith({ server: SERVER, url: `${URL_OF}/${'x'.repeat(5000)}`, key: 'k1' }), 'k1'), null, 'longer than netproc takes');
  assert.equal(accountOf(fileWith('{"server": '), 'k1'), null, 'not JSON');
  // The URL as the CA gave it, normalised: stray spaces would be sent as the kid and refused.
  assert.deepEqual(accountOf(fileWith({ server: SERVER, url: ` ${URL_OF} `, key: 'k1' }), 'k1'), { server: SERVER, url: URL_OF, newNonce: null });
});

// Would fail if netproc were handed a nonce URL of anywhere: its first request would go there.
test('the kept newNonce URL is taken only when https and of the directory\'s origin; without it the account is still known', () => {
  const nonce = 'https://ca.example.test/new-nonce';
  assert.deepEqual(accountOf(fileWith({ server: SERVER, url: URL_OF, key: 'k1', newNonce: nonce }), 'k1'), { server: SERVER, url: URL_OF, newNonce: nonce });
  for (const [newNonce, why] of [['https://elsewhere.example.test/new-nonce', 'another origin'], ['http://ca.example.test/new-nonce', 'plain http'],
    [`${nonce}/${'x'.repeat(5000)}`, 'longer than netproc takes'], ['not a URL', 'not a URL'], [7, 'not a string']] as const) {
    assert.deepEqual(accountOf(fileWith({ server: SERVER, url: URL_OF, key: 'k1', newNonce }), 'k1'), { server: SERVER, url: URL_OF, newNonce: null }, why);
  }
});

test('a hard link, a FIFO or another user\'s file is neither read nor written', () => {
  const path = fileWith({ server: SERVER, url: URL_OF, key: 'k1' });
  linkSync(path, `${path}.second-name`);
  assert.equal(AccountFile.open(path), null, 'two names: root would write through a planted link');
  const fifo = join(mkdtempSync(join(top, 'case-')), 'account.pem.account.json');
  execFileSync('mkfifo', [fifo]);
  assert.equal(AccountFile.open(fifo), null, 'a FIFO');
  if (process.getuid?.() === 0) {
    const foreign = fileWith({ server: SERVER, url: URL_OF, key: 'k1' });
    execFileSync('chown', ['65534', foreign]);
    assert.equal(AccountFile.open(foreign), null, 'nobody\'s file, opened by root');
  }
});
