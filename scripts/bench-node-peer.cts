// The bench's driver for its Node.js peer: the npm `acme-client` library (publishlab/node-acme-client,
// installed as the devDependency `node-acme-client`, an npm alias: our own package has the same
// name). It issues with the library's `auto` mode and otherwise its defaults; what the library does
// not do itself, this file does as a user's cron script would, in the fewest steps:
//
//   node bench-node-peer.cjs --server URL --account-key FILE --account-url FILE --domain-key FILE
//                            --cert FILE [--challenge-dir DIR] [--ca FILE] issue|renew|revoke NAME...
//
//   issue   a new certificate for NAME... (the first is the CN), forced; the full chain to --cert
//   renew   the same, unless --cert holds a certificate with more than 30 days left (exit 2):
//           the library has no renewal rule, so this is ours (acme-client's own default)
//   revoke  revokes --cert
//
// The account's URL is kept in the --account-url file, written after the first issuance and
// handed to the library from then on, as its documentation suggests: `auto` then skips the
// account step. (Without it, `auto` looks the account up and then "updates" it with
// termsOfServiceAgreed, which Pebble refuses in -strict mode as an empty update.)
//
// http-01 files go to --challenge-dir, named by token, and are removed after each authorization.
// Exit status: 0 done, 2 nothing to do, 1 failure (one line on stderr).
//
// Two departures from the library's defaults, both what the lab needs and no speed-up:
// skipChallengeVerification (its own pre-check fetches http://NAME/ on port 80, and the lab's
// names and web server exist only for Pebble; acme-tiny gets --disable-check for the same
// reason), and the lab's TLS CA (--ca) given to Node's global HTTPS agent, which the library's
// axios uses. NODE_EXTRA_CA_CERTS would do the same but makes Node parse its whole root store at
// start-up, a cost that no production run pays (bench/RESULTS.md).
//
// CommonJS (.cts -> .cjs) on purpose: Node starts it without its ES module loader, as it would a
// plain `require('acme-client')` script, so the peer pays no more start-up than it has to.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import acme = require('node-acme-client');

const RENEW_DAYS = 30;
const DAY_MS = 86_400_000;

async function main(): Promise<number> {
  const { values: v, positionals } = parseArgs({
    options: {
      server: { type: 'string' }, 'account-key': { type: 'string' }, 'account-url': { type: 'string' }, 'domain-key': { type: 'string' },
      cert: { type: 'string' }, 'challenge-dir': { type: 'string' }, ca: { type: 'string' },
    },
    strict: true, allowPositionals: true,
  });
  const [mode, ...names] = positionals;
  if (v.server === undefined || v['account-key'] === undefined || v['account-url'] === undefined || v.cert === undefined || (mode !== 'revoke' && (v['domain-key'] === undefined || names.length === 0))
    || (mode !== 'issue' && mode !== 'renew' && mode !== 'revoke')) {
    throw new Error('usage: --server URL --account-key FILE --account-url FILE --domain-key FILE --cert FILE [--challenge-dir DIR] [--ca FILE] issue|renew|revoke NAME...');
  }
  if (v.ca !== undefined) https.globalAgent.options.ca = readFileSync(v.ca);
  const certFile = v.cert;

  if (mode === 'renew' && existsSync(certFile)) {
    const { notAfter } = acme.crypto.readCertificateInfo(readFileSync(certFile));
    if (notAfter.getTime() - Date.now() > RENEW_DAYS * DAY_MS) return 2;
  }

  const urlFile = v['account-url'];
  const accountUrl = existsSync(urlFile) ? readFileSync(urlFile, 'utf8').trim() : undefined;
  const client = new acme.Client({ directoryUrl: v.server, accountKey: readFileSync(v['account-key']), ...(accountUrl ? { accountUrl } : {}) });
  if (mode === 'revoke') {
    if (accountUrl === undefined) await client.createAccount({ onlyReturnExisting: true });
    await client.revokeCertificate(readFileSync(certFile));
    return 0;
  }

  const challengeDir = v['challenge-dir'];
  if (challengeDir === undefined) throw new Error('--challenge-dir is needed to issue');
  const [, csr] = await acme.crypto.createCsr({ commonName: names[0], altNames: names }, readFileSync(v['domain-key']!));
  const chain = await client.auto({
    csr,
    termsOfServiceAgreed: true,
    skipChallengeVerification: true,
    challengePriority: ['http-01'],
    challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
      writeFileSync(join(challengeDir, challenge.token), keyAuthorization);
    },
    challengeRemoveFn: async (_authz, challenge) => {
      rmSync(join(challengeDir, challenge.token), { force: true });
    },
  });
  writeFileSync(certFile, chain);
  if (accountUrl === undefined) writeFileSync(urlFile, client.getAccountUrl());
  return 0;
}

main().then((status) => { process.exitCode = status; }, (err: unknown) => {
  process.stderr.write(`bench-node-peer: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
