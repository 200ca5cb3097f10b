// The manual is part of the behaviour: it must stay lint-clean and name every flag.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, prerequisite } from './helpers.js';

const page = join(ROOT, 'man', 'acme-client.1');
const mandoc = spawnSync('mandoc', ['-V']).error ? 'mandoc is not installed' : false;

test('mandoc -Tlint reports nothing above style level', { skip: prerequisite(mandoc) }, () => {
  const lint = spawnSync('mandoc', ['-Tlint', '-Wwarning', page], { encoding: 'utf8' });
  const messages = (lint.stdout + lint.stderr).split('\n').filter((l) => /: (WARNING|ERROR|UNSUPP|BADARG):/.test(l));
  assert.deepEqual(messages, []);
  assert.equal(lint.status, 0);
});

test('every flag and the --server extension is documented', () => {
  const text = readFileSync(page, 'utf8');
  for (const flag of 'abCceFfkmNnOrstv'.split('')) {
    assert.match(text, new RegExp(`^\\.It Fl ${flag}\\b`, 'm'), `-${flag}`);
  }
  assert.match(text, /^\.It Fl -server Ar url/m);
  for (const section of ['SYNOPSIS', 'DESCRIPTION', 'EXIT STATUS', 'FILES', 'EXAMPLES']) assert.match(text, new RegExp(`^\\.Sh ${section}$`, 'm'));
});
