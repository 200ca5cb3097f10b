// acme-client-server: the signing service of seed 001_* (the ACME Management Server), on
// acme-client's privilege separation. The parent reads the configuration, binds the listeners and
// hands them to frontproc, the HTTP front (unprivileged, no network of its own, no files); it then
// judges each CSR frontproc passes on against the auth blocks (403), answers from the cache, or
// runs acme-client --csr for it (src/server/orders.ts), whose children hold the account key, talk
// to the CA and write the cache. It never reads a key and never talks to a CA itself.
//
// SIGTERM: new requests are answered 503 with Retry-After; the requests in flight are finished,
// for SHUTDOWN_GRACE_MS at most, and answered. SIGHUP: the configuration is read again (a bad one
// is reported and the running one kept); listeners change only with a restart.

import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { Channel } from '../ipc/channel.js';
import { FD, type FrontConfig } from '../ipc/roles.js';
import { BUSY_RETRY_AFTER_S, FrontToServer, ServerToFront, parseFrontToServer } from '../ipc/messages.js';
import { childCommand, planChild, probeCapabilities, resolveUser } from '../isolation.js';
import { readFileCapped } from '../fsutil/read.js';
import { Failure, debug, relayChildOutput, reportError, setProgram, setVerbosity, warn } from '../log.js';
import { VERSION } from '../version.js';
import { ConfigProblems, Listener, ServerConfig, parseServerConfigs } from './config.js';
import { admittingBlock } from './auth.js';
import { Answer, Orders, type OrderSettings } from './orders.js';
import { register, registerAtStartUp } from './register.js';
import { type Logging, startLogging, verbosityFor } from './logging.js';

const PROGRAM = 'acme-client-server';
setProgram(PROGRAM);
const USAGE = `usage: ${PROGRAM} [-tv] -f config ...\n       ${PROGRAM} --register --agree-tos [-v] [--eab-kid kid --eab-hmac-key-file file] -f config ...\n`
  + `       ${PROGRAM} --version | --help`;
/** How long SIGTERM waits for orders in flight (an order's own deadline is longer). */
const SHUTDOWN_GRACE_MS = 120_000;
const MAX_CONFIG_FILE = 1 << 20;

class UsageError extends Error {}

interface ServerOptions {
  /** -f FILE...: read in order as one, as the Management Server's `acmems CONFIG...`. */
  configFiles: string[];
  verbose: number;
  register: boolean;
  agreeTos: boolean;
  /** --eab-kid and --eab-hmac-key-file, for --register at a CA that wants an external account binding. */
  eab: { kid: string; keyFile: string } | null;
  version: boolean;
  /** --help: the usage on standard output, exit 0. */
  help: boolean;
  /** -t: check the configuration and exit. */
  test: boolean;
}

function parseOptions(argv: string[]): ServerOptions {
  const parsed = yargs()
    .help(false)
    .version(false)
    .parserConfiguration({ 'camel-case-expansion': false, 'dot-notation': false, 'parse-numbers': false, 'boolean-negation': false,
      'duplicate-arguments-array': false, 'strip-dashed': true })
    .array(['f'])
    .string(['f', 'eab-kid', 'eab-hmac-key-file'])
    .requiresArg(['f', 'eab-kid', 'eab-hmac-key-file'])
    .count('v')
    .boolean(['register', 'agree-tos', 'version', 'help', 't'])
    .strictOptions()
    .exitProcess(false)
    .fail((message, error) => {
      throw new UsageError(message ?? error?.message ?? 'bad command line');
    })
    .parseSync(argv);
  // -f takes the files after it, as `acmems CONFIG...` does; a second -f would replace the first.
  if (argv.filter((arg) => arg === '-f').length > 1) throw new UsageError('-f is given once, followed by every configuration file');
  const files = [...(Array.isArray(parsed.f) ? parsed.f.map(String) : []), ...parsed._.map(String)];
  const kid = parsed['eab-kid'];
  const keyFile = parsed['eab-hmac-key-file'];
  if ((typeof kid === 'string') !== (typeof keyFile === 'string')) throw new UsageError('--eab-kid and --eab-hmac-key-file go together');
  const options: ServerOptions = { configFiles: files, verbose: Number(parsed.v ?? 0), register: parsed.register === true,
    agreeTos: parsed['agree-tos'] === true, eab: typeof kid === 'string' && typeof keyFile === 'string' ? { kid, keyFile } : null,
    version: parsed.version === true, help: parsed.help === true, test: parsed.t === true };
  if (options.version || options.help) return options;
  if (!Array.isArray(parsed.f)) throw new UsageError(files.length > 0 ? `unexpected argument ${files[0]}: configuration files follow -f` : '-f config is required');
  if (options.test && options.register) throw new UsageError('-t checks the configuration alone: not with --register');
  if (options.register && !options.agreeTos) throw new UsageError('--register needs --agree-tos: creating an account agrees to the CA\'s terms of service');
  if (options.agreeTos && !options.register) throw new UsageError('--agree-tos goes with --register');
  if (options.eab !== null && !options.register) throw new UsageError('--eab-kid and --eab-hmac-key-file go with --register');
  return options;
}

async function loadConfig(files: string[]): Promise<ServerConfig> {
  return parseServerConfigs(files.map((file) => {
    const text = readFileCapped(file, MAX_CONFIG_FILE);
    if (text === null) throw new Failure(file, 'no such file');
    return { file, text };
  }));
}

function sayWarnings(config: ServerConfig): void {
  for (const warning of config.warnings) warn(warning.subject, warning.problem);
}

/** Where lines go from here on: [logging] (a configuration that does not read is said on stderr). */
let logging: Logging | null = null;

function startLog(config: ServerConfig, verbose: number): Logging {
  logging = startLogging(config.logging, PROGRAM);
  setVerbosity(verbosityFor(config.logging.level, verbose));
  sayWarnings(config);
  return logging;
}

/** account.pem is missing, and accept-terms-of-service says to make it at start-up. */
function accountToMake(config: ServerConfig): boolean {
  if (config.acceptTerms === null) return false;
  try {
    accessSync(join(config.accountDir, 'account.pem'), constants.F_OK);
    return false;
  } catch {
    return true;
  }
}

/**
 * accept-terms-of-service: a missing account made, as the Management Server makes it at start-up,
 * by acme-client --register (whose netproc refuses terms not accepted), before anything is bound.
 */
async function makeAccount(config: ServerConfig, verbose: number): Promise<void> {
  const terms = config.acceptTerms;
  if (terms === null || !accountToMake(config)) return;
  debug(join(config.accountDir, 'account.pem'), `no account key: making the account at ${config.acmeServer} (accept-terms-of-service)`);
  if (await registerAtStartUp(config, terms.any ? [] : terms.urls, verbose) !== 0) {
    throw new Failure(config.acmeServer, 'the account could not be made: not started');
  }
}

/** What must be there before the service starts: the account key, each cache directory. */
function checkPlaces(config: ServerConfig): void {
  const problems = placeProblems(config);
  if (problems.length > 0) throw new ConfigProblems(problems);
}

function placeProblems(config: ServerConfig): Failure[] {
  const problems: Failure[] = [];
  const accountKey = join(config.accountDir, 'account.pem');
  try {
    if (!accountToMake(config)) accessSync(accountKey, constants.R_OK);
  } catch {
    problems.push(new Failure(accountKey, `no account key: make one with ${PROGRAM} --register --agree-tos -f ${config.file}`));
  }
  const checked = new Set<string>();
  for (const block of config.auth) {
    if (block.storage.type !== 'file' || checked.has(block.storage.directory)) continue;
    const dir = block.storage.directory;
    checked.add(dir);
    let directory = false;
    try {
      accessSync(dir, constants.W_OK);
      directory = statSync(dir).isDirectory();
    } catch {
      // said below
    }
    if (!directory) problems.push(new Failure(dir, `storage "${block.storage.name}": directory must exist and be writable`));
  }
  return problems;
}

/** Every problem of a thrown value, one line each. */
function reportProblems(err: unknown): void {
  if (err instanceof ConfigProblems) for (const problem of err.problems) reportError(PROGRAM, problem);
  else reportError(PROGRAM, err);
}

/** -t: the configuration and the places it names, checked as at start-up, without binding or the CA. */
async function testConfig(files: string[], verbose: number): Promise<number> {
  const config = await loadConfig(files);
  startLog(config, verbose);
  checkPlaces(config);
  debug(config.acmeServer, 'the CA (acme-server)');
  if (accountToMake(config)) debug(join(config.accountDir, 'account.pem'), 'no account key yet: made at start-up (accept-terms-of-service)');
  warn(config.file, 'configuration ok');
  return 0;
}

/**
 * A listening socket bound here, for frontproc. Until it is handed over this process accepts on
 * it too (Node polls every listening socket): a connection it accepts is kept unread and handed
 * over with it, to be answered by frontproc like any other.
 */
function listenOn(listener: Listener, accepted: (socket: Socket) => void): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer({ pauseOnConnect: true }, accepted);
    server.once('error', (err: NodeJS.ErrnoException) => reject(new Failure(`${listener.host}:${listener.port}`, `cannot listen: ${err.code ?? err.message}`)));
    server.listen({ host: listener.host, port: listener.port, exclusive: true }, () => resolve(server));
  });
}

function listenerKey(listeners: Listener[]): string {
  return listeners.map((l) => `${l.host}:${l.port}`).join(' ');
}

/** The sockets, each with what it serves: POST /sign, or the challenges. */
function wantedListeners(config: ServerConfig): { kind: FrontConfig['listeners'][number]; listener: Listener }[] {
  const challenge = config.verifications.flatMap((v) => (v.type === 'http01' ? v.listeners : []));
  return [...config.mgmtListeners.map((listener) => ({ kind: 'sign' as const, listener })), ...challenge.map((listener) => ({ kind: 'challenge' as const, listener }))];
}

/** frontproc, confined as acme-client confines a child that needs neither root nor the network. */
async function startFront(config: ServerConfig, verbose: number, childStderr: Logging['childStderr']): Promise<{ child: ChildProcess; channel: Channel<FrontToServer, ServerToFront> }> {
  const wanted = wantedListeners(config);
  const early: { listener: number; socket: Socket }[] = [];
  const sockets = await Promise.all(wanted.map(({ listener }, index) => listenOn(listener, (socket) => early.push({ listener: index, socket }))));
  const caps = await probeCapabilities();
  for (const missing of caps.missing) warn('isolation', missing);
  const plan = planChild('frontproc', { reads: [], writes: [], root: false, jailDir: null }, resolveUser(undefined), caps);
  const frontConfig: FrontConfig = { listeners: wanted.map((w) => w.kind), maxSize: config.maxSize, headerTimeout: config.limits.headerTimeout,
    maxConnections: config.limits.maxConnections, verbose };
  const script = fileURLToPath(new URL('./procs/frontproc.js', import.meta.url));
  const command = childCommand(plan, ['--v8-pool-size=1'], script, [JSON.stringify(frontConfig), JSON.stringify({ drop: plan.drop, report: false })], caps, null);
  const child = spawn(command.file, command.args, { stdio: ['ignore', 'ignore', childStderr, 'pipe', 'pipe', 'ipc'], env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } });
  child.stderr?.setEncoding('utf8').on('data', (text: string) => relayChildOutput(text, 'warning'));
  // The Node 'ipc' channel carries the sockets and nothing else: the listening sockets, then, once
  // ours are closed, the connections they accepted meanwhile; then 'done', and frontproc closes it.
  const handOver = (message: { listener: number } | { connection: number } | { done: true }, handle?: Server | Socket): Promise<void> =>
    new Promise((resolve, reject) => child.send(message, handle, (err) => (err ? reject(err) : resolve())));
  for (const [index, socket] of sockets.entries()) await handOver({ listener: index }, socket);
  for (const socket of sockets) socket.close();
  for (const { listener, socket } of early.splice(0)) await handOver({ connection: listener }, socket);
  await handOver({ done: true });
  // The parent's ends: the channel's socket, and the lifeline, which stays open until exit.
  const channel = new Channel<FrontToServer, ServerToFront>(child.stdio[FD.frontproc.parent] as Socket, 'frontproc', parseFrontToServer);
  const ready = await channel.recv();
  if (ready === null || ready.op !== 'ready') throw new Failure('frontproc', 'did not start');
  for (const { kind, listener } of wanted) debug(`${listener.host}:${listener.port}`, kind === 'sign' ? 'listening for POST /sign' : 'answering http-01 challenges');
  return { child, channel };
}

async function serve(options: ServerOptions): Promise<number> {
  let config = await loadConfig(options.configFiles);
  const { childStderr } = startLog(config, options.verbose);
  checkPlaces(config);
  await makeAccount(config, options.verbose);
  const settings = (c: ServerConfig): OrderSettings => ({ acmeServer: c.acmeServer, accountKey: join(c.accountDir, 'account.pem'), verbose: options.verbose,
    concurrentOrders: c.limits.concurrentOrders, queueLength: c.limits.queueLength });
  // Signals are ours from the first moment: a SIGTERM or SIGHUP while the front starts (a restart
  // hard on the heels of a start) is acted on once it is up, not the default death that would
  // leave the front holding the listeners.
  const stopSignal = new Promise<void>((resolve) => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => resolve());
  });
  let reloadAsked = false;
  const askReload = (): void => {
    reloadAsked = true;
  };
  process.on('SIGHUP', askReload);
  const { child, channel } = await startFront(config, options.verbose, childStderr);
  const published = new Map<string, () => void>();
  const orders = new Orders(settings(config), {
    publish: async (token, keyAuthorization) => {
      const acked = new Promise<void>((resolve) => published.set(token, resolve));
      if (!(await channel.send({ op: 'publish', token, keyAuthorization }))) throw new Failure('frontproc', 'gone');
      await acked;
    },
    withdraw: (token) => void channel.send({ op: 'withdraw', token }),
  });
  let frontStatus = 'closed its channel';
  const frontEnded = new Promise<void>((resolve) => child.once('exit', (code, signal) => {
    frontStatus = `exited (${signal ?? code})`;
    resolve();
  }));
  let stopping = false;

  const answerSign = async (request: Extract<FrontToServer, { op: 'sign' }>): Promise<Answer> => {
    // Asked before frontproc had the drain: no order is started once stopping.
    if (stopping) return { status: 503, body: 'shutting down: try again, or another server', retryAfter: BUSY_RETRY_AFTER_S, note: 'stopping' };
    const body = Buffer.from(request.body, 'base64');
    const block = admittingBlock(config.auth, { peer: request.peer, authentication: request.authentication, body, names: request.names });
    if (block === null) return { status: 403, body: `forbidden: no auth block admits ${request.names.join(', ')} from ${request.peer}`, retryAfter: null, note: 'no auth block' };
    return orders.sign(body, request.sha256, request.names, block.storage, block.verification);
  };

  const reload = (): void => {
    void loadConfig(options.configFiles).then((next) => {
      sayWarnings(next);
      checkPlaces(next);
      if (accountToMake(next)) throw new Failure(join(next.accountDir, 'account.pem'), 'no account key: one is made at start-up, not on SIGHUP');
      if (JSON.stringify(next.logging) !== JSON.stringify(config.logging)) warn(next.file, '[logging] changed: it takes effect at the next start');
      if (listenerKey(wantedListeners(next).map((w) => w.listener)) !== listenerKey(wantedListeners(config).map((w) => w.listener))) {
        warn(next.file, 'listeners changed: they take effect at the next start');
      }
      config = next;
      orders.reconfigure(settings(next));
      void channel.send({ op: 'settings', maxSize: next.maxSize, headerTimeout: next.limits.headerTimeout, maxConnections: next.limits.maxConnections });
      warn(next.file, 'configuration read again');
    }, reportProblems).catch(reportProblems);
  };
  process.off('SIGHUP', askReload);
  process.on('SIGHUP', reload);
  if (reloadAsked) reload();
  const inFlight = new Set<Promise<void>>();
  const stop = stopSignal.then(() => {
    stopping = true;
    warn('stopping', `${inFlight.size} request(s) in flight are finished first; new ones are answered 503`);
    void channel.send({ op: 'drain' });
  });

  const loop = (async () => {
    for (;;) {
      const message = await channel.recv();
      if (message === null) return;
      if (message.op === 'published') published.get(message.token)?.();
      else if (message.op === 'sign') {
        const handled = answerSign(message).catch((err: unknown): Answer => {
          reportError(PROGRAM, err);
          return { status: 500, body: 'internal error: the server has logged it', retryAfter: null, note: 'bug' };
        }).then(async (answer) => {
          const log = answer.status === 200 || answer.status === 403 || answer.status === 421 || answer.status === 429 ? debug : warn;
          if (answer.status === 500) warn(message.peer, `POST /sign ${message.names.join(',')}: 500: ${answer.note}`);
          else log(message.peer, `POST /sign ${message.names.join(',')}: ${answer.status} (${answer.note})`);
          await channel.send({ op: 'answer', id: message.id, status: answer.status, body: answer.body, retryAfter: answer.retryAfter });
        });
        inFlight.add(handled);
        void handled.finally(() => inFlight.delete(handled));
      }
    }
  })();

  await Promise.race([stop, frontEnded, loop]);
  if (!stopping) {
    warn('frontproc', `${frontStatus}: stopping`);
    orders.stopRuns();
    orders.close();
    return 1;
  }
  // Requests in flight are finished and answered: a run is not cut short unless it outlives the grace.
  const grace = setTimeout(() => {
    warn('shutdown', `${orders.pending} order(s) still running after ${SHUTDOWN_GRACE_MS / 1000} s: stopping them`);
    orders.stopRuns();
  }, SHUTDOWN_GRACE_MS);
  while (inFlight.size > 0) await Promise.all([...inFlight]);
  clearTimeout(grace);
  channel.close();
  await frontEnded;
  orders.close();
  return 0;
}

async function main(): Promise<number> {
  let options: ServerOptions;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${PROGRAM}: ${err.message}\n${USAGE}\n`);
    return 1;
  }
  if (options.help) {
    process.stdout.write(`${USAGE}\nSee acme-client-server(8) and acme-client-server.conf(5).\n`);
    return 0;
  }
  if (options.version) {
    process.stdout.write(`${PROGRAM} ${VERSION}\n`);
    return 0;
  }
  setVerbosity(options.verbose);
  if (options.test) return testConfig(options.configFiles, options.verbose);
  if (process.getuid?.() !== 0) throw new Failure(PROGRAM, 'must be run as root');
  if (options.register) {
    const config = await loadConfig(options.configFiles);
    sayWarnings(config);
    return register(config, options.eab ?? config.eab, [], options.verbose);
  }
  return serve(options);
}

main().then(
  async (status) => {
    process.exitCode = status;
    // Listening sockets and the lifeline are gone by now; nothing else is waited for but the log.
    await logging?.close();
    process.exit();
  },
  async (err: unknown) => {
    reportProblems(err);
    await logging?.close();
    process.exit(1);
  },
);
