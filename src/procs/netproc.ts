// netproc: the only process that talks to the network. It drives the whole ACME conversation and
// holds no secret: acctproc signs for it, keyproc hands it a CSR, chngproc publishes challenges,
// certproc judges the certificate on disk and the one the CA returns. The only files it reads are
// the trust it is given (--ca-file, SSL_CERT_FILE), and those before it drops root.
//
// Life: open the four channels; fetch the directory at once, while the other children start; ask
// certproc whether there is work (nothing signed goes to the CA before its answer, only the
// directory and, when certproc asks for the CA's renewal window, fetchRenewalInfo's GET); then fetch
// a nonce while acctproc readies its key, and the steps below, in this order, each a function of its own:
//   loadDirectory, findAccount, then either revokeCertificate (revoke), or
//   createOrder, authorize, finalizeOrder, downloadCertificate -> certproc (issue); an order an
//   earlier run left processing (certproc names it) is looked at first (resumeOrder), and one
//   still processing at --poll-timeout is reported to certproc for the next run.
// Each part runs only while the peers it needs are there (unlessPeerGone): one that goes ends it.
// acctproc, keyproc and chngproc may start only once certproc has decided: netproc writes to none
// of them before it has heard from acctproc.
// With --rollover-account-key acctproc is its only peer, and rolloverAccountKey its whole work;
// with --register, findAccount; with --persist-records, printPersistRecords. With --csr there is
// no keyproc: certproc hands over the request. With -t dns-persist-01 there is no chngproc:
// netproc reads each name's standing record itself (checkPersistRecord) before the CA looks.

import { Resolver } from 'node:dns/promises';
import { runChild } from '../ipc/child.js';
import { Channel } from '../ipc/channel.js';
import { Replies } from '../ipc/replies.js';
import { FD, NetConfig } from '../ipc/roles.js';
import {
  AcctToNet, CertToNet, ChngToNet, KeyToNet, NetToAcct, NetToCert, NetToChng, NetToKey,
  parseAcctToNet, parseCertToNet, parseChngToNet, parseKeyToNet,
} from '../ipc/messages.js';
import { AcmeClient, AcmeProblem, Signer } from '../acme/client.js';
import { HttpClient, MAX_CONNECTIONS, connectEarly } from '../acme/http.js';
import type { FlattenedJws } from '../acme/jws.js';
import { Deadline, GaveUp, mapLimited, pollDelay, pollUntil } from '../acme/poll.js';
import { NEW_NONCE_LIMIT } from '../acme/ratelimit.js';
import { checkTrustDirectories, loadTrust } from '../acme/trust.js';
import { Authorization, Challenge, Order, describeProblem } from '../acme/types.js';
import { PERSIST_CHALLENGE, persistProblem, persistRecordName, persistRecords, recordSafe } from '../acme/persist.js';
import { Failure, debug, warn } from '../log.js';
import { topIssuerCommonName } from '../x509/chain.js';

/** Authorizations worked on at once: one for each connection (MAX_CONNECTIONS); the nonces bound them first. */
const CONCURRENT_AUTHORIZATIONS = MAX_CONNECTIONS;
const CONNECT_TIMEOUT_MS = 30_000;
/** orderNotReady on finalize (the CA does not see the order as ready yet): finalize again this often. */
const ORDER_NOT_READY_RETRIES = 3;

/** The order was still processing at --poll-timeout: kept for the next run (ZeroSSL can take minutes). */
class StillProcessing extends Failure {}

/** A name the CA could not validate: after it, the challenges answered for the others are waited for. */
class ValidationFailed extends Failure {}

/**
 * chngproc could not publish a name's challenge, and has said why: the others answered are waited
 * for likewise, then netproc stops as for a peer gone (PeerGone).
 */
class PublishFailed extends Failure {}

/** Thrown when a peer hung up: it has reported its own failure, netproc just stops. */
class PeerGone extends Error {
  constructor(readonly peer: string) {
    super(`${peer} hung up`);
  }
}

interface Peers {
  acct: Channel<AcctToNet, NetToAcct>;
  /** null with --csr: certproc hands over the request. */
  key: Channel<KeyToNet, NetToKey> | null;
  /** null with -t dns-persist-01: nothing is published. */
  chng: Channel<ChngToNet, NetToChng> | null;
  cert: Channel<CertToNet, NetToCert>;
}

async function send<In, Out>(channel: Channel<In, Out>, message: Out): Promise<void> {
  if (!(await channel.send(message))) throw new PeerGone(channel.peer);
}

async function receive<In, Out>(channel: Channel<In, Out>): Promise<In> {
  const message = await channel.recv();
  if (message === null) throw new PeerGone(channel.peer);
  return message;
}

const NEVER = new Promise<never>(() => undefined);

/**
 * `work`, unless a peer it needs is gone first: netproc then stops at once, not at its next word
 * to that peer, so a dead certproc does not wait out the CA's answer, nor a broken domain key the
 * validation. `also`: other ways to be lost (keyproc ending without its request).
 */
function unlessPeerGone<T>(work: Promise<T>, needed: { gone: Promise<Failure | null>; peer: string }[], also: Promise<never>[] = []): Promise<T> {
  const gone = needed.map(({ gone, peer }) => gone.then((why): never => {
    throw why ?? new PeerGone(peer);
  }));
  return Promise.race([work, ...gone, ...also]);
}

/**
 * acctproc behind the Signer interface. Nothing is sent to acctproc before its ready (it may still
 * be loading or making its key); after that requests overlap and replies are matched by id.
 */
class AccountSigner implements Signer {
  readonly ready: Promise<Extract<AcctToNet, { op: 'ready' }>>;
  private readonly signatures = new Replies<Extract<AcctToNet, { op: 'signature' }>>('acctproc');
  private readonly thumbprints = new Replies<Extract<AcctToNet, { op: 'thumbprint' }>>('acctproc');
  private readonly bindings = new Replies<Extract<AcctToNet, { op: 'eab' }>>('acctproc');
  private readonly keyChanges = new Replies<Extract<AcctToNet, { op: 'keyChange' }>>('acctproc');
  private thumbprintAsked: Promise<string> | null = null;

  constructor(private readonly acct: Peers['acct']) {
    this.ready = this.readReady();
    this.ready.then(() => this.readReplies()).catch((err: Error) => {
      this.signatures.abandon(err);
      this.thumbprints.abandon(err);
      this.bindings.abandon(err);
      this.keyChanges.abandon(err);
    });
  }

  private async readReady(): Promise<Extract<AcctToNet, { op: 'ready' }>> {
    const ready = await receive(this.acct);
    if (ready.op !== 'ready') throw new Failure('acctproc', `unexpected message "${ready.op}" before ready`);
    return ready;
  }

  private async readReplies(): Promise<never> {
    for (;;) {
      const m = await receive(this.acct);
      if (m.op === 'signature') this.signatures.deliver(m);
      else if (m.op === 'thumbprint') this.thumbprints.deliver(m);
      else if (m.op === 'eab') this.bindings.deliver(m);
      else if (m.op === 'keyChange') this.keyChanges.deliver(m);
      else throw new Failure('acctproc', `unexpected message "${m.op}"`);
    }
  }

  async sign(url: string, nonce: string, payload: string, kid: string | null): Promise<FlattenedJws> {
    await this.ready;
    const { id, reply } = this.signatures.take();
    await send(this.acct, { op: 'sign', id, url, nonce, payload, kid });
    return (await reply).jws;
  }

  /** Asked once, when first needed or ahead of need (issue): it never changes. */
  thumbprint(): Promise<string> {
    this.thumbprintAsked ??= (async () => {
      await this.ready;
      const { id, reply } = this.thumbprints.take();
      await send(this.acct, { op: 'thumbprint', id });
      return (await reply).thumbprint;
    })();
    return this.thumbprintAsked;
  }

  /** §7.3.5: the inner JWS of a key change, signed by acctproc with the new key. */
  async keyChange(url: string, account: string): Promise<FlattenedJws> {
    await this.ready;
    const { id, reply } = this.keyChanges.take();
    await send(this.acct, { op: 'keyChange', id, url, account });
    return (await reply).jws;
  }

  /** The account's URL at `server`, and its newNonce URL, for acctproc to keep beside the key. */
  async keepAccount(server: string, url: string, newNonce: string | null): Promise<void> {
    await send(this.acct, { op: 'account', server, url, newNonce });
  }

  /** The CA has the new key: acctproc may replace the key file. */
  async keyChanged(): Promise<void> {
    await send(this.acct, { op: 'keyChanged' });
  }

  /** §7.3.4, made by acctproc, which alone holds the MAC key; null when it was given none. */
  async externalAccountBinding(newAccountUrl: string): Promise<FlattenedJws | null> {
    await this.ready;
    const { id, reply } = this.bindings.take();
    await send(this.acct, { op: 'eab', id, url: newAccountUrl });
    return (await reply).jws;
  }
}

/**
 * certproc's verdict on the certificate on disk: whether to renew, revoke, or do nothing. When
 * the CA's renewal window decides, certproc first asks for it.
 */
async function askCertproc(cert: Peers['cert'], acme: AcmeClient, config: NetConfig): Promise<{ verdict: Verdict; request: CheckedRequest | null }> {
  await send(cert, { op: 'ready' });
  let verdict = await receive(cert);
  if (verdict.op === 'renewal-info') {
    await send(cert, await fetchRenewalInfo(acme, verdict.certId, config));
    verdict = await receive(cert);
  }
  // --csr: the request certproc has checked comes before its renew.
  let request: CheckedRequest | null = null;
  if (verdict.op === 'request' && config.requestFromCertproc) {
    request = verdict;
    verdict = await receive(cert);
    if (verdict.op !== 'renew') throw new Failure('certproc', `unexpected answer "${verdict.op}" after the request`);
  }
  if (verdict.op === 'renewal-info' || verdict.op === 'request' || (verdict.op === 'renew' && config.requestFromCertproc && request === null)
    || (verdict.op !== 'current' && config.revoke !== (verdict.op === 'revoke'))) {
    throw new Failure('certproc', `unexpected answer "${verdict.op}"`);
  }
  return { verdict, request };
}

type Verdict = Exclude<CertToNet, { op: 'renewal-info' } | { op: 'request' }>;
type CheckedRequest = Extract<CertToNet, { op: 'request' }>;

/**
 * RFC 9773 §4.2: the CA's renewal window for the installed certificate, by two unauthenticated
 * GETs (directory, renewalInfo). Asking never fails the run: a CA that cannot answer is said with
 * -v only, and certproc falls back on the certificate's lifetime. Without -v a night with nothing
 * to do prints nothing: cron mails whatever is printed, and there is nothing to act on.
 */
async function fetchRenewalInfo(acme: AcmeClient, certId: string, config: NetConfig): Promise<Extract<NetToCert, { op: 'renewal-info' }>> {
  const none = { op: 'renewal-info', window: null, retryAfterMs: null, explanationUrl: null } as const;
  try {
    if ((await acme.loadDirectory()).renewalInfo === null) return { ...none, offered: false };
    const answer = await acme.renewalInfo(certId);
    if (answer === null) {
      // Boulder answers 404 for a certificate it did not issue (another CA's, staging's, or one it
      // no longer keeps): for this certificate it is as if the CA offered no renewal information.
      debug(certId, 'the CA does not know this certificate (HTTP 404): no renewal information for it');
      return { ...none, offered: false };
    }
    const { info, retryAfter } = answer;
    return { ...none, offered: true, window: info.window, retryAfterMs: retryAfter, explanationUrl: info.explanationUrl };
  } catch (err) {
    const [subject, problem] = err instanceof Failure ? [err.subject, err.problem] : [config.directoryUrl, (err as Error).message];
    debug(subject, `no renewal information (${problem}); the certificate's lifetime decides`);
    return { ...none, offered: true };
  }
}

/** The directory needs no signature: it is fetched while acctproc is still loading its key. */
async function loadDirectory(acme: AcmeClient, config: NetConfig): Promise<void> {
  const { termsOfService, profiles } = await acme.loadDirectory();
  if (config.agreement !== null && termsOfService !== null && config.agreement !== termsOfService) {
    warn(config.agreement, `differs from the CA's terms of service ${termsOfService}; agreeing to the CA's`);
  }
  // --accept-terms, unlike -a, refuses: nothing is sent to the CA under terms not accepted.
  if (config.acceptTerms.length > 0 && termsOfService !== null && !config.acceptTerms.includes(termsOfService)) {
    throw new Failure(termsOfService, `the CA's terms of service, not among those accepted (${config.acceptTerms.join(' ')})`);
  }
  // Checked before any order: a profile the CA does not list would only fail later, after validation.
  if (config.profile !== null && !(profiles ?? []).includes(config.profile)) {
    throw new Failure(config.profile, `profile not offered by the CA (offered: ${profiles === null || profiles.length === 0 ? 'none' : profiles.join(', ')})`);
  }
}

/**
 * §7.3: the account of acctproc's key, with the contacts asked for; a key made in this run is known
 * to have none yet. `useKept`: the URL kept beside the key for this CA, when there is one, is used
 * without asking the CA (not for --register, whose point is to ask).
 */
async function findAccount(acme: AcmeClient, signer: AccountSigner, config: NetConfig, useKept: boolean): Promise<string> {
  const { alg, created, account } = await signer.ready;
  const kept = useKept && account !== null && account.server === config.directoryUrl ? account.url : null;
  // Kept only when of the directory's origin, as the account file takes it back (accountfile.ts).
  const newNonce = acme.ofDirectoryOrigin(acme.directory.newNonce) ? acme.directory.newNonce : null;
  const keep = (url: string): Promise<void> => signer.keepAccount(config.directoryUrl, url, newNonce);
  const accountUrl = await acme.account(created, {
    contact: config.contact,
    externalAccountBinding: (url) => signer.externalAccountBinding(url),
    keep,
  }, kept);
  if (accountUrl === kept) {
    debug(accountUrl, 'account URL as kept beside its key: not looked up');
    // Kept before the nonce URL was, or the CA has moved it since: kept anew.
    if (account?.newNonce !== newNonce) await keep(accountUrl);
  }
  debug(accountUrl, `using account (${alg})`);
  return accountUrl;
}

/** A revocation, once certproc has named the certificate: keyproc and chngproc have no part in it. */
async function revoke(acme: AcmeClient, signer: AccountSigner, certificate: string, cert: Peers['cert'], config: NetConfig): Promise<void> {
  await loadDirectory(acme, config);
  await findAccount(acme, signer, config, true);
  await revokeCertificate(acme, certificate, cert, config);
}

/**
 * An issuance, once certproc has said there is work: the account, the order and its
 * authorizations, then the request (keyproc's CSR, or the one certproc checked for --csr), and
 * the certificate for certproc to check. An order still processing at the deadline is named to
 * certproc, which keeps it for the next run, and the run fails.
 */
async function issue(acme: AcmeClient, signer: AccountSigner, peers: Peers, config: NetConfig, verdict: Extract<Verdict, { op: 'renew' }>, request: Promise<{ csr: string; publicKey: string }>, budget: Deadline): Promise<void> {
  await loadDirectory(acme, config);
  await findAccount(acme, signer, config, true);
  // Asked now, while the order is made: the challenges need it the moment their authorizations come.
  if (peers.chng !== null) signer.thumbprint().catch(() => undefined);
  // --poll-timeout from the order on (its first authorization is fetched next), but never past the
  // run's budget less one request: retried server errors may have used some of it, and an order
  // still processing must be handed to certproc to keep before the parent's deadline stops the run.
  const pollDeadline = (): Deadline => new Deadline(Math.min(config.pollTimeoutMs, budget.remainingMs() - config.requestTimeoutMs));
  let valid: Order | null = null;
  try {
    if (verdict.pendingOrder !== undefined) valid = await resumeOrder(acme, verdict.pendingOrder, await request, config, pollDeadline());
    if (valid === null) {
      const { url, order: created } = await createOrder(acme, config, verdict.replaces);
      const deadline = pollDeadline();
      let order: Order;
      try {
        order = await authorize(acme, url, created, signer, peers.chng, config, deadline);
      } finally {
        // Validation is over, or failed: chngproc may now remove what it published.
        peers.chng?.close();
      }
      valid = await finalizeOrder(acme, url, order, (await request).csr, config, deadline);
    }
  } catch (err) {
    if (!(err instanceof StillProcessing)) throw err;
    await send(peers.cert, { op: 'pending-order', url: err.subject, publicKey: (await request).publicKey });
    throw new Failure(err.subject, `${err.problem}; the next run looks at this order first`);
  } finally {
    // A resumed order publishes nothing: chngproc may go (closed once already otherwise; harmless).
    peers.chng?.close();
  }
  const chain = await downloadCertificate(acme, valid, config);
  await send(peers.cert, { op: 'chain', pem: chain, publicKey: (await request).publicKey, renewalInfo: acme.directory.renewalInfo !== null });
}

function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}

/**
 * The order an earlier run left processing, looked at first: finalized already with a key of the
 * same public half, it needs no new validation and no second finalize. Valid: its certificate.
 * Still processing: waited for, as after a finalize. Anything else (gone, invalid, for another
 * key): null, and a new order is made.
 */
async function resumeOrder(acme: AcmeClient, pending: { url: string; publicKey: string }, request: { csr: string; publicKey: string }, config: NetConfig, deadline: Deadline): Promise<Order | null> {
  // certproc names it from the state file: netproc signs a request to it only where the CA's
  // own orders live, never to a host the file (or certproc) chose.
  if (!sameOrigin(pending.url, acme.directory.newOrder)) {
    debug(pending.url, 'the order an earlier run left processing is not at this CA: ordering anew');
    return null;
  }
  if (pending.publicKey !== request.publicKey) {
    debug(pending.url, 'the order an earlier run left processing is for another domain key: ordering anew');
    return null;
  }
  let order: Order;
  try {
    order = (await acme.order(pending.url)).order;
  } catch (err) {
    if (!(err instanceof Failure)) throw err;
    debug(pending.url, `the order an earlier run left processing cannot be read (${err.problem}): ordering anew`);
    return null;
  }
  if (order.status !== 'processing' && order.status !== 'valid') {
    debug(pending.url, `the order an earlier run left processing is ${order.status}: ordering anew`);
    return null;
  }
  debug(pending.url, `order left processing by an earlier run is ${order.status}`);
  return finalizeOrder(acme, pending.url, order, request.csr, config, deadline);
}

async function revokeCertificate(acme: AcmeClient, certificate: string, cert: Peers['cert'], config: NetConfig): Promise<void> {
  const subject = config.names[0] ?? 'certificate';
  const revoked = await acme.revoke(certificate);
  if (revoked) debug(subject, 'certificate revoked');
  else warn(subject, 'certificate was already revoked');
  await send(cert, { op: 'revoked', already: !revoked });
}

/**
 * Why the CA refused an order's "replaces", when that is what it did: Boulder's
 * validateReplacementOrder (wfe2/wfe.go) answers 409 alreadyReplaced for a certificate replaced
 * already, 403 unauthorized when another account requested it (orderMatchesReplacement: a
 * certificate copied from another client, a new account made with -n), and 404 malformed when it
 * knows no such issuer or serial (another CA's certificate, staging's, one it no longer keeps).
 */
function replacesRefused(err: unknown): string | null {
  if (!(err instanceof AcmeProblem)) return null;
  if (err.is('alreadyReplaced')) return 'it was already replaced';
  if (err.status === 403 && err.is('unauthorized')) return 'another account requested it';
  if (err.status === 404 && err.is('malformed')) return 'the CA does not know it';
  // Still failing after the retries of a server error: Pebble 2.10 answers 500 for every order
  // naming a certificate whose serial's DER form begins with a zero byte (the CertID is right, per
  // RFC 9773 §4.1). An order without it is worth more than a renewal failing every night.
  if (err.status >= 500) return `the CA failed on it, HTTP ${err.status}`;
  return null;
}

/**
 * §7.4. A renewal names the certificate it replaces when the CA offers renewal information (RFC
 * 9773 §5); a CA that refuses that (replacesRefused) is asked once more without: a lost rate-limit
 * exemption costs far less than a renewal that fails every night.
 */
async function createOrder(acme: AcmeClient, config: NetConfig, replaces: string | null): Promise<{ url: string; order: Order }> {
  const extra = { profile: config.profile, replaces: config.ari && acme.directory.renewalInfo !== null ? replaces : null };
  let created: { url: string; order: Order };
  try {
    created = await acme.newOrder(config.names, extra);
  } catch (err) {
    const why = replacesRefused(err);
    if (why === null || extra.replaces === null) throw err;
    debug(acme.directory.newOrder, `"replaces" ${extra.replaces} refused (${why}: ${(err as AcmeProblem).problem}); ordering without it`);
    created = await acme.newOrder(config.names, { ...extra, replaces: null });
  }
  const { url, order } = created;
  debug(url, `order ${order.status}, ${order.authorizations.length} authorization(s)`);
  if (order.status === 'invalid') throw new Failure(url, 'order is invalid');
  return { url, order };
}

/**
 * §7.5: every authorization of the order made valid: each read, and a pending one's challenge
 * published and answered as soon as it is read, as many at once as may be in flight; then the
 * order watched until it is no longer pending (settledAuthorizations). With -t every
 * authorization is read first: an external caller sees one challenge at a time, in command-line
 * order, each confirmed before the CA is told; dns-persist-01's records are checked, and their
 * challenges answered, side by side. chngproc may remove what it published once this returns or
 * throws. Returns the order as last read.
 */
async function authorize(acme: AcmeClient, url: string, order: Order, signer: AccountSigner, chng: Peers['chng'], config: NetConfig, deadline: Deadline): Promise<Order> {
  const read = async (url: string): Promise<{ url: string; authz: Authorization }> => ({ url, authz: (await acme.authorization(url)).authz });
  const usable = (f: { authz: Authorization }): void => {
    if (hasFailed(f.authz)) throw validationFailed(f.authz);
  };
  /** Every authorization read first, then each checked in the order's order. */
  const readAll = async (): Promise<{ url: string; authz: Authorization }[]> => {
    const all = await mapLimited(order.authorizations, CONCURRENT_AUTHORIZATIONS, read);
    all.forEach(usable);
    return all;
  };
  /** Authorizations whose challenge this run answered: the CA may still be validating them. */
  const answered: string[] = [];
  try {
    let fetched: { url: string; authz: Authorization }[];
    if (chng === null) {
      fetched = await readAll();
      const pending = fetched.filter((f) => f.authz.status === 'pending');
      // The account as the CA knows it now: a kept URL it did not know was replaced by newOrder's lookup.
      if (pending.length > 0) await answerFromRecords(acme, pending, config, acme.accountUrl);
    } else {
      // One publisher (it reads chngproc's acks), made when the first challenge is to be published.
      let publishing: Promise<(url: string, authz: Authorization) => Promise<boolean>> | null = null;
      const publish = async (f: { url: string; authz: Authorization }): Promise<void> => {
        publishing ??= signer.thumbprint().then((thumbprint) => publisher(acme, chng, config, thumbprint));
        if (await (await publishing)(f.url, f.authz)) answered.push(f.url);
      };
      if (config.external) {
        fetched = await readAll();
        const position = (a: Authorization): number => config.names.indexOf(displayName(a));
        const pending = fetched.filter((f) => f.authz.status === 'pending');
        for (const f of pending.sort((a, b) => position(a.authz) - position(b.authz))) await publish(f);
      } else {
        // Once one has failed, those still running publish nothing more: the CA would look at a
        // file chngproc is about to remove, a failed validation to its count.
        let failed = false;
        fetched = await mapLimited(order.authorizations, CONCURRENT_AUTHORIZATIONS, async (url) => {
          try {
            const f = await read(url);
            usable(f);
            if (f.authz.status === 'pending' && !failed) await publish(f);
            return f;
          } catch (err) {
            failed = true;
            throw err;
          }
        });
      }
    }
    const pending = fetched.filter((f) => f.authz.status === 'pending');
    if (pending.length === 0) return order;
    return await settledAuthorizations(acme, url, order, pending, deadline);
  } catch (err) {
    // Only after a name failed or could not be published: a CA failing or out of reach is not asked again.
    if (err instanceof ValidationFailed || err instanceof PublishFailed) await untilValidated(acme, answered, deadline);
    // chngproc has said why.
    if (err instanceof PublishFailed) throw new PeerGone('chngproc');
    throw err;
  }
}

/**
 * After a name failed validation, or its challenge could not be published, the challenges this
 * run answered for the others stay published until the CA has finished validating them, at most
 * until the deadline: a file removed under a validation fails it, which Let's Encrypt counts
 * against the account and the name, where one left in place gives a valid authorization that the
 * next order reuses. The first still pending is looked at (pollUntil's backoff, or the CA's
 * Retry-After) until it is settled, then the rest are read once, side by side; any failure to
 * read ends the wait.
 */
async function untilValidated(acme: AcmeClient, answered: readonly string[], deadline: Deadline): Promise<void> {
  let waiting = [...answered];
  if (waiting.length > 0) debug(waiting[0] as string, `waiting for the CA to finish validating the ${waiting.length} challenge(s) answered`);
  try {
    // The first is looked at straight away (answered a moment ago); a later pass's first, just
    // read as pending, waits its 10 ms.
    for (let firstRound = 1; waiting.length > 0; firstRound = 2) {
      const first = waiting[0] as string;
      await pollUntil(deadline, first, { value: 'pending', retryAfter: null }, async () => {
        const { authz, retryAfter } = await acme.authorization(first);
        return { value: authz.status, retryAfter };
      }, (status) => status !== 'pending', () => 'validation still running', firstRound);
      const rest = waiting.slice(1);
      const statuses = await mapLimited(rest, CONCURRENT_AUTHORIZATIONS, async (url) => (await acme.authorization(url)).authz.status);
      waiting = rest.filter((_, i) => statuses[i] === 'pending');
    }
  } catch {
    // At the deadline, or the CA cannot be asked any more: what is left is removed now.
  }
}

/** An authorization that will not become valid: invalid, deactivated, expired or revoked (§7.1.6). */
function hasFailed(authz: Authorization): boolean {
  return authz.status !== 'pending' && authz.status !== 'valid';
}

function validationFailed(authz: Authorization): ValidationFailed {
  const failed = authz.challenges.find((c) => c.error !== null);
  const why = failed?.error ? describeProblem(failed.error) : `authorization ${authz.status}`;
  return new ValidationFailed(authz.identifier, `validation failed: ${why}`);
}

/**
 * Waits for the CA to validate: by the order, which is ready once every authorization is valid
 * and invalid once one is not (§7.1.6), so each look is one request however many names. An
 * invalid order's authorizations are then read for which name failed, and why; so are those of an
 * order still pending at the deadline, as a CA may leave it so when one has failed.
 */
async function settledAuthorizations(acme: AcmeClient, url: string, order: Order, answered: { url: string; authz: Authorization }[], deadline: Deadline): Promise<Order> {
  const readAnswered = (): Promise<Authorization[]> => mapLimited(answered, CONCURRENT_AUTHORIZATIONS, async (f) => (await acme.authorization(f.url)).authz);
  let settled: Order;
  try {
    settled = await pollUntil(deadline, url, { value: { ...order, status: 'pending' as const }, retryAfter: null },
      async () => {
        const next = await acme.order(url);
        return { value: next.order, retryAfter: next.retryAfter };
      },
      (o) => o.status !== 'pending', () => 'authorizations still pending');
  } catch (err) {
    // Given up at the deadline, the order still pending (or not looked at: with -t a caller may
    // have taken the whole --poll-timeout): the authorizations say which name failed, if one did;
    // if every one is valid, the order has one more look.
    if (!(err instanceof GaveUp)) throw err;
    const authzs = await readAnswered().catch(() => null);
    const failed = authzs?.find(hasFailed);
    if (failed !== undefined) throw validationFailed(failed);
    if (authzs === null || authzs.some((a) => a.status !== 'valid')) throw err;
    settled = (await acme.order(url)).order;
    if (settled.status === 'pending') throw err;
  }
  if (settled.status === 'invalid') {
    const failed = (await readAnswered()).find(hasFailed);
    if (failed !== undefined) throw validationFailed(failed);
  }
  // Not invalid: every authorization is valid (§7.1.6).
  if (settled.status !== 'invalid') for (const { authz } of answered) debug(authz.identifier, 'authorization valid');
  return settled;
}

/** The name as the command line gives it: a wildcard authorization is for `*.<identifier>`. */
function displayName(authz: Authorization): string {
  return authz.wildcard ? `*.${authz.identifier}` : authz.identifier;
}

/**
 * The challenge of config.challengeType that this authorization still waits on; null when it has
 * one no longer pending (being validated, or valid).
 */
function pendingChallenge(url: string, authz: Authorization, config: NetConfig): Challenge | null {
  const challenge = authz.challenges.find((c) => c.type === config.challengeType);
  if (!challenge) throw new Failure(url, `no ${config.challengeType} challenge`);
  if (challenge.status === 'invalid') throw new ValidationFailed(authz.identifier, `validation failed: ${challenge.error ? describeProblem(challenge.error) : 'no detail'}`);
  return challenge.status === 'pending' ? challenge : null;
}

/** How long one DNS question may take, tries included: a resolver that does not answer is a failure, not a wait. */
const DNS_OPTIONS = { timeout: 3000, tries: 2 };
const NO_RECORD = new Set(['ENODATA', 'ENOTFOUND']);

/**
 * The TXT records at `recordName`, each its strings joined (RFC 7208 §3.3 style), through
 * --dns-server or the system's resolver; none when the name has none or does not exist.
 */
async function txtRecords(resolver: Resolver, name: string, recordName: string, config: NetConfig): Promise<string[]> {
  try {
    return (await resolver.resolveTxt(recordName)).map((strings) => strings.join(''));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    if (NO_RECORD.has(code)) return [];
    throw new Failure(name, `TXT lookup of ${recordName} through ${config.dnsServer ?? 'the system resolver'} failed: ${code}`);
  }
}

/**
 * Reads the standing record of one pending dns-persist-01 authorization; null when it authorizes
 * this account for the name (the CA will look at the same name), else what is wrong with it.
 */
async function checkPersistRecord(resolver: Resolver, url: string, authz: Authorization, config: NetConfig, accountUrl: string): Promise<string | null> {
  const challenge = pendingChallenge(url, authz, config);
  if (challenge === null) return null;
  if (challenge.issuerDomainNames === null) throw new Failure(challenge.url, 'dns-persist-01 challenge without issuer-domain-names, or with an odd one (1 to 10 domain names)');
  const recordName = persistRecordName(displayName(authz));
  const records = await txtRecords(resolver, displayName(authz), recordName, config);
  const problem = persistProblem(records, recordName, { issuers: challenge.issuerDomainNames, accountUrl, wildcard: authz.wildcard, now: Date.now() });
  if (problem === null) debug(displayName(authz), `${recordName} authorizes ${accountUrl}`);
  return problem;
}

/**
 * -t dns-persist-01: every name's standing record is read first, and every one that would fail is
 * said, in command-line order, before the CA is asked to look at any (a failed validation counts
 * against the account at Let's Encrypt); then each pending challenge is answered.
 */
async function answerFromRecords(acme: AcmeClient, pending: { url: string; authz: Authorization }[], config: NetConfig, accountUrl: string): Promise<void> {
  const resolver = new Resolver(DNS_OPTIONS);
  if (config.dnsServer !== null) resolver.setServers([config.dnsServer]);
  const position = (a: Authorization): number => config.names.indexOf(displayName(a));
  const ordered = [...pending].sort((a, b) => position(a.authz) - position(b.authz));
  const problems = await mapLimited(ordered, CONCURRENT_AUTHORIZATIONS, (f) => checkPersistRecord(resolver, f.url, f.authz, config, accountUrl));
  const failures = ordered.flatMap((f, i) => {
    const problem = problems[i];
    return typeof problem === 'string' ? [new Failure(displayName(f.authz), problem)] : [];
  });
  // Said in order: the last is the run's failure, which netproc's end reports.
  for (const failure of failures.slice(0, -1)) warn(failure.subject, failure.problem);
  if (failures.length > 0) throw failures[failures.length - 1] as Failure;
  await mapLimited(ordered, CONCURRENT_AUTHORIZATIONS, async ({ url, authz }) => {
    const challenge = pendingChallenge(url, authz, config);
    if (challenge === null) return;
    await acme.respond(challenge.url);
    debug(displayName(authz), 'dns-persist-01 challenge answered');
  });
}

/**
 * --persist-records: the account (created if need be, as --register does), then an order for the
 * names, only to read the CA's issuer domain name from a dns-persist-01 challenge; nothing is
 * answered, and the order is left to expire. Names the account is authorized for already (by
 * http-01, say) show no challenge but the one that validated them: when every name is such, the
 * issuer domain name is the first of the directory's caaIdentities, which is what the CA lists in
 * issuer-domain-names (Pebble, Let's Encrypt). The records go to standard output, one a line.
 */
async function printPersistRecords(acme: AcmeClient, signer: AccountSigner, config: NetConfig): Promise<void> {
  const accountUrl = await findAccount(acme, signer, config, false);
  if (!recordSafe(accountUrl)) throw new Failure(accountUrl, 'the account URL cannot stand in a TXT record (space, quote, ";" or "\\" in it)');
  const { order } = await acme.newOrder(config.names, { profile: null, replaces: null });
  const read = await mapLimited(order.authorizations, CONCURRENT_AUTHORIZATIONS, async (url) => ({ url, authz: (await acme.authorization(url)).authz }));
  const pendingUrls = read.filter(({ authz }) => authz.status === 'pending').map(({ url }) => url);
  const pending = read.map(({ authz }) => authz).filter((authz) => authz.status === 'pending');
  for (const authz of pending) {
    if (!authz.challenges.some((c) => c.type === PERSIST_CHALLENGE)) throw new Failure(displayName(authz), 'the CA offers no dns-persist-01 challenge for this name');
  }
  const fromChallenge = pending.flatMap((authz) => authz.challenges).find((c) => c.type === PERSIST_CHALLENGE && c.issuerDomainNames !== null)?.issuerDomainNames?.[0];
  const fromDirectory = pending.length === 0 ? acme.directory.caaIdentities?.[0] : undefined;
  const issuer = fromChallenge ?? fromDirectory;
  if (issuer === undefined) throw new Failure(config.directoryUrl, 'no dns-persist-01 challenge names the issuer domain (issuer-domain-names), nor does the directory (caaIdentities)');
  debug(issuer, fromChallenge !== undefined ? 'issuer domain name, from the dns-persist-01 challenge'
    : 'issuer domain name, from the directory\'s caaIdentities (every name is authorized already)');
  const lines = persistRecords(config.names, issuer, accountUrl);
  await new Promise<void>((resolve, reject) => {
    process.stdout.write(`${lines.join('\n')}\n`, (err) => (err ? reject(new Failure('<stdout>', err.message)) : resolve()));
  });
  // The order was only a way to read the issuer's name: its authorizations would otherwise stay
  // pending at the CA (Let's Encrypt limits how many an account may hold). Printed already, the
  // records stand whether or not the CA takes this.
  await mapLimited(pendingUrls, CONCURRENT_AUTHORIZATIONS, async (url) => {
    try {
      await acme.deactivateAuthorization(url);
    } catch (err) {
      debug(url, `not deactivated: ${err instanceof Failure ? err.problem : String(err)}`);
    }
  });
}

/** Publishes one authorization's challenge through chngproc, then tells the CA to look (§7.5.1). */
function publisher(acme: AcmeClient, chng: Channel<ChngToNet, NetToChng>, config: NetConfig, thumbprint: string): (url: string, authz: Authorization) => Promise<boolean> {
  // chngproc answers each challenge by id: published ('ack'), or not ('failed', said by chngproc).
  const acks = new Replies<ChngToNet>('chngproc');
  (async () => {
    for (;;) acks.deliver(await receive(chng));
  })().catch((err: Error) => acks.abandon(err));
  return async (url, authz) => {
    const challenge = pendingChallenge(url, authz, config);
    if (challenge === null) return false;
    if (challenge.token === null) throw new Failure(challenge.url, 'challenge has no token');
    const identifier = displayName(authz);
    const { id, reply } = acks.take();
    const published = send(chng, { op: 'challenge', id, identifier, token: challenge.token, keyAuthorization: `${challenge.token}.${thumbprint}` })
      .then(() => reply)
      .then((ack) => {
        if (ack.op === 'failed') throw new PublishFailed(identifier, 'challenge not published');
      });
    // A file is written in a moment: the answer is signed meanwhile, and sent once it is there.
    // With -t the caller may take minutes (DNS): the nonce is taken only once it has confirmed.
    if (config.external) await published;
    await acme.respond(challenge.url, config.external ? undefined : published);
    debug(identifier, `${config.challengeType} challenge answered`);
    return true;
  };
}

/**
 * §7.4: wait for the order to be ready, finalize it once with the CSR, then wait for the
 * certificate. A CA answering orderNotReady is asked again after a wait, a few times; an order
 * left ready or processing after finalize is only looked at, never finalized again; one already
 * processing (finalized by an earlier attempt whose answer was lost) is waited for. Every wait
 * shares the run's deadline.
 */
async function finalizeOrder(acme: AcmeClient, url: string, order: Order, csr: string, config: NetConfig, deadline: Deadline): Promise<Order> {
  let last = order.status;
  const lookAtOrder = async (): Promise<{ value: Order; retryAfter: number | null }> => {
    const next = await acme.order(url);
    last = next.order.status;
    return { value: next.order, retryAfter: next.retryAfter };
  };
  // Every authorization is valid now: by §7.1.6 the order is ready, and finalize goes without
  // reading it again (newOrder's answer, when none needed validating, may still say pending). A CA
  // that has not caught up answers orderNotReady, and the order is then read and waited for (below).
  let current = { value: order.status === 'pending' ? { ...order, status: 'ready' as const } : order, retryAfter: null as number | null };
  // Whether `current` is a look just made: the next then waits (pollUntil's first round is at
  // once, for an answer to a request that changed the order, such as finalize's).
  let looked = false;
  for (let attempt = 1; ; attempt++) {
    const ready = await pollUntil(deadline, url, current, lookAtOrder, (o) => o.status !== 'pending', (o) => `order still ${o.status}`, looked ? 2 : 1);
    if (ready.status === 'processing') {
      current = { value: ready, retryAfter: null };
      looked = true;
      break;
    }
    if (ready.status !== 'ready') return settledOrder(url, ready);
    try {
      const finalized = await acme.finalize(ready.finalize, csr);
      debug(url, `finalized, order ${finalized.order.status}`);
      current = { value: finalized.order, retryAfter: finalized.retryAfter };
      looked = false;
      break;
    } catch (err) {
      if (config.mustStaple && err instanceof AcmeProblem && /must.?staple/i.test(err.document.detail)) {
        throw new Failure(err.subject, `the CA refuses OCSP must-staple: run without -O (${err.problem})`);
      }
      if (!(err instanceof AcmeProblem && err.is('orderNotReady')) || attempt > ORDER_NOT_READY_RETRIES) throw err;
      debug(ready.finalize, 'order not ready yet, reading it again');
      await deadline.pause(pollDelay(attempt + 1, err.retryAfter));
      current = await lookAtOrder();
      looked = true;
    }
  }
  let issued: Order;
  try {
    issued = await pollUntil(deadline, url, current, lookAtOrder, (o) => o.status !== 'ready' && o.status !== 'processing',
      (o) => `order still ${o.status} after finalize`, looked ? 2 : 1);
  } catch (err) {
    if (err instanceof Failure && deadline.passed && (last === 'processing' || current.value.status === 'processing')) throw new StillProcessing(err.subject, err.problem);
    throw err;
  }
  return settledOrder(url, issued);
}

/** An order that has stopped moving: valid with a certificate, or the CA's reason why not. */
function settledOrder(url: string, order: Order): Order {
  if (order.status === 'valid') {
    if (order.certificate === null) throw new Failure(url, 'valid order without a certificate URL');
    return order;
  }
  throw new Failure(url, `order is ${order.status}${order.error ? `: ${describeProblem(order.error)}` : ''}`);
}

/**
 * §7.4.2: the certificate and its chain. With --preferred-chain, the first of the default chain and
 * the alternates (Link: rel="alternate"), in that order, whose topmost certificate's issuer has
 * that CN; the alternates are fetched only as far as needed. None does: the default, with a warning.
 */
async function downloadCertificate(acme: AcmeClient, order: Order, config: NetConfig): Promise<string> {
  const url = order.certificate as string;
  const { pem, alternates } = await acme.certificate(url);
  debug(url, `certificate downloaded, ${alternates.length} alternate chain(s) offered`);
  const preferred = config.preferredChain;
  if (preferred === null || topIssuerCommonName(pem) === preferred) return pem;
  for (const alternate of alternates) {
    const chain = (await acme.certificate(alternate)).pem;
    if (topIssuerCommonName(chain) === preferred) {
      debug(alternate, `alternate chain issued by ${preferred} chosen`);
      return chain;
    }
  }
  warn(url, `no chain offered is issued by "${preferred}", keeping the default one`);
  return pem;
}

/**
 * A run that needs acctproc alone (--rollover-account-key, --register): only its channel is open,
 * the directory is loaded, then `step` does the rest.
 */
async function withAccountOnly(config: NetConfig, http: HttpClient, budget: Deadline, step: (acme: AcmeClient, signer: AccountSigner) => Promise<void>): Promise<void> {
  const acct: Peers['acct'] = new Channel(FD.netproc.acct, 'acctproc', parseAcctToNet);
  try {
    const signer = new AccountSigner(acct);
    const acme = new AcmeClient(http, signer, config.directoryUrl, budget);
    await loadDirectory(acme, config);
    await step(acme, signer);
  } catch (err) {
    if (err instanceof PeerGone) return;
    throw err;
  } finally {
    acct.close();
  }
}

/**
 * §7.3.5, the whole of a --rollover-account-key run: the account of the old key (never created),
 * then the key change, whose inner JWS acctproc signs with the new key. Only once the CA has
 * accepted it is acctproc told, and replaces the key file.
 */
async function rolloverAccountKey(acme: AcmeClient, signer: AccountSigner): Promise<void> {
  const url = acme.keyChangeUrl();
  const account = await acme.existingAccount();
  await acme.changeKey(await signer.keyChange(url, account));
  debug(account, 'the CA has the new account key');
  await signer.keyChanged();
}

runChild('netproc', async (config: NetConfig, confine) => {
  // The trust store and --ca-file are all netproc needs of root's: a root-only file works.
  // The parent stops a run after --poll-timeout plus five --timeout, an account-only run after five
  // --timeout (src/parent/plans.ts): a retry's wait must leave at least one request's time before that.
  const accountOnly = config.rolloverAccountKey || config.registerOnly || config.persistRecords;
  // Connected first: the TCP handshakes go on while the trust is loaded and root dropped; a second
  // for the first nonce of an issuance sure to sign, asked beside the directory (prefetchNonce),
  // and, issuing, one for each further name, whose authorizations are worked on side by side
  // (authorize). The account-only runs start with one.
  const early = connectEarly(config.directoryUrl, !config.signs ? 1 : config.revoke ? 2 : Math.min(MAX_CONNECTIONS, Math.max(2, config.names.length)));
  const budget = new Deadline((accountOnly ? 0 : config.pollTimeoutMs) + 4 * config.requestTimeoutMs);
  // net.connect sends its SYN on the next tick (for a CA named by address; a name is resolved
  // first), and the rest of this start (the trust, the agent, the channels) would otherwise come
  // first: at 50 ms from the CA, some 5 ms off every run.
  await new Promise((resolve) => setImmediate(resolve));
  const secureContext = loadTrust(config.caFile, process.env);
  await confine();
  checkTrustDirectories(process.env);
  const http = new HttpClient({
    userAgent: config.userAgent, connectTimeoutMs: Math.min(CONNECT_TIMEOUT_MS, config.requestTimeoutMs), requestTimeoutMs: config.requestTimeoutMs,
    maxBodyBytes: 4 << 20, secureContext, plainHttp: new URL(config.directoryUrl).protocol === 'http:', early,
  });
  if (accountOnly) {
    try {
      // --register: the account of acctproc's key, created if there is none (findAccount), and nothing
      // else; --persist-records: the same, then its records printed. Both ask the CA, whatever is kept.
      const step = config.persistRecords ? (acme: AcmeClient, signer: AccountSigner) => printPersistRecords(acme, signer, config)
        : config.registerOnly ? async (acme: AcmeClient, signer: AccountSigner) => void (await findAccount(acme, signer, config, false)) : rolloverAccountKey;
      return await withAccountOnly(config, http, budget, step);
    } finally {
      http.close();
    }
  }
  const peers: Peers = {
    acct: new Channel(FD.netproc.acct, 'acctproc', parseAcctToNet),
    // A revocation has neither keyproc nor chngproc; --csr no keyproc, dns-persist-01 no chngproc.
    key: config.requestFromCertproc || config.revoke ? null : new Channel(FD.netproc.key, 'keyproc', parseKeyToNet),
    chng: config.challengeType === PERSIST_CHALLENGE || config.revoke ? null : new Channel(FD.netproc.chng, 'chngproc', parseChngToNet),
    cert: new Channel(FD.netproc.cert, 'certproc', parseCertToNet),
  };
  try {
    // keyproc sends its CSR unasked: it is read as it comes, while the rest goes on.
    const csr = peers.key === null ? null : receive(peers.key);
    csr?.catch(() => undefined);
    const signer = new AccountSigner(peers.acct);
    const acme = new AcmeClient(http, signer, config.directoryUrl, budget);
    // Every run that starts netproc asks the CA something: the connection is opened and the
    // directory fetched (unsigned, anonymous) while the other children start and certproc decides.
    acme.loadDirectory().catch(() => undefined);
    const { verdict, request: checked } = await unlessPeerGone(askCertproc(peers.cert, acme, config), [peers.cert]);
    if (verdict.op === 'current') return; // certproc has said why
    // With --csr the names are the request's, as certproc read them.
    if (checked !== null) config = { ...config, names: checked.names };
    // The first nonce. Sure to sign from the start, from the newNonce URL acctproc kept, on the
    // second connection, while the directory may still be on its way; otherwise (or without one)
    // once the directory has named it. Many names: as many more as the newNonce burst allows, for
    // the first authorizations at once.
    // Not for a revocation, nor for an order an earlier run left processing (two requests).
    const stock = verdict.op !== 'renew' || verdict.pendingOrder !== undefined ? 0 : Math.min(NEW_NONCE_LIMIT.burst, config.names.length) - 1;
    const firstNonces = (keptUrl: string | null): void => {
      acme.prefetchNonce(keptUrl);
      acme.stockNonces(stock);
    };
    if (config.signs) signer.ready.then((ready) => firstNonces(ready.account?.server === config.directoryUrl ? ready.account.newNonce : null), () => undefined);
    else firstNonces(null);
    if (verdict.op === 'revoke') {
      return await unlessPeerGone(revoke(acme, signer, verdict.certificate, peers.cert, config), [peers.acct, peers.cert]);
    }
    // chngproc is needed until the validation is over (issue() closes its channel then), and
    // keyproc until its request has come.
    const request = checked !== null ? Promise.resolve(checked) : (csr as Promise<KeyToNet>);
    await unlessPeerGone(issue(acme, signer, peers, config, verdict, request, budget), [peers.acct, ...(peers.chng === null ? [] : [peers.chng]), peers.cert],
      [request.then(() => NEVER)]);
  } catch (err) {
    // A peer that hung up has already said why; netproc's part ends quietly.
    if (err instanceof PeerGone) return;
    throw err;
  } finally {
    http.close();
    for (const channel of Object.values(peers)) channel?.close();
  }
});
