// acme-client-dns01 end to end: real BIND servers (test/bind-lab.ts) authoritative for the zones,
// Pebble resolving through them, the client's three providers. What must hold: the names issue,
// every authoritative server is waited for, the records added are gone afterwards (asked of the
// servers directly), a wrong TSIG key is one line naming the server's answer, acme-client's
// status passes through, and acme-client never sees a DNS credential.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { join } from 'node:path';
import { Lab, labUnavailable, startLab } from '../scripts/pebble-lab.js';
import { BindLab, bindUnavailable, startBind } from './bind-lab.js';
import { ROOT, ecKeys, isRoot, runClient, workDir } from './helpers.js';

const DNS01 = join(ROOT, 'dist', 'acme-client-dns01.js');
const unavailable = !isRoot ? 'needs root (BIND listens on port 53)' : labUnavailable() ?? bindUnavailable();
// CI runs as root with everything installed by npm test: a skip there would hide a missing step.
const skip = unavailable !== undefined && process.env.CI !== 'true' ? unavailable : false;

/** The fake acme-dns: its HTTP API as acme-dns documents it; its DNS side is the real BIND (auth.example.test). */
class FakeAcmeDns {
  readonly accounts = new Map<string, { password: string; subdomain: string }>();
  /** The two latest values per subdomain, as acme-dns keeps them. */
  readonly values = new Map<string, string[]>();
  readonly updates: { subdomain: string; txt: string }[] = [];
  private server: Server | null = null;
  url = '';

  constructor(private readonly bind: BindLab) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        const answer = (status: number, json: unknown): void => {
          res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(json));
        };
        if (req.method === 'POST' && req.url === '/register') {
          const subdomain = randomUUID();
          const username = randomUUID();
          const password = randomBytes(30).toString('base64url');
          this.accounts.set(username, { password, subdomain });
          return answer(201, { username, password, fulldomain: `${subdomain}.auth.example.test`, subdomain, allowfrom: [] });
        }
        if (req.method === 'POST' && req.url === '/update') {
          const account = this.accounts.get(String(req.headers['x-api-user']));
          if (account === undefined || account.password !== req.headers['x-api-key']) return answer(401, { error: 'forbidden' });
          let update: { subdomain?: unknown; txt?: unknown };
          try {
            update = JSON.parse(body) as typeof update;
          } catch {
            return answer(400, { error: 'malformed_json_payload' });
          }
          if (update.subdomain !== account.subdomain) return answer(401, { error: 'forbidden' });
          if (typeof update.txt !== 'string' || update.txt.length !== 43) return answer(400, { error: 'bad_txt' });
          const kept = [...(this.values.get(account.subdomain) ?? []), update.txt].slice(-2);
          this.values.set(account.subdomain, kept);
          this.updates.push({ subdomain: account.subdomain, txt: update.txt });
          const name = `${account.subdomain}.auth.example.test`;
          this.bind.nsupdate(this.bind.keys.acmeDns, [`update delete ${name} TXT`, ...kept.map((value) => `update add ${name} 1 TXT "${value}"`)]);
          return answer(200, { txt: update.txt });
        }
        answer(404, { error: 'not_found' });
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server === null ? resolve() : this.server.close(() => resolve())));
  }
}

describe('acme-client-dns01 against BIND and Pebble', { skip }, () => {
  let bind: BindLab;
  let lab: Lab;
  let acmeDns: FakeAcmeDns;
  before(async () => {
    bind = await startBind();
    lab = await startLab({ dnsServer: `${bind.primary}:53` });
    acmeDns = new FakeAcmeDns(bind);
    await acmeDns.start();
  });
  after(async () => {
    await acmeDns?.stop();
    await lab?.stop();
    await bind?.stop();
  });

  const env = (): NodeJS.ProcessEnv => ({ NODE_EXTRA_CA_CERTS: lab.tlsCaFile });
  const acmeArgs = (): { w: ReturnType<typeof workDir>; args: string[] } => {
    const w = workDir();
    const { acct, dom } = ecKeys(w);
    return { w, args: ['--server', lab.directoryUrl, '-c', w.certs, '-f', acct, '-k', dom] };
  };
  const dns01 = (args: string[], extraEnv: NodeJS.ProcessEnv = {}) => runClient(args, { client: DNS01, env: { ...env(), ...extraEnv } });
  const names = (certs: string): string => new X509Certificate(readFileSync(join(certs, 'cert.pem'))).subjectAltName ?? '';
  const nsupdate = (): string[] => ['--provider', 'nsupdate', '--tsig-key-file', bind.keys.example, '--dns-server', bind.primary];
  /** Both authoritative servers of example.test, asked directly once the secondary has caught up. */
  const txtEverywhere = async (name: string): Promise<string[][]> => {
    await bind.secondaryInSync();
    return [await bind.txt(bind.primary, name), await bind.txt(bind.secondary, name)];
  };
  /** The SOA serial the primary answers for a zone: every dynamic update that changes the zone moves it on. */
  const soaSerial = async (zone: string): Promise<number> => {
    const resolver = new Resolver({ timeout: 1000, tries: 2 });
    resolver.setServers([bind.primary]);
    return (await resolver.resolveSoa(zone)).serial;
  };
  const ourLines = (stderr: string): string[] => stderr.split('\n').filter((line) => line.startsWith('acme-client-dns01:'));

  test('nsupdate: example.test and *.example.test issue; both servers were waited for; the records are gone after', async () => {
    const { w, args } = acmeArgs();
    const run = await dns01([...nsupdate(), '--', ...args, 'example.test', '*.example.test']);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stderr, '');
    assert.equal(names(w.certs), 'DNS:example.test, DNS:*.example.test');
    assert.deepEqual(await txtEverywhere('_acme-challenge.example.test'), [[], []]);
    const again = await dns01([...nsupdate(), '--', ...args, 'example.test', '*.example.test']);
    assert.equal(again.status, 2, again.stderr);
  });

  test('nsupdate: a wrong TSIG secret is one line naming the answer (NOTAUTH, BADSIG), exit 1, nothing left', async () => {
    const wrong = join(workDir().dir, 'wrong.key');
    writeFileSync(wrong, readFileSync(bind.keys.example, 'utf8').replace(/secret "[^"]+"/, `secret "${randomBytes(32).toString('base64')}"`));
    const { w, args } = acmeArgs();
    const run = await dns01(['--provider', 'nsupdate', '--tsig-key-file', wrong, '--dns-server', bind.primary, '--', ...args, 'example.test']);
    assert.equal(run.status, 1);
    assert.deepEqual(ourLines(run.stderr), [`acme-client-dns01: ${bind.primary}:53: update of zone example.test: server answered NOTAUTH (BADSIG) to key example-key`]);
    assert.equal(run.stderr.split('\n')[0], ourLines(run.stderr)[0], 'the cause comes first');
    assert.deepEqual(readdirSync(w.certs), []);
    assert.deepEqual(await txtEverywhere('_acme-challenge.example.test'), [[], []]);
  });

  test('nsupdate without a key: unsigned updates, to a zone that allows them by address, issue; one that does not is REFUSED', async () => {
    const { w, args } = acmeArgs();
    const unsigned = ['--provider', 'nsupdate', '--dns-server', bind.primary, '--'];
    const run = await dns01([...unsigned, ...args, 'open.test', '*.open.test']);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(names(w.certs), 'DNS:open.test, DNS:*.open.test');
    assert.deepEqual(await bind.txt(bind.primary, '_acme-challenge.open.test'), []);
    const refused = await dns01([...unsigned, ...acmeArgs().args, 'example.test']);
    assert.equal(refused.status, 1);
    assert.deepEqual(ourLines(refused.stderr), [`acme-client-dns01: ${bind.primary}:53: update of zone example.test: server answered REFUSED`]);
  });

  test('nsupdate: a key the server does not know is NOTAUTH (BADKEY)', async () => {
    const unknown = join(workDir().dir, 'unknown.key');
    writeFileSync(unknown, readFileSync(bind.keys.example, 'utf8').replace('key "example-key"', 'key "nobody-key"'));
    const { args } = acmeArgs();
    const run = await dns01(['--provider', 'nsupdate', '--tsig-key-file', unknown, '--dns-server', bind.primary, '--', ...args, 'example.test']);
    assert.equal(run.status, 1);
    assert.deepEqual(ourLines(run.stderr), [`acme-client-dns01: ${bind.primary}:53: update of zone example.test: server answered NOTAUTH (BADKEY) to key nobody-key`]);
  });

  test('nsupdate: an authoritative server that never gets the record fails the run after --propagation-timeout, naming it', async () => {
    const { w, args } = acmeArgs();
    const run = await dns01([...nsupdate(), '--propagation-timeout', '1', '--', ...args, 'stale.test']);
    assert.equal(run.status, 1);
    assert.deepEqual(ourLines(run.stderr), [
      `acme-client-dns01: _acme-challenge.stale.test: TXT value not seen at ns2.stale.test within 1 s (${bind.secondary} answered no TXT record)`,
    ]);
    assert.deepEqual(readdirSync(w.certs), []);
    assert.deepEqual(await bind.txt(bind.primary, '_acme-challenge.stale.test'), [], 'removed from the primary');
  });

  test('nsupdate: a record someone else put at the same name is left alone', async () => {
    bind.nsupdate(bind.keys.example, ['update add _acme-challenge.example.test 60 TXT "not-ours"']);
    try {
      await bind.secondaryInSync();
      const { args } = acmeArgs();
      const run = await dns01([...nsupdate(), '--', ...args, 'example.test']);
      assert.equal(run.status, 0, run.stderr);
      assert.deepEqual(await txtEverywhere('_acme-challenge.example.test'), [['not-ours'], ['not-ours']]);
    } finally {
      bind.nsupdate(bind.keys.example, ['update delete _acme-challenge.example.test TXT']);
    }
  });

  test('nsupdate: an hmac-sha512 key signs and verifies as well', async () => {
    const { w, args } = acmeArgs();
    assert.match(readFileSync(bind.keys.acmeDns, 'utf8'), /algorithm hmac-sha512;/);
    const run = await dns01(['--provider', 'nsupdate', '--tsig-key-file', bind.keys.acmeDns, '--dns-server', bind.primary, '--', ...args, 'sha512.example.test']);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(names(w.certs), 'DNS:sha512.example.test');
    assert.deepEqual(await txtEverywhere('_acme-challenge.sha512.example.test'), [[], []]);
  });

  // Would fail if acme-client-dns01 touched the zone before acme-client asked for a record (any
  // update, an add or a delete that removes something, moves the SOA serial on), or if it hid or
  // rewrote acme-client's status or line.
  test("acme-client's own failure passes through: its line, exit 1, no DNS change", async () => {
    const { w, args } = acmeArgs();
    const missing = join(w.dir, 'absent');
    const serial = await soaSerial('example.test');
    const run = await dns01([...nsupdate(), '--', ...args, '-c', missing, 'example.test']);
    assert.equal(run.status, 1);
    assert.equal(run.stderr, `acme-client: ${missing}: -c directory must exist\n`);
    assert.equal(await soaSerial('example.test'), serial, 'the zone was not updated');
    assert.deepEqual(await bind.txt(bind.primary, '_acme-challenge.example.test'), []);
  });

  test('acme-dns: --acme-dns-register stores the account 0600 and prints the CNAME; a wider mode is refused', async () => {
    const accounts = join(workDir().dir, 'acme-dns.json');
    const register = await dns01(['--provider', 'acme-dns', '--acme-dns-url', acmeDns.url, '--acme-dns-accounts', accounts, '--acme-dns-register',
      '--', 'register.example.test', '*.register.example.test']);
    assert.equal(register.status, 0, register.stderr);
    const stored = JSON.parse(readFileSync(accounts, 'utf8')) as Record<string, { fulldomain: string; username: string }>;
    assert.deepEqual(Object.keys(stored), ['register.example.test'], 'one account for the name and its wildcard');
    assert.equal(register.stdout, `_acme-challenge.register.example.test CNAME ${stored['register.example.test']?.fulldomain}\n`);
    assert.match(stored['register.example.test']?.fulldomain ?? '', /^[0-9a-f-]{36}\.auth\.example\.test$/);
    assert.equal(statSync(accounts).mode & 0o777, 0o600);
    assert.equal(acmeDns.accounts.size, 1);

    // Registered once: again, nothing new is registered and the same CNAME is printed.
    const again = await dns01(['--provider', 'acme-dns', '--acme-dns-url', acmeDns.url, '--acme-dns-accounts', accounts, '--acme-dns-register', '--', 'register.example.test']);
    assert.equal(again.stdout, register.stdout);
    assert.equal(acmeDns.accounts.size, 1);

    chmodSync(accounts, 0o644);
    const { args } = acmeArgs();
    const refused = await dns01(['--provider', 'acme-dns', '--acme-dns-url', acmeDns.url, '--acme-dns-accounts', accounts, '--', ...args, 'register.example.test']);
    assert.equal(refused.status, 1);
    assert.equal(refused.stderr, `acme-client-dns01: ${accounts}: mode 0644, must be 0600: it holds acme-dns passwords\n`);
  });

  test('acme-dns: example.test and *.example.test issue through the CNAME; without the CNAME, one line says so', async () => {
    const accounts = join(workDir().dir, 'acme-dns.json');
    const acmeDnsArgs = ['--provider', 'acme-dns', '--acme-dns-url', acmeDns.url, '--acme-dns-accounts', accounts, '--dns-server', bind.primary];
    const register = await dns01([...acmeDnsArgs, '--acme-dns-register', '--', 'example.test']);
    assert.equal(register.status, 0, register.stderr);
    const [, , fulldomain] = register.stdout.trim().split(' ') as [string, string, string];

    const { w, args } = acmeArgs();
    const noCname = await dns01([...acmeDnsArgs, '--', ...args, 'example.test']);
    assert.equal(noCname.status, 1);
    assert.deepEqual(ourLines(noCname.stderr), [
      `acme-client-dns01: _acme-challenge.example.test: is not a CNAME to ${fulldomain} (it leads to _acme-challenge.example.test); create it`,
    ]);

    bind.nsupdate(bind.keys.example, [`update add _acme-challenge.example.test 60 CNAME ${fulldomain}.`]);
    try {
      // As a CNAME made once, long before: on every server of example.test.
      await bind.secondaryInSync();
      const run = await dns01([...acmeDnsArgs, '--', ...args, 'example.test', '*.example.test']);
      assert.equal(run.status, 0, run.stderr);
      assert.equal(names(w.certs), 'DNS:example.test, DNS:*.example.test');
      const subdomain = fulldomain.split('.')[0] as string;
      const sent = acmeDns.updates.filter((u) => u.subdomain === subdomain).map((u) => u.txt);
      assert.equal(sent.length, 2);
      // acme-dns cannot delete: the two values stay until the next updates replace them.
      assert.deepEqual(await bind.txt(bind.primary, fulldomain), [...sent].sort());
    } finally {
      bind.nsupdate(bind.keys.example, ['update delete _acme-challenge.example.test CNAME']);
    }
  });

  test('acme-dns: credentials acme-dns refuses are one line with its answer', async () => {
    const accounts = join(workDir().dir, 'acme-dns.json');
    writeFileSync(accounts, JSON.stringify({ 'example.test': { username: 'nobody', password: 'wrong', fulldomain: 'x.auth.example.test', subdomain: 'x', allowfrom: [] } }), { mode: 0o600 });
    const { args } = acmeArgs();
    // The name already leads to x.auth.example.test: only acme-dns can refuse.
    bind.nsupdate(bind.keys.example, ['update add _acme-challenge.example.test 60 CNAME x.auth.example.test.']);
    try {
      const run = await dns01(['--provider', 'acme-dns', '--acme-dns-url', acmeDns.url, '--acme-dns-accounts', accounts, '--dns-server', bind.primary, '--', ...args, 'example.test']);
      assert.equal(run.status, 1);
      assert.deepEqual(ourLines(run.stderr), [`acme-client-dns01: ${acmeDns.url}/update: acme-dns answered HTTP 401: forbidden`]);
    } finally {
      bind.nsupdate(bind.keys.example, ['update delete _acme-challenge.example.test CNAME']);
    }
  });

  test('exec: the hook is run as HOOK present|cleanup FQDN VALUE with our environment; acme-client gets neither', async () => {
    const { w, args } = acmeArgs();
    const log = join(w.dir, 'hook.log');
    const hook = join(w.dir, 'hook.sh');
    // The hook also records the environment of its siblings (acme-client is the other child of
    // acme-client-dns01 while the hook runs).
    writeFileSync(hook, `#!/bin/sh
set -e
echo "$1 $2 $3 token=$DNS_API_TOKEN" >> '${log}'
for pid in $(cat /proc/$PPID/task/*/children); do
  [ "$pid" = $$ ] || tr '\\0' '\\n' < /proc/$pid/environ >> '${log}.siblings' || true
done
case $1 in
  present) printf 'server ${bind.primary} 53\\nupdate add %s 60 TXT "%s"\\nsend\\n' "$2" "$3" | nsupdate -k '${bind.keys.example}' ;;
  cleanup) printf 'server ${bind.primary} 53\\nupdate delete %s TXT "%s"\\nsend\\n' "$2" "$3" | nsupdate -k '${bind.keys.example}' ;;
esac
`, { mode: 0o755 });
    const run = await dns01(['--provider', 'exec', '--hook', hook, '--dns-server', bind.primary, '--', ...args, 'example.test', '*.example.test'], { DNS_API_TOKEN: 'secret-token' });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(names(w.certs), 'DNS:example.test, DNS:*.example.test');
    const calls = readFileSync(log, 'utf8').trim().split('\n').map((line) => line.split(' '));
    assert.deepEqual(calls.map(([action, fqdn, , token]) => [action, fqdn, token]), [
      ['present', '_acme-challenge.example.test.', 'token=secret-token'],
      ['present', '_acme-challenge.example.test.', 'token=secret-token'],
      ['cleanup', '_acme-challenge.example.test.', 'token=secret-token'],
      ['cleanup', '_acme-challenge.example.test.', 'token=secret-token'],
    ]);
    const presented = calls.slice(0, 2).map((call) => call[2]);
    assert.deepEqual(calls.slice(2).map((call) => call[2]), presented, 'exactly the values presented are cleaned up');
    for (const value of presented) assert.match(value ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(await txtEverywhere('_acme-challenge.example.test'), [[], []]);
    const siblings = readFileSync(`${log}.siblings`, 'utf8');
    assert.match(siblings, /^NODE_EXTRA_CA_CERTS=/m, 'acme-client was seen');
    assert.doesNotMatch(siblings, /DNS_API_TOKEN|secret-token/);
  });

  // Would fail if a failed present still let acme-client go on (it would tell the CA to validate:
  // a challenge POST in Pebble's log, and a validation failure instead of the short read), or if
  // acme-client were left running or the clean-up came before it had ended.
  test('exec: a failing hook is one line with its status; acme-client is stopped; cleanup still runs', async () => {
    const { w, args } = acmeArgs();
    const log = join(w.dir, 'hook.log');
    const hook = join(w.dir, 'hook.sh');
    // The clean-up records whether an acme-client for this certificate directory still runs then.
    writeFileSync(hook, `#!/bin/sh
if [ "$1" = cleanup ]; then
  for f in /proc/[0-9]*/cmdline; do
    case "$(tr '\\0' ' ' < "$f" 2>/dev/null)" in *'/acme-client.js '*' ${w.certs} '*) echo 'cleanup while acme-client runs' >> '${log}';; esac
  done
fi
echo "$1" >> '${log}'
[ "$1" = cleanup ]
`, { mode: 0o755 });
    const asked = lab.requestLog().length;
    const run = await dns01(['--provider', 'exec', '--hook', hook, '--dns-server', bind.primary, '--', ...args, 'example.test']);
    assert.equal(run.status, 1);
    assert.deepEqual(ourLines(run.stderr), [`acme-client-dns01: ${hook}: present _acme-challenge.example.test.: exit status 1`]);
    // acme-client read end of file where the echo of its challenge line should have been, and stopped.
    assert.match(run.stderr, /^acme-client: <stdin>: short read$/m);
    const told = lab.requestLog().slice(asked).split('\n').filter((l) => / POST \/chalZ\/\S* -> calling handler\(\)$/.test(l));
    assert.deepEqual(told, [], 'the CA was never told to validate');
    assert.deepEqual(readFileSync(log, 'utf8').split('\n'), ['present', 'cleanup', '']);
    assert.ok(!existsSync(join(w.certs, 'cert.pem')));
  });
});

describe('acme-client-dns01 command line', () => {
  const run = (args: string[]) => runClient(args, { client: DNS01 });

  test('--version prints the package version', async () => {
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    const out = await run(['--version']);
    assert.equal(out.status, 0);
    assert.equal(out.stdout, `acme-client-dns01 ${version}\n`);
  });

  test('bad command lines are one line and the usage, exit 1, before acme-client runs', async () => {
    const cases: [string[], string][] = [
      [['--', 'example.test'], '--provider is required'],
      [['--provider', 'bind', '--', 'example.test'], 'unknown provider bind: nsupdate, acme-dns or exec'],
      [['--provider', 'exec', '--hook', '/bin/true', '--tsig-key-file', 'k', '--', 'example.test'], '--tsig-key-file is for --provider nsupdate'],
      [['--provider', 'exec', '--hook', '/bin/true', 'example.test'], "unexpected argument example.test: acme-client's options and the domains follow --"],
      [['--provider', 'exec', '--hook', '/bin/true'], "acme-client's options and the domains follow --"],
      [['--provider', 'exec', '--hook', '/bin/true', '--propagation-timeout', '2m', '--', 'example.test'], '--propagation-timeout needs whole seconds from 1 to 86400: 2m'],
      [['--provider', 'exec', '--hook', '/bin/true', '--dns-server', 'resolver.example', '--', 'example.test'], '--dns-server: not an IP address with an optional :port: resolver.example'],
      [['--provider', 'exec', '--hook', '/bin/true', '--frobnicate', '--', 'example.test'], 'Unknown argument: frobnicate'],
      [['--provider', 'acme-dns', '--acme-dns-url', 'http://auth.example.org/', '--acme-dns-accounts', 'a.json', '--', 'example.test'],
        '--acme-dns-url must be https (http only to this machine\'s loopback): http://auth.example.org/'],
    ];
    for (const [args, problem] of cases) {
      const out = await run(args);
      assert.equal(out.status, 1, args.join(' '));
      assert.match(out.stderr, /^usage: acme-client-dns01 /m);
      assert.equal(out.stderr.split('\n')[0], `acme-client-dns01: ${problem}`);
    }
  });

  test('a TSIG key file that is not one is refused before acme-client runs, never echoing what it holds', async () => {
    const file = join(workDir().dir, 'not-a-key');
    const cases: [string, string][] = [
      ['key "k" { algorithm hmac-sha256; };\n', 'key k: needs both algorithm and secret'],
      // The word "secret" forgotten: the secret would be taken for a clause's name.
      ['key "k" { algorithm hmac-sha256; "c2VjcmV0U0VDUkVU"; };\n', 'key k: a clause that is not "<name> <value>;"'],
      ['key "k" { algorithm hmac-sha256; c2VjcmV0U0VDUkVU secret; };\n', 'key k: a clause other than algorithm and secret'],
    ];
    for (const [text, problem] of cases) {
      writeFileSync(file, text);
      const out = await run(['--provider', 'nsupdate', '--tsig-key-file', file, '--', 'example.test']);
      assert.equal(out.status, 1);
      assert.equal(out.stderr, `acme-client-dns01: ${file}: not a BIND key file: ${problem}\n`);
      assert.ok(!out.stderr.includes('c2VjcmV0'), 'the secret is not in the message');
    }
  });
});
