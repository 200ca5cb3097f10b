// The throwaway ACME CA that the other tests and the demo use: Pebble answers over TLS with the
// generated CA trusted, nginx serves the challenge dir on Pebble's http-01 port, the request log
// counts requests, and stop() leaves no process and no directory behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { randomBytes, X509Certificate } from 'node:crypto';
import { freePorts, holdsPort, labUnavailable, startLab } from '../scripts/pebble-lab.js';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { prerequisite, procStat } from './helpers.js';

const skip = prerequisite(process.getuid?.() !== 0 ? 'needs root (nginx runs as root, as the client under test does)' : labUnavailable());

function get(url: string, ca?: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, { agent: false, headers: { 'user-agent': 'lab.test' }, ...(ca ? { ca } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** Processes (not yet reaped or not) that belong to one of the given process groups or mention dir. */
function leftovers(pgids: readonly number[], dir: string): string[] {
  const found: string[] = [];
  for (const ent of readdirSync('/proc')) {
    if (!/^\d+$/.test(ent)) continue;
    try {
      const fields = procStat(Number(ent));
      if (fields === null) continue;
      const cmd = readFileSync(`/proc/${ent}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (pgids.includes(Number(ent)) || pgids.includes(Number(fields[2])) || cmd.includes(dir)) {
        found.push(`${ent} ${fields[0]} ${cmd}`);
      }
    } catch { /* gone meanwhile */ }
  }
  return found;
}

test('pebble lab: directory, http-01 webroot, request log, clean stop', { skip, timeout: 60_000 }, async (t) => {
  const lab = await startLab();
  t.after(() => lab.stop());
  const ca = readFileSync(lab.tlsCaFile);

  // Pebble's directory over TLS, trusting only the lab's CA; URLs on 127.0.0.1, free ports.
  assert.match(lab.directoryUrl, /^https:\/\/127\.0\.0\.1:\d+\/dir$/);
  assert.match(lab.managementUrl, /^https:\/\/127\.0\.0\.1:\d+$/);
  assert.match(lab.challtestsrvUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
  const before = lab.requestCount();
  assert.ok(before >= 1, 'the readiness probe of /dir is logged');
  const dir = await get(lab.directoryUrl, ca);
  assert.equal(dir.status, 200);
  const directory = JSON.parse(dir.body) as Record<string, unknown>;
  for (const k of ['newNonce', 'newAccount', 'newOrder', 'revokeCert']) {
    assert.equal(typeof directory[k], 'string', `directory has ${k}`);
    assert.ok((directory[k] as string).startsWith(lab.directoryUrl.replace(/\/dir$/, '/')), `${k} is on the lab's server`);
  }
  assert.equal(lab.requestCount(), before + 1, 'one more request in the log');
  assert.match(lab.requestLog(), /GET \/dir -> calling handler\(\)/);
  // Without the lab's CA the certificate is not trusted.
  await assert.rejects(get(lab.directoryUrl), /self[- ]signed|unable to (get|verify)|certificate/i);

  // The challenge dir, served by nginx on Pebble's http-01 port.
  const name = randomBytes(16).toString('base64url');
  const content = `${name}.${randomBytes(32).toString('base64url')}`;
  writeFileSync(join(lab.challengeDir, name), content);
  const chall = await get(`http://127.0.0.1:${lab.httpPort}/.well-known/acme-challenge/${name}`);
  assert.equal(chall.status, 200);
  assert.equal(chall.body, content);
  assert.equal((await get(`http://127.0.0.1:${lab.httpPort}/.well-known/acme-challenge/nope`)).status, 404);
  assert.match(readFileSync(join(lab.logDir, 'pebble.log'), 'utf8'), /Listening on: 127\.0\.0\.1:/);

  // Management API: the issuing root and intermediate; no status for a serial never issued.
  const pems = await lab.issuerPems();
  const certs = pems.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  assert.equal(certs.length, 2, 'root + intermediate');
  const [root, inter] = certs.map((p) => new X509Certificate(p)) as [X509Certificate, X509Certificate];
  assert.ok(root.ca && inter.ca);
  assert.ok(inter.checkIssued(root) && inter.verify(root.publicKey), 'the intermediate is signed by the root');
  await assert.rejects(lab.certStatus('0123456789abcdef'), /HTTP 404/);
  assert.equal(lab.requestCount(), before + 1, 'management requests are not counted as ACME requests');

  // pebble-challtestsrv's management API answers (it also answers Pebble's DNS queries).
  const set = await new Promise<number>((resolve, reject) => {
    const req = httpRequest(`${lab.challtestsrvUrl}/set-txt`, { method: 'POST', agent: false }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
    req.on('error', reject);
    req.end(JSON.stringify({ host: '_acme-challenge.example.test.', value: 'x' }));
  });
  assert.equal(set, 200);

  // stop(): every process gone (group included), the directory removed; a second stop() is harmless.
  const pids = lab.pids;
  assert.equal(pids.length, 3);
  assert.equal(leftovers(pids, lab.dir).length, 3 + 1, 'pebble, challtestsrv, nginx master + worker running');
  await lab.stop();
  assert.deepEqual(leftovers(pids, lab.dir), []);
  assert.equal(existsSync(lab.dir), false);
  await lab.stop();
});

test('pebble lab: options reach Pebble, labs one after another', { skip, timeout: 60_000 }, async (t) => {
  const a = await startLab({ nonceReject: 7, authzReuse: 0, certificateValidityPeriod: 3600, profiles: { shortlived: { description: 'six days', validityPeriod: 6 * 86400 } } });
  t.after(() => a.stop());
  const log = a.requestLog();
  assert.match(log, /Loaded profile "default" with certificate validity period of 3600 seconds \(promote CN=true\)/);
  assert.match(log, /Loaded profile "shortlived" with certificate validity period of 518400 seconds/);
  assert.match(log, /reject 7% of good nonces/);
  assert.match(log, /authz reuse for each identifier 0% of the time/);
  await a.stop();
  const b = await startLab();
  t.after(() => b.stop());
  assert.notEqual(b.dir, a.dir);
  assert.match(b.requestLog(), new RegExp(`reject ${Number(process.env.ACME_TEST_NONCE_REJECT ?? 0)}% of good nonces`));
  assert.match(b.requestLog(), /authz reuse for each identifier 50% of the time/);
  assert.equal((await get(b.directoryUrl, readFileSync(b.tlsCaFile))).status, 200);
  await b.stop();
  assert.equal(existsSync(b.dir), false);
});

// The lab starts again on other ports when one it picked turns out held by another program: this
// is how it tells (a lab whose check said yes to anybody's port would run against a stranger).
test('pebble lab: a port is told to be held by its own process, not by another', async () => {
  const tcp = createServer();
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  const tcpPort = (tcp.address() as { port: number }).port;
  const udp = createSocket('udp4');
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
  const udpPort = udp.address().port;
  const other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  try {
    await once(other, 'spawn');
    assert.equal(holdsPort(process.pid, tcpPort, 'tcp'), true);
    assert.equal(holdsPort(process.pid, udpPort, 'udp'), true);
    assert.equal(holdsPort(other.pid as number, tcpPort, 'tcp'), false);
    assert.equal(holdsPort(other.pid as number, udpPort, 'udp'), false);
    assert.equal(holdsPort(process.pid, tcpPort, 'udp'), udpPort === tcpPort, 'TCP and UDP are told apart');
  } finally {
    other.kill();
    tcp.close();
    udp.close();
  }
});

// Would fail if the ports came from bind(0) again: those are the kernel's ephemeral ports, which any
// outgoing connection or other server on the machine may be given before ours binds them.
test('pebble lab: free ports are drawn below the ephemeral range, distinct, and bindable', async () => {
  const [ephemeralLow] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number) as [number];
  const ports = await freePorts(6);
  assert.equal(new Set(ports).size, 6);
  for (const port of ports) assert.ok(port >= 10_000 && port < ephemeralLow, `${port} below ${ephemeralLow}`);
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(ports[0], '127.0.0.1', resolve));
  server.close();
});
