// acctproc: owns the account key. It reads (or with -n creates) the key file, and the External
// Account Binding key of --eab-hmac-key-file when given, then answers netproc's requests to sign
// JWS, for the key's thumbprint and for the binding of a new account. The keys never leave this
// process: only signatures, MACs and the thumbprint do. It talks to netproc only and needs no network.

import { atTermination, runChild } from '../ipc/child.js';
import { Channel } from '../ipc/channel.js';
import { AcctConfig, FD } from '../ipc/roles.js';
import { AcctToNet, NetToAcct, parseNetToAcct } from '../ipc/messages.js';
import { accountAlg, externalAccountBinding, publicJwk, signJws, thumbprint } from '../acme/jws.js';
import { keyDescription, parsePrivateKey } from '../x509/keys.js';
import { loadOrCreateKey, removeKeyTempInFlight } from '../fsutil/keyfile.js';
import { readFileCapped } from '../fsutil/read.js';
import { Failure, debug } from '../log.js';

/** An HMAC key of a few dozen bytes, in base64url; anything bigger is not one. */
const MAX_MAC_KEY_FILE = 4096;
const BASE64URL_KEY = /^[A-Za-z0-9_-]+$/;

/**
 * The EAB MAC key: the file's base64url text, surrounding whitespace ignored. Errors name the file
 * and never quote its content.
 */
async function readMacKey(path: string): Promise<Buffer> {
  let text: string | null;
  try {
    text = await readFileCapped(path, MAX_MAC_KEY_FILE);
  } catch (err) {
    throw new Failure(path, `cannot read the EAB key: ${err instanceof Failure ? err.problem : (err as Error).message}`);
  }
  if (text === null) throw new Failure(path, 'cannot read the EAB key: no such file');
  const encoded = text.trim();
  if (encoded === '') throw new Failure(path, 'EAB key file is empty');
  // A length of 1 more than a multiple of 4 is no whole number of bytes.
  if (!BASE64URL_KEY.test(encoded) || encoded.length % 4 === 1) throw new Failure(path, 'EAB key is not base64url');
  return Buffer.from(encoded, 'base64url');
}

runChild('acctproc', async (config: AcctConfig, confine) => {
  const net = new Channel<NetToAcct, AcctToNet>(FD.acctproc.net, 'netproc', parseNetToAcct);
  try {
    atTermination(removeKeyTempInFlight);
    const pem = await loadOrCreateKey(config.keyFile, config.create, 'account', config.keyType);
    const macKey = config.eab === null ? null : await readMacKey(config.eab.keyFile);
    await confine();
    const key = parsePrivateKey(pem, config.keyFile);
    const alg = accountAlg(key);
    const jwk = publicJwk(key);
    debug(config.keyFile, `loaded ${keyDescription(key)} account key`);
    if (!(await net.send({ op: 'ready', alg, created: config.create }))) return;

    for (;;) {
      const request = await net.recv();
      if (request === null) return;
      switch (request.op) {
        case 'sign': {
          const header = request.kid === null ? { url: request.url, nonce: request.nonce } : { url: request.url, nonce: request.nonce, kid: request.kid };
          await net.send({ op: 'signature', id: request.id, jws: signJws(key, header, request.payload) });
          break;
        }
        case 'thumbprint':
          await net.send({ op: 'thumbprint', id: request.id, thumbprint: thumbprint(jwk) });
          break;
        case 'eab': {
          const jws = config.eab === null || macKey === null ? null : externalAccountBinding(macKey, config.eab.kid, request.url, jwk);
          await net.send({ op: 'eab', id: request.id, jws });
          break;
        }
      }
    }
  } finally {
    net.close();
  }
});
