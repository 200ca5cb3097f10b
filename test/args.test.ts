import { test } from 'node:test';
import assert from 'node:assert/strict';
import { USAGE, UsageError, NameError, parseCommandLine, parseConfigCommandLine, usesConfigFile, checkNames, type Options } from '../src/args.js';

const DEFAULTS = {
  backup: false, expand: false, force: false, multiDir: false, newAccountKey: false,
  newDomainKey: false, mustStaple: false, revoke: false, staging: false, verbose: 0, register: false, persistRecords: false, isolationReport: false, version: false, help: false, noAri: false, dated: false,
};

function expected(fields: Partial<Options> & { names: string[] }): Options {
  return { ...DEFAULTS, ...fields };
}

function parsesTo(argv: string[], fields: Partial<Options> & { names: string[] }): void {
  assert.deepEqual(parseCommandLine(argv), expected(fields), argv.join(' '));
}

function rejectsWith(argv: string[], problem: string): void {
  assert.throws(() => parseCommandLine(argv), (error: unknown) => {
    assert.ok(error instanceof UsageError, `${argv.join(' ')}: ${String(error)}`);
    assert.equal(error.problem, problem, argv.join(' '));
    assert.equal(error.message, problem);
    return true;
  });
}

function rejectsName(names: string[], wildcards: boolean, name: string, problem: string): void {
  assert.throws(() => checkNames(names, wildcards), (error: unknown) => {
    assert.ok(error instanceof NameError, `${names.join(' ')}: ${String(error)}`);
    assert.equal(error.name, name);
    assert.equal(error.problem, problem);
    return true;
  });
}

test('USAGE is the getopt synopsis plus the long extensions', () => {
  assert.equal(USAGE, 'usage: acme-client [-beFmnNOrsv] [-a agreement] [-C challengedir] [-c certdir] ' +
    '[-f accountkey] [-k domainkey] [-t challenge] [--server url] [--user name] [--isolation-report] [--timeout seconds] ' +
    '[--poll-timeout seconds] [--profile name] [--no-ari] [--ca-file file] [--eab-kid kid --eab-hmac-key-file file] ' +
    '[--contact uri] [--preferred-chain issuer] [--account-key-type type] [--key-type type] [--csr file] [--dated [--keep n]] [--dns-server address[:port]] ' +
    '[--version] domain [altnames...]\n' +
    '       acme-client --rollover-account-key newkey [-nsv] [-f accountkey] [--server url] [--ca-file file] [--account-key-type type] ' +
    '[--user name] [--timeout seconds]\n' +
    '       acme-client --register [-nsv] [-f accountkey] [--server url] [--ca-file file] [--eab-kid kid --eab-hmac-key-file file] ' +
    '[--contact uri] [--accept-terms url] [--account-key-type type] [--user name] [--timeout seconds]\n' +
    '       acme-client --persist-records [-nsv] [-f accountkey] [--server url] [--ca-file file] [--eab-kid kid --eab-hmac-key-file file] ' +
    '[--contact uri] [--account-key-type type] [--user name] [--timeout seconds] domain [altnames...]\n' +
    '       acme-client --config file [-Fnrv] [-e keyid:key] [handle ...]\n' +
    '       acme-client --version | --help');
});

// Would fail if --dns-server were taken without dns-persist-01 (where nothing asks the DNS) or
// were passed on unchecked, or if --persist-records quietly ignored options of a certificate run.
test('--dns-server goes with -t dns-persist-01, as ADDRESS[:PORT]', () => {
  parsesTo(['-t', 'dns-persist-01', '--dns-server', '127.0.0.1:5353', 'example.org'], { challengeType: 'dns-persist-01', dnsServer: '127.0.0.1:5353', names: ['example.org'] });
  parsesTo(['-t', 'dns-persist-01', '--dns-server=::1', 'example.org'], { challengeType: 'dns-persist-01', dnsServer: '[::1]:53', names: ['example.org'] });
  rejectsWith(['--dns-server', '127.0.0.1', 'example.org'], '--dns-server goes with -t dns-persist-01');
  rejectsWith(['-t', 'dns-01', '--dns-server', '127.0.0.1', 'example.org'], '--dns-server goes with -t dns-persist-01');
  rejectsWith(['-t', 'dns-persist-01', '--dns-server', 'ns.example.org', 'example.org'], '--dns-server: not an IP address with an optional :port: ns.example.org');
});

// Would fail if -t dns-account-01 were taken: the run would reach the CA and end on its refusal, or
// hand a -t caller a line that does not say where to publish the record.
test('-t dns-account-01 is refused before anything starts', () => {
  rejectsWith(['-t', 'dns-account-01', 'example.org'], '-t dns-account-01: not supported yet (see acme-client(1), External challenges)');
  parsesTo(['-t', 'dns-01', 'example.org'], { challengeType: 'dns-01', names: ['example.org'] });
});

test('--persist-records: the names, and the options of --register alone', () => {
  parsesTo(['--persist-records', '-n', '-f', '/a.pem', 'example.org', '*.example.org'],
    { persistRecords: true, newAccountKey: true, accountKey: '/a.pem', names: ['example.org', '*.example.org'] });
  rejectsWith(['--persist-records'], '--persist-records needs the domain names');
  rejectsWith(['--persist-records', '-k', '/k.pem', 'example.org'], '--persist-records does not take -k');
  rejectsWith(['--persist-records', '-t', 'dns-persist-01', 'example.org'], '--persist-records does not take -t');
  rejectsWith(['--persist-records', '--register', 'example.org'], '--persist-records does not take --register');
});

test('--dated, and --keep with it: a count from 1 to 1000', () => {
  parsesTo(['--dated', 'example.org'], { dated: true, names: ['example.org'] });
  parsesTo(['--dated', '--keep', '5', 'example.org'], { dated: true, keep: 5, names: ['example.org'] });
  parsesTo(['--keep=1000', '--dated', 'example.org'], { dated: true, keep: 1000, names: ['example.org'] });
  rejectsWith(['--keep', '5', 'example.org'], '--keep goes with --dated');
  for (const bad of ['0', '1001', '-1', 'x', '2.5']) rejectsWith(['--dated', '--keep', bad, 'example.org'], `--keep needs a whole number from 1 to 1000: ${bad}`);
  rejectsWith(['--dated=yes', 'example.org'], 'option does not take an argument -- dated');
});

test('--csr takes the names from the request: none are needed, -k and -N are refused', () => {
  parsesTo(['--csr', '/etc/ssl/example.csr'], { csrFile: '/etc/ssl/example.csr', names: [] });
  parsesTo(['--csr=/x.csr', 'example.org'], { csrFile: '/x.csr', names: ['example.org'] });
  rejectsWith(['--csr', '/x.csr', '-k', '/key.pem', 'example.org'], '-k cannot be used with --csr');
  rejectsWith(['-N', '--csr', '/x.csr'], '-N cannot be used with --csr');
  rejectsWith(['-m', '--csr', '/x.csr'], '-m with --csr needs the domain names on the command line');
  rejectsWith(['--csr'], 'option requires an argument -- csr');
});

test('--register makes the account only: no domain needed, none allowed', () => {
  parsesTo(['--register', '-n', '-f', '/etc/acme/account.pem'], { register: true, newAccountKey: true, accountKey: '/etc/acme/account.pem', names: [] });
  rejectsWith(['--register', 'example.org'], '--register takes no domain');
  rejectsWith(['--register', '--csr', '/x.csr'], '--register does not take --csr');
  rejectsWith(['--register', '-c', '/etc/ssl/acme'], '--register does not take -c');
});

// Fails if --accept-terms kept only its last value, were taken outside --register, or took a word that is no URL.
test('--accept-terms, with --register alone: each URL kept, in order', () => {
  parsesTo(['--register', '--accept-terms', 'https://ca.example/terms-v2', '--accept-terms=data:text/plain,Do%20what%20thou%20wilt'],
    { register: true, acceptTerms: ['https://ca.example/terms-v2', 'data:text/plain,Do%20what%20thou%20wilt'], names: [] });
  rejectsWith(['--accept-terms', 'https://ca.example/terms', 'example.org'], '--accept-terms goes with --register');
  rejectsWith(['--register', '--accept-terms', 'yes'], '--accept-terms: not a URL: "yes"');
});

test('a lone domain gives the defaults', () => {
  parsesTo(['example.com'], { names: ['example.com'] });
});

test('every flag sets its own field', () => {
  parsesTo(['-b', '-e', '-F', '-m', '-n', '-N', '-O', '-r', '-s', 'example.com'], {
    backup: true, expand: true, force: true, multiDir: true, newAccountKey: true,
    newDomainKey: true, mustStaple: true, revoke: true, staging: true, names: ['example.com'],
  });
  parsesTo(['-beFmnNOrs', 'example.com'], {
    backup: true, expand: true, force: true, multiDir: true, newAccountKey: true,
    newDomainKey: true, mustStaple: true, revoke: true, staging: true, names: ['example.com'],
  });
});

test('every value option sets its own field', () => {
  parsesTo(['-a', 'https://terms', '-C', '/chal', '-c', '/certs', '-f', '/acct.pem', '-k', '/dom.pem',
    '-t', 'dns-01', '--server', 'https://acme/dir', 'example.com'], {
    agreement: 'https://terms', challengeDir: '/chal', certDir: '/certs', accountKey: '/acct.pem',
    domainKey: '/dom.pem', challengeType: 'dns-01', server: 'https://acme/dir', names: ['example.com'],
  });
});

test('grouped flags', () => {
  parsesTo(['-vNn', 'example.com'], { verbose: 1, newDomainKey: true, newAccountKey: true, names: ['example.com'] });
});

test('-v counts', () => {
  parsesTo(['-v', 'example.com'], { verbose: 1, names: ['example.com'] });
  parsesTo(['-vv', 'example.com'], { verbose: 2, names: ['example.com'] });
  parsesTo(['-vvv', 'example.com'], { verbose: 3, names: ['example.com'] });
  parsesTo(['-v', '-v', 'example.com'], { verbose: 2, names: ['example.com'] });
});

test('a value attached or in the next word', () => {
  parsesTo(['-Cdir', 'example.com'], { challengeDir: 'dir', names: ['example.com'] });
  parsesTo(['-C', 'dir', 'example.com'], { challengeDir: 'dir', names: ['example.com'] });
  parsesTo(['-c/certs', 'example.com'], { certDir: '/certs', names: ['example.com'] });
});

test('option letters are case-sensitive', () => {
  parsesTo(['-n', 'example.com'], { newAccountKey: true, names: ['example.com'] });
  parsesTo(['-N', 'example.com'], { newDomainKey: true, names: ['example.com'] });
  parsesTo(['-c', 'x', 'example.com'], { certDir: 'x', names: ['example.com'] });
  parsesTo(['-C', 'x', 'example.com'], { challengeDir: 'x', names: ['example.com'] });
  parsesTo(['-f', 'x', 'example.com'], { accountKey: 'x', names: ['example.com'] });
  parsesTo(['-F', 'example.com'], { force: true, names: ['example.com'] });
});

test('a value option ends a group', () => {
  parsesTo(['-vc', '/certs', 'example.com'], { verbose: 1, certDir: '/certs', names: ['example.com'] });
  parsesTo(['-Fc', '/d', 'example.com'], { force: true, certDir: '/d', names: ['example.com'] });
  // The rest of the group is the value, even when it spells a flag.
  parsesTo(['-cv', 'example.com'], { certDir: 'v', names: ['example.com'] });
});

test('a value is taken from the next word even when it starts with a dash', () => {
  parsesTo(['-C', '-dash-dir', 'example.com'], { challengeDir: '-dash-dir', names: ['example.com'] });
  parsesTo(['-k', '-v', 'example.com'], { domainKey: '-v', names: ['example.com'] });
  parsesTo(['-c', '--', 'example.com'], { certDir: '--', names: ['example.com'] });
  parsesTo(['-c', '', 'example.com'], { certDir: '', names: ['example.com'] });
});

test('-- ends the options', () => {
  parsesTo(['-v', '--', 'example.com'], { verbose: 1, names: ['example.com'] });
  parsesTo(['--', '-weird.example.com'], { names: ['-weird.example.com'] });
  parsesTo(['-v', '--', '--'], { verbose: 1, names: ['--'] });
});

test('options stop at the first operand', () => {
  parsesTo(['example.com', '-v', 'www'], { names: ['example.com', '-v', 'www'] });
  parsesTo(['-', '-v'], { names: ['-', '-v'] });
});

test('values and names stay strings', () => {
  parsesTo(['-c', '007', '-a', 'true', '1.2.3.4', '0x10', '1e3', '007'], {
    certDir: '007', agreement: 'true', names: ['1.2.3.4', '0x10', '1e3', '007'],
  });
});

test('the last of a repeated value option wins', () => {
  parsesTo(['-c', 'a', '-c', 'b', 'example.com'], { certDir: 'b', names: ['example.com'] });
});

test('an unknown option is refused without taking the next word', () => {
  rejectsWith(['-x', 'example.com'], 'unknown option -- x');
  rejectsWith(['-x'], 'unknown option -- x');
  rejectsWith(['-vx', 'example.com'], 'unknown option -- x');
});

test('a value option without a value is refused', () => {
  rejectsWith(['-c'], 'option requires an argument -- c');
  rejectsWith(['-vc'], 'option requires an argument -- c');
});

test('long options that are not ours are refused', () => {
  rejectsWith(['--hel', 'example.com'], 'unknown option -- hel');
  rejectsWith(['--no-v', 'example.com'], 'unknown option -- no-v');
  rejectsWith(['--v', 'example.com'], 'unknown option -- v');
  rejectsWith(['--c=/x', 'example.com'], 'unknown option -- c');
  rejectsWith(['--serve', 'https://x/dir', 'example.com'], 'unknown option -- serve');
});

test('= is not a separator for a short option', () => {
  rejectsWith(['-v=1', 'example.com'], 'unknown option -- =');
});

test('a domain is required', () => {
  rejectsWith([], 'no domain given');
  rejectsWith(['-v'], 'no domain given');
  rejectsWith(['-v', '--'], 'no domain given');
});

test('--server takes a URL in the next word or after =', () => {
  parsesTo(['--server', 'https://x/dir', 'example.com'], { server: 'https://x/dir', names: ['example.com'] });
  parsesTo(['--server=https://x/dir', 'example.com'], { server: 'https://x/dir', names: ['example.com'] });
  parsesTo(['--server=https://x/dir?a=b', 'example.com'], { server: 'https://x/dir?a=b', names: ['example.com'] });
  rejectsWith(['--server'], 'option requires an argument -- server');
});

test('checkNames accepts good names and lower-cases them in order', () => {
  assert.deepEqual(checkNames(['example.com', 'www.example.com', 'a-b_c.example', 'x'], false),
    ['example.com', 'www.example.com', 'a-b_c.example', 'x']);
  assert.deepEqual(checkNames(['WWW.Example.COM', 'example.com'], false), ['www.example.com', 'example.com']);
});

test('checkNames refuses duplicates regardless of case', () => {
  rejectsName(['example.com', 'example.com'], false, 'example.com', 'bad domain syntax: duplicate name');
  rejectsName(['example.com', 'EXAMPLE.com'], false, 'EXAMPLE.com', 'bad domain syntax: duplicate name');
  rejectsName(['*.example.com', '*.Example.com'], true, '*.Example.com', 'bad domain syntax: duplicate name');
});

test('checkNames refuses bad characters', () => {
  for (const name of ['a/b', 'a b', 'ex!', 'ex\u00e9.com', 'a\n.com', '']) rejectsName([name], false, name, 'bad domain syntax');
});

test('checkNames allows a leading wildcard only when asked to', () => {
  assert.deepEqual(checkNames(['*.Example.com', 'example.com'], true), ['*.example.com', 'example.com']);
  rejectsName(['*.example.com'], false, '*.example.com', 'bad domain syntax');
  for (const name of ['*.', '*', 'a.*.b', '*.*.b', '**.b', '*b.c', 'a*.b']) rejectsName([name], true, name, 'bad domain syntax');
});

test('checkNames refuses empty labels', () => {
  for (const name of ['.example.com', 'example.com.', 'example..com', '.', '*..com']) {
    rejectsName([name], true, name, 'bad domain syntax');
  }
});

test('checkNames refuses over-long labels and names', () => {
  const label63 = 'a'.repeat(63);
  assert.deepEqual(checkNames([`${label63}.com`], false), [`${label63}.com`]);
  rejectsName([`${label63}a.com`], false, `${label63}a.com`, 'bad domain syntax');
  const name253 = [label63, label63, label63, 'a'.repeat(61)].join('.');
  assert.equal(name253.length, 253);
  assert.deepEqual(checkNames([name253], false), [name253]);
  rejectsName([`${name253}a`], false, `${name253}a`, 'bad domain syntax');
});

test('extensions: --user takes a value, --isolation-report needs no domain and takes none', () => {
  parsesTo(['--user', '_acme', 'example.com'], { user: '_acme', names: ['example.com'] });
  parsesTo(['--user=nobody', 'example.com'], { user: 'nobody', names: ['example.com'] });
  parsesTo(['--isolation-report'], { isolationReport: true, names: [] });
  rejectsWith(['--isolation-report=yes'], 'option does not take an argument -- isolation-report');
  rejectsWith(['--user'], 'option requires an argument -- user');
  rejectsWith(['--isolation'], 'unknown option -- isolation');
});

test('extensions: --timeout and --poll-timeout take whole seconds, 1 to 86400', () => {
  parsesTo(['--timeout', '5', '--poll-timeout=120', 'example.com'], { timeout: 5, pollTimeout: 120, names: ['example.com'] });
  parsesTo(['--poll-timeout', '86400', 'example.com'], { pollTimeout: 86400, names: ['example.com'] });
  for (const bad of ['0', '-1', '1.5', '1e3', ' 5', '86401', 'x', '']) {
    rejectsWith(['--timeout', bad, 'example.com'], `--timeout needs whole seconds from 1 to 86400: ${bad}`);
  }
  rejectsWith(['--poll-timeout'], 'option requires an argument -- poll-timeout');
});

test('--version and --help need no domain and take no value', () => {
  parsesTo(['--version'], { version: true, names: [] });
  rejectsWith(['--version=1'], 'option does not take an argument -- version');
  parsesTo(['--help'], { help: true, names: [] });
  rejectsWith(['--help=1'], 'option does not take an argument -- help');
});

test('checkNames takes IPv4 and IPv6 addresses in canonical form, and refuses one address written twice', () => {
  assert.deepEqual(checkNames(['example.com', '127.0.0.1', '::1', '2001:DB8:0:0:0:0:0:1'], false), ['example.com', '127.0.0.1', '::1', '2001:db8::1']);
  rejectsName(['2001:db8::1', '2001:DB8::0:1'], false, '2001:DB8::0:1', 'bad domain syntax: duplicate name');
  for (const name of ['[::1]', '::1%lo', 'fe80::1%eth0', '1::2::3', '*.::1']) rejectsName([name], true, name, 'bad domain syntax');
});

test('--account-key-type and --key-type take one of the five key types, and nothing else', () => {
  for (const type of ['rsa2048', 'rsa3072', 'rsa4096', 'ec256', 'ec384'] as const) {
    parsesTo(['--account-key-type', type, `--key-type=${type}`, 'example.com'], { accountKeyType: type, domainKeyType: type, names: ['example.com'] });
  }
  rejectsWith(['--key-type', 'rsa1024', 'example.com'], '--key-type: unknown key type "rsa1024" (one of rsa2048, rsa3072, rsa4096, ec256, ec384)');
  rejectsWith(['--account-key-type=EC256', 'example.com'], '--account-key-type: unknown key type "EC256" (one of rsa2048, rsa3072, rsa4096, ec256, ec384)');
  rejectsWith(['--key-type'], 'option requires an argument -- key-type');
});

test('--eab-kid and --eab-hmac-key-file come together; the kid is not empty', () => {
  parsesTo(['--eab-kid', 'kid-1', '--eab-hmac-key-file', '/etc/acme/eab.key', 'example.com'],
    { eabKid: 'kid-1', eabHmacKeyFile: '/etc/acme/eab.key', names: ['example.com'] });
  rejectsWith(['--eab-kid', 'kid-1', 'example.com'], '--eab-kid and --eab-hmac-key-file go together');
  rejectsWith(['--eab-hmac-key-file=/k', 'example.com'], '--eab-kid and --eab-hmac-key-file go together');
  rejectsWith(['--eab-kid', '', '--eab-hmac-key-file', '/k', 'example.com'], '--eab-kid: empty key identifier');
  // The key itself has no option: it is never on a command line.
  rejectsWith(['--eab-hmac-key', 'c2VjcmV0', 'example.com'], 'unknown option -- eab-hmac-key');
});

test('--ca-file and --preferred-chain set their fields', () => {
  parsesTo(['--ca-file', '/etc/ssl/private-ca.pem', '--preferred-chain', 'ISRG Root X2', 'example.com'],
    { caFile: '/etc/ssl/private-ca.pem', preferredChain: 'ISRG Root X2', names: ['example.com'] });
});

test('--contact is repeatable, keeps its order, and checks a mailto: address for shape', () => {
  parsesTo(['--contact', 'mailto:a@example.org', '-v', '--contact=mailto:b@mail.example.org', '--contact', 'tel:+15551234', 'example.com'],
    { contact: ['mailto:a@example.org', 'mailto:b@mail.example.org', 'tel:+15551234'], verbose: 1, names: ['example.com'] });
  for (const bad of ['mailto:a@', 'mailto:@example.org', 'mailto:a@b@example.org', 'mailto:a@example.org,b@example.org',
    'mailto:a@example.org?subject=x', 'MAILTO:a<b@example.org', 'mailto:a@exa_mple.org']) {
    rejectsWith(['--contact', bad, 'example.com'], `--contact: not one e-mail address: ${JSON.stringify(bad)} (as in mailto:admin@example.org)`);
  }
  for (const bad of ['admin@example.org', '', 'mailto:', '-x:y', 'mailto a@example.org', 'tel:\n1']) {
    rejectsWith(['--contact', bad, 'example.com'], `--contact: not a URI: ${JSON.stringify(bad)} (as in mailto:admin@example.org)`);
  }
});

test('--rollover-account-key takes no domain, and none is needed', () => {
  parsesTo(['-n', '--rollover-account-key', '/etc/acme/new.pem', '-f', '/etc/acme/privkey.pem'],
    { newAccountKey: true, rolloverAccountKey: '/etc/acme/new.pem', accountKey: '/etc/acme/privkey.pem', names: [] });
  rejectsWith(['--rollover-account-key', '/etc/acme/new.pem', 'example.com'], '--rollover-account-key takes no domain');
  rejectsWith(['-m', '--rollover-account-key', '/etc/acme/new.pem'], '--rollover-account-key takes no domain, which -m needs');
  parsesTo(['-vs', '--rollover-account-key', 'n.pem', '--server', 'https://ca/dir', '--ca-file', 'ca.pem', '--account-key-type', 'ec384', '--user', 'u', '--timeout', '9'],
    { verbose: 1, staging: true, rolloverAccountKey: 'n.pem', server: 'https://ca/dir', caFile: 'ca.pem', accountKeyType: 'ec384', user: 'u', timeout: 9, names: [] });
  for (const [extra, option] of [[['-F'], '-F'], [['-k', 'd.pem'], '-k'], [['--profile', 'x'], '--profile'], [['--contact', 'mailto:a@b.example'], '--contact'],
    [['--eab-kid', 'k', '--eab-hmac-key-file', 'f'], '--eab-kid'], [['--no-ari'], '--no-ari'], [['--isolation-report'], '--isolation-report']] as const) {
    rejectsWith([...extra, '--rollover-account-key', 'n.pem'], `--rollover-account-key does not take ${option}`);
  }
});

test('--no-ari is a flag; --profile takes a name', () => {
  parsesTo(['--no-ari', '--profile', 'shortlived', 'example.com'], { noAri: true, profile: 'shortlived', names: ['example.com'] });
  parsesTo(['--profile=tlsserver', 'example.com'], { profile: 'tlsserver', names: ['example.com'] });
  rejectsWith(['--no-ari=1', 'example.com'], 'option does not take an argument -- no-ari');
  rejectsWith(['--profile'], 'option requires an argument -- profile');
});

test('--config: OpenBSD\'s letters in OpenBSD\'s meaning (-n checks, -e binds the account), the operands are handles', () => {
  const base = { configFile: '/etc/acme-client.conf', force: false, check: false, revoke: false, verbose: 0, eab: null, handles: [] };
  assert.deepEqual(parseConfigCommandLine(['--config', '/etc/acme-client.conf']), base);
  assert.deepEqual(parseConfigCommandLine(['-Fvv', '--config=/etc/acme-client.conf', '-e', 'kid-1:c2VjcmV0', 'www', 'mail']),
    { ...base, force: true, verbose: 2, eab: { kid: 'kid-1', macKey: 'c2VjcmV0' }, handles: ['www', 'mail'] });
  assert.deepEqual(parseConfigCommandLine(['-nr', '--config', 'x.conf', '-ekid:AAAA', '--', '-odd']),
    { ...base, configFile: 'x.conf', check: true, revoke: true, eab: { kid: 'kid', macKey: 'AAAA' }, handles: ['-odd'] });
  const refused = (argv: string[], problem: string): void => {
    assert.throws(() => parseConfigCommandLine(argv), (err: unknown) => err instanceof UsageError && err.problem === problem, argv.join(' '));
  };
  refused(['--config', 'x.conf', '-ek:id:AAAA'], '-e needs keyid:key, the key identifier and the MAC key (base64url) the CA gave');
  for (const bad of ['nokey', ':AAAA', 'kid:', 'kid:not base64', 'kid:A']) {
    refused(['--config', 'x.conf', '-e', bad], '-e needs keyid:key, the key identifier and the MAC key (base64url) the CA gave');
  }
  refused(['--config', 'x.conf', '-e'], 'option requires an argument -- e');
  // Would fail if -r without a handle revoked every block.
  refused(['--config', 'x.conf', '-r'], '-r needs the handles of the domains to revoke');
  refused(['-rv', '--config', 'x.conf', '--'], '-r needs the handles of the domains to revoke');
  refused(['--config', 'x.conf', '-N'], 'unknown option -- N (with --config: -F, -n, -r, -v, -e keyid:key)');
  refused(['--config', 'x.conf', '--server', 'https://ca/dir'], '--config takes no --server: the configuration says it');
  refused(['--config', 'a.conf', '--config', 'b.conf'], '--config given twice');
  refused(['--config'], 'option requires an argument -- config');
  refused(['--config='], '--config needs a file');

  assert.equal(usesConfigFile(['-v', '--config', 'x.conf']), true);
  assert.equal(usesConfigFile(['--config=x.conf']), true);
  assert.equal(usesConfigFile(['-v', 'example.org', '--config']), false, 'after the first operand it is a name');
  assert.equal(usesConfigFile(['-e', 'example.org']), false);
});
