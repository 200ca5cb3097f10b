// frontproc: acme-client-server's HTTP front, the one process that talks to web servers and their
// clients. It holds nothing but its listening sockets, bound by the parent and handed over once at
// start (with any connection the parent accepted on them meanwhile); it runs unprivileged, in a
// network namespace of its own (it can accept on those sockets and reach nothing), and reads no
// file. On the signing listeners it takes POST /sign: it refuses
// a body over max-size before reading it (413) and a body that is not a well-signed CSR (415), and
// hands the rest to the parent with the CSR's names, which decides (403, the cache, an order). On
// the challenge listeners it answers GET /.well-known/acme-challenge/<token> from memory for the
// tokens the parent published, and 404 for any other, so that nginx can try the next server.

import http from 'node:http';
import { Server, Socket } from 'node:net';
import { runChild } from '../ipc/child.js';
import { Channel } from '../ipc/channel.js';
import { FD, FrontConfig } from '../ipc/roles.js';
import { BUSY_RETRY_AFTER_S, FrontToServer, ServerToFront, parseServerToFront } from '../ipc/messages.js';
import { RequestError, readSigningRequest } from '../x509/request.js';
import { Failure, debug, reportError, setProgram } from '../log.js';

setProgram('acme-client-server');

const CHALLENGE_PATH = '/.well-known/acme-challenge/';
/** After its headers, a client has this long for a body of at most max-size. */
const BODY_TIMEOUT_MS = 20_000;
/** How long a client sending a body that is not read has to see the answer and stop. */
const LINGER_MS = 2000;
/** How often the header and request timeouts are looked at (Node's default is 30 s): a slow client is cut within a second of its time. */
const TIMEOUT_CHECK_MS = 1000;

type Answer = Extract<ServerToFront, { op: 'answer' }>;

/**
 * One line of plain text, as every answer but a certificate is. An answer given before the body
 * is read (413, 503, a wrong path) closes the connection without reading the rest: the answer
 * goes with a FIN, and what the client sends meanwhile is dropped for LINGER_MS, so that the
 * close does not reset the connection, and with it the answer, before the client has read it.
 */
function reply(res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  // A certificate goes as the Management Server sends it: text/plain, the certificate, an empty
  // line, the chain (not application/pem-certificate-chain, which has no empty line to split at).
  const type = status === 200 ? 'text/plain' : 'text/plain; charset=utf-8';
  const text = status === 200 ? body : `${body}\n`;
  const { headers: asked, complete, socket } = res.req;
  const unread = !complete && (asked['transfer-encoding'] !== undefined || Number(asked['content-length'] ?? 0) > 0);
  const { connection, ...others } = headers;
  if (unread) {
    res.once('finish', () => {
      socket.end();
      const linger = setTimeout(() => socket.destroy(), LINGER_MS);
      socket.once('close', () => clearTimeout(linger));
    });
  }
  // Node closes at once after a Connection: close answer; for an unread body the close is ours.
  res.writeHead(status, { 'content-type': type, 'content-length': String(Buffer.byteLength(text)), ...(connection === undefined || unread ? {} : { connection }), ...others });
  res.end(text);
}

/**
 * The sockets the parent bound, over the Node 'ipc' channel: each listening socket is put to work
 * by its server the moment it comes (a connection already waiting on it is answered), then the
 * connections the parent accepted before handing them over are answered too. The parent says
 * 'done' once it has nothing more; the channel is then closed.
 */
function receiveSockets(servers: http.Server[]): Promise<void> {
  return new Promise((resolve, reject) => {
    let listening = 0;
    const onMessage = (message: unknown, handle: unknown): void => {
      const fields = typeof message === 'object' && message !== null ? message as Record<string, unknown> : {};
      const server = servers[typeof fields.listener === 'number' ? fields.listener : typeof fields.connection === 'number' ? fields.connection : -1];
      if (fields.done === true) {
        process.off('message', onMessage);
        process.disconnect?.();
        if (listening === servers.length) resolve();
        else reject(new Failure('acme-client-server', `${listening} of ${servers.length} listeners handed over`));
      } else if (server !== undefined && 'listener' in fields && handle instanceof Server) {
        server.listen(handle);
        listening++;
      } else if (server !== undefined && 'connection' in fields) {
        // Without a handle: the client had gone before the parent handed it over.
        if (handle instanceof Socket) server.emit('connection', handle);
      } else reject(new Failure('acme-client-server', 'unexpected message on the channel the listeners come by'));
    };
    process.on('message', onMessage);
    process.once('disconnect', () => reject(new Failure('acme-client-server', 'gone before handing over every listener')));
  });
}

runChild('frontproc', async (config: FrontConfig, confine) => {
  // Nothing to acquire but the sockets, which come over the channel: drop at once.
  await confine();
  const parent = new Channel<ServerToFront, FrontToServer>(FD.frontproc.parent, 'acme-client-server', parseServerToFront);
  const tokens = new Map<string, string>();
  const waiting = new Map<number, (answer: Answer) => void>();
  let limits = { maxSize: config.maxSize, headerTimeout: config.headerTimeout, maxConnections: config.maxConnections };
  let draining = false;
  /** Connections past max-connections: each request on them is answered 503. */
  const overCeiling = new WeakSet<Socket>();
  let nextId = 1;
  const servers: http.Server[] = [];
  try {
    const sign = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      if (req.url !== '/sign') return reply(res, 404, 'not found: the signing API is POST /sign');
      if (req.method !== 'POST') return reply(res, 405, 'method not allowed: POST a CSR to /sign', { allow: 'POST' });
      if (draining) return reply(res, 503, 'shutting down: try again, or another server', { 'retry-after': String(BUSY_RETRY_AFTER_S), connection: 'close' });
      const declared = req.headers['content-length'];
      if (declared === undefined || !/^\d{1,9}$/.test(declared)) return reply(res, 411, 'length required: send the CSR with a Content-Length', { connection: 'close' });
      // Refused before a byte of the body is read; the connection is closed with the answer.
      if (Number(declared) > limits.maxSize) return reply(res, 413, `CSR too large: ${declared} bytes, max-size is ${limits.maxSize}`, { connection: 'close' });
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        let names: string[];
        let sha256: string;
        try {
          ({ names, sha256 } = readSigningRequest(body.toString('latin1'), 'request'));
        } catch (err) {
          if (err instanceof RequestError) return reply(res, 415, `not a usable CSR: ${err.problem}`);
          reportError('frontproc', err);
          return reply(res, 500, 'internal error: the server has logged it');
        }
        const id = nextId++;
        waiting.set(id, (answer) => reply(res, answer.status, answer.body, answer.retryAfter === null ? {} : { 'retry-after': String(answer.retryAfter) }));
        const authentication = req.headers['authentication'];
        void parent.send({ op: 'sign', id, peer: req.socket.remoteAddress ?? '', authentication: typeof authentication === 'string' ? authentication : null,
          body: body.toString('base64'), names, sha256 });
      });
    };

    const challenge = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      const token = req.url?.startsWith(CHALLENGE_PATH) ? req.url.slice(CHALLENGE_PATH.length) : null;
      const keyAuthorization = token === null ? undefined : tokens.get(token);
      if ((req.method !== 'GET' && req.method !== 'HEAD') || keyAuthorization === undefined) return reply(res, 404, 'no such challenge here');
      debug(token as string, `challenge served to ${req.socket.remoteAddress}`);
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(keyAuthorization.length) });
      res.end(req.method === 'HEAD' ? undefined : keyAuthorization);
    };

    const applyTimeouts = (server: http.Server): void => {
      server.headersTimeout = limits.headerTimeout * 1000;
      server.requestTimeout = limits.headerTimeout * 1000 + BODY_TIMEOUT_MS;
    };
    for (const kind of config.listeners) {
      const handle = kind === 'sign' ? sign : challenge;
      const server = http.createServer({ connectionsCheckingInterval: TIMEOUT_CHECK_MS }, (req, res) => {
        if (overCeiling.has(req.socket)) return reply(res, 503, `too many connections: try again later`, { 'retry-after': String(BUSY_RETRY_AFTER_S), connection: 'close' });
        handle(req, res);
      });
      applyTimeouts(server);
      // The ceiling: past max-connections a connection is still answered (503), once its request
      // is in, within the header timeout; past twice that it is closed at once, unanswered: what
      // the service holds stays bounded whatever comes.
      let open = 0;
      let turnedAway = 0;
      server.prependListener('connection', (socket: Socket) => {
        if (open < limits.maxConnections) {
          open++;
          socket.once('close', () => open--);
        } else if (turnedAway < limits.maxConnections) {
          turnedAway++;
          overCeiling.add(socket);
          socket.once('close', () => turnedAway--);
        } else socket.destroy();
      });
      servers.push(server);
    }
    await receiveSockets(servers);
    if (!(await parent.send({ op: 'ready' }))) return;

    for (;;) {
      const message = await parent.recv();
      if (message === null) return;
      switch (message.op) {
        case 'settings':
          limits = { maxSize: message.maxSize, headerTimeout: message.headerTimeout, maxConnections: message.maxConnections };
          servers.forEach(applyTimeouts);
          break;
        case 'publish':
          tokens.set(message.token, message.keyAuthorization);
          await parent.send({ op: 'published', token: message.token });
          break;
        case 'withdraw':
          tokens.delete(message.token);
          break;
        case 'answer': {
          const respond = waiting.get(message.id);
          if (respond === undefined) throw new Failure('acme-client-server', `answer to a request never made (${message.id})`);
          waiting.delete(message.id);
          respond(message);
          break;
        }
        case 'drain':
          // SIGTERM: what has been asked is still answered, and the challenge listeners serve the
          // orders in flight. The signing listeners stay open, answering 503 with Retry-After:
          // closed, they would reset the connections waiting in their backlog unanswered.
          draining = true;
          break;
      }
    }
  } finally {
    parent.close();
    for (const server of servers) server.closeAllConnections();
  }
});
