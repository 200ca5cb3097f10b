// certproc: judges certificates. It is started first, and alone unless work is certain: it reads
// the certificate files (read-only) and tells the parent, in one word, whether there is work.
// Nothing to do: no other child is started and nothing is sent to the CA. Otherwise it tells
// netproc why (renew, or with -r the certificate to revoke). Afterwards it checks what the CA sent
// (every block a certificate, the leaf for exactly the requested names and our key, issued by the
// next block) before passing it to fileproc. With --csr it also reads the request (read-only), and
// refuses one that is not signed by its own key or has a key acme-client would not load, before
// anything is asked of the CA; the names then come from the request, and the certificate must carry
// its key. It talks to netproc and fileproc and needs no network.

import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { runChild, tellParent } from '../ipc/child.js';
import { Channel } from '../ipc/channel.js';
import { CertConfig, FD } from '../ipc/roles.js';
import { CertToFile, CertToNet, FileToCert, NetToCert, parseNetToCert, parseNever } from '../ipc/messages.js';
import { base64url } from '../acme/jws.js';
import { ChainError, splitPemCertificates } from '../x509/chain.js';
import { certificateNames } from '../x509/names.js';
import { renewalVerdict } from '../x509/renewal.js';
import { RequestError, SigningRequest, readSigningRequest } from '../x509/request.js';
import { readFileCapped } from '../fsutil/read.js';
import { Failure, debug, warn } from '../log.js';

const MAX_CERT_FILE = 1 << 20;
const MAX_REQUEST_FILE = 64 * 1024;
const readCertificateFile = (path: string): Promise<string | null> => readFileCapped(path, MAX_CERT_FILE);

/** --csr: the request, checked; names given on the command line must be exactly its names. */
function checkRequest(path: string, pem: string | null, given: string[]): SigningRequest {
  if (pem === null) throw new Failure(path, 'no such file');
  let request: SigningRequest;
  try {
    request = readSigningRequest(pem, path);
  } catch (err) {
    if (err instanceof RequestError) throw new Failure(err.subject, err.problem);
    throw err;
  }
  debug(path, `certificate request for ${request.names.join(', ')} (${request.keyDescription})`);
  const unrequested = given.find((name) => !request.names.includes(name));
  const unlisted = request.names.find((name) => !given.includes(name));
  if (given.length > 0 && unrequested !== undefined) throw new Failure(path, `the request does not name ${unrequested}, given on the command line`);
  if (given.length > 0 && unlisted !== undefined) throw new Failure(path, `the request names ${unlisted}, not given on the command line`);
  return request;
}

/** A certificate for another key than the request's is renewed however long it has left. */
function sameKey(text: string, request: SigningRequest): boolean {
  try {
    const leaf = new X509Certificate(splitPemCertificates(text)[0] as string);
    return leaf.publicKey.export({ type: 'spki', format: 'der' }).equals(request.publicKey);
  } catch {
    return false;
  }
}

/** What to tell netproc about the certificate on disk. */
function judgeExisting(config: CertConfig, path: string, text: string | null): CertToNet {
  if (text === null) {
    if (config.revoke) throw new Failure(path, 'no certificate found');
    return { op: 'renew', reason: 'no certificate yet' };
  }
  let leaf: X509Certificate;
  let have: string[];
  try {
    leaf = new X509Certificate(splitPemCertificates(text)[0] as string);
    have = certificateNames(leaf.raw);
  } catch (err) {
    const why = err instanceof ChainError ? err.problem : (err as Error).message;
    if (config.revoke) throw new Failure(path, `unreadable certificate: ${why}`);
    warn(path, `unreadable certificate (${why}), renewing`);
    return { op: 'renew', reason: 'unreadable certificate' };
  }
  const unknown = have.find((n) => !config.names.includes(n));
  if (unknown !== undefined) throw new Failure(path, `unknown SAN entry: ${unknown}`);
  const missing = config.names.filter((n) => !have.includes(n));
  if (missing.length > 0 && (config.revoke || !config.expand)) throw new Failure(path, `domain not listed: ${missing[0]}`);

  if (config.revoke) return { op: 'revoke', certificate: base64url(leaf.raw) };
  if (missing.length > 0) {
    for (const name of missing) debug(path, `expanding with domain: ${name}`);
    return { op: 'renew', reason: 'new domain names' };
  }
  const verdict = renewalVerdict(Date.parse(leaf.validFrom), Date.parse(leaf.validTo), Date.now());
  debug(path, verdict.why);
  if (verdict.renew) return { op: 'renew', reason: verdict.why };
  if (config.force) {
    warn(path, 'forcing renewal');
    return { op: 'renew', reason: 'forced' };
  }
  return { op: 'current', reason: verdict.why };
}

function consistentSet(cert: string, chain: string | null, fullchain: string | null): boolean {
  if (chain === null || fullchain === null || fullchain !== cert + chain) return false;
  try {
    const leaf = new X509Certificate(splitPemCertificates(cert)[0] as string);
    const issuer = new X509Certificate(splitPemCertificates(chain)[0] as string);
    return leaf.checkIssued(issuer) && leaf.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/** Checks the CA's chain; returns the leaf and the rest as PEM text for fileproc. */
function checkIssued(config: CertConfig, pem: string, publicKey: string, subject: string): { cert: string; chain: string } {
  let blocks: string[];
  try {
    blocks = splitPemCertificates(pem);
  } catch (err) {
    throw new Failure(subject, `bad certificate chain: ${err instanceof ChainError ? err.problem : (err as Error).message}`);
  }
  if (blocks.length < 2) throw new Failure(subject, 'bad certificate chain: no issuer certificate');
  const [leaf, issuer] = [new X509Certificate(blocks[0] as string), new X509Certificate(blocks[1] as string)];
  let names: string[];
  try {
    names = certificateNames(leaf.raw);
  } catch (err) {
    throw new Failure(subject, err instanceof ChainError ? err.problem : (err as Error).message);
  }
  const extra = names.find((n) => !config.names.includes(n));
  const missing = config.names.find((n) => !names.includes(n));
  if (extra !== undefined) throw new Failure(subject, `certificate names ${extra}, which was not requested`);
  if (missing !== undefined) throw new Failure(subject, `certificate lacks ${missing}`);
  if (base64url(leaf.publicKey.export({ type: 'spki', format: 'der' })) !== publicKey) {
    throw new Failure(subject, 'certificate is not for our domain key');
  }
  if (!leaf.checkIssued(issuer) || !leaf.verify(issuer.publicKey)) throw new Failure(subject, 'certificate is not signed by the next in the chain');
  if (Date.parse(leaf.validTo) <= Date.now()) throw new Failure(subject, 'certificate has already expired');
  return { cert: blocks[0] as string, chain: blocks.slice(1).join('') };
}

runChild('certproc', async (given: CertConfig, confine) => {
  const net = new Channel<NetToCert, CertToNet>(FD.certproc.net, 'netproc', parseNetToCert);
  const file = new Channel<FileToCert, CertToFile>(FD.certproc.file, 'fileproc', parseNever);
  const path = join(given.certDir, 'cert.pem');
  try {
    const requestPem = given.csrFile === null ? null : await readFileCapped(given.csrFile, MAX_REQUEST_FILE);
    const existing = await readCertificateFile(path);
    const chain = await readCertificateFile(join(given.certDir, 'chain.pem'));
    const fullchain = await readCertificateFile(join(given.certDir, 'fullchain.pem'));
    await confine();
    const request = given.csrFile === null ? null : checkRequest(given.csrFile, requestPem, given.names);
    const config: CertConfig = request === null ? given : { ...given, names: request.names };
    let verdict = judgeExisting(config, path, existing);
    if (verdict.op === 'current' && request !== null && existing !== null && !sameKey(existing, request)) {
      debug(path, 'certificate is for another key than the request\'s, renewing');
      verdict = { op: 'renew', reason: 'the request has a new key' };
    }
    // A run killed between two renames leaves a new chain beside an old cert (or the reverse):
    // a set that does not hang together is renewed even when cert.pem alone looks current.
    if (verdict.op === 'current' && existing !== null && !consistentSet(existing, chain, fullchain)) {
      warn(config.certDir, 'cert.pem, chain.pem and fullchain.pem do not match, renewing');
      verdict = { op: 'renew', reason: 'mismatched certificate files' };
    }
    if (verdict.op === 'current') {
      await tellParent('current');
      return;
    }
    // netproc may not exist yet. Until it has the socket, the parent holds that end too and
    // could read what is written there: speak only once netproc has said it is there.
    await tellParent('work');
    const hello = await net.recv();
    if (hello === null) return;
    if (hello.op !== 'ready') throw new Failure('netproc', `unexpected message "${hello.op}" before ready`);
    if (request !== null && verdict.op === 'renew') {
      const sent = await net.send({ op: 'request', csr: base64url(request.der), publicKey: base64url(request.publicKey), names: request.names });
      if (!sent) return;
    }
    if (!(await net.send(verdict))) return;

    const answer = await net.recv();
    if (answer === null) return;
    if (answer.op === 'ready') throw new Failure('netproc', 'said ready twice');
    if (answer.op === 'chain') {
      if (config.revoke) throw new Failure('netproc', 'sent a certificate during revocation');
      // With --csr the key is the one certproc read itself, not what netproc says it is.
      const publicKey = request === null ? answer.publicKey : base64url(request.publicKey);
      const checked = checkIssued(config, answer.pem, publicKey, path);
      debug(path, 'new certificate checked');
      await file.send({ op: 'install', ...checked });
    } else {
      if (!config.revoke) throw new Failure('netproc', 'reported a revocation that was not asked for');
      await file.send({ op: 'remove' });
    }
  } finally {
    net.close();
    file.close();
  }
});
