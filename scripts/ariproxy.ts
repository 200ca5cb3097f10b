// ariproxy: the renewal information and refusals Pebble cannot be made to give, put in front of a
// real one (Pebble 2.10 has renewalInfo, /set-renewal-info/ and profiles of its own, but answers
// every renewalInfo with a six-hour Retry-After, and never with an error, a broken or a slow
// answer). An HTTPS reverse proxy on 127.0.0.1 that passes every request to Pebble with its Host
// header unchanged (Pebble builds its URLs, and checks each JWS "url", from that header, so every
// URL the client sees is the proxy's) and adds what the test sets:
//   - the directory's "renewalInfo" (RFC 9773) becomes the proxy's, and meta.profiles may be replaced;
//   - GET <renewalInfo>/<CertID> answers with the window, status or misbehaviour the test sets;
//   - newOrder payloads are recorded (profile, replaces), and may be refused once;
//   - finalize may be refused (Let's Encrypt's must-staple answer).
// Real issuance still comes from Pebble. Used by test/ari.test.ts, and by the bench for the no-op
// that asks the CA its renewal window (in a process of its own: scripts/bench-ariproxy.ts).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { Forward, Problem, Upstream, proxyInFrontOf, readBody } from './proxyutil.js';

export type { Problem, Upstream };

export type RenewalInfoReply =
  | { kind: 'window'; start: Date; end: Date; retryAfter?: string; explanationURL?: string; delayMs?: number }
  | { kind: 'status'; status: number }
  | { kind: 'body'; body: string };

export interface AriProxy {
  directoryUrl: string;
  /** What GET <renewalInfo>/<CertID> answers; null: the directory has no renewalInfo at all. */
  renewalInfo: RenewalInfoReply | null;
  /** meta.profiles of the directory, or null to leave it out. */
  profiles: Record<string, string> | null;
  /** The payload of every newOrder this proxy refused or Pebble accepted (not those it refused for a bad nonce), in order. */
  readonly newOrders: Record<string, unknown>[];
  /** The CertIDs asked for. */
  readonly renewalInfoAsked: string[];
  /** Method and path of every request, in order. */
  readonly requests: { method: string; path: string }[];
  /** Refuses the next newOrder (only one that carries "replaces", if so set) with this problem. */
  refuseNewOrder: { problem: Problem; onlyWithReplaces: boolean } | null;
  /** Refuses every finalize with this problem. */
  refuseFinalize: Problem | null;
  stop(): Promise<void>;
}

const RENEWAL_INFO_PATH = '/renewal-info';

function payloadOf(body: Buffer): Record<string, unknown> {
  const jws = JSON.parse(body.toString('utf8')) as { payload: string };
  return jws.payload === '' ? {} : (JSON.parse(Buffer.from(jws.payload, 'base64url').toString('utf8')) as Record<string, unknown>);
}

function sendProblem(res: ServerResponse, p: Problem): void {
  res.writeHead(p.status, { 'content-type': 'application/problem+json' });
  res.end(JSON.stringify({ type: `urn:ietf:params:acme:error:${p.type}`, detail: p.detail }));
}

export async function startAriProxy(lab: Upstream): Promise<AriProxy> {
  const upstream = new URL(lab.directoryUrl);
  const answerRenewalInfo = async (res: ServerResponse, reply: RenewalInfoReply): Promise<void> => {
    if (reply.kind === 'status') {
      res.writeHead(reply.status, { 'content-type': 'text/plain' });
      res.end('no\n');
    } else if (reply.kind === 'body') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(reply.body);
    } else {
      // Unreferenced: an answer still held when the tests end keeps nothing alive.
      if (reply.delayMs !== undefined) await new Promise((r) => setTimeout(r, reply.delayMs).unref());
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (reply.retryAfter !== undefined) headers['retry-after'] = reply.retryAfter;
      res.writeHead(200, headers);
      const body: Record<string, unknown> = { suggestedWindow: { start: reply.start.toISOString(), end: reply.end.toISOString() } };
      if (reply.explanationURL !== undefined) body.explanationURL = reply.explanationURL;
      res.end(JSON.stringify(body));
    }
  };

  const proxy: AriProxy = {
    directoryUrl: '',
    renewalInfo: null,
    profiles: null,
    newOrders: [],
    renewalInfoAsked: [],
    requests: [],
    refuseNewOrder: null,
    refuseFinalize: null,
    stop: () => front.stop(),
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, forward: Forward): Promise<void> => {
    const path = req.url ?? '/';
    proxy.requests.push({ method: req.method ?? '', path });
    const body = await readBody(req);
    if (req.method === 'GET' && path.startsWith(`${RENEWAL_INFO_PATH}/`) && proxy.renewalInfo !== null) {
      proxy.renewalInfoAsked.push(path.slice(RENEWAL_INFO_PATH.length + 1));
      await answerRenewalInfo(res, proxy.renewalInfo);
      return;
    }
    const newOrder = req.method === 'POST' && path === '/order-plz' ? payloadOf(body) : null;
    if (newOrder !== null) {
      const refusal = proxy.refuseNewOrder;
      if (refusal !== null && (!refusal.onlyWithReplaces || newOrder.replaces !== undefined)) {
        proxy.newOrders.push(newOrder);
        proxy.refuseNewOrder = null;
        sendProblem(res, refusal.problem);
        return;
      }
    }
    if (req.method === 'POST' && path.startsWith('/finalize-order/') && proxy.refuseFinalize !== null) {
      sendProblem(res, proxy.refuseFinalize);
      return;
    }
    const answer = await forward(req.method ?? 'GET', path, req.headers, body);
    if (newOrder !== null && answer.status < 300) proxy.newOrders.push(newOrder);
    let out = answer.body;
    if (req.method === 'GET' && path === upstream.pathname && answer.status === 200) {
      const directory = JSON.parse(out.toString('utf8')) as Record<string, unknown>;
      if (proxy.renewalInfo !== null) directory.renewalInfo = `https://${req.headers.host ?? ''}${RENEWAL_INFO_PATH}`;
      if (proxy.profiles !== null) directory.meta = { ...(directory.meta as object), profiles: proxy.profiles };
      out = Buffer.from(JSON.stringify(directory));
    }
    const headers: Record<string, string | string[] | undefined> = { ...answer.headers, 'content-length': String(out.length) };
    delete headers['transfer-encoding'];
    res.writeHead(answer.status, headers);
    res.end(out);
  };

  const front = await proxyInFrontOf(lab, 'ariproxy', handle);
  proxy.directoryUrl = front.directoryUrl;
  return proxy;
}
