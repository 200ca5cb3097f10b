// IP address identifiers (RFC 8738): the canonical text form and the iPAddress bytes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipAddressBytes } from '../src/x509/ip.js';
import { parseAuthorization } from '../src/acme/types.js';
import type { Fields } from '../src/check.js';
import { Failure } from '../src/log.js';

test('ipAddressBytes: 4 bytes for IPv4, 16 for IPv6 in any spelling, null for anything else', () => {
  assert.deepEqual(ipAddressBytes('192.0.2.1'), Buffer.from([192, 0, 2, 1]));
  assert.deepEqual(ipAddressBytes('::1'), Buffer.from([...Array<number>(15).fill(0), 1]));
  assert.deepEqual(ipAddressBytes('::'), Buffer.alloc(16));
  const documentation = Buffer.from('20010db8000000000000000000000001', 'hex');
  for (const spelling of ['2001:db8::1', '2001:DB8:0:0:0:0:0:1', '2001:0db8:0000::0001']) assert.deepEqual(ipAddressBytes(spelling), documentation, spelling);
  assert.deepEqual(ipAddressBytes('fe80::1:0:0:2'), Buffer.from('fe800000000000000001000000000002', 'hex'));
  assert.deepEqual(ipAddressBytes('1::'), Buffer.from('00010000000000000000000000000000', 'hex'));
  assert.deepEqual(ipAddressBytes('::ffff:192.0.2.1'), Buffer.from('00000000000000000000ffffc0000201', 'hex'));
  for (const bad of ['example.com', '1.2.3', '256.0.0.1', '[::1]', '::1%lo', '']) assert.equal(ipAddressBytes(bad), null, bad);
});

test('parseAuthorization: an ip identifier is kept in canonical form; one that is no address is refused', () => {
  const authz = (identifier: unknown): unknown => ({ identifier, status: 'pending', challenges: [] });
  assert.equal(parseAuthorization(authz({ type: 'ip', value: '2001:DB8:0::1' }) as Fields, 'https://ca/authz/1').identifier, '2001:db8::1');
  assert.equal(parseAuthorization(authz({ type: 'dns', value: 'Example.COM' }) as Fields, 'https://ca/authz/2').identifier, 'example.com');
  assert.throws(() => parseAuthorization(authz({ type: 'ip', value: 'example.com' }) as Fields, 'https://ca/authz/3'),
    (err: unknown) => err instanceof Failure && err.message === 'https://ca/authz/3: identifier of type ip is not an IP address: "example.com"');
  assert.throws(() => parseAuthorization(authz({ type: 'email', value: 'a@b' }) as Fields, 'https://ca/authz/4'),
    (err: unknown) => err instanceof Failure && err.message === 'https://ca/authz/4: identifier is not of type dns or ip');
});
