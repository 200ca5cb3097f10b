// pebble-lab: a throwaway local ACME CA for the tests and the demo.
//
// startLab() brings up, all on 127.0.0.1 with ports the kernel hands out at run time and everything
// (keys, configs, logs, the http-01 webroot) under a fresh mkdtemp directory:
//   pebble               ACME server (directory https://127.0.0.1:<port>/dir, management API on
//                        another port), its TLS certificate signed by a CA made here with openssl;
//   pebble-challtestsrv  mock DNS server for Pebble's VA, answering A 127.0.0.1 (and no AAAA) for
//                        every name; its own http-01/https-01/tls-alpn-01 listeners are off;
//   nginx                http-01 webroot on Pebble's httpPort (and on [::1] too with `ipv6`):
//                        location /.well-known/acme-challenge/ { alias <challengeDir>/; }
// Each server runs as its own process group, with stdout and stderr going to a log file (never a
// pipe: a test that blocks in spawnSync while a server logs must not stall that server). stop()
// kills the groups, waits for them and removes the directory; if the host process exits or is
// signalled first, the groups are killed and the directory removed anyway.
//
// Only node built-ins are used.
import { spawn, spawnSync, execFile, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';

export interface LabOptions {
  /** PEBBLE_WFE_NONCEREJECT: percentage of good nonces rejected as badNonce (default $ACME_TEST_NONCE_REJECT or 0; Pebble's own default is 5). */
  nonceReject?: number;
  /**
   * PEBBLE_AUTHZREUSE: percentage chance a still-valid authorization is reused in a new order
   * (default 50). 0 is not never: Pebble 2.10 makes a new one only when rand.Intn(100) exceeds it,
   * so one order in a hundred still reuses; a test that needs a challenge uses a fresh account.
   */
  authzReuse?: number;
  /** Validity in seconds of certificates under Pebble's "default" profile (default 90 days, as Pebble's own). */
  certificateValidityPeriod?: number;
  /** Profiles Pebble offers beside "default" (meta.profiles), name -> description and validity in seconds. */
  profiles?: Record<string, { description: string; validityPeriod: number }>;
  /**
   * Web servers in front of signing services (acme-client-server): nginx on 127.0.0.1 ("web server
   * A", where every name resolves) and a second nginx on 127.0.0.2 ("web server B"), both on
   * Pebble's http-01 port, proxy /.well-known/acme-challenge/ to these upstreams (ADDRESS:PORT),
   * trying the next on error, timeout or 404. Without it nginx serves challengeDir.
   */
  challengeUpstreams?: string[];
  /** ADDR:PORT of the DNS server Pebble's VA asks (default: pebble-challtestsrv, which answers A 127.0.0.1 for every name). */
  dnsServer?: string;
  /**
   * External Account Binding keys, kid -> base64url HMAC key (Pebble config externalAccountMACKeys).
   * Given, Pebble requires EAB for every new account (externalAccountBindingRequired).
   */
  externalAccountMACKeys?: Record<string, string>;
  /** PEBBLE_ALTERNATE_ROOTS: further root hierarchies, each offered as a Link rel="alternate" chain (default 0). */
  alternateRoots?: number;
  /** nginx also listens on [::1], so that Pebble can validate the IPv6 loopback address over http-01. */
  ipv6?: boolean;
}

export interface Lab {
  /** The temp dir holding everything (removed by stop()). */
  dir: string;
  /** https://127.0.0.1:<port>/dir */
  directoryUrl: string;
  /** https://127.0.0.1:<port> (Pebble's management API) */
  managementUrl: string;
  /** PEM of the CA that signed Pebble's TLS certificate: for NODE_EXTRA_CA_CERTS. */
  tlsCaFile: string;
  /** Served by nginx at /.well-known/acme-challenge/ on Pebble's http-01 port (mode 1777). */
  challengeDir: string;
  /** pebble-challtestsrv's management API, http://127.0.0.1:<port> */
  challtestsrvUrl: string;
  /** The port nginx listens on (127.0.0.1), which is Pebble's http-01 validation port. */
  httpPort: number;
  /** With challengeUpstreams: the address of web server B (names resolve there after resolveTo). */
  secondWebServer: string | null;
  /** Makes pebble-challtestsrv answer `address` for `name` (A record) instead of 127.0.0.1. */
  resolveTo(name: string, address: string): Promise<void>;
  /** pebble-challtestsrv's DNS port (UDP and TCP, 127.0.0.1), Pebble's -dnsserver. */
  dnsPort: number;
  /** Where the servers' output goes: pebble.log, challtestsrv.log, nginx.log, nginx-error.log, nginx-access.log. */
  logDir: string;
  /** The pids of the processes started (each also the id of its own process group). */
  pids: readonly number[];
  /** Everything Pebble has logged so far. */
  requestLog(): string;
  /** Number of ACME requests Pebble's WFE has logged so far (lines "<METHOD> <path> -> calling handler()"). */
  requestCount(): number;
  /** Those requests, in the order Pebble logged them: method and path. */
  requests(): { method: string; path: string }[];
  /** Root(s) + intermediate(s) from the management API (/roots/0, /intermediates/0), PEM, for `openssl verify`. */
  issuerPems(): Promise<string>;
  /** The root of hierarchy `index` (0 is the default, 1.. the alternateRoots), PEM. */
  rootPem(index: number): Promise<string>;
  /** POST /set-renewal-info/: what Pebble's renewalInfo answers for this certificate (PEM) from now on. */
  setRenewalInfo(certPem: string, window: { start: Date; end: Date; explanationURL?: string }): Promise<void>;
  /** GET /cert-status-by-serial/<serial> (hex; colons and a 0x prefix are dropped): the parsed JSON. Rejects unless 200. */
  certStatus(serialHex: string): Promise<unknown>;
  /** Kills Pebble alone, at once (SIGKILL): a CA that vanishes in the middle of an order. */
  killPebble(): void;
  /** Kills every process it started (and waits for them), removes the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Where pebble and pebble-challtestsrv >= 2.10 are: the system's own when Debian's installed package
 * is that recent, else the copy scripts/setup.mjs unpacks into the project's .cache/pebble/.
 */
const PEBBLE_BIN_DIR = ((): string => {
  const installed = spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'pebble'], { encoding: 'utf8' });
  if (installed.status === 0 && spawnSync('dpkg', ['--compare-versions', installed.stdout, 'ge', '2.10']).status === 0) return '/usr/bin';
  return join(fileURLToPath(new URL('../..', import.meta.url)), '.cache', 'pebble', 'root', 'usr', 'bin');
})();
const PEBBLE = join(PEBBLE_BIN_DIR, 'pebble');

/**
 * The version of the Pebble the lab runs (its binary says only "dev"): the installed package's, or
 * that of the .deb scripts/setup.mjs unpacked into .cache/pebble/; null when neither says.
 */
export function pebbleVersion(): string | null {
  if (PEBBLE_BIN_DIR === '/usr/bin') {
    const installed = spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'pebble'], { encoding: 'utf8' });
    return installed.status === 0 && installed.stdout !== '' ? installed.stdout.trim() : null;
  }
  const debs = join(PEBBLE_BIN_DIR, '..', '..', '..', 'apt', 'debs');
  const deb = existsSync(debs) ? readdirSync(debs).find((f) => f.startsWith('pebble_') && f.endsWith('.deb')) : undefined;
  if (deb === undefined) return null;
  const field = spawnSync('dpkg-deb', ['-f', join(debs, deb), 'Version'], { encoding: 'utf8' });
  return field.status === 0 && field.stdout !== '' ? field.stdout.trim() : null;
}
const CHALLTESTSRV = join(PEBBLE_BIN_DIR, 'pebble-challtestsrv');
const NGINX_CANDIDATES = ['/usr/sbin/nginx', '/usr/bin/nginx', '/usr/local/sbin/nginx', '/usr/local/bin/nginx'];
const READY_TIMEOUT_MS = 20_000;
const DEFAULT_VALIDITY_S = 90 * 86_400;
const POLL_MS = 50;
const STOP_GRACE_MS = 3_000;

/** Pebble's WFE logs "<METHOD> <path> -> calling handler()" for every request to its ACME listener. */
const REQUEST_LINE = /^Pebble \d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d (\S+) (\S+) -> calling handler\(\)$/;

/** The binaries startLab() needs, or why they are not usable: for tests to skip with a reason. */
export function labUnavailable(): string | undefined {
  const missing: string[] = [];
  if (!existsSync(PEBBLE)) missing.push(PEBBLE);
  if (!existsSync(CHALLTESTSRV)) missing.push(CHALLTESTSRV);
  if (findNginx() === undefined) missing.push('nginx');
  if (!onPath('openssl')) missing.push('openssl');
  return missing.length > 0 ? `missing ${missing.join(', ')} (npm test's set-up installs or fetches them as root)` : undefined;
}

function findNginx(): string | undefined {
  return NGINX_CANDIDATES.find((p) => existsSync(p));
}

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '/usr/bin:/bin').split(':').some((d) => d !== '' && existsSync(join(d, cmd)));
}

// ---- clean-up of everything still alive when the host process goes away ------------------------

interface Proc { name: string; child: ChildProcess; log: string; exited: boolean; code: number | null; signal: NodeJS.Signals | null; done: Promise<void>; }

const liveLabs = new Set<{ procs: Proc[]; dir: string }>();
let hooked = false;

function killLabSync(lab: { procs: Proc[]; dir: string }): void {
  for (const p of lab.procs) killGroup(p, 'SIGKILL');
  try { rmSync(lab.dir, { recursive: true, force: true }); } catch { /* best effort */ }
}

function onExit(): void {
  for (const lab of liveLabs) killLabSync(lab);
  liveLabs.clear();
}

function onSignal(sig: NodeJS.Signals): void {
  onExit();
  unhook();
  // Nobody else handles this signal: die of it as we would have without our handler.
  if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', onExit);
  for (const s of SIGNALS) process.on(s, onSignal);
}

function unhook(): void {
  if (!hooked) return;
  hooked = false;
  process.off('exit', onExit);
  for (const s of SIGNALS) process.off(s, onSignal);
}

function killGroup(p: Proc, sig: NodeJS.Signals): void {
  const pid = p.child.pid;
  if (pid === undefined) return;
  try { process.kill(-pid, sig); } catch { /* group gone */ }
}

function groupAlive(pgid: number): boolean {
  try { process.kill(-pgid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

// ---- small helpers -------------------------------------------------------------------------------

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function tail(file: string, lines = 25): string {
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch { return '(no output)'; }
  const all = text.trimEnd().split('\n');
  const out = all.slice(-lines).join('\n');
  return out === '' ? '(no output)' : out;
}

function run(cmd: string, args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, timeout: 20_000 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve();
    });
  });
}

/**
 * `n` TCP ports free on 127.0.0.1 (the first free for UDP too), for servers to be started on.
 * They are drawn below the kernel's ephemeral range (ip_local_port_range), which every bind to
 * port 0 and every outgoing connection on this machine draws from: between this check and the
 * server's bind, only a program naming the same port itself can take it. Whoever binds one later
 * still retries on EADDRINUSE, as startLab does.
 */
export async function freePorts(n: number): Promise<number[]> {
  const [ephemeralLow] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number) as [number];
  const [low, high] = [10_000, ephemeralLow - 1];
  if (high - low < 1000) throw new Error(`pebble-lab: too few ports below the ephemeral range (${ephemeralLow})`);
  for (let attempt = 0; attempt < 50; attempt++) {
    const ports = new Set<number>();
    while (ports.size < n) ports.add(low + Math.floor(Math.random() * (high - low + 1)));
    const picked = [...ports];
    const servers: Server[] = [];
    try {
      let free = true;
      for (const port of picked) {
        const s = createServer();
        servers.push(s);
        free = await new Promise<boolean>((resolve) => { s.once('error', () => resolve(false)); s.listen(port, '127.0.0.1', () => resolve(true)); });
        if (!free) break;
      }
      if (free && await udpFree(picked[0]!)) return picked;
    } finally {
      await Promise.all(servers.map((s) => new Promise<void>((r) => (s.listening ? s.close(() => r()) : r()))));
    }
  }
  throw new Error('pebble-lab: could not find free ports on 127.0.0.1');
}

function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createSocket('udp4');
    sock.once('error', () => { sock.close(); resolve(false); });
    sock.bind(port, '127.0.0.1', () => sock.close(() => resolve(true)));
  });
}

/**
 * The socket inodes listening on 127.0.0.1:`port` (TCP, state LISTEN) or bound there (UDP), from
 * /proc/net: to tell a port our server holds from one somebody else took first.
 */
function socketInodes(port: number, protocol: 'tcp' | 'udp'): Set<string> {
  const inodes = new Set<string>();
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of readFileSync(`/proc/net/${protocol}`, 'utf8').split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields[1] === local && (protocol === 'udp' || fields[3] === '0A') && fields[9] !== undefined) inodes.add(fields[9]);
  }
  return inodes;
}

/** Whether process `pid` holds the socket listening on (TCP) or bound to (UDP) 127.0.0.1:`port`. */
export function holdsPort(pid: number, port: number, protocol: 'tcp' | 'udp'): boolean {
  const inodes = socketInodes(port, protocol);
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      const target = /^socket:\[(\d+)\]$/.exec(readlinkSafe(`/proc/${pid}/fd/${fd}`))?.[1];
      if (target !== undefined && inodes.has(target)) return true;
    }
  } catch {
    // gone
  }
  return false;
}

function readlinkSafe(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return '';
  }
}

interface Response { status: number; body: string; }

function get(url: string, ca?: Buffer, timeoutMs = 2_000, body?: string): Promise<Response> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    // Pebble 2.10 refuses any request without a User-Agent (RFC 8555 section 6.1).
    const opts = { method: body === undefined ? 'GET' : 'POST', agent: false as const, timeout: timeoutMs, headers: { 'user-agent': 'pebble-lab' }, ...(ca ? { ca } : {}) };
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, opts, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

function tcpConnects(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    s.setTimeout(1_000, () => s.destroy(new Error('connect timeout')));
    s.once('connect', () => { s.end(); s.destroy(); resolve(); });
    s.once('error', reject);
  });
}

/** Sends a DNS A query for a random name over UDP; resolves when an answer comes back. */
function dnsAnswers(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const id = randomBytes(2);
    const labels = [`ready-${randomBytes(4).toString('hex')}`, 'lab', 'test'];
    const qname = Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0])]);
    const msg = Buffer.concat([id, Buffer.from([0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]), qname, Buffer.from([0, 1, 0, 1])]);
    const sock = createSocket('udp4');
    const timer = setTimeout(() => { sock.close(); reject(new Error('no DNS answer')); }, 500);
    sock.on('message', (m) => {
      if (m.length >= 2 && m[0] === id[0] && m[1] === id[1]) { clearTimeout(timer); sock.close(); resolve(); }
    });
    sock.on('error', (e) => { clearTimeout(timer); sock.close(); reject(e); });
    sock.send(msg, port, '127.0.0.1');
  });
}

// ---- the lab -------------------------------------------------------------------------------------

export async function startLab(opts: LabOptions = {}): Promise<Lab> {
  // A port picked free can be taken by someone else before the server binds it: the server then
  // dies of EADDRINUSE, or the port is found held by another program; try again on other ports.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (e) {
      if (attempt >= 10 || !/address already in use/i.test((e as Error).message)) throw e;
    }
  }
}

async function startOnce(opts: LabOptions): Promise<Lab> {
  const unavailable = labUnavailable();
  if (unavailable) throw new Error(`pebble-lab: ${unavailable}`);
  const nginx = findNginx()!;
  // npm test runs every lab with ACME_TEST_NONCE_REJECT=30: the whole end-to-end suite then
  // passes while Pebble rejects 30% of good nonces, as a flaky CA would.
  const nonceReject = opts.nonceReject ?? Number(process.env.ACME_TEST_NONCE_REJECT ?? 0);
  const authzReuse = opts.authzReuse ?? 50;
  for (const [k, v] of [['nonceReject', nonceReject], ['authzReuse', authzReuse]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 100) throw new Error(`pebble-lab: ${k} must be an integer 0..100, not ${v}`);
  }
  const alternateRoots = opts.alternateRoots ?? 0;
  if (!Number.isInteger(alternateRoots) || alternateRoots < 0) throw new Error(`pebble-lab: alternateRoots must be a non-negative integer, not ${alternateRoots}`);
  const validity = opts.certificateValidityPeriod;
  if (validity !== undefined && (!Number.isInteger(validity) || validity <= 0)) {
    throw new Error(`pebble-lab: certificateValidityPeriod must be a positive integer (seconds), not ${validity}`);
  }

  const dir = mkdtempSync(join(tmpdir(), 'pebble-lab-'));
  // The client under test may write challenges from a process that has dropped root.
  chmodSync(dir, 0o755);
  const tls = join(dir, 'tls');
  const logDir = join(dir, 'log');
  const nginxDir = join(dir, 'nginx');
  const www = join(dir, 'www');
  const challengeDir = join(www, '.well-known', 'acme-challenge');
  for (const d of [tls, logDir, nginxDir, challengeDir]) mkdirSync(d, { recursive: true, mode: 0o755 });
  chmodSync(challengeDir, 0o1777);

  const state = { procs: [] as Proc[], dir };
  liveLabs.add(state);
  hook();
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      await Promise.all(state.procs.map((p) => stopProc(p)));
      liveLabs.delete(state);
      if (liveLabs.size === 0) unhook();
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopped;
  };

  try {
    // ---- TLS: a throwaway CA and a leaf for 127.0.0.1 / localhost ----
    const caKey = join(tls, 'ca.key'); const caPem = join(tls, 'ca.pem');
    const key = join(tls, 'key.pem'); const csr = join(tls, 'cert.csr'); const cert = join(tls, 'cert.pem');
    const ext = join(tls, 'leaf.ext');
    await run('openssl', ['req', '-x509', '-new', '-nodes', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
      '-keyout', caKey, '-out', caPem, '-days', '30', '-subj', `/CN=pebble-lab throwaway TLS CA ${randomBytes(4).toString('hex')}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
      '-addext', 'subjectKeyIdentifier=hash'], tls);
    await run('openssl', ['req', '-new', '-nodes', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
      '-keyout', key, '-out', csr, '-subj', '/CN=localhost'], tls);
    writeFileSync(ext, [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth',
      'subjectAltName=IP:127.0.0.1,DNS:localhost,IP:::1',
      'subjectKeyIdentifier=hash',
      'authorityKeyIdentifier=keyid',
      '',
    ].join('\n'));
    await run('openssl', ['x509', '-req', '-in', csr, '-CA', caPem, '-CAkey', caKey, '-CAcreateserial',
      '-days', '30', '-extfile', ext, '-out', cert], tls);
    chmodSync(caPem, 0o644);
    const ca = readFileSync(caPem);

    // ---- ports ----
    const [dnsPort, challMgmtPort, acmePort, mgmtPort, httpPort, tlsPort] = (await freePorts(6)) as [number, number, number, number, number, number];

    // ---- configs ----
    const pebbleConfig = join(dir, 'pebble-config.json');
    writeFileSync(pebbleConfig, JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${acmePort}`,
        managementListenAddress: `127.0.0.1:${mgmtPort}`,
        certificate: cert,
        privateKey: key,
        httpPort,
        tlsPort, // nothing listens there: tls-alpn-01 validations just fail
        ocspResponderURL: '',
        externalAccountBindingRequired: opts.externalAccountMACKeys !== undefined,
        ...(opts.externalAccountMACKeys !== undefined ? { externalAccountMACKeys: opts.externalAccountMACKeys } : {}),
        // The default profile keeps the subject's common name, as Let's Encrypt's "classic" does
        // (Pebble's own default profile leaves it out).
        profiles: {
          default: { description: 'The default profile', validityPeriod: validity ?? DEFAULT_VALIDITY_S, promoteCommonName: true },
          ...opts.profiles,
        },
      },
    }, null, 2) + '\n');
    // One web server per address: the http-01 webroot, or proxies to signing services.
    const upstreams = opts.challengeUpstreams ?? [];
    const challengeLocation = upstreams.length === 0
      ? `alias ${challengeDir}/;\n      default_type text/plain;`
      : `proxy_pass http://signing_services;\n      proxy_set_header Host $http_host;\n      proxy_next_upstream error timeout http_404;`;
    const nginxConfig = (address: string, name: string): string => {
      const conf = join(nginxDir, `${name}.conf`);
      writeFileSync(conf, `# pebble-lab: ${upstreams.length === 0 ? 'http-01 webroot' : 'web server proxying challenges to signing services'}
user root;
worker_processes 1;
daemon off;
master_process on;
pid ${join(nginxDir, `${name}.pid`)};
error_log ${join(logDir, `${name}-error.log`)} info;
events { worker_connections 256; }
http {
  # Which signing services each challenge was asked of, and what each answered.
  log_format upstreams '$remote_addr "$request" $status upstream=$upstream_addr statuses=$upstream_status';
  access_log ${join(logDir, `${name}-access.log`)} upstreams;
  client_body_temp_path ${join(nginxDir, `${name}-body`)};
  proxy_temp_path ${join(nginxDir, `${name}-proxy`)};
  fastcgi_temp_path ${join(nginxDir, `${name}-fastcgi`)};
  uwsgi_temp_path ${join(nginxDir, `${name}-uwsgi`)};
  scgi_temp_path ${join(nginxDir, `${name}-scgi`)};
${upstreams.length === 0 ? '' : `  upstream signing_services {\n${upstreams.map((u) => `    server ${u};\n`).join('')}  }\n`}  server {
    listen ${address}:${httpPort};${opts.ipv6 === true && address === '127.0.0.1' ? `\n    listen [::1]:${httpPort};` : ''}
    server_name _;
    location /.well-known/acme-challenge/ {
      ${challengeLocation}
    }
    location / { return 404; }
  }
}
`);
      return conf;
    };
    const nginxConf = nginxConfig('127.0.0.1', 'nginx');
    const secondWebServer = upstreams.length === 0 ? null : '127.0.0.2';

    // ---- processes ----
    // A minimal environment: nothing from ours (proxies, PEBBLE_* knobs) leaks into the servers.
    const baseEnv = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: dir };
    const start = (name: string, cmd: string, args: string[], env: Record<string, string> = {}): Proc => {
      const log = join(logDir, `${name}.log`);
      const fd = openSync(log, 'a');
      let child: ChildProcess;
      try {
        child = spawn(cmd, args, { cwd: dir, env: { ...baseEnv, ...env }, stdio: ['ignore', fd, fd], detached: true });
      } finally {
        closeSync(fd);
      }
      const p: Proc = { name, child, log, exited: false, code: null, signal: null, done: Promise.resolve() };
      p.done = new Promise<void>((resolve) => {
        child.once('exit', (code, signal) => { p.exited = true; p.code = code; p.signal = signal; resolve(); });
        child.once('error', (err) => {
          if (child.pid === undefined) { // spawn failed: no exit event will come
            writeFileSync(log, `spawn ${cmd}: ${err.message}\n`, { flag: 'a' });
            p.exited = true; resolve();
          }
        });
      });
      child.unref(); // a lab somebody forgot to stop must not keep the process alive (the exit hook kills it)
      state.procs.push(p);
      return p;
    };
    const challtestsrv = start('challtestsrv', CHALLTESTSRV, [
      '-defaultIPv4', '127.0.0.1', '-defaultIPv6', '',
      '-dnsserver', `127.0.0.1:${dnsPort}`, '-doh', '', '-http01', '', '-https01', '', '-tlsalpn01', '',
      '-management', `127.0.0.1:${challMgmtPort}`,
    ]);
    const nginxProc = start('nginx', nginx, ['-e', join(logDir, 'nginx-error.log'), '-p', nginxDir, '-c', nginxConf]);
    const nginxB = secondWebServer === null ? null
      : start('nginx-b', nginx, ['-e', join(logDir, 'nginx-b-error.log'), '-p', nginxDir, '-c', nginxConfig(secondWebServer, 'nginx-b')]);
    const pebble = start('pebble', PEBBLE, ['-config', pebbleConfig, '-dnsserver', opts.dnsServer ?? `127.0.0.1:${dnsPort}`, '-strict'], {
      PEBBLE_VA_NOSLEEP: '1',
      PEBBLE_WFE_NONCEREJECT: String(nonceReject),
      PEBBLE_AUTHZREUSE: String(authzReuse),
      PEBBLE_ALTERNATE_ROOTS: String(alternateRoots),
    });

    const directoryUrl = `https://127.0.0.1:${acmePort}/dir`;
    const managementUrl = `https://127.0.0.1:${mgmtPort}`;
    const challtestsrvUrl = `http://127.0.0.1:${challMgmtPort}`;

    // ---- readiness ----
    const checks: { proc: Proc; what: string; check: () => Promise<void> }[] = [
      { proc: challtestsrv, what: `pebble-challtestsrv DNS on 127.0.0.1:${dnsPort}/udp`, check: () => dnsAnswers(dnsPort) },
      { proc: challtestsrv, what: `pebble-challtestsrv management on 127.0.0.1:${challMgmtPort}`, check: () => tcpConnects(challMgmtPort) },
      { proc: nginxProc, what: `nginx on http://127.0.0.1:${httpPort}/`, check: async () => { await get(`http://127.0.0.1:${httpPort}/`); } },
      ...(nginxB === null ? [] : [{ proc: nginxB, what: `nginx on http://${secondWebServer}:${httpPort}/`, check: async () => { await get(`http://${secondWebServer}:${httpPort}/`); } }]),
      { proc: pebble, what: `pebble directory ${directoryUrl}`, check: async () => {
        const r = await get(directoryUrl, ca);
        if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
      } },
      { proc: pebble, what: `pebble management ${managementUrl}/roots/0`, check: async () => {
        const r = await get(`${managementUrl}/roots/0`, ca);
        if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
      } },
    ];
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (const c of checks) {
      let lastErr = '';
      for (;;) {
        const dead = state.procs.find((p) => p.exited);
        if (dead) {
          throw new Error(`pebble-lab: ${dead.name} exited early (${dead.signal ?? `status ${dead.code}`}); its output:\n${tail(dead.log)}`
            + (dead === nginxProc ? `\nnginx error log:\n${tail(join(logDir, 'nginx-error.log'))}` : ''));
        }
        try { await c.check(); break; } catch (e) { lastErr = (e as Error).message; }
        if (Date.now() > deadline) {
          throw new Error(`pebble-lab: ${c.what} not ready after ${READY_TIMEOUT_MS / 1000} s (last error: ${lastErr}); `
            + `${c.proc.name}'s output:\n${tail(c.proc.log)}`);
        }
        await sleep(POLL_MS);
      }
    }

    // A port picked free may have been taken by another program before our server bound it; then
    // the readiness checks above may have been answered by that program. Each port must be held
    // by our own server, or the lab is started again on other ports.
    const owners: [Proc, number, 'tcp' | 'udp'][] = [
      [challtestsrv, dnsPort, 'udp'], [challtestsrv, challMgmtPort, 'tcp'], [nginxProc, httpPort, 'tcp'], [pebble, acmePort, 'tcp'], [pebble, mgmtPort, 'tcp'],
    ];
    for (const [proc, port, protocol] of owners) {
      if (!holdsPort(proc.child.pid as number, port, protocol)) {
        throw new Error(`pebble-lab: 127.0.0.1:${port}/${protocol} is not ${proc.name}'s: address already in use by another program`);
      }
    }

    const pebbleLog = pebble.log;
    const requestLog = (): string => { try { return readFileSync(pebbleLog, 'utf8'); } catch { return ''; } };
    const mgmtGet = async (path: string): Promise<Response> => get(`${managementUrl}${path}`, ca, 10_000);
    return {
      dir, directoryUrl, managementUrl, tlsCaFile: caPem, challengeDir, challtestsrvUrl, httpPort, dnsPort, logDir, secondWebServer,
      resolveTo: async (name: string, address: string) => {
        const r = await get(`${challtestsrvUrl}/add-a`, undefined, 10_000, JSON.stringify({ host: `${name}.`, addresses: [address] }));
        if (r.status !== 200) throw new Error(`pebble-lab: POST ${challtestsrvUrl}/add-a: HTTP ${r.status}: ${r.body}`);
      },
      pids: state.procs.map((p) => p.child.pid!),
      killPebble: () => {
        try {
          process.kill(-pebble.child.pid!, 'SIGKILL');
        } catch {
          // already gone
        }
      },
      requestLog,
      requestCount: () => requestLog().split('\n').filter((l) => REQUEST_LINE.test(l)).length,
      requests: () => requestLog().split('\n').flatMap((l) => {
        const m = REQUEST_LINE.exec(l);
        return m === null ? [] : [{ method: m[1] as string, path: m[2] as string }];
      }),
      issuerPems: async () => {
        const parts: string[] = [];
        for (const path of ['/roots/0', '/intermediates/0']) {
          const r = await mgmtGet(path);
          if (r.status !== 200) throw new Error(`pebble-lab: GET ${managementUrl}${path}: HTTP ${r.status}: ${r.body}`);
          parts.push(r.body.endsWith('\n') ? r.body : r.body + '\n');
        }
        return parts.join('');
      },
      rootPem: async (index: number) => {
        const r = await mgmtGet(`/roots/${index}`);
        if (r.status !== 200) throw new Error(`pebble-lab: GET ${managementUrl}/roots/${index}: HTTP ${r.status}: ${r.body}`);
        return r.body;
      },
      setRenewalInfo: async (certPem, window) => {
        const ariResponse = JSON.stringify({
          suggestedWindow: { start: window.start.toISOString(), end: window.end.toISOString() },
          ...(window.explanationURL === undefined ? {} : { explanationURL: window.explanationURL }),
        });
        const r = await get(`${managementUrl}/set-renewal-info/`, ca, 10_000, JSON.stringify({ certificate: certPem, ariResponse }));
        if (r.status !== 200) throw new Error(`pebble-lab: POST ${managementUrl}/set-renewal-info/: HTTP ${r.status}: ${r.body}`);
      },
      certStatus: async (serialHex: string) => {
        const serial = serialHex.trim().replace(/^0x/i, '').replace(/[:\s]/g, '');
        if (!/^[0-9a-f]+$/i.test(serial)) throw new Error(`pebble-lab: not a hex serial: ${serialHex}`);
        const r = await mgmtGet(`/cert-status-by-serial/${serial}`);
        if (r.status !== 200) {
          throw Object.assign(new Error(`pebble-lab: GET ${managementUrl}/cert-status-by-serial/${serial}: HTTP ${r.status}: ${r.body}`), { status: r.status });
        }
        return JSON.parse(r.body) as unknown;
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** SIGTERM the process group, SIGKILL it after a grace period, and wait until the group is gone. */
async function stopProc(p: Proc): Promise<void> {
  const pid = p.child.pid;
  if (pid === undefined) return;
  p.child.ref(); // keep the event loop alive while waiting for the exit event
  killGroup(p, 'SIGTERM');
  const timer = setTimeout(() => killGroup(p, 'SIGKILL'), STOP_GRACE_MS);
  await p.done;
  clearTimeout(timer);
  // The leader is reaped; make sure nothing else of its group (nginx's worker) outlives it.
  for (let i = 0; groupAlive(pid); i++) {
    killGroup(p, 'SIGKILL');
    if (i > 200) break; // left to init to reap (a zombie cannot be killed any further)
    await sleep(10);
  }
  p.child.unref();
}
