// ACME Management Server (ACMEMS) users moving over: its answers, its configurations, its start-up,
// written here in its style (its own files are not copied).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { acmemsLayout } from '../src/server/orders.js';
import { openssl, workDir } from './helpers.js';

/** n self-signed certificates (what they sign does not matter to the layout), as one PEM text. */
function certificates(n: number): string[] {
  const w = workDir();
  return Array.from({ length: n }, (_, i) => {
    const key = join(w.dir, `k${i}.pem`);
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
    return openssl(['req', '-x509', '-new', '-key', key, '-subj', `/CN=cert${i}.example.test`, '-days', '1']);
  });
}

// Fails if the answer goes back as fullchain.pem has it (no empty line), or with an empty line
// between the chain's own certificates too.
test('the 200 answer: the certificate, an empty line, the chain; a client splitting at the first empty line gets both', () => {
  const [leaf, first, second] = certificates(3) as [string, string, string];
  const answer = acmemsLayout(leaf + first + second);
  assert.equal(answer, `${leaf}\n${first}${second}`);
  const [certificate, chain, ...more] = answer.split('\n\n');
  assert.deepEqual(more, []);
  assert.equal(new X509Certificate(certificate as string).subject, 'CN=cert0.example.test');
  assert.equal(new X509Certificate(chain as string).subject, 'CN=cert1.example.test');
  // ACMEMS's own test: a leaf with one issuer splits in exactly two.
  assert.equal(acmemsLayout(leaf + first).split('\n\n').length, 2);
  assert.equal(acmemsLayout(leaf), leaf, 'no chain: no empty line');
});

