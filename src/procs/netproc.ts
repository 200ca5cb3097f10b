// netproc: the only process that talks to the network. It drives the whole ACME conversation and
// holds no secret: acctproc signs for it, keyproc hands it a CSR, chngproc publishes challenges,
// certproc judges the certificate on disk and the one the CA returns. It touches no file.
//
// Life: open the four channels; ask certproc whether there is work (no network before that
// answer, so the nightly no-op sends nothing to the CA); then directory, account, and either
// revocation or order -> authorizations -> finalize -> download -> certproc.

import { runChild } from '../ipc/child.js';
import { Channel } from '../ipc/channel.js';
import { FD, NetConfig } from '../ipc/roles.js';
import {
  AcctToNet, CertToNet, ChngToNet, KeyToNet, NetToAcct, NetToCert, NetToChng, NetToKey,
  parseAcctToNet, parseCertToNet, parseChngToNet, parseKeyToNet,
} from '../ipc/messages.js';
import { AcmeClient, Signer } from '../acme/client.js';
import { HttpClient } from '../acme/http.js';
import type { FlattenedJws } from '../acme/jws.js';
import { Authorization, describeProblem } from '../acme/types.js';
import { Failure, debug, warn } from '../log.js';

/** Authorizations worked on at once: enough that 100 names cost little more than one. */
const CONCURRENT_AUTHORIZATIONS = 16;
/** A CA on the same network validates in milliseconds: the first looks come soon, then back off. */
const POLL_FIRST_INTERVAL_MS = 10;
const POLL_MAX_INTERVAL_MS = 5_000;
const CONNECT_TIMEOUT_MS = 30_000;

/** Replies matched to requests by id, over one channel, so requests can overlap. */
class Replies<T extends { id: number }> {
  private readonly pending = new Map<number, { resolve: (m: T) => void; reject: (e: Error) => void }>();
  private nextId = 1;

  constructor(private readonly peer: string) {}

  take(): { id: number; reply: Promise<T> } {
    const id = this.nextId++;
    const reply = new Promise<T>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    return { id, reply };
  }

  deliver(message: T): void {
    const waiter = this.pending.get(message.id);
    if (!waiter) throw new Failure(this.peer, `reply to a request never made (${message.id})`);
    this.pending.delete(message.id);
    waiter.resolve(message);
  }

  /** The peer hung up or broke: every request still waiting fails with the same reason. */
  abandon(reason: Error): void {
    for (const w of this.pending.values()) w.reject(reason);
    this.pending.clear();
  }
}

/** Thrown when a peer hung up: it has reported its own failure, netproc just stops. */
class PeerGone extends Error {
  constructor(readonly peer: string) {
    super(`${peer} hung up`);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Maps fn over items with at most `limit` running at once; the first failure rejects the whole. */
async function mapLimited<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        results[index] = await fn(items[index] as T);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Waits between polls: short at first (the CA is often quick), growing, or as the CA asks. */
function pollDelay(round: number, retryAfter: number | null): number {
  if (retryAfter !== null) return Math.min(retryAfter, 60_000);
  return Math.min(POLL_MAX_INTERVAL_MS, POLL_FIRST_INTERVAL_MS * 2 ** Math.max(0, round - 1));
}

runChild('netproc', async (config: NetConfig, confine) => {
  await confine(); // netproc needs nothing of root's
  const acct = new Channel<AcctToNet, NetToAcct>(FD.netproc.acct, 'acctproc', parseAcctToNet);
  const key = new Channel<KeyToNet, NetToKey>(FD.netproc.key, 'keyproc', parseKeyToNet);
  const chng = new Channel<ChngToNet, NetToChng>(FD.netproc.chng, 'chngproc', parseChngToNet);
  const cert = new Channel<CertToNet, NetToCert>(FD.netproc.cert, 'certproc', parseCertToNet);
  const http = new HttpClient({
    userAgent: config.userAgent, connectTimeoutMs: Math.min(CONNECT_TIMEOUT_MS, config.requestTimeoutMs), requestTimeoutMs: config.requestTimeoutMs,
    maxBodyBytes: 4 << 20,
  });
  try {
    // The CSR is read as soon as keyproc sends it, in parallel with everything below.
    const csr = key.recv();
    csr.catch(() => undefined);

    if (!(await cert.send({ op: 'ready' }))) throw new PeerGone('certproc');
    const verdict = await cert.recv();
    if (verdict === null) throw new PeerGone('certproc');
    if (verdict.op === 'current') return; // certproc has said why
    if (config.revoke !== (verdict.op === 'revoke')) throw new Failure('certproc', `unexpected answer "${verdict.op}"`);

    const signatures = new Replies<Extract<AcctToNet, { op: 'signature' }>>('acctproc');
    const thumbprints = new Replies<Extract<AcctToNet, { op: 'thumbprint' }>>('acctproc');
    const signer: Signer = {
      async sign(url: string, nonce: string, payload: string, kid: string | null): Promise<FlattenedJws> {
        const { id, reply } = signatures.take();
        if (!(await acct.send({ op: 'sign', id, url, nonce, payload, kid }))) throw new PeerGone('acctproc');
        return (await reply).jws;
      },
    };
    const acme = new AcmeClient(http, signer, config.directoryUrl);
    // The directory needs no signature: fetch it while acctproc is still loading its key.
    const directoryLoaded = acme.loadDirectory();
    directoryLoaded.catch(() => undefined);

    const ready = await acct.recv();
    if (ready === null) throw new PeerGone('acctproc');
    if (ready.op !== 'ready') throw new Failure('acctproc', `unexpected message "${ready.op}" before ready`);
    const acctPump = (async () => {
      for (;;) {
        const m = await acct.recv();
        if (m === null) throw new PeerGone('acctproc');
        if (m.op === 'signature') signatures.deliver(m);
        else if (m.op === 'thumbprint') thumbprints.deliver(m);
        else throw new Failure('acctproc', `unexpected message "${m.op}"`);
      }
    })();
    acctPump.catch((err: Error) => {
      signatures.abandon(err);
      thumbprints.abandon(err);
    });

    const directory = await directoryLoaded;
    if (config.agreement !== null && directory.termsOfService !== null && config.agreement !== directory.termsOfService) {
      warn(config.agreement, `differs from the CA's terms of service ${directory.termsOfService}; agreeing to the CA's`);
    }
    const accountUrl = await acme.account();
    debug(accountUrl, `using account (${ready.alg})`);

    if (verdict.op === 'revoke') {
      const revoked = await acme.revoke(verdict.certificate);
      if (!revoked) warn(config.names[0] ?? 'certificate', 'certificate was already revoked');
      else debug(config.names[0] ?? 'certificate', 'certificate revoked');
      if (!(await cert.send({ op: 'revoked', already: !revoked }))) throw new PeerGone('certproc');
      return;
    }

    const { url: orderUrl, order } = await acme.newOrder(config.names);
    debug(orderUrl, `order ${order.status}, ${order.authorizations.length} authorization(s)`);
    if (order.status === 'invalid') throw new Failure(orderUrl, 'order is invalid');

    const { id: tid, reply: thumbReply } = thumbprints.take();
    if (!(await acct.send({ op: 'thumbprint', id: tid }))) throw new PeerGone('acctproc');
    const thumbprint = (await thumbReply).thumbprint;

    // chngproc acks each published challenge by id.
    const acks = new Replies<ChngToNet>('chngproc');
    const chngPump = (async () => {
      for (;;) {
        const m = await chng.recv();
        if (m === null) throw new PeerGone('chngproc');
        acks.deliver(m);
      }
    })();
    chngPump.catch((err: Error) => acks.abandon(err));

    const publishAndRespond = async (authzUrl: string, authz: Authorization): Promise<void> => {
      const challenge = authz.challenges.find((c) => c.type === config.challengeType);
      if (!challenge) throw new Failure(authzUrl, `no ${config.challengeType} challenge`);
      if (challenge.status === 'invalid') throw new Failure(authz.identifier, `validation failed: ${challenge.error ? describeProblem(challenge.error) : 'no detail'}`);
      if (challenge.status !== 'pending') return;
      if (challenge.token === null) throw new Failure(challenge.url, 'challenge has no token');
      const identifier = authz.wildcard ? `*.${authz.identifier}` : authz.identifier;
      const { id, reply } = acks.take();
      if (!(await chng.send({ op: 'challenge', id, identifier, token: challenge.token, keyAuthorization: `${challenge.token}.${thumbprint}` }))) {
        throw new PeerGone('chngproc');
      }
      await reply;
      await acme.respond(challenge.url);
      debug(identifier, `${config.challengeType} challenge answered`);
    };

    // Three passes, each concurrent where it may be: fetch every authorization, publish and
    // answer the pending ones, poll until each is valid. With -t the caller sees one challenge at
    // a time, in command-line order, each confirmed before the CA is told.
    const deadline = Date.now() + config.pollTimeoutMs;
    // No wait reaches past the deadline, whatever Retry-After says: one last look, then give up.
    const pause = (ms: number): Promise<void> => sleep(Math.max(0, Math.min(ms, deadline - Date.now())));
    const fetched = await mapLimited(order.authorizations, CONCURRENT_AUTHORIZATIONS, async (url) => ({ url, ...(await acme.authorization(url)) }));
    const position = (a: Authorization): number => {
      const index = config.names.indexOf(a.wildcard ? `*.${a.identifier}` : a.identifier);
      return index < 0 ? config.names.length : index;
    };
    const pending = fetched.filter((f) => f.authz.status === 'pending').sort((a, b) => position(a.authz) - position(b.authz));
    if (config.external) {
      for (const f of pending) await publishAndRespond(f.url, f.authz);
    } else {
      await mapLimited(pending, CONCURRENT_AUTHORIZATIONS, (f) => publishAndRespond(f.url, f.authz));
    }
    await mapLimited(fetched, CONCURRENT_AUTHORIZATIONS, async ({ url: authzUrl, authz: first, retryAfter: wait }) => {
      let [authz, retryAfter] = [first, wait];
      for (let round = 0; authz.status === 'pending'; round++) {
        if (Date.now() >= deadline) throw new Failure(authzUrl, 'authorization still pending, giving up');
        if (round > 0) await pause(pollDelay(round, retryAfter));
        ({ authz, retryAfter } = await acme.authorization(authzUrl));
      }
      if (authz.status !== 'valid') {
        const failed = authz.challenges.find((c) => c.error !== null);
        const why = failed?.error ? describeProblem(failed.error) : `authorization ${authz.status}`;
        throw new Failure(authz.identifier, `validation failed: ${why}`);
      }
      debug(authz.identifier, 'authorization valid');
    });
    // Validation is over: chngproc may now remove what it published.
    chng.close();

    const request = await csr;
    if (request === null) throw new PeerGone('keyproc');

    let current = order;
    let retryAfter: number | null = null;
    for (let round = 0; current.status !== 'valid'; round++) {
      if (current.status === 'invalid') {
        throw new Failure(orderUrl, `order is invalid${current.error ? `: ${describeProblem(current.error)}` : ''}`);
      }
      if (Date.now() >= deadline) throw new Failure(orderUrl, `order still ${current.status}, giving up`);
      if (current.status === 'ready') {
        ({ order: current, retryAfter } = await acme.finalize(current.finalize, request.csr));
        debug(orderUrl, `finalized, order ${current.status}`);
        round = -1; // issuing is a new wait: start again from the shortest interval
        continue;
      }
      if (current.status === 'pending' && round > 0) await pause(pollDelay(round, retryAfter));
      else if (current.status === 'processing') await pause(pollDelay(round, retryAfter));
      ({ order: current, retryAfter } = await acme.order(orderUrl));
    }
    if (current.certificate === null) throw new Failure(orderUrl, 'valid order without a certificate URL');
    const chain = await acme.certificate(current.certificate);
    debug(current.certificate, 'certificate downloaded');
    if (!(await cert.send({ op: 'chain', pem: chain, publicKey: request.publicKey }))) throw new PeerGone('certproc');
  } catch (err) {
    // A peer that hung up has already said why; netproc's part ends quietly.
    if (err instanceof PeerGone) return;
    throw err;
  } finally {
    http.close();
    for (const ch of [acct, key, chng, cert]) ch.close();
  }
});
