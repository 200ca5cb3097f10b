// A test CA on the loopback over plain http (as Boulder's http://127.0.0.1:4001/directory, which
// the ACME Management Server's tests use): taken, and its URLs with it; --accept-terms read from
// its directory. Pebble speaks https alone and checks each JWS "url" against it, so the CA here is
// test/fakeca.ts (which checks no signature) behind a plain-http relay that rewrites its https base
// to the relay's in every body and header.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { FakeCa } from './fakeca.js';
import { isRoot, prerequisite, runClient, workDir } from './helpers.js';

const skip = prerequisite(isRoot ? false : 'needs root (acme-client must be run as root)');

interface Relay {
  directoryUrl: string;
  /** Method and path of every request relayed, in order. */
  readonly requests: string[];
  stop(): Promise<void>;
}

async function plainRelay(ca: FakeCa): Promise<Relay> {
  const requests: string[] = [];
  const trust = readFileSync(ca.caFile);
  let base = '';
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push(`${req.method} ${req.url}`);
      const upstream = https.request(`${ca.base}${req.url ?? '/'}`, { method: req.method, headers: { ...req.headers, host: new URL(ca.base).host }, ca: trust }, (answer) => {
        const body: Buffer[] = [];
        answer.on('data', (c: Buffer) => body.push(c));
        answer.on('end', () => {
          const headers: Record<string, string | string[]> = {};
          for (const [name, value] of Object.entries(answer.headers)) {
            if (value === undefined || name === 'content-length' || name === 'transfer-encoding' || name === 'connection') continue;
            headers[name] = Array.isArray(value) ? value.map((v) => v.replaceAll(ca.base, base)) : value.replaceAll(ca.base, base);
          }
          const text = Buffer.concat(body).toString('latin1').replaceAll(ca.base, base);
          res.writeHead(answer.statusCode ?? 502, { ...headers, 'content-length': Buffer.byteLength(text, 'latin1') });
          res.end(text, 'latin1');
        });
      });
      upstream.on('error', () => res.destroy());
      upstream.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    directoryUrl: `${base}/dir`,
    requests,
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

let ca: FakeCa;
let relay: Relay;
before(async () => {
  if (skip !== false) return;
  ca = await FakeCa.start();
  relay = await plainRelay(ca);
});
after(async () => {
  await relay?.stop();
  await ca?.stop();
});

// Fails if http:// were refused for a loopback CA, or if any URL the CA names (nonce, account,
// order, authorization, challenge, finalize, certificate) were refused for being plain http.
test('a CA on the loopback over plain http: the whole issuance goes through it', { skip }, async () => {
  const w = workDir();
  const run = await runClient(['-n', '-N', '--no-ari', '--server', relay.directoryUrl, '-f', join(w.priv, 'account.pem'), '-k', join(w.priv, 'domain.pem'),
    '-c', w.certs, '-C', w.www, 'plain.example.test'], { env: { NODE_EXTRA_CA_CERTS: ca.caFile } });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stderr, '');
  assert.match(readFileSync(join(w.certs, 'cert.pem'), 'utf8'), /^-----BEGIN CERTIFICATE-----/);
  for (const path of ['GET /dir', 'POST /new-acct', 'POST /new-order', 'POST /finalize/', 'POST /cert/']) {
    assert.ok(relay.requests.some((r) => r.startsWith(path)), `${path} went through the relay: ${relay.requests.join(', ')}`);
  }
});

// Fails if --accept-terms were ignored, only warned about as -a is, or checked against anything
// but the directory's meta.termsOfService.
test('--register --accept-terms: refused in one line naming the CA\'s terms when they are not among those given, taken when they are', { skip }, async () => {
  const w = workDir();
  const key = join(w.priv, 'account.pem');
  const terms = relay.directoryUrl.replace(/\/dir$/, '/terms');
  const args = ['--register', '-n', '--server', relay.directoryUrl, '-f', key];
  const accountsBefore = ca.requests('newAccount').length;
  const refused = await runClient([...args, '--accept-terms', 'https://ca.example/terms-v1', '--accept-terms', 'https://ca.example/terms-v2'],
    { env: { NODE_EXTRA_CA_CERTS: ca.caFile } });
  assert.equal(refused.status, 1);
  assert.equal(refused.stderr, `acme-client: ${terms}: the CA's terms of service, not among those accepted (https://ca.example/terms-v1 https://ca.example/terms-v2)\n`);
  assert.equal(ca.requests('newAccount').length, accountsBefore, 'nothing sent to create an account');
  const taken = await runClient([...args, '--accept-terms', 'https://ca.example/terms-v1', '--accept-terms', terms], { env: { NODE_EXTRA_CA_CERTS: ca.caFile } });
  assert.equal(taken.status, 0, taken.stderr);
  assert.ok(ca.requests('newAccount').length > accountsBefore, 'the account asked for');
  assert.ok(existsSync(key));
});
