// What the parent hands each child at start: its file descriptors (fixed numbers, as the C
// original's FDS_*) and its configuration, passed as one JSON argument. The parent is the only
// writer of both; children still check the configuration's shape before using it.

import * as c from '../check.js';
import { KEY_TYPES, type KeyType } from '../x509/keytypes.js';

export type Role = 'netproc' | 'acctproc' | 'keyproc' | 'chngproc' | 'certproc' | 'fileproc';
/** Children of acme-client-server's own; the ACME work is acme-client's, run per order. */
export type ServerRole = 'frontproc';
export type AnyRole = Role | ServerRole;

/**
 * Descriptor numbers of each channel in the child that holds it. The lifeline is a pipe whose
 * other end only the parent holds: when the parent dies, even by SIGKILL, every child reads EOF
 * there and ends, so none outlives the run.
 */
export const FD = {
  netproc: { acct: 3, key: 4, chng: 5, cert: 6, lifeline: 7 },
  acctproc: { net: 3, lifeline: 4 },
  keyproc: { net: 3, lifeline: 4 },
  chngproc: { net: 3, lifeline: 4 },
  certproc: { net: 3, file: 4, lifeline: 5 },
  fileproc: { cert: 3, lifeline: 4 },
  // frontproc's listening sockets come once, over a Node 'ipc' channel closed right after.
  frontproc: { parent: 3, lifeline: 4, sockets: 5 },
} as const;

export interface NetConfig {
  directoryUrl: string; names: string[]; challengeType: string; external: boolean; agreement: string | null; revoke: boolean; userAgent: string;
  /** --profile, checked against the directory's meta.profiles before the order. */
  profile: string | null;
  /** ARI (RFC 9773) is on: a renewal order names the certificate it replaces. */
  ari: boolean;
  /** -O: a CA that refuses must-staple at finalize is answered with advice to drop it. */
  mustStaple: boolean;
  /** Per HTTP request, connection included (--timeout). */
  requestTimeoutMs: number;
  /** From the first authorization fetched to the certificate (--poll-timeout). */
  pollTimeoutMs: number;
  /** --csr: the request and its names come with certproc's verdict; there is no keyproc. */
  requestFromCertproc: boolean;
  /** --register: the account and nothing else; only acctproc is there. */
  registerOnly: boolean;
  /** --persist-records: the account, an order to learn the CA's issuer domain name, the records printed; only acctproc is there. */
  persistRecords: boolean;
  /** -t dns-persist-01 --dns-server: the resolver asked for the records (ADDRESS:PORT); null, the system's. */
  dnsServer: string | null;
  verbose: number;
  /** --ca-file: trusted for the CA's API besides the system store, read before netproc drops root. */
  caFile: string | null;
  /** --contact: the account's contact URIs; empty leaves an existing account's as they are. */
  contact: string[];
  /** --accept-terms (--register): the directory's meta.termsOfService must be one of these; empty: whatever it is. */
  acceptTerms: string[];
  /** --preferred-chain: the issuer CN of the topmost certificate of the chain to keep. */
  preferredChain: string | null;
  /** --rollover-account-key: change the account's key, and nothing else; only acctproc is there. */
  rolloverAccountKey: boolean;
  /**
   * The run will sign requests, as the parent knew when it started netproc (-F, -r, no certificate
   * yet, or certproc's "work"): the first nonce is asked for beside the directory.
   */
  signs: boolean;
}
export interface AcctConfig {
  keyFile: string; create: boolean; verbose: number;
  /** What -n makes. */
  keyType: KeyType;
  /** --eab-kid and --eab-hmac-key-file: the file is read by acctproc alone, before it drops root. */
  eab: { kid: string; keyFile: string } | null;
  /** --rollover-account-key: the new key's file, and whether -n is to make it. */
  rollover: { newKeyFile: string; create: boolean } | null;
}
export interface KeyConfig {
  keyFile: string; create: boolean; names: string[]; mustStaple: boolean; verbose: number;
  /** What -N makes. */
  keyType: KeyType;
}
export interface ChngConfig { challengeDir: string | null; challengeType: string; verbose: number }
/**
 * The names, in certDir, of the files a certificate is kept in: cert.pem, chain.pem and
 * fullchain.pem on the command line; acme-client.conf(5) names its own, and may leave out the
 * chain, or one of the certificate and the full chain. `state` is the renewal state's file.
 */
export interface CertFiles { cert: string | null; chain: string | null; fullchain: string | null; state: string }

/** The certificate files there are, and the state file. */
export function certFileNames(files: CertFiles): string[] {
  return [files.cert, files.chain, files.fullchain, files.state].filter((name): name is string => name !== null);
}

export interface CertConfig {
  certDir: string; files: CertFiles; names: string[]; expand: boolean; force: boolean; revoke: boolean;
  /** acme-client.conf: a certificate with names the block no longer lists is renewed too (OpenBSD's "domain list changed"), not refused. */
  renewOnDroppedNames: boolean;
  /** ARI on (not --no-ari): the CA's renewal window decides when it offers one. */
  ari: boolean;
  /** Which CA the renewal state file's answers came from. */
  directoryUrl: string;
  /** --csr: the request certproc reads and checks, whose names and key the certificate must have. */
  csrFile: string | null;
  verbose: number;
}
/** dated: keep each new certificate as cert-<UTC time>.pem too; keep: how many such sets (0: all). */
export interface FileConfig { certDir: string; files: CertFiles; backup: boolean; dated: boolean; keep: number; verbose: number }

export interface FrontConfig {
  /** What each socket handed over serves, in the order they come. */
  listeners: ('sign' | 'challenge')[];
  /** [mgmt] max-size: a longer body is refused (413) before it is read. */
  maxSize: number;
  /** [mgmt] header-timeout, in seconds. */
  headerTimeout: number;
  /** [mgmt] max-connections, on each listener. */
  maxConnections: number;
  verbose: number;
}

export interface RoleConfig {
  netproc: NetConfig;
  acctproc: AcctConfig;
  keyproc: KeyConfig;
  chngproc: ChngConfig;
  certproc: CertConfig;
  fileproc: FileConfig;
}
export type ChildConfig = RoleConfig & { frontproc: FrontConfig };

function verbose(m: c.Fields): number {
  return c.integer(m, 'verbose');
}

function externalAccountBinding(m: c.Fields): { kid: string; keyFile: string } {
  return { kid: c.string(m, 'kid', 1024), keyFile: c.string(m, 'keyFile') };
}

/** A file name alone: the files are in certDir, and nowhere else. */
function fileName(m: c.Fields, key: string, optional: boolean): string | null {
  const name = optional ? c.optionalString(m, key, 255) : c.string(m, key, 255);
  if (name !== null && (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0'))) throw new c.ShapeError(`${key} is not a file name`);
  return name;
}

function certFiles(config: c.Fields): CertFiles {
  if (config.files === undefined) throw new c.ShapeError('files is missing');
  const m = c.object(config.files, 'files');
  const files = { cert: fileName(m, 'cert', true), chain: fileName(m, 'chain', true), fullchain: fileName(m, 'fullchain', true), state: fileName(m, 'state', false) as string };
  if (files.cert === null && files.fullchain === null) throw new c.ShapeError('files has neither cert nor fullchain');
  return files;
}

function rollover(m: c.Fields): { newKeyFile: string; create: boolean } {
  return { newKeyFile: c.string(m, 'newKeyFile'), create: c.boolean(m, 'create') };
}

export const parseConfig: { [R in AnyRole]: (v: unknown) => ChildConfig[R] } = {
  netproc: (v) => {
    const m = c.object(v, 'config');
    return { directoryUrl: c.string(m, 'directoryUrl'), names: c.stringArray(m, 'names'), challengeType: c.string(m, 'challengeType'),
      external: c.boolean(m, 'external'), agreement: c.optionalString(m, 'agreement'), revoke: c.boolean(m, 'revoke'),
      userAgent: c.string(m, 'userAgent'), profile: c.optionalString(m, 'profile', 256), ari: c.boolean(m, 'ari'), mustStaple: c.boolean(m, 'mustStaple'),
      requestTimeoutMs: c.integer(m, 'requestTimeoutMs'), pollTimeoutMs: c.integer(m, 'pollTimeoutMs'), verbose: verbose(m),
      caFile: c.optionalString(m, 'caFile'),
      contact: c.stringArray(m, 'contact', 100),
      acceptTerms: c.stringArray(m, 'acceptTerms', 100),
      preferredChain: c.optionalString(m, 'preferredChain', 1024),
      rolloverAccountKey: c.boolean(m, 'rolloverAccountKey'), signs: c.boolean(m, 'signs'),
      requestFromCertproc: c.boolean(m, 'requestFromCertproc'), registerOnly: c.boolean(m, 'registerOnly'),
      persistRecords: c.boolean(m, 'persistRecords'), dnsServer: c.optionalString(m, 'dnsServer', 64) };
  },
  acctproc: (v) => {
    const m = c.object(v, 'config');
    return { keyFile: c.string(m, 'keyFile'), create: c.boolean(m, 'create'), verbose: verbose(m),
      keyType: c.oneOf(m, 'keyType', KEY_TYPES),
      eab: m.eab === undefined || m.eab === null ? null : externalAccountBinding(c.object(m.eab, 'eab')),
      rollover: m.rollover === undefined || m.rollover === null ? null : rollover(c.object(m.rollover, 'rollover')) };
  },
  keyproc: (v) => {
    const m = c.object(v, 'config');
    return { keyFile: c.string(m, 'keyFile'), create: c.boolean(m, 'create'), names: c.stringArray(m, 'names'),
      mustStaple: c.boolean(m, 'mustStaple'), verbose: verbose(m),
      keyType: c.oneOf(m, 'keyType', KEY_TYPES) };
  },
  chngproc: (v) => {
    const m = c.object(v, 'config');
    return { challengeDir: c.optionalString(m, 'challengeDir'), challengeType: c.string(m, 'challengeType'), verbose: verbose(m) };
  },
  certproc: (v) => {
    const m = c.object(v, 'config');
    return { certDir: c.string(m, 'certDir'), files: certFiles(m), names: c.stringArray(m, 'names'), expand: c.boolean(m, 'expand'),
      renewOnDroppedNames: c.boolean(m, 'renewOnDroppedNames'), force: c.boolean(m, 'force'), revoke: c.boolean(m, 'revoke'), ari: c.boolean(m, 'ari'), directoryUrl: c.string(m, 'directoryUrl'),
      csrFile: c.optionalString(m, 'csrFile'), verbose: verbose(m) };
  },
  fileproc: (v) => {
    const m = c.object(v, 'config');
    return { certDir: c.string(m, 'certDir'), files: certFiles(m), backup: c.boolean(m, 'backup'), dated: c.boolean(m, 'dated'), keep: c.integer(m, 'keep'), verbose: verbose(m) };
  },
  frontproc: (v) => {
    const m = c.object(v, 'config');
    const listeners = c.stringArray(m, 'listeners', 64);
    if (!listeners.every((l) => l === 'sign' || l === 'challenge')) throw new c.ShapeError('listeners is not a list of sign and challenge');
    return { listeners: listeners as FrontConfig['listeners'], maxSize: c.integer(m, 'maxSize'), headerTimeout: c.integer(m, 'headerTimeout'),
      maxConnections: c.integer(m, 'maxConnections'), verbose: verbose(m) };
  },
};

/**
 * Exit status by which fileproc says "I changed the certificate files", and acctproc under
 * --rollover-account-key "I replaced the account key file" (the run then exits 0).
 */
export const EXIT_CHANGED = 2;
