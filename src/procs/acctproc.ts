// acctproc: owns the account key. It reads (or with -n creates) the key file, then answers
// netproc's requests to sign JWS and for the key's thumbprint. The key never leaves this process:
// only signatures and the thumbprint do. It talks to netproc only and needs no network.

import { atTermination, runChild } from '../ipc/child.js';
import { Channel } from '../ipc/channel.js';
import { AcctConfig, FD } from '../ipc/roles.js';
import { AcctToNet, NetToAcct, parseNetToAcct } from '../ipc/messages.js';
import { accountAlg, publicJwk, signJws, thumbprint } from '../acme/jws.js';
import { keyDescription, parsePrivateKey } from '../x509/keys.js';
import { loadOrCreateKey, removeKeyTempInFlight } from '../fsutil/keyfile.js';
import { debug } from '../log.js';

runChild('acctproc', async (config: AcctConfig, confine) => {
  const net = new Channel<NetToAcct, AcctToNet>(FD.acctproc.net, 'netproc', parseNetToAcct);
  try {
    atTermination(removeKeyTempInFlight);
    const pem = await loadOrCreateKey(config.keyFile, config.create, 'account', config.keyType);
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
      }
    }
  } finally {
    net.close();
  }
});
