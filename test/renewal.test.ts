// When a certificate is due: the lifetime rule at the boundaries of today's lifetimes, the ARI
// CertID (RFC 9773's own example), the moment chosen inside a renewal window, and the state file.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { certId, certificateCertId } from '../src/x509/certid.js';
import { certificateFields } from '../src/x509/names.js';
import {
  lifetimeVerdict, parseRenewalState, renewalMoment, renewalStateJson, windowIsEarly, windowVerdict, type RenewalState,
} from '../src/x509/renewal.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const NOW = Date.UTC(2026, 10, 30, 12, 0, 0);

/** A certificate of `lifetime` ms issued `age` ms before NOW: is it due? */
function due(lifetime: number, age: number): boolean {
  const notBefore = NOW - age;
  return lifetimeVerdict(notBefore, notBefore + lifetime, NOW).renew;
}

test('lifetime rule: due when less than a third is left, at the boundary of each of today\'s lifetimes', () => {
  for (const days of [45, 64, 90, 365]) {
    const lifetime = days * DAY;
    const renewAt = lifetime - lifetime / 3;
    assert.equal(due(lifetime, renewAt), false, `${days}-day certificate at two thirds: a third is left, not less`);
    assert.equal(due(lifetime, renewAt + 1), true, `${days}-day certificate a millisecond after two thirds`);
  }
  // A 90-day certificate still renews at 30 days left.
  assert.equal(due(90 * DAY, 60 * DAY), false);
  assert.equal(due(90 * DAY, 60 * DAY + 1), true);
});

test('lifetime rule: certificates of 10 days or less renew at half their lifetime', () => {
  for (const lifetime of [6 * DAY, 160 * HOUR, 10 * DAY]) {
    assert.equal(due(lifetime, lifetime / 2), false, `${lifetime / HOUR} h at half`);
    assert.equal(due(lifetime, lifetime / 2 + 1), true, `${lifetime / HOUR} h a millisecond after half`);
  }
  // Just over 10 days: two thirds again.
  const eleven = 11 * DAY;
  assert.equal(due(eleven, eleven / 2 + 1), false);
});

test('lifetime rule: a 6-day certificate issued today is not due tomorrow, and is due after 3 days', () => {
  assert.equal(due(6 * DAY, 0), false);
  assert.equal(due(6 * DAY, 1 * DAY), false);
  assert.equal(due(6 * DAY, 3 * DAY + 1), true);
  // A 45-day certificate: not every 15 days, but at 30.
  assert.equal(due(45 * DAY, 15 * DAY), false);
  assert.equal(due(45 * DAY, 30 * DAY + 1), true);
});

test('lifetime rule: the reason counts whole days left', () => {
  const notAfter = NOW + 100.5 * DAY;
  assert.deepEqual(lifetimeVerdict(notAfter - 365 * DAY, notAfter, NOW), { renew: true, why: 'certificate renewable: 100 days left (under 1/3 of its lifetime)' });
  assert.deepEqual(lifetimeVerdict(notAfter - 120 * DAY, notAfter, NOW), { renew: false, why: 'certificate valid: 100 days left' });
  assert.deepEqual(lifetimeVerdict(NOW + 2 * DAY - 6 * DAY, NOW + 2 * DAY, NOW), { renew: true, why: 'certificate renewable: 2 days left (under 1/2 of its lifetime)' });
});

test('lifetime rule: dates that cannot be read mean renew, never valid forever', () => {
  for (const [notBefore, notAfter] of [[NaN, NOW + DAY], [NOW - DAY, NaN], [NOW + DAY, NOW - DAY], [NOW, NOW], [-Infinity, Infinity]]) {
    assert.deepEqual(lifetimeVerdict(notBefore as number, notAfter as number, NOW), { renew: true, why: 'certificate validity dates cannot be read, renewing' });
  }
});

test('CertID: RFC 9773\'s own example', () => {
  const aki = Buffer.from('69885B6B87464041E1B37B847BA0AE2CDE01C8D4', 'hex');
  const serial = Buffer.from('0087654321', 'hex');
  assert.equal(certId(aki, serial), 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE');
});

test('CertID of a real certificate: its AKI keyIdentifier and its serial\'s DER content bytes, leading zero kept', () => {
  const dir = mkdtempSync(join(tmpdir(), 'acme-client-certid-'));
  try {
    const sh = (args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    sh(['req', '-x509', '-nodes', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-keyout', 'ca.key', '-subj', '/CN=CA', '-days', '2', '-out', 'ca.pem',
      '-addext', 'subjectKeyIdentifier=hash', '-addext', 'basicConstraints=critical,CA:TRUE']);
    sh(['req', '-new', '-nodes', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-keyout', 'leaf.key', '-subj', '/CN=leaf', '-out', 'leaf.csr']);
    // A serial whose high bit is set: DER writes it with a leading zero byte.
    writeFileSync(join(dir, 'ext.cnf'), '[leaf]\nauthorityKeyIdentifier = keyid:always\n');
    sh(['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', '0x87654321', '-days', '2', '-extfile', 'ext.cnf', '-extensions', 'leaf', '-out', 'leaf.pem']);
    // Without the extension there is no CertID to build.
    sh(['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', '7', '-days', '2', '-out', 'bare.pem']);
    assert.equal(certificateCertId(certificateFields(new X509Certificate(readFileSync(join(dir, 'bare.pem'))).raw)), null);
    const ca = new X509Certificate(readFileSync(join(dir, 'ca.pem')));
    const leaf = new X509Certificate(readFileSync(join(dir, 'leaf.pem')));
    const ski = /X509v3 Subject Key Identifier:\s*\n\s*([0-9A-F:]+)/.exec(execFileSync('openssl', ['x509', '-in', join(dir, 'ca.pem'), '-noout', '-text'], { encoding: 'utf8' }))?.[1];
    assert.ok(ski, ca.subject);
    assert.equal(certificateCertId(certificateFields(leaf.raw)), certId(Buffer.from(ski.replace(/:/g, ''), 'hex'), Buffer.from('0087654321', 'hex')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('renewal moment: inside the window, the same every time for one certificate and window, spread across certificates', () => {
  const window = { start: NOW + 10 * DAY, end: NOW + 12 * DAY };
  const moments = Array.from({ length: 200 }, (_, i) => renewalMoment(`AAAA.${i}`, window));
  for (const m of moments) assert.ok(m >= window.start && m < window.end, new Date(m).toISOString());
  assert.equal(renewalMoment('AAAA.1', window), renewalMoment('AAAA.1', { ...window }));
  assert.notEqual(renewalMoment('AAAA.1', window), renewalMoment('AAAA.1', { ...window, end: window.end + 1 }));
  // Spread: each half of the window gets a fair share of 200 certificates.
  const early = moments.filter((m) => m < window.start + DAY).length;
  assert.ok(early > 60 && early < 140, `${early} of 200 in the first half`);
});

test('window verdict: due once the chosen moment has passed, not before', () => {
  const window = { start: NOW - DAY, end: NOW + DAY };
  const moment = renewalMoment('X.1', window);
  assert.equal(windowVerdict('X.1', window, moment - 1).renew, false);
  assert.equal(windowVerdict('X.1', window, moment).renew, true);
  assert.equal(windowVerdict('X.1', { start: NOW - 2 * DAY, end: NOW - DAY }, NOW).renew, true, 'a window in the past');
  assert.equal(windowVerdict('X.1', { start: NOW + DAY, end: NOW + 2 * DAY }, NOW).renew, false, 'a window in the future');
});

test('an early window: ending more than a third of the lifetime before expiry', () => {
  const notBefore = NOW - 10 * DAY;
  const notAfter = notBefore + 90 * DAY;
  assert.equal(windowIsEarly({ start: notAfter - 31 * DAY, end: notAfter - 29 * DAY }, notBefore, notAfter), false, 'the usual window');
  assert.equal(windowIsEarly({ start: NOW - DAY, end: NOW }, notBefore, notAfter), true, 'renew now, after a mass revocation');
});

test('the state file: written and read back; anything malformed reads as no state', () => {
  const state: RenewalState = {
    certId: 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE', directoryUrl: 'https://ca.example/dir', renewalInfo: true,
    window: { start: NOW, end: NOW + DAY }, askAfter: NOW + 6 * HOUR,
  };
  const text = renewalStateJson(state);
  assert.match(text, /"askAfter": "2026-11-30T18:00:00Z"/);
  assert.deepEqual(parseRenewalState(text), state);
  assert.deepEqual(parseRenewalState(renewalStateJson({ ...state, renewalInfo: false, window: null, askAfter: null })), { ...state, renewalInfo: false, window: null, askAfter: null });
  for (const bad of [null, '', '{', '[]', '{"certId":1}', text.replace('"renewalInfo": true', '"renewalInfo": "yes"'), text.replace('2026-11-30T18', 'soon')]) {
    assert.equal(parseRenewalState(bad), null, String(bad));
  }
});
