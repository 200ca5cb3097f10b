import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renewalVerdict } from '../src/x509/renewal.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2024, 5, 1, 12, 0, 0);

/** A certificate of `lifetime` days that has `left` days to run at NOW. */
function verdict(lifetime: number, left: number): { renew: boolean; why: string } {
  const notAfter = NOW + left * DAY;
  return renewalVerdict(notAfter - lifetime * DAY, notAfter, NOW);
}

test('90-day certificate with 31 days left is not due', () => {
  assert.deepEqual(verdict(90, 31), { renew: false, why: 'certificate valid: 31 days left' });
});

test('90-day certificate with 29 days left is due: under 30 days', () => {
  const v = verdict(90, 29);
  assert.equal(v.renew, true);
  assert.match(v.why, /30 days/);
  assert.equal(v.why, 'certificate renewable: 29 days left (under 30 days)');
});

test('the 30-day boundary: exactly 30 days left is not due, a millisecond less is', () => {
  assert.equal(verdict(90, 30).renew, false);
  const notAfter = NOW + 30 * DAY - 1;
  const v = renewalVerdict(notAfter - 90 * DAY, notAfter, NOW);
  assert.equal(v.renew, true);
  assert.equal(v.why, 'certificate renewable: 29 days left (under 30 days)');
});

test('365-day certificate with 100 days left is due by the 1/3 rule', () => {
  const v = verdict(365, 100);
  assert.equal(v.renew, true);
  assert.match(v.why, /1\/3/);
  assert.equal(v.why, 'certificate renewable: 100 days left (under 1/3 of its lifetime)');
});

test('365-day certificate with 130 days left is not due', () => {
  assert.deepEqual(verdict(365, 130), { renew: false, why: 'certificate valid: 130 days left' });
});

test('6-day certificate with 2 days left is due (under 30 days anyway)', () => {
  assert.deepEqual(verdict(6, 2), { renew: true, why: 'certificate renewable: 2 days left (under 30 days)' });
});

test('an expired certificate is due', () => {
  const v = verdict(90, -3);
  assert.equal(v.renew, true);
  assert.equal(v.why, 'certificate renewable: -3 days left (under 30 days)');
});

test('why counts whole days left, rounding down', () => {
  assert.equal(verdict(365, 200.9).why, 'certificate valid: 200 days left');
  assert.equal(verdict(90, 29.99).why, 'certificate renewable: 29 days left (under 30 days)');
  assert.equal(verdict(365, 45.5).why, 'certificate renewable: 45 days left (under 1/3 of its lifetime)');
  assert.equal(verdict(90, 0.5).why, 'certificate renewable: 0 days left (under 30 days)');
});
