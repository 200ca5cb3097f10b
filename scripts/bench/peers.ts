// The clients the bench runs: ids, Debian packages, and how each one is set up and run for each case.
// To add a peer: its id in CLIENT_IDS, its packages in PACKAGE, why it has no ARI no-op in NO_ARI, and
// its entry in makeClients.
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type CaseId } from './cases.js';
import { ROOT, CLI, UACME_HOOK, PATH_ENV, EMAIL, NAME1, NAMES100, have, installed, runSync, debVersion } from './common.js';
import { readPackageVersion } from './lab.js';
import { type RunSpec, type Ctx } from './measure.js';
export const CLIENT_IDS = ['acme-client', 'acme-client-rsa', 'node-acme-client', 'uacme', 'lego', 'certbot', 'dehydrated', 'acme-tiny', 'lacme'] as const;
export type ClientId = (typeof CLIENT_IDS)[number];
/** Our client with an EC P-256 account key (the coming default): the row the ratios divide. */
export const OURS = 'acme-client' as const;
/** Our client with an RSA-4096 account key: every request it signs costs an RSA signature. */
export const OURS_RSA = 'acme-client-rsa' as const;
export const isOurs = (id: string): boolean => id === OURS || id === OURS_RSA;
/** The npm acme-client library, installed as the devDependency node-acme-client (an npm alias). */
const NODE_PEER = 'node-acme-client' as const;
const NODE_PEER_DIR = join(ROOT, 'node_modules', 'node-acme-client');
const NODE_PEER_DRIVER = join(ROOT, 'build', 'scripts', 'bench-node-peer.cjs');
export type DebianPeer = Exclude<ClientId, typeof OURS | typeof OURS_RSA | typeof NODE_PEER>;
/** Debian packages of each peer (installed without their Recommends), each with a file it brings. */
export const PACKAGE: Record<DebianPeer, { pkg: string; bin?: string }[]> = {
  uacme: [{ pkg: 'uacme', bin: '/usr/bin/uacme' }],
  lego: [{ pkg: 'lego', bin: '/usr/bin/lego' }],
  certbot: [{ pkg: 'certbot', bin: '/usr/bin/certbot' }],
  dehydrated: [{ pkg: 'dehydrated', bin: '/usr/bin/dehydrated' }],
  'acme-tiny': [{ pkg: 'acme-tiny', bin: '/usr/bin/acme-tiny' }],
  // lacme only recommends what it cannot work without: its account-key daemon (which only
  // recommends its RSA module) and LWP's https.
  lacme: [{ pkg: 'lacme', bin: '/usr/sbin/lacme' }, { pkg: 'lacme-accountd', bin: '/usr/bin/lacme-accountd' },
    { pkg: 'libcrypt-openssl-rsa-perl' }, { pkg: 'liblwp-protocol-https-perl' }],
};
/** Why a peer has no ARI no-op, as checked on this machine's versions (its options, and renewalInfo in its program). */
export const NO_ARI: Record<Exclude<ClientId, typeof OURS | typeof OURS_RSA>, string> = {
  'node-acme-client': 'renewalInfo appears nowhere in the library',
  uacme: 'renewalInfo appears nowhere in the program',
  lego: '`lego renew --help` offers no ARI option: this version predates lego\'s ARI support',
  certbot: 'ARI came in certbot 4.1.0',
  dehydrated: 'renewalInfo appears nowhere in the script',
  'acme-tiny': 'no renewal logic at all',
  lacme: 'renewalInfo appears nowhere in the program',
};
/** Peers that take minutes on 100 names (one authorization after another, with back-off). */
export const SLOW100: Partial<Record<ClientId, string>> = {
  lego: 'lego waits 5 s per authorization when the CA sends no Retry-After: about 390 s for 100 names',
  dehydrated: 'dehydrated validates one name after another in bash: about 140 s for 100 names',
};

// ---- 6. the clients ----------------------------------------------------------------------------

export interface Client {
  id: ClientId;
  label: string;
  dir: string;
  trust: string;
  /** Why a case is not applicable. */
  na: Partial<Record<CaseId, string>>;
  setup(): Promise<void>;
  spec(c: CaseId): RunSpec;
  /** The certificate file a case leaves (issue1, issue100), for checks and the serial to revoke. */
  certFile(c: 'issue1' | 'issue100'): string;
  /** Untimed, before an issuance (uacme). */
  beforeIssue?(c: 'issue1' | 'issue100'): void;
  /** The cases it is in (default: all); the others get no row at all. */
  cases?: CaseId[];
  /** Its label in one case's table, where it says more than the client's label. */
  caseLabel?: Partial<Record<CaseId, string>>;
  /** Our client: an issuance with -vv, whose stderr is stamped to time each request. */
  traced?(c: 'issue1' | 'issue100'): RunSpec;
  /** Our client: the no-op that asks the CA's renewalInfo, in a certificate directory of its own issued through the ARI proxy. */
  noopAri?: { certs: string; issue: RunSpec; run(vv: boolean): RunSpec; certId: string | null };
  setupError?: string;
  b1Valid: boolean;
}

function ecKey(path: string): void {
  runSync(['openssl', 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path]);
  chmodSync(path, 0o600);
}

export function rsaKey(path: string, bits: number): void {
  runSync(['openssl', 'genpkey', '-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${bits}`, '-out', path]);
  chmodSync(path, 0o600);
}

function csr(key: string, out: string, names: string[]): void {
  runSync(['openssl', 'req', '-new', '-key', key, '-subj', `/CN=${names[0]}`, '-addext', `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`, '-out', out]);
}

/**
 * How our client trusts the lab's CA: SSL_CERT_FILE, which netproc's OpenSSL store reads when it
 * first needs it, as acme-tiny is pointed at it. Not NODE_EXTRA_CA_CERTS: Node 20 reads that at the
 * start of every process and parses its whole root store, a cost no production run pays.
 */
export function ourEnv(ctx: Ctx): Record<string, string> {
  return { PATH: PATH_ENV, SSL_CERT_FILE: ctx.lab.tlsCaFile };
}

export function makeClients(ctx: Ctx): Client[] {
  const url = ctx.lab.directoryUrl;
  const ch = ctx.lab.challengeDir;
  const ca = ctx.lab.tlsCaFile;
  const names = (c: 'issue1' | 'issue100'): string[] => (c === 'issue1' ? [NAME1] : NAMES100);
  const clientDir = (id: string): string => {
    const d = join(ctx.work, id);
    mkdirSync(d, { recursive: true, mode: 0o755 });
    chmodSync(d, 0o755);
    return d;
  };
  const base = (id: ClientId, label: string, trust: string): Omit<Client, 'setup' | 'spec' | 'certFile'> => ({
    id, label, dir: clientDir(id), trust, na: {}, b1Valid: false,
  });
  const version = (pkg: string): string => debVersion(pkg) ?? '?';
  const clients: Client[] = [];

  for (const id of ctx.args.clients) {
    if (id === OURS || id === OURS_RSA) {
      const rsa = id === OURS_RSA;
      const b = base(id, `acme-client ${readPackageVersion()} (this, Node ${process.version}), ${rsa ? 'RSA-4096' : 'EC P-256'} account key`, 'SSL_CERT_FILE (see ourEnv)');
      const d = b.dir;
      const env = ourEnv(ctx);
      const acct = join(d, 'account.key');
      const sub = (c: 'issue1' | 'issue100') => ({ certs: join(d, c, 'certs'), key: join(d, c, 'private', 'domain.key') });
      const cmd = (c: 'issue1' | 'issue100', flags: string[]): string[] =>
        [ctx.args.nodeBin, CLI, ...flags, '--server', url, '-C', ch, '-c', sub(c).certs, '-f', acct, '-k', sub(c).key, ...names(c)];
      // The ARI no-op: b1 again, in directories of its own, through the proxy (the same account).
      const ari = { certs: join(d, 'ari', 'certs'), key: join(d, 'ari', 'private', 'domain.key') };
      const ariProxy = rsa ? null : ctx.ari;
      const ariCmd = (server: string, flags: string[]): string[] =>
        [ctx.args.nodeBin, CLI, ...flags, '--server', server, '-C', ch, '-c', ari.certs, '-f', acct, '-k', ari.key, NAME1];
      clients.push({
        ...b,
        // The no-op reads no account key: one row of each kind, with the EC client.
        ...(rsa ? { cases: ['issue1', 'issue100', 'revoke'] as CaseId[] } : { caseLabel: { noop: `acme-client ${readPackageVersion()} (this): no-op decided locally (no CA request)` } }),
        traced: (c) => ({ argv: cmd(c, ['-F', '-vv']), env, cwd: d, expect: 0, perProcess: true, perRequest: true }),
        ...(ariProxy ? {
          noopAri: {
            certs: ari.certs,
            issue: { argv: ariCmd(ariProxy.directoryUrl, []), env, cwd: d, expect: 0 },
            run: (vv: boolean) => ({ argv: ariCmd(ariProxy.directoryUrl, vv ? ['-vv'] : []), env, cwd: d, expect: 2, perProcess: true, perRequest: vv }),
            certId: null,
          },
        } : {}),
        async setup() {
          if (rsa) rsaKey(acct, 4096); else ecKey(acct);
          for (const { certs, key } of [sub('issue1'), sub('issue100'), ...(ariProxy ? [ari] : [])]) {
            mkdirSync(certs, { recursive: true, mode: 0o755 });
            mkdirSync(dirname(key), { recursive: true, mode: 0o700 });
            ecKey(key);
          }
        },
        spec(c) {
          switch (c) {
            case 'issue1': case 'issue100': return { argv: cmd(c, ['-F']), env, cwd: d, expect: 0, perProcess: true };
            // --no-ari: Pebble 2.10 offers renewalInfo, and this row is the no-op decided locally.
            case 'noop': return { argv: cmd('issue1', ['--no-ari']), env, cwd: d, expect: 2, perProcess: true };
            case 'revoke': return { argv: cmd('issue1', ['-r']), env, cwd: d, expect: 0 };
          }
        },
        certFile: (c) => join(sub(c).certs, 'cert.pem'),
      });
      continue;
    }
    if (id === NODE_PEER) {
      let version = '?';
      try { version = (JSON.parse(readFileSync(join(NODE_PEER_DIR, 'package.json'), 'utf8')) as { version: string }).version; } catch { /* not installed */ }
      const b = base(id, `node acme-client ${version} (npm library, auto mode; Node ${process.version})`,
        'its driver gives the CA to Node\'s global HTTPS agent, which the library\'s axios uses (see scripts/bench-node-peer.cts)');
      if (!have(join(NODE_PEER_DIR, 'package.json')) || !have(NODE_PEER_DRIVER)) {
        clients.push({ ...b, setupError: 'not installed (the devDependency node-acme-client is missing: npm install)',
          async setup() { /* nothing */ }, spec: () => { throw new Error('unavailable'); }, certFile: () => '' });
        continue;
      }
      const d = b.dir;
      const env = { PATH: PATH_ENV, HOME: d };
      const acct = join(d, 'account.key');
      const cert = (c: 'issue1' | 'issue100'): string => join(d, `${c}.crt`);
      const key = (c: 'issue1' | 'issue100'): string => join(d, `${c}.key`);
      const run = (mode: string, c: 'issue1' | 'issue100'): string[] => [ctx.args.nodeBin, NODE_PEER_DRIVER, '--server', url, '--ca', ca,
        '--account-key', acct, '--account-url', join(d, 'account.url'), '--domain-key', key(c), '--cert', cert(c), '--challenge-dir', ch, mode,
        ...(mode === 'revoke' ? [] : names(c))];
      clients.push({
        ...b,
        caseLabel: { noop: `node acme-client ${version}: the driver's 30-day rule on the library's readCertificateInfo (the library has no renewal rule)` },
        async setup() {
          ecKey(acct);
          for (const c of ['issue1', 'issue100'] as const) ecKey(key(c));
        },
        spec(c) {
          switch (c) {
            case 'issue1': case 'issue100': return { argv: run('issue', c), env, cwd: d, expect: 0 };
            case 'noop': return { argv: run('renew', 'issue1'), env, cwd: d, expect: 2 };
            case 'revoke': return { argv: run('revoke', 'issue1'), env, cwd: d, expect: 0 };
          }
        },
        certFile: cert,
      });
      continue;
    }
    const missing = PACKAGE[id].filter((p) => !installed(p));
    if (missing.length > 0) {
      const b = base(id, id, '—');
      clients.push({ ...b, setupError: `not installed (Debian package ${missing.map((m) => m.pkg).join(', ')} missing)`,
        async setup() { /* nothing */ }, spec: () => { throw new Error('unavailable'); }, certFile: () => '' });
      continue;
    }
    const label = `${id} ${version(PACKAGE[id][0]!.pkg)}`;
    switch (id) {
      case 'uacme': {
        const b = base(id, label, 'system CA bundle (bind-mounted: libcurl-gnutls reads no variable)');
        const d = b.dir;
        const conf = join(d, 'conf');
        const env = { PATH: PATH_ENV, HOME: d, UACME_CHALLENGE_PATH: ch };
        const u = ['uacme', '-a', url, '-c', conf, '-t', 'EC'];
        const cert = (c: 'issue1' | 'issue100'): string => join(conf, names(c)[0]!, 'cert.pem');
        clients.push({
          ...b,
          async setup() {
            if (!ctx.isolated) throw new Error('needs the lab CA in the system bundle, which is only done inside the bench namespace');
            if (!have(UACME_HOOK)) throw new Error(`${UACME_HOOK} missing`);
            runSync([...u, '-y', 'new', EMAIL], { env, cwd: d, log: join(d, 'setup.log') });
          },
          spec(c) {
            switch (c) {
              case 'issue1': case 'issue100': return { argv: [...u, '-h', UACME_HOOK, '-f', 'issue', ...names(c)], env, cwd: d, expect: 0 };
              case 'noop': return { argv: [...u, '-h', UACME_HOOK, 'issue', NAME1], env, cwd: d, expect: 1 };
              case 'revoke': return { argv: [...u, 'revoke', cert('issue1')], env, cwd: d, expect: 0 };
            }
          },
          certFile: cert,
          // uacme backs the old certificate up as cert-<unix seconds>.pem with link(2) and fails when
          // two issuances fall in one second: remove it first (untimed).
          beforeIssue(c) { rmSync(cert(c), { force: true }); },
        });
        break;
      }
      case 'lego': {
        const b = base(id, label, 'LEGO_CA_CERTIFICATES');
        const d = b.dir;
        const env = { PATH: PATH_ENV, HOME: d, LEGO_CA_CERTIFICATES: ca };
        const l = ['lego', '--server', url, '--email', EMAIL, '--accept-tos', '--path', join(d, 'data')];
        const http = ['--http', '--http.webroot', ctx.webroot];
        const dom = (c: 'issue1' | 'issue100'): string[] => names(c).flatMap((n) => ['-d', n]);
        clients.push({
          ...b,
          async setup() { /* lego registers on its first run */ },
          spec(c) {
            switch (c) {
              case 'issue1': case 'issue100': return { argv: [...l, ...http, ...dom(c), 'run'], env, cwd: d, expect: 0 };
              case 'noop': return { argv: [...l, ...http, ...dom('issue1'), 'renew', '--days', '30'], env, cwd: d, expect: 0 };
              case 'revoke': return { argv: [...l, ...dom('issue1'), 'revoke'], env, cwd: d, expect: 0 };
            }
          },
          certFile: (c) => join(d, 'data', 'certificates', `${names(c)[0]}.crt`),
        });
        break;
      }
      case 'certbot': {
        const b = base(id, label, 'REQUESTS_CA_BUNDLE');
        const d = b.dir;
        const env = { PATH: PATH_ENV, HOME: d, REQUESTS_CA_BUNDLE: ca };
        const cb = ['certbot', '--config-dir', join(d, 'etc'), '--work-dir', join(d, 'work'), '--logs-dir', join(d, 'logs'), '--server', url, '--non-interactive'];
        const lineage = (c: 'issue1' | 'issue100'): string => (c === 'issue1' ? 'one' : 'hundred');
        clients.push({
          ...b,
          async setup() {
            runSync([...cb, 'register', '--agree-tos', '-m', EMAIL, '--no-eff-email'], { env, cwd: d, log: join(d, 'setup.log') });
          },
          spec(c) {
            switch (c) {
              case 'issue1': case 'issue100':
                return { argv: [...cb, 'certonly', '--webroot', '-w', ctx.webroot, '--cert-name', lineage(c), ...names(c).flatMap((n) => ['-d', n]), '--force-renewal'], env, cwd: d, expect: 0 };
              case 'noop': return { argv: [...cb, 'renew', '--cert-name', 'one', '--no-random-sleep-on-renew'], env, cwd: d, expect: 0 };
              case 'revoke': return { argv: [...cb, 'revoke', '--cert-name', 'one', '--delete-after-revoke'], env, cwd: d, expect: 0 };
            }
          },
          certFile: (c) => join(d, 'etc', 'live', lineage(c), 'cert.pem'),
        });
        break;
      }
      case 'dehydrated': {
        const b = base(id, label, 'CURL_CA_BUNDLE');
        const d = b.dir;
        const cfg = join(d, 'config');
        const env = { PATH: PATH_ENV, HOME: d, CURL_CA_BUNDLE: ca };
        const cert = (c: 'issue1' | 'issue100'): string => join(d, 'certs', names(c)[0]!, 'cert.pem');
        clients.push({
          ...b,
          async setup() {
            writeFileSync(cfg, [`CA="${url}"`, `BASEDIR="${d}"`, `WELLKNOWN="${ch}"`, `CONTACT_EMAIL=${EMAIL}`, 'KEY_ALGO=prime256v1', 'RENEW_DAYS=30', ''].join('\n'));
            runSync(['dehydrated', '-f', cfg, '--register', '--accept-terms'], { env, cwd: d, log: join(d, 'setup.log') });
          },
          spec(c) {
            switch (c) {
              case 'issue1': case 'issue100': return { argv: ['dehydrated', '-f', cfg, '-c', '--force', ...names(c).flatMap((n) => ['-d', n])], env, cwd: d, expect: 0 };
              case 'noop': return { argv: ['dehydrated', '-f', cfg, '-c', '-d', NAME1], env, cwd: d, expect: 0 };
              case 'revoke': return { argv: ['dehydrated', '-f', cfg, '-r', cert('issue1')], env, cwd: d, expect: 0 };
            }
          },
          certFile: cert,
        });
        break;
      }
      case 'acme-tiny': {
        const b = base(id, label, 'SSL_CERT_FILE');
        const d = b.dir;
        const env = { PATH: PATH_ENV, HOME: d, SSL_CERT_FILE: ca };
        const file = (c: 'issue1' | 'issue100', ext: string): string => join(d, `${c}.${ext}`);
        clients.push({
          ...b,
          na: {
            noop: 'acme-tiny has no renewal logic (a cron wrapper checks expiry itself, e.g. openssl x509 -checkend)',
            revoke: 'acme-tiny cannot revoke',
          },
          async setup() {
            rsaKey(join(d, 'account.key'), 2048); // acme-tiny wants an RSA account key
            for (const c of ['issue1', 'issue100'] as const) { ecKey(file(c, 'key')); csr(file(c, 'key'), file(c, 'csr'), names(c)); }
          },
          spec(c) {
            if (c === 'noop' || c === 'revoke') throw new Error('n/a');
            // --disable-check: its own pre-check fetches http://NAME/ on port 80, which is not where the lab serves.
            return { argv: ['acme-tiny', '--account-key', join(d, 'account.key'), '--csr', file(c, 'csr'), '--acme-dir', ch, '--disable-check', '--directory-url', url, '--quiet'],
              env, cwd: d, expect: 0, stdout: file(c, 'crt') };
          },
          certFile: (c) => file(c, 'crt'),
        });
        break;
      }
      case 'lacme': {
        const b = base(id, label, 'system CA bundle (bind-mounted: lacme clears its environment)');
        const d = b.dir;
        const env = { PATH: PATH_ENV, HOME: d };
        const lc = ['lacme', `--config=${join(d, 'lacme.conf')}`, '--quiet'];
        const section = (c: 'issue1' | 'issue100'): string => (c === 'issue1' ? 'one' : 'hundred');
        const cert = (c: 'issue1' | 'issue100'): string => join(d, 'certs', `${section(c)}.pem`);
        clients.push({
          ...b,
          async setup() {
            if (!ctx.isolated) throw new Error('needs the lab CA in the system bundle, which is only done inside the bench namespace');
            mkdirSync(join(d, 'certs'), { mode: 0o755 });
            rsaKey(join(d, 'account.key'), 2048);
            for (const c of ['issue1', 'issue100'] as const) ecKey(join(d, 'certs', `${section(c)}.key`));
            writeFileSync(join(d, 'pebble-roots.pem'), ctx.pebbleRoots);
            writeFileSync(join(d, 'accountd.conf'), `privkey = file:${join(d, 'account.key')}\nquiet = Yes\n`);
            writeFileSync(join(d, 'lacme.conf'), [
              `config-certs = ${join(d, 'lacme-certs.conf')}`, '[client]', `server = ${url}`,
              '[webserver]', 'listen =', `challenge-directory = ${ch}`,
              '[accountd]', `config = ${join(d, 'accountd.conf')}`, 'quiet = Yes', ''].join('\n'));
            const sec = (c: 'issue1' | 'issue100'): string => [`[${section(c)}]`, `certificate-key = ${join(d, 'certs', `${section(c)}.key`)}`,
              `certificate-chain = ${cert(c)}`, `subject = /CN=${names(c)[0]}`, `subjectAltName = ${names(c).map((n) => `DNS:${n}`).join(',')}`].join('\n');
            writeFileSync(join(d, 'lacme-certs.conf'), ['min-days = 30', `CAfile = ${join(d, 'pebble-roots.pem')}`, sec('issue1'), sec('issue100'), ''].join('\n'));
            runSync([...lc, 'account', '--register', '--tos-agreed', `mailto:${EMAIL}`], { env, cwd: d, log: join(d, 'setup.log') });
          },
          spec(c) {
            switch (c) {
              case 'issue1': case 'issue100': return { argv: [...lc, 'newOrder', '--force', section(c)], env, cwd: d, expect: 0 };
              case 'noop': return { argv: [...lc, 'newOrder', 'one'], env, cwd: d, expect: 0 };
              case 'revoke': return { argv: [...lc, 'revokeCert', cert('issue1')], env, cwd: d, expect: 0 };
            }
          },
          certFile: cert,
        });
        break;
      }
    }
  }
  return clients;
}
