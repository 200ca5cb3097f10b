// keyproc: owns the domain key. It reads (or with -N creates) the key file, builds and signs the
// CSR for all names, sends netproc the CSR and the public key the certificate must carry, and
// ends. The key never leaves this process. It talks to netproc only and needs no network.

import { createPublicKey } from 'node:crypto';
import { atTermination, runChild } from '../ipc/child.js';
import { Channel } from '../ipc/channel.js';
import { FD, KeyConfig } from '../ipc/roles.js';
import { KeyToNet, NetToKey, parseNever } from '../ipc/messages.js';
import { base64url } from '../acme/jws.js';
import { buildCsr } from '../x509/csr.js';
import { keyDescription, parsePrivateKey } from '../x509/keys.js';
import { loadOrCreateKey } from '../fsutil/keyfile.js';
import { removeTempsInFlight } from '../fsutil/atomic.js';
import { debug } from '../log.js';

runChild('keyproc', async (config: KeyConfig, confine) => {
  const net = new Channel<NetToKey, KeyToNet>(FD.keyproc.net, 'netproc', parseNever);
  try {
    atTermination(removeTempsInFlight);
    const pem = await loadOrCreateKey(config.keyFile, config.create, 'domain', config.keyType);
    await confine();
    const key = parsePrivateKey(pem, config.keyFile);
    debug(config.keyFile, `loaded ${keyDescription(key)} domain key`);
    // Not a warning: a CA that takes it should not cost a line in cron's mail every renewal, and
    // one that refuses it is answered by netproc with advice to drop -O.
    if (config.mustStaple) debug(config.keyFile, 'the request asks for OCSP must-staple (-O)');
    const csr = buildCsr(key, config.names, config.mustStaple);
    const publicKey = createPublicKey(key).export({ type: 'spki', format: 'der' });
    // Nothing more is asked of keyproc: as in the C original it ends once the request is written
    // (netproc reads it from the socket whenever it needs it), rather than hold its memory and its
    // key through the whole conversation.
    await net.send({ op: 'csr', csr: base64url(csr), publicKey: base64url(publicKey) });
  } finally {
    net.close();
  }
});
