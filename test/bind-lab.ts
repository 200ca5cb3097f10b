// Throwaway real BIND servers (Debian's bind9) for acme-client-dns01's tests, on port 53 of two
// loopback addresses picked at run time (127.53.R.1 and .2): port 53, because NS records carry no
// port, and the client asks every authoritative server where the CA would. BIND listens only on
// an interface's addresses, so they are added to lo for the lab's life (removed by stop(), or when
// the test process exits).
//
//   zone            on .1 (primary)                               on .2
//   example.test    dynamic, TSIG keys example-key, acme-dns-key  secondary of .1 (NOTIFY, IXFR)
//   stale.test      dynamic, TSIG key example-key                 a primary of its own, never changed
//   open.test       dynamic, unsigned from 127.0.0.0/8            -
//
// Pebble asks the primary. The fake acme-dns keeps its names under auth.example.test, in the same
// zone: an authoritative server follows a CNAME only within one zone, and a recursive resolver
// in between would keep acme-dns's one-second TXT records across the two validations of a name
// and its wildcard (BIND keeps any answer a second at least, measured).
//
// Everything (configs, zone files, keys, journals, logs) lives under one mkdtemp directory that
// stop() removes after killing the servers.

import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomInt } from 'node:crypto';

const NAMED = '/usr/sbin/named';
const TOOLS = ['/usr/sbin/tsig-keygen', '/usr/bin/nsupdate', '/usr/sbin/ip'];

export function bindUnavailable(): string | undefined {
  const missing = [NAMED, ...TOOLS].filter((p) => !existsSync(p));
  return missing.length > 0 ? `missing ${missing.join(', ')} (npm test's set-up installs bind9 and bind9-dnsutils as root)` : undefined;
}

export interface BindLab {
  dir: string;
  /** The primary (.1): Pebble's and the client's --dns-server. */
  primary: string;
  /** The second authoritative server (.2). */
  secondary: string;
  /** BIND key files as tsig-keygen wrote them. */
  keys: { example: string; acmeDns: string };
  /** Runs an nsupdate(1) script against the primary, signed with the key file given. */
  nsupdate(keyFile: string, commands: string[]): void;
  /** The TXT values a server answers for a name, asked directly. */
  txt(server: string, name: string): Promise<string[]>;
  /** Resolves once the secondary serves the primary's version of example.test (after NOTIFY and IXFR). */
  secondaryInSync(): Promise<void>;
  stop(): Promise<void>;
}

function zoneFile(zone: string, servers: string[]): string {
  return [
    '$TTL 60',
    `@ IN SOA ns1.${zone}. hostmaster.${zone}. 1 3600 600 86400 60`,
    ...servers.map((_, i) => `@ IN NS ns${i + 1}.${zone}.`),
    ...servers.map((address, i) => `ns${i + 1} IN A ${address}`),
    '',
  ].join('\n');
}

function options(dir: string, address: string, extra: string[]): string {
  return [
    'options {',
    `  directory "${dir}";`,
    `  pid-file "${join(dir, 'named.pid')}";`,
    `  session-keyfile "${join(dir, 'session.key')}";`,
    `  managed-keys-directory "${dir}";`,
    `  listen-on port 53 { ${address}; };`,
    '  listen-on-v6 { none; };',
    '  dnssec-validation no;',
    '  allow-transfer { any; };',
    ...extra.map((line) => `  ${line}`),
    '};',
    'controls { };',
  ].join('\n');
}

async function portFree(address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.once('error', () => resolve(false));
    socket.bind(53, address, () => socket.close(() => resolve(true)));
  });
}

/** Adds an address to lo; false when another lab (or anything else) has it already. */
function addLoopbackAddress(address: string): boolean {
  return spawnSync('ip', ['address', 'add', `${address}/32`, 'dev', 'lo'], { stdio: 'ignore' }).status === 0;
}

function removeLoopbackAddress(address: string): void {
  spawnSync('ip', ['address', 'del', `${address}/32`, 'dev', 'lo'], { stdio: 'ignore' });
}

async function serial(server: string, zone: string): Promise<number | null> {
  const resolver = new Resolver({ timeout: 500, tries: 1 });
  resolver.setServers([server]);
  try {
    return (await resolver.resolveSoa(zone)).serial;
  } catch {
    return null;
  }
}

async function until(what: string, condition: () => Promise<boolean>, whyNot: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`bind-lab: ${what}\n${whyNot()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function startBind(): Promise<BindLab> {
  const unavailable = bindUnavailable();
  if (unavailable !== undefined) throw new Error(`bind-lab: ${unavailable}`);
  const addresses: string[] = [];
  const procs: ChildProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'bind-lab-'));
  const removeAll = (): void => {
    for (const child of procs) child.kill('SIGKILL');
    for (const address of addresses.splice(0)) removeLoopbackAddress(address);
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', removeAll);
  const stop = async (): Promise<void> => {
    await Promise.all(procs.map((child) => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    })));
    removeAll();
    process.off('exit', removeAll);
  };
  for (let attempt = 0; attempt < 20 && addresses.length < 2; attempt++) {
    const net = `127.53.${randomInt(1, 255)}`;
    const wanted = [`${net}.1`, `${net}.2`];
    let free = true;
    for (const address of wanted) free &&= await portFree(address);
    if (!free) continue;
    for (const address of wanted) if (addLoopbackAddress(address)) addresses.push(address);
    if (addresses.length < 2) for (const address of addresses.splice(0)) removeLoopbackAddress(address);
  }
  if (addresses.length < 2) {
    await stop();
    throw new Error('bind-lab: no free 127.53.R.1 and .2 for port 53');
  }
  const [primary, secondary] = addresses as [string, string];
  try {
    const keys = { example: join(dir, 'example-key.key'), acmeDns: join(dir, 'acme-dns-key.key') };
    writeFileSync(keys.example, execFileSync('tsig-keygen', ['-a', 'hmac-sha256', 'example-key']));
    writeFileSync(keys.acmeDns, execFileSync('tsig-keygen', ['-a', 'hmac-sha512', 'acme-dns-key']));

    const one = join(dir, 'primary');
    const two = join(dir, 'secondary');
    execFileSync('mkdir', ['-p', one, two]);
    writeFileSync(join(one, 'example.test.zone'), zoneFile('example.test', [primary, secondary]));
    writeFileSync(join(one, 'stale.test.zone'), zoneFile('stale.test', [primary, secondary]));
    writeFileSync(join(two, 'stale.test.zone'), zoneFile('stale.test', [primary, secondary]));
    writeFileSync(join(one, 'open.test.zone'), zoneFile('open.test', [primary]));
    writeFileSync(join(one, 'named.conf'), [
      // NOTIFY leaves from the primary's own address, which the secondary knows, and at once.
      options(one, primary, ['recursion no;', `notify-source ${primary};`, 'notify-delay 0;']),
      `include "${keys.example}";`,
      `include "${keys.acmeDns}";`,
      'zone "example.test" { type primary; file "example.test.zone"; allow-update { key "example-key"; key "acme-dns-key"; };',
      `  notify explicit; also-notify { ${secondary}; }; };`,
      'zone "stale.test" { type primary; file "stale.test.zone"; allow-update { key "example-key"; }; notify no; };',
      'zone "open.test" { type primary; file "open.test.zone"; allow-update { 127.0.0.0/8; }; notify no; };',
      '',
    ].join('\n'));
    writeFileSync(join(two, 'named.conf'), [
      options(two, secondary, ['recursion no;', `transfer-source ${secondary};`, `query-source address ${secondary};`, 'notify no;']),
      `zone "example.test" { type secondary; primaries { ${primary}; }; file "example.test.copy"; };`,
      'zone "stale.test" { type primary; file "stale.test.zone"; };',
      '',
    ].join('\n'));
    for (const [name, confDir] of [['primary', one], ['secondary', two]] as const) {
      const log = openSync(join(dir, `${name}.log`), 'a');
      try {
        // -g: foreground, log to stderr; -n 1: one worker thread is plenty for a test.
        procs.push(spawn(NAMED, ['-g', '-n', '1', '-c', join(confDir, 'named.conf')], { stdio: ['ignore', log, log], detached: true }));
      } finally {
        closeSync(log);
      }
    }
    // Ready when each server answers for its zones (the secondary once it has transferred).
    const waits: [string, string][] = [[primary, 'example.test'], [primary, 'stale.test'], [primary, 'open.test'], [secondary, 'example.test'], [secondary, 'stale.test']];
    const logs = (): string => ['primary', 'secondary']
      .map((name) => `${name}:\n${readFileSync(join(dir, `${name}.log`), 'utf8').split('\n').slice(-15).join('\n')}`).join('\n');
    for (const [server, zone] of waits) {
      await until(`${server} does not answer for ${zone}`, async () => {
        if (procs.some((child) => child.exitCode !== null)) throw new Error(`bind-lab: a server exited\n${logs()}`);
        return (await serial(server, zone)) !== null;
      }, logs);
    }
    return {
      dir, primary, secondary, keys, stop,
      nsupdate: (keyFile, commands) => {
        execFileSync('nsupdate', ['-k', keyFile], { input: [`server ${primary} 53`, ...commands, 'send', ''].join('\n'), stdio: ['pipe', 'pipe', 'pipe'] });
      },
      secondaryInSync: () => until('the secondary does not catch up with the primary', async () => {
        const [one, two] = [await serial(primary, 'example.test'), await serial(secondary, 'example.test')];
        return one !== null && one === two;
      }, logs),
      txt: async (server, name) => {
        const resolver = new Resolver({ timeout: 1000, tries: 2 });
        resolver.setServers([server]);
        try {
          return (await resolver.resolveTxt(name)).map((chunks) => chunks.join('')).sort();
        } catch (err) {
          if (['ENODATA', 'ENOTFOUND'].includes((err as NodeJS.ErrnoException).code ?? '')) return [];
          throw err;
        }
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
