// acctproc: owns the account key. It reads (or with -n creates) the key file, PEM or a JSON Web
// Key (certbot's), and the External
// Account Binding key of --eab-hmac-key-file when given, then answers netproc's requests to sign
// JWS, for the key's thumbprint and for the binding of a new account. The keys never leave this
// process: only signatures, MACs and the thumbprint do. It talks to netproc only and needs no network.
// It also keeps the account's URL beside the key (src/fsutil/accountfile.ts) when netproc names it.
//
// With --rollover-account-key it holds the new key too (read, or with -n created): it signs the
// inner JWS of the key change with it, and once netproc says the CA has accepted the change it
// replaces the key file with the new key, keeping the old one as <file>.old, and exits with
// EXIT_CHANGED. For that it stays root, jailed to the key's directory (src/parent/plans.ts plans it).

import type { KeyObject } from 'node:crypto';
import { atTermination, runChild } from '../ipc/child.js';
import { Channel } from '../ipc/channel.js';
import { AcctConfig, EXIT_CHANGED, FD } from '../ipc/roles.js';
import { AcctToNet, NetToAcct, parseNetToAcct } from '../ipc/messages.js';
import { accountAlg, externalAccountBinding, publicJwk, signJws, thumbprint } from '../acme/jws.js';
import { isJsonWebKey, keyDescription, parseAccountKey, parsePrivateKey } from '../x509/keys.js';
import { loadOrCreateKey, replaceKeyFile } from '../fsutil/keyfile.js';
import { removeTempsInFlight } from '../fsutil/atomic.js';
import { readFileCapped } from '../fsutil/read.js';
import { AccountFile } from '../fsutil/accountfile.js';
import { accountFilePath, oldKeyPath } from '../defaults.js';
import { Failure, debug } from '../log.js';

/** An HMAC key of a few dozen bytes, in base64url; anything bigger is not one. */
const MAX_MAC_KEY_FILE = 4096;
const BASE64URL_KEY = /^[A-Za-z0-9_-]+$/;

/**
 * The EAB MAC key: the file's base64url text, surrounding whitespace ignored. Errors name the file
 * and never quote its content.
 */
function readMacKey(path: string): Buffer {
  let text: string | null;
  try {
    text = readFileCapped(path, MAX_MAC_KEY_FILE);
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

/** The key to roll over to: usable as an account key, and not the one the account has. */
function parseNewKey(path: string, pem: string, currentJwk: Record<string, string>): KeyObject {
  const key = parsePrivateKey(pem, path);
  accountAlg(key);
  if (thumbprint(publicJwk(key)) === thumbprint(currentJwk)) throw new Failure(path, 'is the account key already');
  debug(path, `loaded ${keyDescription(key)} new account key`);
  return key;
}

runChild('acctproc', async (config: AcctConfig, confine) => {
  const net = new Channel<NetToAcct, AcctToNet>(FD.acctproc.net, 'netproc', parseNetToAcct);
  let accountFile: AccountFile | null = null;
  try {
    atTermination(removeTempsInFlight);
    // The MAC key first: a bad one must fail the run before -n has written a new account key.
    const eab = config.eab === null ? null : { kid: config.eab.kid, macKey: readMacKey(config.eab.keyFile) };
    const pem = await loadOrCreateKey(config.keyFile, config.create, 'account', config.keyType);
    const next = config.rollover === null ? null
      : { file: config.rollover.newKeyFile, pem: await loadOrCreateKey(config.rollover.newKeyFile, config.rollover.create, 'account', config.keyType) };
    // Opened (made, when missing) as root. Not for a key made in this run: should the run fail, an
    // empty file would be left beside a key that may be removed; its account's URL is kept by the
    // next run. A key change keeps the account's URL, and certbot's directory is left as it is.
    accountFile = next === null && !config.create && !isJsonWebKey(pem) ? AccountFile.open(accountFilePath(config.keyFile)) : null;
    await confine();
    const key = parseAccountKey(pem, config.keyFile);
    // Another program's file (certbot's private_key.json) is read, never rewritten.
    if (next !== null && isJsonWebKey(pem)) {
      throw new Failure(config.keyFile, 'a JSON Web Key account key is not replaced: roll over from a PEM copy of it (-f)');
    }
    const alg = accountAlg(key);
    const jwk = publicJwk(key);
    debug(config.keyFile, `loaded ${keyDescription(key)} account key`);
    const newKey = next === null ? null : parseNewKey(next.file, next.pem, jwk);
    const keyThumbprint = thumbprint(jwk);
    const account = accountFile?.accountOf(keyThumbprint) ?? null;
    if (!(await net.send({ op: 'ready', alg, created: config.create, account }))) return;

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
          await net.send({ op: 'thumbprint', id: request.id, thumbprint: keyThumbprint });
          break;
        case 'eab': {
          const jws = eab === null ? null : externalAccountBinding(eab.macKey, eab.kid, request.url, jwk);
          await net.send({ op: 'eab', id: request.id, jws });
          break;
        }
        case 'keyChange': {
          if (newKey === null) throw new Failure('netproc', 'asked for a key change that was not asked for');
          // §7.3.5: the new key vouches for the account and its old key, with no nonce.
          const payload = JSON.stringify({ account: request.account, oldKey: jwk });
          await net.send({ op: 'keyChange', id: request.id, jws: signJws(newKey, { url: request.url }, payload) });
          break;
        }
        case 'account':
          accountFile?.keep({ server: request.server, url: request.url, newNonce: request.newNonce }, keyThumbprint);
          break;
        case 'keyChanged': {
          if (next === null) throw new Failure('netproc', 'reported a key change that was not asked for');
          try {
            await replaceKeyFile(config.keyFile, next.pem, pem);
          } catch (err) {
            const why = err instanceof Failure ? err.problem : (err as Error).message;
            throw new Failure(config.keyFile, `the CA now knows the account by ${next.file} alone, but this file was not replaced: ${why}`);
          }
          debug(config.keyFile, `replaced by ${next.file}, the old key kept as ${oldKeyPath(config.keyFile)}`);
          return EXIT_CHANGED;
        }
      }
    }
  } finally {
    net.close();
    accountFile?.close();
  }
});
