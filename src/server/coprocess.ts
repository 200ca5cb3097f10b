// acme-client as the server's coprocess (or acme-client-dns01, which runs it in turn): the bundles
// installed beside acme-client-server.js, started with nothing of the server's environment but how
// the CA is trusted and where temporary files (the children's jails) go.

import { fileURLToPath } from 'node:url';

export const ACME_CLIENT = fileURLToPath(new URL('./acme-client.js', import.meta.url));
/** For dns-01: it runs the acme-client.js beside it in turn, and alone holds the TSIG key. */
export const ACME_CLIENT_DNS01 = fileURLToPath(new URL('./acme-client-dns01.js', import.meta.url));

export function acmeClientEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' };
  for (const name of ['NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'TMPDIR']) if (process.env[name] !== undefined) env[name] = process.env[name];
  return env;
}
