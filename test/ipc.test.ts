import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { MAX_FRAME, FrameDecoder, encodeFrame } from '../src/ipc/frame.js';
import {
  parseNetToAcct, parseAcctToNet, parseKeyToNet, parseNever, parseNetToChng, parseChngToNet,
  parseCertToNet, parseNetToCert, parseCertToFile, parseFrontToServer, parseServerToFront,
} from '../src/ipc/messages.js';
import { parseConfig, type Role } from '../src/ipc/roles.js';

// ---------------------------------------------------------------------------------------------
// Framing

function header(length: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(length, 0);
  return b;
}

function rawFrame(body: string | Buffer): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return Buffer.concat([header(b.length), b]);
}

const SAMPLES: unknown[] = [
  { op: 'ack', id: 1 },
  { op: 'challenge', id: 2, identifier: 'example.org', token: 'tok', keyAuthorization: 'tok.thumb' },
  'a string with ü, € and 😀',
  42,
  null,
  [1, 'two', { three: 3 }],
  { nested: { deeper: [true, false, null] } },
];

test('encodeFrame: a 4-byte big-endian byte length, then UTF-8 JSON', () => {
  const frame = encodeFrame({ s: 'é€' });
  const body = Buffer.from('{"s":"é€"}', 'utf8');
  assert.equal(body.length, 13); // more bytes than characters: the length counts bytes
  assert.equal(frame.readUInt32BE(0), body.length);
  assert.deepEqual(frame.subarray(4), body);
  assert.equal(frame.length, 4 + body.length);
});

test('FrameDecoder: round trip of several messages pushed as one chunk', () => {
  const decoder = new FrameDecoder();
  assert.deepEqual(decoder.push(Buffer.concat(SAMPLES.map(encodeFrame))), SAMPLES);
  assert.equal(decoder.partial, false);
});

test('FrameDecoder: fed one byte at a time, each frame comes out at its last byte', () => {
  const frames = SAMPLES.map(encodeFrame);
  const stream = Buffer.concat(frames);
  const ends = new Set<number>();
  let offset = 0;
  for (const f of frames) ends.add((offset += f.length));
  const decoder = new FrameDecoder();
  const out: unknown[] = [];
  for (let i = 0; i < stream.length; i++) {
    const got = decoder.push(stream.subarray(i, i + 1));
    if (ends.has(i + 1)) {
      assert.equal(got.length, 1, `byte ${i}`);
      assert.equal(decoder.partial, false, `byte ${i}`);
    } else {
      assert.deepEqual(got, [], `byte ${i}`);
      assert.equal(decoder.partial, true, `byte ${i}`);
    }
    out.push(...got);
  }
  assert.deepEqual(out, SAMPLES);
});

test('FrameDecoder: split at every byte boundary into two chunks', () => {
  const stream = Buffer.concat(SAMPLES.map(encodeFrame));
  for (let cut = 0; cut <= stream.length; cut++) {
    const decoder = new FrameDecoder();
    const out = [...decoder.push(stream.subarray(0, cut)), ...decoder.push(stream.subarray(cut))];
    assert.deepEqual(out, SAMPLES, `cut at ${cut}`);
    assert.equal(decoder.partial, false);
  }
});

test('FrameDecoder: whole frames and part of the next in one chunk', () => {
  const [a, b, c] = [encodeFrame({ n: 1 }), encodeFrame({ n: 2 }), encodeFrame({ n: 3 })];
  const decoder = new FrameDecoder();
  assert.deepEqual(decoder.push(Buffer.concat([a, b, c.subarray(0, 6)])), [{ n: 1 }, { n: 2 }]);
  assert.equal(decoder.partial, true);
  assert.deepEqual(decoder.push(c.subarray(6)), [{ n: 3 }]);
  assert.equal(decoder.partial, false);
});

test('FrameDecoder: partial is true mid-frame, in the header and in the body', () => {
  const frame = encodeFrame({ op: 'ack', id: 7 });
  const decoder = new FrameDecoder();
  assert.equal(decoder.partial, false);
  decoder.push(frame.subarray(0, 1));
  assert.equal(decoder.partial, true);
  decoder.push(frame.subarray(1, 4));
  assert.equal(decoder.partial, true);
  decoder.push(frame.subarray(4, frame.length - 1));
  assert.equal(decoder.partial, true);
  assert.deepEqual(decoder.push(frame.subarray(frame.length - 1)), [{ op: 'ack', id: 7 }]);
  assert.equal(decoder.partial, false);
});

test('FrameDecoder: a length over MAX_FRAME is refused from the header alone', () => {
  assert.equal(MAX_FRAME, 1 << 20);
  const decoder = new FrameDecoder();
  assert.throws(() => decoder.push(header(MAX_FRAME + 1)), new RegExp(`frame of ${MAX_FRAME + 1} bytes exceeds ${MAX_FRAME}`));
  assert.throws(() => new FrameDecoder().push(header(0xffffffff)), /exceeds/);
  // A header split in two: nothing to judge until all four bytes are in.
  const split = new FrameDecoder();
  assert.deepEqual(split.push(header(MAX_FRAME + 1).subarray(0, 3)), []);
  assert.throws(() => split.push(header(MAX_FRAME + 1).subarray(3)), /exceeds/);
  // Exactly MAX_FRAME is allowed: the decoder waits for the body.
  const atLimit = new FrameDecoder();
  assert.deepEqual(atLimit.push(header(MAX_FRAME)), []);
  assert.equal(atLimit.partial, true);
});

test('FrameDecoder: a frame of exactly MAX_FRAME bytes decodes', () => {
  const text = 'x'.repeat(MAX_FRAME - 2);
  const frame = encodeFrame(text);
  assert.equal(frame.readUInt32BE(0), MAX_FRAME);
  assert.deepEqual(new FrameDecoder().push(frame), [text]);
});

test('FrameDecoder: invalid JSON in a frame is refused', () => {
  for (const body of ['{"op":', 'undefined', "{'op':'ack'}", '', '{"a":1}{"b":2}', 'NaN']) {
    assert.throws(() => new FrameDecoder().push(rawFrame(body)), /^Error: frame is not valid JSON$/, JSON.stringify(body));
  }
  // The same bodies made valid decode: the refusal is about the JSON, not the framing.
  assert.deepEqual(new FrameDecoder().push(rawFrame('{"op":1}')), [{ op: 1 }]);
});

test('encodeFrame refuses an oversized message', () => {
  assert.throws(() => encodeFrame('x'.repeat(MAX_FRAME - 1)), new RegExp(`frame of ${MAX_FRAME + 1} bytes exceeds ${MAX_FRAME}`));
  assert.throws(() => encodeFrame({ big: 'y'.repeat(MAX_FRAME) }), /exceeds/);
  // Counted in bytes: under the limit in characters, over it in UTF-8.
  assert.throws(() => encodeFrame('é'.repeat(MAX_FRAME / 2)), /exceeds/);
  assert.equal(encodeFrame('x'.repeat(MAX_FRAME - 2)).length, 4 + MAX_FRAME);
});

// ---------------------------------------------------------------------------------------------
// Channel over a real socketpair: as in production, a child holds the channel on fd 3 (a libuv
// stdio 'pipe' is an AF_UNIX socketpair) and the test is the peer, writing raw bytes.

const CHANNEL_URL = new URL('../src/ipc/channel.js', import.meta.url).href;
const MESSAGES_URL = new URL('../src/ipc/messages.js', import.meta.url).href;
const LOG_URL = new URL('../src/log.js', import.meta.url).href;

const CHILD = `
const [channelUrl, messagesUrl, logUrl, parserName, mode, extra] = process.argv.slice(1);
const { Channel } = await import(channelUrl);
const messages = await import(messagesUrl);
const { Failure } = await import(logUrl);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
const ch = new Channel(3, 'peerproc', messages[parserName]);
if (mode === 'send') {
  for (const m of JSON.parse(extra)) out({ sent: await ch.send(m) });
  ch.close();
} else {
  for (;;) {
    let m;
    try {
      m = await ch.recv();
    } catch (e) {
      out({ failure: e instanceof Failure, subject: e.subject, problem: e.problem });
      try { await ch.recv(); out({ again: 'resolved' }); } catch (e2) { out({ again: e2 === e ? 'same' : 'other' }); }
      break;
    }
    if (m === null) { out({ end: true }); break; }
    out({ got: m });
  }
  out({ sendAfter: await ch.send({ op: 'ack', id: 1 }) });
}
`;

interface ChildRun {
  lines: Record<string, unknown>[];
  fromChild: unknown[];
  status: number | null;
  signal: NodeJS.Signals | null;
}

/** Runs a child holding Channel(3, 'peerproc', parser); `drive` plays the peer on the other end. */
function withChannelChild(
  parser: string,
  drive: (peer: net.Socket, exited: Promise<void>) => Promise<void>,
  mode: 'recv' | 'send' = 'recv',
  toSend: unknown[] = [],
): Promise<ChildRun> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, CHANNEL_URL, MESSAGES_URL, LOG_URL, parser, mode, JSON.stringify(toSend)], {
    stdio: ['ignore', 'pipe', 'inherit', 'pipe'],
  });
  const peer = child.stdio[3] as net.Socket;
  peer.on('error', () => {}); // EPIPE/ECONNRESET once the child has dropped its end
  const decoder = new FrameDecoder();
  const fromChild: unknown[] = [];
  peer.on('data', (chunk: Buffer) => fromChild.push(...decoder.push(chunk)));
  let stdout = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  const closed = new Promise<{ status: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({ status, signal }));
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  return (async () => {
    try {
      await drive(peer, exited);
      const { status, signal } = await closed;
      const lines = stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
      return { lines, fromChild, status, signal };
    } finally {
      clearTimeout(killer);
      peer.destroy();
    }
  })();
}

async function writeInPieces(peer: net.Socket, data: Buffer, size: number, pause: number): Promise<void> {
  for (let i = 0; i < data.length; i += size) {
    peer.write(data.subarray(i, i + size));
    await sleep(pause);
  }
}

function assertClean(run: ChildRun): void {
  assert.equal(run.signal, null, 'child killed (timed out?)');
  assert.equal(run.status, 0, 'child exit status');
}

test('Channel: messages in one chunk are parsed and delivered in order, then null at hang-up', { timeout: 20_000 }, async () => {
  const run = await withChannelChild('parseChngToNet', async (peer) => {
    peer.end(Buffer.concat([
      encodeFrame({ op: 'ack', id: 1 }),
      encodeFrame({ op: 'ack', id: 2, extra: 'dropped by the parser' }),
      encodeFrame({ op: 'ack', id: 3 }),
    ]));
  });
  assertClean(run);
  assert.deepEqual(run.lines, [
    { got: { op: 'ack', id: 1 } },
    { got: { op: 'ack', id: 2 } },
    { got: { op: 'ack', id: 3 } },
    { end: true },
    { sendAfter: false },
  ]);
});

test('Channel: frames written a byte at a time arrive whole and in order', { timeout: 20_000 }, async () => {
  const messages = [
    { op: 'challenge', id: 0, identifier: 'a.example', token: 't1', keyAuthorization: 't1.k' },
    { op: 'challenge', id: 1, identifier: 'b.example', token: 't2', keyAuthorization: 't2.k' },
  ];
  const run = await withChannelChild('parseNetToChng', async (peer) => {
    await writeInPieces(peer, Buffer.concat(messages.map(encodeFrame)), 1, 1);
    peer.end();
  });
  assertClean(run);
  assert.deepEqual(run.lines, [...messages.map((got) => ({ got })), { end: true }, { sendAfter: false }]);
});

test('Channel: a message the parser refuses fails recv() with a Failure naming the peer', { timeout: 20_000 }, async () => {
  const run = await withChannelChild('parseChngToNet', async (peer, exited) => {
    peer.write(encodeFrame({ op: 'ack', id: 5 }));
    await sleep(50);
    peer.write(encodeFrame({ op: 'ack', id: -1 }));
    await exited; // the child gives up on its own: the peer need not hang up
    peer.end();
  });
  assertClean(run);
  assert.deepEqual(run.lines, [
    { got: { op: 'ack', id: 5 } },
    { failure: true, subject: 'peerproc', problem: 'bad message: id is not a non-negative integer' },
    { again: 'same' },
    { sendAfter: false },
  ]);
  assert.ok((run.lines[1].problem as string).startsWith('bad message'));
});

test('Channel: a good message and a refused one in the same chunk', { timeout: 20_000 }, async () => {
  const run = await withChannelChild('parseCertToNet', async (peer, exited) => {
    peer.write(Buffer.concat([encodeFrame({ op: 'current', reason: 'fine' }), encodeFrame({ op: 'steal' })]));
    await exited;
    peer.end();
  });
  assertClean(run);
  assert.deepEqual(run.lines, [
    { got: { op: 'current', reason: 'fine' } },
    { failure: true, subject: 'peerproc', problem: 'bad message: unknown operation "steal"' },
    { again: 'same' },
    { sendAfter: false },
  ]);
});

test('Channel: invalid JSON is a bad message', { timeout: 20_000 }, async () => {
  const run = await withChannelChild('parseChngToNet', async (peer, exited) => {
    peer.write(rawFrame('{"op":"ack",'));
    await exited;
    peer.end();
  });
  assertClean(run);
  assert.deepEqual(run.lines, [
    { failure: true, subject: 'peerproc', problem: 'bad message: frame is not valid JSON' },
    { again: 'same' },
    { sendAfter: false },
  ]);
});

test('Channel: an oversized length is refused before the body arrives', { timeout: 20_000 }, async () => {
  const run = await withChannelChild('parseChngToNet', async (peer, exited) => {
    peer.write(header(MAX_FRAME + 1));
    await exited; // no body is ever sent: the child must not wait for it
    peer.end();
  });
  assertClean(run);
  assert.deepEqual(run.lines, [
    { failure: true, subject: 'peerproc', problem: `bad message: frame of ${MAX_FRAME + 1} bytes exceeds ${MAX_FRAME}` },
    { again: 'same' },
    { sendAfter: false },
  ]);
});

test('Channel: a peer hanging up mid-frame is a Failure', { timeout: 20_000 }, async () => {
  for (const cut of [2, 10]) {
    const frame = encodeFrame({ op: 'ack', id: 9 });
    const run = await withChannelChild('parseChngToNet', async (peer) => {
      peer.write(encodeFrame({ op: 'ack', id: 8 }));
      await sleep(20);
      peer.end(frame.subarray(0, cut));
    });
    assertClean(run);
    assert.deepEqual(run.lines, [
      { got: { op: 'ack', id: 8 } },
      { failure: true, subject: 'peerproc', problem: 'hung up in the middle of a message' },
      { again: 'same' },
      { sendAfter: false },
    ], `cut at ${cut}`);
  }
});

test('Channel: a peer hanging up at once gives null, not a failure', { timeout: 20_000 }, async () => {
  const run = await withChannelChild('parseChngToNet', async (peer) => {
    peer.end();
  });
  assertClean(run);
  assert.deepEqual(run.lines, [{ end: true }, { sendAfter: false }]);
});

test('Channel: send() frames each message and resolves true while the peer is there', { timeout: 20_000 }, async () => {
  const toSend = [
    { op: 'challenge', id: 3, identifier: 'example.org', token: 'abc', keyAuthorization: 'abc.xyz' },
    { op: 'challenge', id: 4, identifier: 'www.example.org', token: 'def', keyAuthorization: 'def.xyz' },
  ];
  const run = await withChannelChild('parseChngToNet', async (peer) => {
    await new Promise<void>((resolve) => peer.once('end', () => resolve()));
    peer.end();
  }, 'send', toSend);
  assertClean(run);
  assert.deepEqual(run.lines, [{ sent: true }, { sent: true }]);
  assert.deepEqual(run.fromChild, toSend);
});

// ---------------------------------------------------------------------------------------------
// Parsers

type Kind = 'id' | 'string' | 'optString' | 'b64' | 'bool' | 'alg' | 'jws' | 'jwsOrNull';
interface Shape {
  valid: Record<string, unknown>;
  fields: Record<string, { kind: Kind; max?: number }>;
}
interface ParserCase {
  name: string;
  parse: (v: unknown) => unknown;
  shapes: Shape[];
}

const B64 = 'QUJD-_09az';
const JWS = { protected: 'eyJhbGciOiJFUzI1NiJ9', payload: 'e30', signature: 'c2lnbmF0dXJl' };
const MB = 1 << 20;

const PARSERS: ParserCase[] = [
  {
    name: 'parseNetToAcct', parse: parseNetToAcct, shapes: [
      { valid: { op: 'sign', id: 0, url: 'https://ca.example/new-order', nonce: B64, payload: '{"a":1}', kid: 'https://ca.example/acct/1' },
        fields: { id: { kind: 'id' }, url: { kind: 'string', max: 4096 }, nonce: { kind: 'b64', max: 1024 }, payload: { kind: 'string', max: MB }, kid: { kind: 'optString', max: 4096 } } },
      { valid: { op: 'sign', id: 12, url: 'https://ca.example/new-acct', nonce: B64, payload: '', kid: null },
        fields: {} },
      { valid: { op: 'sign', id: 13, url: 'https://ca.example/new-acct', nonce: '', payload: '{}' },
        fields: {} },
      { valid: { op: 'thumbprint', id: 3 }, fields: { id: { kind: 'id' } } },
      { valid: { op: 'eab', id: 4, url: 'https://ca.example/new-acct' }, fields: { id: { kind: 'id' }, url: { kind: 'string', max: 4096 } } },
      { valid: { op: 'keyChange', id: 8, url: 'https://ca.example/key-change', account: 'https://ca.example/acct/1' },
        fields: { id: { kind: 'id' }, url: { kind: 'string', max: 4096 }, account: { kind: 'string', max: 4096 } } },
      { valid: { op: 'keyChanged' }, fields: {} },
      { valid: { op: 'account', server: 'https://ca.example/dir', url: 'https://ca.example/acct/1', newNonce: 'https://ca.example/new-nonce' },
        fields: { server: { kind: 'string', max: 4096 }, url: { kind: 'string', max: 4096 }, newNonce: { kind: 'optString', max: 4096 } } },
    ],
  },
  {
    name: 'parseAcctToNet', parse: parseAcctToNet, shapes: [
      { valid: { op: 'ready', alg: 'RS256', created: false, account: null }, fields: { alg: { kind: 'alg' }, created: { kind: 'bool' } } },
      { valid: { op: 'ready', alg: 'ES256', created: true, account: null }, fields: {} },
      // The account URL kept beside the key, for its CA (src/fsutil/accountfile.ts).
      { valid: { op: 'ready', alg: 'ES384', created: false, account: { server: 'https://ca.example/dir', url: 'https://ca.example/acct/1', newNonce: null } }, fields: {} },
      { valid: { op: 'ready', alg: 'ES384', created: false, account: { server: 'https://ca.example/dir', url: 'https://ca.example/acct/1', newNonce: 'https://ca.example/new-nonce' } }, fields: {} },
      { valid: { op: 'signature', id: 1, jws: JWS }, fields: { id: { kind: 'id' }, jws: { kind: 'jws' } } },
      { valid: { op: 'thumbprint', id: 2, thumbprint: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs' },
        fields: { id: { kind: 'id' }, thumbprint: { kind: 'b64', max: 64 } } },
      { valid: { op: 'eab', id: 5, jws: JWS }, fields: { id: { kind: 'id' }, jws: { kind: 'jwsOrNull' } } },
      { valid: { op: 'eab', id: 6, jws: null }, fields: {} },
      { valid: { op: 'keyChange', id: 9, jws: JWS }, fields: { id: { kind: 'id' }, jws: { kind: 'jws' } } },
    ],
  },
  {
    name: 'parseKeyToNet', parse: parseKeyToNet, shapes: [
      { valid: { op: 'csr', csr: 'MIIBCgKCAQEA', publicKey: 'MFkwEwYHKoZI' },
        fields: { csr: { kind: 'b64', max: MB }, publicKey: { kind: 'b64', max: 8192 } } },
    ],
  },
  {
    name: 'parseNetToChng', parse: parseNetToChng, shapes: [
      { valid: { op: 'challenge', id: 7, identifier: 'example.org', token: 'evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA', keyAuthorization: 'tok.thumb' },
        fields: { id: { kind: 'id' }, identifier: { kind: 'string', max: 300 }, token: { kind: 'string', max: 4096 }, keyAuthorization: { kind: 'string', max: 4096 } } },
    ],
  },
  {
    name: 'parseChngToNet', parse: parseChngToNet, shapes: [
      { valid: { op: 'ack', id: 7 }, fields: { id: { kind: 'id' } } },
      { valid: { op: 'failed', id: 8 }, fields: { id: { kind: 'id' } } },
    ],
  },
  {
    name: 'parseCertToNet', parse: parseCertToNet, shapes: [
      { valid: { op: 'renewal-info', certId: 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE' }, fields: { certId: { kind: 'string', max: 1024 } } },
      { valid: { op: 'current', reason: 'certificate valid: 60 days left' }, fields: { reason: { kind: 'string', max: 1024 } } },
      { valid: { op: 'renew', reason: 'certificate renewable: 2 days left', replaces: 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE' },
        fields: { reason: { kind: 'string', max: 1024 }, replaces: { kind: 'optString', max: 1024 } } },
      { valid: { op: 'request', csr: 'MIICijCCAXICAQAw', publicKey: 'MFkwEwYHKoZI', names: ['example.org', 'www.example.org'] },
        fields: { csr: { kind: 'b64', max: MB }, publicKey: { kind: 'b64', max: 8192 } } },
      { valid: { op: 'revoke', certificate: 'MIIFazCCBFOgAwIBAgIS' }, fields: { certificate: { kind: 'b64', max: MB } } },
    ],
  },
  {
    name: 'parseNetToCert', parse: parseNetToCert, shapes: [
      { valid: { op: 'ready' }, fields: {} },
      { valid: { op: 'chain', pem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n', publicKey: 'MFkwEwYHKoZI', renewalInfo: true },
        fields: { pem: { kind: 'string', max: MB }, publicKey: { kind: 'b64', max: 8192 }, renewalInfo: { kind: 'bool' } } },
      { valid: { op: 'renewal-info', offered: true, window: null, retryAfterMs: null, explanationUrl: 'https://ca.example/why' },
        fields: { offered: { kind: 'bool' }, explanationUrl: { kind: 'optString', max: 2000 } } },
      { valid: { op: 'revoked', already: true }, fields: { already: { kind: 'bool' } } },
      { valid: { op: 'revoked', already: false }, fields: {} },
    ],
  },
  {
    name: 'parseCertToFile', parse: parseCertToFile, shapes: [
      { valid: { op: 'install', cert: '-----BEGIN CERTIFICATE-----\n', chain: '', state: '{}' },
        fields: { cert: { kind: 'string', max: MB }, chain: { kind: 'string', max: MB }, state: { kind: 'optString', max: 65536 } } },
      { valid: { op: 'state', state: '{}' }, fields: { state: { kind: 'string', max: 65536 } } },
      { valid: { op: 'remove' }, fields: {} },
    ],
  },
  {
    name: 'parseFrontToServer', parse: parseFrontToServer, shapes: [
      { valid: { op: 'ready' }, fields: {} },
      { valid: { op: 'sign', id: 3, peer: '192.0.2.7', authentication: 'hmac name=sha256, hash=00', body: 'LS0tLS1CRUdJTg==', names: ['example.org'],
        sha256: 'a'.repeat(64) },
        fields: { id: { kind: 'id' }, peer: { kind: 'string', max: 64 }, authentication: { kind: 'optString', max: 1024 }, body: { kind: 'string', max: 2 << 20 } } },
      { valid: { op: 'published', token: B64 }, fields: { token: { kind: 'b64', max: 256 } } },
    ],
  },
  {
    name: 'parseServerToFront', parse: parseServerToFront, shapes: [
      { valid: { op: 'settings', maxSize: 4096, headerTimeout: 10, maxConnections: 512 },
        fields: { maxSize: { kind: 'id' }, headerTimeout: { kind: 'id' }, maxConnections: { kind: 'id' } } },
      { valid: { op: 'publish', token: B64, keyAuthorization: `${B64}.thumb` }, fields: { token: { kind: 'b64', max: 256 }, keyAuthorization: { kind: 'string', max: 4096 } } },
      { valid: { op: 'withdraw', token: B64 }, fields: { token: { kind: 'b64', max: 256 } } },
      { valid: { op: 'answer', id: 1, status: 403, body: 'forbidden', retryAfter: null }, fields: { id: { kind: 'id' }, body: { kind: 'string', max: 1 << 19 } } },
      { valid: { op: 'answer', id: 2, status: 429, body: 'rate limited', retryAfter: 3600 }, fields: {} },
      { valid: { op: 'drain' }, fields: {} },
    ],
  },
];

test('parseFrontToServer and parseServerToFront: a bad SHA-256 and a status outside HTTP\'s are refused', () => {
  const sign = { op: 'sign', id: 3, peer: '::1', authentication: null, body: '', names: [], sha256: 'A'.repeat(64) };
  assert.throws(() => parseFrontToServer(sign), /sha256 is not a SHA-256 in hex/);
  assert.throws(() => parseServerToFront({ op: 'answer', id: 1, status: 99, body: '', retryAfter: null }), /status is not an HTTP status/);
});

function rejects(parse: (v: unknown) => unknown, value: unknown, pattern: RegExp, what: string): void {
  assert.throws(() => parse(value), pattern, what);
}

function withField(m: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> {
  return { ...m, [key]: value };
}

function withoutField(m: Record<string, unknown>, key: string): Record<string, unknown> {
  const copy = { ...m };
  delete copy[key];
  return copy;
}

/** Wrong values for a field of each kind. */
function wrongValues(kind: Kind): unknown[] {
  switch (kind) {
    case 'id': return ['1', -1, 1.5, -0.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, true, null, [1], { id: 1 }];
    case 'string': return [1, true, ['a'], { s: 'a' }, null];
    case 'optString': return [1, true, ['a'], { s: 'a' }];
    case 'b64': return [1, true, ['QUJD'], null, 'QUJD+', 'QUJD/', 'QUJD=', 'QU JD', 'QUJD.ABC', 'QUJD\n', 'ÀBC'];
    case 'bool': return ['true', 1, 0, null, 'false'];
    case 'alg': return ['HS256', 'rs256', 'none', 'EdDSA', 'ES512', '', 256, null];
    case 'jws': return ['a.b.c', null, [JWS], 7];
    case 'jwsOrNull': return ['a.b.c', [JWS], 7, true];
  }
}

for (const { name, parse, shapes } of PARSERS) {
  test(`${name}: accepts each valid message, returning just its fields`, () => {
    for (const { valid } of shapes) {
      const expected = name === 'parseNetToAcct' && valid.op === 'sign' && !('kid' in valid) ? { ...valid, kid: null } : valid;
      assert.deepEqual(parse(valid), expected, JSON.stringify(valid));
      // Unknown fields are dropped, not passed on.
      const result = parse({ ...JSON.parse('{"__proto__":{"polluted":1}}'), ...valid, extra: 'x' }) as Record<string, unknown>;
      assert.deepEqual(result, expected, `${JSON.stringify(valid)} with extra fields`);
      assert.equal(Object.hasOwn(result, 'extra'), false);
      // Parsing what came off the wire gives the same.
      assert.deepEqual(parse(JSON.parse(JSON.stringify(valid))), expected);
    }
  });

  test(`${name}: rejects non-objects, arrays, null and unknown ops`, () => {
    for (const v of [null, undefined, 0, 42, 'ack', '', true, Symbol('x')]) rejects(parse, v, /^Error: message is not an object$/, String(v));
    for (const { valid } of shapes) {
      rejects(parse, [valid], /^Error: message is not an object$/, 'array of a valid message');
      rejects(parse, Object.assign([], valid), /^Error: message is not an object$/, 'array carrying valid fields');
    }
    const sample = shapes[0].valid;
    for (const op of ['bogus', 'ACK', 'Sign', '', 0, null, true, ['ack'], { op: 'ack' }, 'toString', '__proto__']) {
      rejects(parse, withField(sample, 'op', op), /unknown operation/, `op ${JSON.stringify(op)}`);
    }
    rejects(parse, withoutField(sample, 'op'), /^Error: unknown operation undefined$/, 'missing op');
    rejects(parse, {}, /unknown operation/, 'empty object');
  });

  test(`${name}: rejects missing fields and wrong types`, () => {
    for (const { valid, fields } of shapes) {
      for (const [key, { kind }] of Object.entries(fields)) {
        if (kind === 'optString') {
          // Optional: missing or null is accepted as null.
          assert.deepEqual(parse(withoutField(valid, key)), { ...valid, [key]: null });
          assert.deepEqual(parse(withField(valid, key, null)), { ...valid, [key]: null });
        } else {
          rejects(parse, withoutField(valid, key), new RegExp(`\\b${key}\\b`), `${valid.op} without ${key}`);
          rejects(parse, withField(valid, key, undefined), new RegExp(`\\b${key}\\b`), `${valid.op} with ${key} undefined`);
        }
        for (const wrong of wrongValues(kind)) {
          rejects(parse, withField(valid, key, wrong), new RegExp(`\\b${key}\\b`), `${valid.op} with ${key} = ${String(wrong)}`);
        }
      }
    }
  });

  test(`${name}: rejects strings over their limits and accepts them at the limit`, () => {
    for (const { valid, fields } of shapes) {
      for (const [key, { kind, max }] of Object.entries(fields)) {
        if (max === undefined) continue;
        assert.ok(kind === 'string' || kind === 'optString' || kind === 'b64');
        const at = 'A'.repeat(max);
        assert.deepEqual(parse(withField(valid, key, at)), { ...valid, [key]: at }, `${key} at ${max}`);
        rejects(parse, withField(valid, key, at + 'A'), new RegExp(`^Error: ${key} is too long$`), `${key} over ${max}`);
      }
    }
  });
}

test('parseNetToAcct: ids are non-negative safe integers', () => {
  for (const id of [0, 1, 2 ** 53 - 1]) assert.equal((parseNetToAcct({ op: 'thumbprint', id }) as { id: number }).id, id);
  for (const id of [-1, 0.1, 2 ** 53, '0']) assert.throws(() => parseNetToAcct({ op: 'thumbprint', id }), /^Error: id is not a non-negative integer$/);
});

test('parseAcctToNet: each jws field must be base64url, and the signature has its own limit', () => {
  for (const key of ['protected', 'payload', 'signature'] as const) {
    for (const bad of ['a+b', 'a/b', 'ab==', 'a.b', 'a b', 7, null]) {
      assert.throws(() => parseAcctToNet({ op: 'signature', id: 1, jws: { ...JWS, [key]: bad } }), new RegExp(`^Error: ${key} is not`), `${key} = ${String(bad)}`);
    }
    assert.throws(() => parseAcctToNet({ op: 'signature', id: 1, jws: withoutField(JWS, key) }), new RegExp(`^Error: ${key} is missing$`));
  }
  assert.deepEqual(parseAcctToNet({ op: 'signature', id: 1, jws: { ...JWS, signature: 'A'.repeat(4096) } }),
    { op: 'signature', id: 1, jws: { ...JWS, signature: 'A'.repeat(4096) } });
  assert.throws(() => parseAcctToNet({ op: 'signature', id: 1, jws: { ...JWS, signature: 'A'.repeat(4097) } }), /^Error: signature is too long$/);
  assert.throws(() => parseAcctToNet({ op: 'signature', id: 1, jws: [JWS.protected, JWS.payload, JWS.signature] }), /^Error: jws is not an object$/);
  // Extra members of the JWS are not passed on either.
  assert.deepEqual(parseAcctToNet({ op: 'signature', id: 1, jws: { ...JWS, header: { kid: 'x' } } }), { op: 'signature', id: 1, jws: JWS });
});

test('parseAcctToNet: alg must be one of RS256, ES256, ES384', () => {
  for (const alg of ['RS256', 'ES256', 'ES384']) assert.deepEqual(parseAcctToNet({ op: 'ready', alg, created: false, account: null }), { op: 'ready', alg, created: false, account: null });
  for (const alg of ['HS256', 'none', 'ES512', 'PS256', 'RS256 ']) {
    assert.throws(() => parseAcctToNet({ op: 'ready', alg, created: false, account: null }), /^Error: alg is not one of RS256, ES256, ES384$/, alg);
  }
});

test('parseNever rejects everything', () => {
  const everything: unknown[] = [null, undefined, 0, 'csr', [], {}, { op: 'csr', csr: 'QUJD', publicKey: 'QUJD' }, { op: 'ack', id: 1 },
    { op: 'install', cert: '', chain: '' }, { op: 'remove' }];
  for (const v of everything) assert.throws(() => parseNever(v), /^Error: (message is not an object|unknown operation)/, JSON.stringify(v) ?? String(v));
  assert.throws(() => parseNever({ op: 'remove' }), /^Error: unknown operation "remove"$/);
  assert.throws(() => parseNever(null), /^Error: message is not an object$/);
});

test('unknown operation names are shortened in the error', () => {
  const long = 'x'.repeat(500);
  assert.throws(() => parseChngToNet({ op: long, id: 1 }), (err: unknown) => {
    assert.ok(err instanceof Error);
    assert.ok(err.message.length < 100, err.message);
    assert.ok(err.message.startsWith('unknown operation "xxx'));
    return true;
  });
});

// ---------------------------------------------------------------------------------------------
// Configurations

const CONFIGS: { [R in Role]: { good: Record<string, unknown>; optional: string[] } } = {
  netproc: { good: { directoryUrl: 'https://ca.example/dir', names: ['example.org', 'www.example.org'], challengeType: 'http-01', external: false,
    agreement: 'https://ca.example/tos', revoke: false, userAgent: 'acme-client/0.1', profile: 'shortlived', ari: true, mustStaple: false,
    requestTimeoutMs: 60_000, pollTimeoutMs: 300_000, verbose: 2,
    caFile: '/etc/ssl/private-ca.pem', contact: ['mailto:admin@example.org'], acceptTerms: ['https://ca.example/tos'], preferredChain: 'ISRG Root X2', rolloverAccountKey: false, signs: true,
    requestFromCertproc: false, registerOnly: false, persistRecords: false, dnsServer: '127.0.0.1:8053' },
    optional: ['agreement', 'profile', 'caFile', 'preferredChain', 'dnsServer'] },
  acctproc: { good: { keyFile: '/etc/acme/privkey.pem', create: true, verbose: 0, keyType: 'ec256', eab: { kid: 'kid-1', keyFile: '/etc/acme/eab.key' },
    rollover: { newKeyFile: '/etc/acme/new.pem', create: false } }, optional: ['eab', 'rollover'] },
  keyproc: { good: { keyFile: '/etc/ssl/acme/private/privkey.pem', create: false, names: ['example.org'], mustStaple: true, verbose: 1,
    keyType: 'rsa4096' }, optional: [] },
  chngproc: { good: { challengeDir: '/var/www/acme', challengeType: 'http-01', verbose: 0 }, optional: ['challengeDir'] },
  certproc: { good: { certDir: '/etc/ssl/acme', files: { cert: 'cert.pem', chain: 'chain.pem', fullchain: 'fullchain.pem', state: 'acme-client-state.json' }, names: ['example.org'], expand: true, renewOnDroppedNames: false, force: false, revoke: false, ari: true,
    directoryUrl: 'https://ca.example/dir', csrFile: '/etc/ssl/example.csr', verbose: 0 }, optional: ['csrFile'] },
  fileproc: { good: { certDir: '/etc/ssl/acme', files: { cert: 'www.crt', chain: null, fullchain: 'www.fullchain.pem', state: 'www.crt.acme-client-state.json' }, backup: true, dated: true, keep: 3, verbose: 3 }, optional: [] },
};

for (const role of Object.keys(CONFIGS) as Role[]) {
  const { good, optional } = CONFIGS[role];
  const parse = parseConfig[role] as (v: unknown) => unknown;

  test(`parseConfig.${role}: accepts a good configuration, dropping unknown fields`, () => {
    assert.deepEqual(parse(good), good);
    assert.deepEqual(parse(JSON.parse(JSON.stringify({ ...good, surplus: 1 }))), good);
    for (const key of optional) {
      assert.deepEqual(parse(withoutField(good, key)), { ...good, [key]: null }, `${role} without ${key}`);
      assert.deepEqual(parse(withField(good, key, null)), { ...good, [key]: null }, `${role} with ${key} null`);
    }
  });

  test(`parseConfig.${role}: rejects a missing or mistyped field and a non-object`, () => {
    for (const key of Object.keys(good)) {
      const value = good[key];
      if (!optional.includes(key)) rejects(parse, withoutField(good, key), new RegExp(`^Error: ${key} is missing$`), `${role} without ${key}`);
      const wrong = typeof value === 'string' ? 7 : typeof value === 'number' ? '1' : typeof value === 'boolean' ? 'yes' : 'example.org';
      rejects(parse, withField(good, key, wrong), new RegExp(`^Error: ${key} is not`), `${role} with ${key} = ${String(wrong)}`);
    }
    rejects(parse, withField(good, 'verbose', -1), /^Error: verbose is not a non-negative integer$/, 'negative verbose');
    if ('names' in good) {
      rejects(parse, withField(good, 'names', ['example.org', 3]), /^Error: names is not a list of strings$/, 'names with a number');
      rejects(parse, withField(good, 'names', Array(1001).fill('a.example')), /^Error: names is not a list of strings$/, '1001 names');
    }
    for (const v of [null, undefined, 'config', 1, [good]]) rejects(parse, v, /^Error: config is not an object$/, String(v));
  });
}

test('parseConfig.acctproc: an eab needs its kid and its key file, and nothing else is passed on', () => {
  const good = CONFIGS.acctproc.good;
  assert.deepEqual(parseConfig.acctproc({ ...good, eab: { kid: 'k', keyFile: '/f', key: 'secret' } }), { ...good, eab: { kid: 'k', keyFile: '/f' } });
  for (const eab of [{ kid: 'k' }, { keyFile: '/f' }, { kid: 7, keyFile: '/f' }, { kid: 'k'.repeat(1025), keyFile: '/f' }, 'kid-1']) {
    assert.throws(() => parseConfig.acctproc({ ...good, eab }), /^Error: (kid|keyFile|eab) is/, JSON.stringify(eab));
  }
});

test('parseConfig.certproc and fileproc: the certificate files are names in certDir, the certificate or the full chain at least', () => {
  const good = CONFIGS.fileproc.good;
  const files = good.files as Record<string, unknown>;
  for (const parse of [parseConfig.certproc, parseConfig.fileproc]) {
    const base = parse === parseConfig.certproc ? CONFIGS.certproc.good : good;
    for (const [key, bad] of [['cert', '../x.pem'], ['chain', '/etc/x.pem'], ['fullchain', '..'], ['state', ''], ['cert', 'a\0b'], ['state', null]] as const) {
      assert.throws(() => parse({ ...base, files: { ...files, [key]: bad } }), new RegExp(`^Error: ${key} is (not a file name|not a string)$`), `${key} = ${String(bad)}`);
    }
    assert.throws(() => parse({ ...base, files: { ...files, cert: null, fullchain: null } }), /^Error: files has neither cert nor fullchain$/);
    assert.deepEqual((parse({ ...base, files: { ...files, chain: undefined } }) as { files: unknown }).files, { ...files, chain: null });
  }
});

test('parseConfig.acctproc: a rollover needs the new key\'s file and whether to create it', () => {
  const good = CONFIGS.acctproc.good;
  for (const rollover of [{ newKeyFile: '/n' }, { create: true }, { newKeyFile: 7, create: true }, { newKeyFile: '/n', create: 'yes' }, '/n']) {
    assert.throws(() => parseConfig.acctproc({ ...good, rollover }), /^Error: (newKeyFile|create|rollover) is/, JSON.stringify(rollover));
  }
});

test('parseNetToCert: a renewal window is two integer times, or null; Retry-After an integer or null', () => {
  const good = { op: 'renewal-info', offered: true, window: { start: 1, end: 2 }, retryAfterMs: 21_600_000, explanationUrl: null };
  assert.deepEqual(parseNetToCert(good), good);
  assert.deepEqual(parseNetToCert({ ...good, window: null, retryAfterMs: null }), { ...good, window: null, retryAfterMs: null });
  for (const window of [{ start: 1 }, { start: '1', end: 2 }, { start: 1, end: -2 }, [1, 2], 'soon']) {
    assert.throws(() => parseNetToCert({ ...good, window }), /^Error: (window is not an object|(start|end) is (missing|not a non-negative integer))$/, JSON.stringify(window));
  }
  for (const retryAfterMs of ['6h', -1, 1.5, undefined]) {
    assert.throws(() => parseNetToCert({ ...good, retryAfterMs }), /^Error: retryAfterMs is (missing|not a non-negative integer)$/, String(retryAfterMs));
  }
});
