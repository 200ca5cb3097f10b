// A challenge's answer is signed while chngproc publishes, and sent only once it has published
// (AcmeClient.respond's `published`, src/procs/netproc.ts publisher): the CA may look the moment
// it is told. Would fail if the POST went as soon as it was signed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AcmeClient, type Signer } from '../src/acme/client.js';
import type { HttpClient, HttpResponse } from '../src/acme/http.js';
import { Deadline } from '../src/acme/poll.js';

const CA = 'https://ca.example.test';

test('the answer to a challenge is signed at once but sent only once the challenge is published', async () => {
  const events: string[] = [];
  const answer = (url: string, status: number, body: unknown): HttpResponse => ({
    url, status, headers: { 'replay-nonce': `nonce${events.length}`, 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(body)),
  });
  const http = {
    get: async (url: string): Promise<HttpResponse> => {
      events.push(`GET ${url}`);
      if (url === `${CA}/dir`) return answer(url, 200, { newNonce: `${CA}/nonce`, newAccount: `${CA}/acct`, newOrder: `${CA}/order`, revokeCert: `${CA}/revoke` });
      return answer(url, 204, {});
    },
    post: async (url: string): Promise<HttpResponse> => {
      events.push(`POST ${url}`);
      return answer(url, 200, { type: 'http-01', url, status: 'processing', token: 't' });
    },
  } as unknown as HttpClient;
  let signed!: () => void;
  const signedOnce = new Promise<void>((resolve) => (signed = resolve));
  const signer: Signer = {
    sign: async (url) => {
      events.push(`sign ${url}`);
      signed();
      return { protected: 'p', payload: 'e30', signature: 's' };
    },
  };
  const acme = new AcmeClient(http, signer, `${CA}/dir`, new Deadline(60_000));
  await acme.loadDirectory();
  await acme.account(false, { contact: [], externalAccountBinding: async () => null, keep: async () => undefined }, `${CA}/acct/1`);

  let publish!: () => void;
  const published = new Promise<void>((resolve) => (publish = resolve));
  const responded = acme.respond(`${CA}/chall/1`, published);
  await signedOnce;
  // Every turn of the event loop the client could have used to send has passed.
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(events.filter((e) => e.startsWith('POST')), [], 'nothing sent before the challenge is published');
  publish();
  await responded;
  assert.deepEqual(events.slice(-2), [`sign ${CA}/chall/1`, `POST ${CA}/chall/1`]);
});
