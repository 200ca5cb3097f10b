// certproc: judges certificates. It is started first, and alone unless work is certain: it reads
// the certificate files and the renewal state (read-only) and tells the parent, in one word,
// whether there is work: "current" (no other child starts, nothing is sent to the CA), "work", or
// "ask" when the CA's renewal window (ARI) decides and must be fetched: the parent then starts
// netproc and fileproc alone, netproc makes two unauthenticated GETs, and certproc says "work" only
// if the window says so. It tells netproc why it renews (or with -r the certificate to revoke).
// Afterwards it checks what the CA sent (every block a certificate, the leaf for exactly the
// requested names and our key, issued by the next block) before passing it to fileproc with the
// new renewal state. An order netproc reports still processing at --poll-timeout is kept in the
// state, and named to netproc by the next run that renews the same names. With --csr it also
// reads the request (read-only) and refuses one that is not signed by its own key or has a key
// acme-client would not load, before anything is asked of the CA; the names then come from the
// request, and the certificate must carry its key. It talks to netproc and fileproc and needs no
// network.

import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { runChild, tellParent } from '../ipc/child.js';
import { Channel } from '../ipc/channel.js';
import { CertConfig, CertFiles, FD } from '../ipc/roles.js';
import { CertToFile, CertToNet, FileToCert, NetToCert, parseNetToCert, parseNever } from '../ipc/messages.js';
import { base64url } from '../acme/jws.js';
import { ChainError, PemCertificate, readPemCertificates } from '../x509/chain.js';
import { CertificateFields, certificateFields, certificateNames } from '../x509/names.js';
import { certificateCertId } from '../x509/certid.js';
import {
  RenewalState, RenewalWindow, Verdict, lifetimeVerdict, parseRenewalState, renewalStateJson, usablePendingOrder, windowIsEarly, windowVerdict,
} from '../x509/renewal.js';
import { RequestError, SigningRequest, readSigningRequest } from '../x509/request.js';
import { readFileCapped } from '../fsutil/read.js';
import { Failure, debug, utcTime, warn } from '../log.js';

const MAX_CERT_FILE = 1 << 20;
const readCertificateFile = (path: string): string | null => readFileCapped(path, MAX_CERT_FILE);
const MAX_REQUEST_FILE = 64 * 1024;

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

/** RFC 9773 §4.3.3: without a Retry-After, ask again after six hours; keep what the CA asks within a minute and a day. */
const DEFAULT_ASK_AFTER_MS = 6 * 3_600_000;
const MIN_ASK_AFTER_MS = 60_000;
const MAX_ASK_AFTER_MS = 86_400_000;

/** The certificate files as read; null for one missing or not configured. */
interface OnDisk {
  cert: string | null;
  chain: string | null;
  fullchain: string | null;
  state: RenewalState | null;
}

/** The installed leaf, as far as it could be read. */
interface Installed {
  leaf: X509Certificate;
  names: string[];
  certId: string | null;
  notBefore: number;
  notAfter: number;
}

/** certproc's judgement: a verdict for netproc, or the question to ask the CA first. */
type Judgement = CertToNet | { op: 'ask'; installed: Installed; certId: string };

/** The certificate's ARI CertID, or null (the lifetime rule then decides) when it cannot be built. */
function certIdOf(path: string, fields: CertificateFields): string | null {
  try {
    return certificateCertId(fields);
  } catch (err) {
    debug(path, `no renewal information can be asked for it: ${err instanceof ChainError ? err.problem : (err as Error).message}`);
    return null;
  }
}

/** The renewal state of earlier runs; one that cannot be read is a warning and as if absent. */
function readState(path: string): RenewalState | null {
  try {
    return parseRenewalState(readCertificateFile(path));
  } catch (err) {
    warn(path, `${err instanceof Failure ? err.problem : (err as Error).message}; ignored`);
    return null;
  }
}

function readInstalled(path: string, text: string, revoke: boolean): Installed | null {
  try {
    const leaf = (readPemCertificates(text)[0] as PemCertificate).certificate;
    const fields = certificateFields(leaf.raw);
    return {
      leaf, names: certificateNames(fields), certId: certIdOf(path, fields),
      notBefore: Date.parse(leaf.validFrom), notAfter: Date.parse(leaf.validTo),
    };
  } catch (err) {
    const why = err instanceof ChainError ? err.problem : (err as Error).message;
    if (revoke) throw new Failure(path, `unreadable certificate: ${why}`);
    warn(path, `unreadable certificate (${why}), renewing`);
    return null;
  }
}

/**
 * What to do about the certificate on disk, in the man page's order: -r; a change of names; -F;
 * the CA's renewal window (from the state of earlier runs, or to be asked); the lifetime rule.
 */
function judgeExisting(config: CertConfig, path: string, disk: OnDisk, request: SigningRequest | null): Judgement {
  // Without a certificate file (acme-client.conf may name only the full chain) the leaf is the full chain's first.
  const leafText = config.files.cert !== null ? disk.cert : disk.fullchain;
  if (leafText === null) {
    if (config.revoke) throw new Failure(path, 'no certificate found');
    return { op: 'renew', reason: 'no certificate yet', replaces: null };
  }
  const installed = readInstalled(path, leafText, config.revoke);
  if (installed === null) return { op: 'renew', reason: 'unreadable certificate', replaces: null };
  const unknown = installed.names.find((n) => !config.names.includes(n));
  if (unknown !== undefined && (config.revoke || !config.renewOnDroppedNames)) throw new Failure(path, `unknown SAN entry: ${unknown}`);
  const missing = config.names.filter((n) => !installed.names.includes(n));
  if (missing.length > 0 && (config.revoke || !config.expand)) throw new Failure(path, `domain not listed: ${missing[0]}`);

  if (config.revoke) return { op: 'revoke', certificate: base64url(installed.leaf.raw) };
  const replaces = config.ari ? installed.certId : null;
  if (missing.length > 0) {
    for (const name of missing) debug(path, `expanding with domain: ${name}`);
    return { op: 'renew', reason: 'new domain names', replaces };
  }
  if (unknown !== undefined) {
    warn(path, `domain list changed (${unknown} dropped), forcing renewal`);
    return { op: 'renew', reason: 'domain names dropped', replaces };
  }
  if (config.force) {
    warn(path, 'forcing renewal');
    return { op: 'renew', reason: 'forced', replaces };
  }
  // A request with a new key wants a certificate for it, however long the old one has left.
  if (request !== null && !installed.leaf.publicKey.export({ type: 'spki', format: 'der' }).equals(request.publicKey)) {
    debug(path, 'certificate is for another key than the request\'s, renewing');
    return { op: 'renew', reason: 'the request has a new key', replaces };
  }
  const byDate = judgeByDate(config, installed, disk.state, replaces, path);
  // A run killed between two renames leaves a new chain beside an old cert (or the reverse): a
  // set that does not hang together is renewed even when its dates say it is current.
  if (byDate.op !== 'renew' && !consistentSet(config.files, disk, installed.leaf)) {
    const names = [config.files.cert, config.files.chain, config.files.fullchain].filter((name) => name !== null);
    warn(config.certDir, `${names.join(', ')} do not match, renewing`);
    return { op: 'renew', reason: 'mismatched certificate files', replaces };
  }
  return byDate;
}

/** The CA's renewal window (as remembered, or to be asked), else the lifetime rule. */
function judgeByDate(config: CertConfig, installed: Installed, saved: RenewalState | null, replaces: string | null, path: string): Judgement {
  const { certId } = installed;
  const state = certId !== null && saved?.certId === certId && saved.directoryUrl === config.directoryUrl ? saved : null;
  if (config.ari && certId !== null) {
    const askedLately = state !== null && (!state.renewalInfo || (state.askAfter !== null && Date.now() < state.askAfter));
    if (!askedLately) return { op: 'ask', installed, certId };
    if (state.window !== null) return verdictOf(path, windowVerdict(certId, state.window, Date.now()), replaces);
  }
  // No renewal information for this certificate: the CA would refuse a "replaces" naming it too.
  const named = state !== null && !state.renewalInfo ? null : replaces;
  return verdictOf(path, lifetimeVerdict(installed.notBefore, installed.notAfter, Date.now()), named);
}

function verdictOf(path: string, verdict: Verdict, replaces: string | null): CertToNet {
  if (verdict.why.includes('cannot be read')) warn(path, verdict.why);
  else debug(path, verdict.why);
  return verdict.renew ? { op: 'renew', reason: verdict.why, replaces } : { op: 'current', reason: verdict.why };
}

/**
 * Whether the files hang together: each configured one is there, the full chain is the
 * certificate then the chain, and the chain's first certificate issued the leaf (the installed
 * one, as judgeExisting read it). A certificate kept alone (acme-client.conf without chain nor
 * full chain) has nothing to match.
 */
function consistentSet(files: CertFiles, { cert, chain, fullchain }: OnDisk, leaf: X509Certificate): boolean {
  if ((files.cert !== null && cert === null) || (files.chain !== null && chain === null) || (files.fullchain !== null && fullchain === null)) return false;
  if (fullchain !== null) {
    if (cert !== null && !fullchain.startsWith(cert)) return false;
    if (chain !== null && !fullchain.endsWith(chain)) return false;
    if (cert !== null && chain !== null && fullchain.length !== cert.length + chain.length) return false;
  }
  try {
    const issuer = chain !== null ? readPemCertificates(chain)[0] : fullchain !== null ? readPemCertificates(fullchain)[1] : null;
    if (issuer === null) return true;
    if (issuer === undefined) return false;
    return leaf.checkIssued(issuer.certificate) && leaf.verify(issuer.certificate.publicKey);
  } catch {
    return false;
  }
}

/**
 * RFC 9773: the CA's answer decides, and is remembered until its Retry-After; no answer (netproc
 * has warned why) leaves the lifetime rule to decide and the state as it was.
 */
function judgeByRenewalInfo(config: CertConfig, path: string, asked: Extract<Judgement, { op: 'ask' }>, answer: Extract<NetToCert, { op: 'renewal-info' }>):
  { verdict: CertToNet; state: RenewalState | null } {
  const { installed, certId } = asked;
  const lifetime = (replaces: string | null): CertToNet => verdictOf(path, lifetimeVerdict(installed.notBefore, installed.notAfter, Date.now()), replaces);
  const remember = (renewalInfo: boolean, window: RenewalWindow | null, askAfter: number | null): RenewalState =>
    ({ certId, directoryUrl: config.directoryUrl, renewalInfo, window, askAfter });
  // Not offered: the CA has no renewalInfo, or (HTTP 404) does not know this certificate. Either
  // way it is remembered for this certificate, and later runs ask nothing.
  if (!answer.offered) {
    debug(config.directoryUrl, 'no renewal information for this certificate; the lifetime rule decides');
    return { verdict: lifetime(null), state: remember(false, null, null) };
  }
  if (answer.window === null) return { verdict: lifetime(certId), state: null };
  const wait = Math.min(MAX_ASK_AFTER_MS, Math.max(MIN_ASK_AFTER_MS, answer.retryAfterMs ?? DEFAULT_ASK_AFTER_MS));
  const askAfter = Date.now() + wait;
  if (answer.explanationUrl !== null) {
    const early = windowIsEarly(answer.window, installed.notBefore, installed.notAfter);
    (early ? warn : debug)(path, `${early ? 'the CA asks for early renewal' : 'renewal window explained'}: ${answer.explanationUrl}`);
  }
  debug(path, `the CA is asked again after ${utcTime(askAfter)}`);
  return { verdict: verdictOf(path, windowVerdict(certId, answer.window, Date.now()), certId), state: remember(true, answer.window, askAfter) };
}

/** Checks the CA's chain; returns the leaf and the rest as PEM text for fileproc. */
function checkIssued(config: CertConfig, pem: string, publicKey: string, subject: string): { cert: string; chain: string; fields: CertificateFields } {
  let blocks: PemCertificate[];
  try {
    blocks = readPemCertificates(pem);
  } catch (err) {
    throw new Failure(subject, `bad certificate chain: ${err instanceof ChainError ? err.problem : (err as Error).message}`);
  }
  if (blocks.length < 2) throw new Failure(subject, 'bad certificate chain: no issuer certificate');
  const [leaf, issuer] = [(blocks[0] as PemCertificate).certificate, (blocks[1] as PemCertificate).certificate];
  let names: string[];
  let fields: CertificateFields;
  try {
    fields = certificateFields(leaf.raw);
    names = certificateNames(fields);
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
  return { cert: (blocks[0] as PemCertificate).pem, chain: blocks.slice(1).map((block) => block.pem).join(''), fields };
}

/** The state a new certificate starts with: whether its CA offers renewal information, nothing asked yet. */
function newState(config: CertConfig, path: string, fields: CertificateFields, renewalInfo: boolean): string | null {
  const certId = config.ari ? certIdOf(path, fields) : null;
  if (certId === null) return null;
  return renewalStateJson({ certId, directoryUrl: config.directoryUrl, renewalInfo, window: null, askAfter: null });
}

runChild('certproc', async (given: CertConfig, confine) => {
  const net = new Channel<NetToCert, CertToNet>(FD.certproc.net, 'netproc', parseNetToCert);
  const file = new Channel<FileToCert, CertToFile>(FD.certproc.file, 'fileproc', parseNever);
  const { files } = given;
  const path = join(given.certDir, files.cert ?? (files.fullchain as string));
  const read = (name: string | null): string | null => (name === null ? null : readCertificateFile(join(given.certDir, name)));
  try {
    const requestPem = given.csrFile === null ? null : readFileCapped(given.csrFile, MAX_REQUEST_FILE);
    const disk: OnDisk = {
      cert: read(files.cert), chain: read(files.chain), fullchain: read(files.fullchain),
      state: readState(join(given.certDir, files.state)),
    };
    await confine();
    const request = given.csrFile === null ? null : checkRequest(given.csrFile, requestPem, given.names);
    const config: CertConfig = request === null ? given : { ...given, names: request.names };
    const judged = judgeExisting(config, path, disk, request);
    if (judged.op === 'current') {
      await tellParent('current');
      return;
    }
    // netproc may not exist yet. Until it has the socket, the parent holds that end too and
    // could read what is written there: speak only once netproc has said it is there.
    await tellParent(judged.op === 'ask' ? 'ask' : 'work');
    const hello = await net.recv();
    if (hello === null) return;
    if (hello.op !== 'ready') throw new Failure('netproc', `unexpected message "${hello.op}" before ready`);

    let verdict: CertToNet;
    /** The renewal state this run decided, if any: a pending order is kept beside it. */
    let decidedState: RenewalState | null = null;
    if (judged.op === 'ask') {
      if (!(await net.send({ op: 'renewal-info', certId: judged.certId }))) return;
      const answer = await net.recv();
      if (answer === null) return;
      if (answer.op !== 'renewal-info') throw new Failure('netproc', `unexpected message "${answer.op}" for renewal information`);
      const decided = judgeByRenewalInfo(config, path, judged, answer);
      verdict = decided.verdict;
      decidedState = decided.state;
      if (verdict.op === 'current') {
        await net.send(verdict);
        if (decided.state !== null) await file.send({ op: 'state', state: renewalStateJson(decided.state) });
        return;
      }
      await tellParent('work');
    } else {
      verdict = judged;
    }
    // An order an earlier run left processing: netproc looks at it before ordering again.
    const pending = usablePendingOrder(disk.state, config.directoryUrl, config.names, Date.now());
    if (pending.forgotten !== null) debug(pending.order?.url ?? path, `the order an earlier run left processing is forgotten: ${pending.forgotten}`);
    if (verdict.op === 'renew' && pending.order !== null) verdict = { ...verdict, pendingOrder: { url: pending.order.url, publicKey: pending.order.publicKey } };
    if (request !== null && verdict.op === 'renew') {
      const sent = await net.send({ op: 'request', csr: base64url(request.der), publicKey: base64url(request.publicKey), names: request.names });
      if (!sent) return;
    }
    if (!(await net.send(verdict))) return;

    const answer = await net.recv();
    if (answer === null) return;
    if (answer.op === 'chain') {
      if (config.revoke) throw new Failure('netproc', 'sent a certificate during revocation');
      // With --csr the key is the one certproc read itself, not what netproc says it is.
      const publicKey = request === null ? answer.publicKey : base64url(request.publicKey);
      const checked = checkIssued(config, answer.pem, publicKey, path);
      debug(path, 'new certificate checked');
      await file.send({ op: 'install', cert: checked.cert, chain: checked.chain, state: newState(config, path, checked.fields, answer.renewalInfo) });
    } else if (answer.op === 'pending-order') {
      if (verdict.op !== 'renew') throw new Failure('netproc', 'reported a pending order for no renewal');
      // Kept since the first run that left it, so that an order that never comes is let go.
      const keptSince = pending.order?.url === answer.url ? pending.order.keptSince : Date.now();
      const base = decidedState ?? disk.state ?? { certId: null, directoryUrl: config.directoryUrl, renewalInfo: true, window: null, askAfter: null };
      const state: RenewalState = { ...base, directoryUrl: config.directoryUrl, pendingOrder: { url: answer.url, names: config.names, publicKey: answer.publicKey, keptSince } };
      await file.send({ op: 'state', state: renewalStateJson(state) });
    } else if (answer.op === 'revoked') {
      if (!config.revoke) throw new Failure('netproc', 'reported a revocation that was not asked for');
      await file.send({ op: 'remove' });
    } else {
      throw new Failure('netproc', `unexpected message "${answer.op}"`);
    }
  } finally {
    net.close();
    file.close();
  }
});
