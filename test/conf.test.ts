// The acme-client.conf(5) reader: OpenBSD's grammar (macros, include, line continuation, the two
// blocks) and every problem named by file and line.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, parseConfig, printConfig } from '../src/conf/parse.js';

// Every case's directory is made under one, removed at the end.
const top = mkdtempSync(join(tmpdir(), 'acme-conf-test-'));
after(() => rmSync(top, { recursive: true, force: true }));

function dir(): string {
  return mkdtempSync(join(top, 'case-'));
}

function write(d: string, name: string, text: string): string {
  const path = join(d, name);
  writeFileSync(path, text);
  return path;
}

function problemsOf(file: string): string[] {
  try {
    parseConfig(file);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems.map(({ place, problem }) => `${place.file}:${place.line}: ${problem}`);
  }
  assert.fail(`${file}: no problem found`);
}

// OpenBSD's etc/examples/acme-client.conf, as it ships (2023), with a domain key type and a chain.
const EXAMPLE = `#
# $OpenBSD: acme-client.conf,v 1.5 2023/05/10 07:34:57 tb Exp $
#
authority letsencrypt {
\tapi url "https://acme-v02.api.letsencrypt.org/directory"
\taccount key "/etc/acme/letsencrypt-privkey.pem"
}

authority letsencrypt-staging {
\tapi url "https://acme-staging-v02.api.letsencrypt.org/directory"
\taccount key "/etc/acme/letsencrypt-staging-privkey.pem" ecdsa
}

authority buypass {
\tapi url "https://api.buypass.com/acme/directory"
\taccount key "/etc/acme/buypass-privkey.pem"
\tcontact "mailto:me@example.com"
}

domain example.com {
\talternative names { secure.example.com, www.example.com
\t\tstatic.example.com }
\tdomain key "/etc/ssl/private/example.com.key" ecdsa
\tdomain full chain certificate "/etc/ssl/example.com.fullchain.pem"
\t# Test with the staging server to avoid aggressive rate-limiting.
\t#sign with letsencrypt-staging
\tsign with letsencrypt
}

domain mail {
\tdomain name mail.example.com
\tdomain key "/etc/ssl/private/mail.key"
\tdomain certificate "/etc/ssl/mail.crt"
\tdomain chain certificate "mail.chain.pem"
\tsign with buypass
\tchallengedir "/var/www/acme-mail"
}
`;

test('OpenBSD\'s example file: three authorities, two domains, defaults as OpenBSD has them', () => {
  const config = parseConfig(write(dir(), 'acme-client.conf', EXAMPLE));
  assert.deepEqual(config.authorities.map((a) => [a.name, a.apiUrl, a.accountKey, a.accountKeyType, a.contact]), [
    ['letsencrypt', 'https://acme-v02.api.letsencrypt.org/directory', '/etc/acme/letsencrypt-privkey.pem', 'rsa', null],
    ['letsencrypt-staging', 'https://acme-staging-v02.api.letsencrypt.org/directory', '/etc/acme/letsencrypt-staging-privkey.pem', 'ecdsa', null],
    ['buypass', 'https://api.buypass.com/acme/directory', '/etc/acme/buypass-privkey.pem', 'rsa', 'mailto:me@example.com'],
  ]);
  const [example, mail] = config.domains;
  assert.deepEqual(example, {
    handle: 'example.com', name: 'example.com', altNames: ['secure.example.com', 'www.example.com', 'static.example.com'],
    domainKey: '/etc/ssl/private/example.com.key', domainKeyType: 'ecdsa', certificate: null, chainCertificate: null,
    fullChainCertificate: '/etc/ssl/example.com.fullchain.pem', signWith: 'letsencrypt', challengeDir: null, profile: null,
    place: example?.place,
  });
  assert.equal(example?.place.line, 20);
  assert.equal(mail?.name, 'mail.example.com');
  assert.equal(mail?.domainKeyType, 'rsa');
  assert.equal(mail?.chainCertificate, '/etc/ssl/mail.chain.pem', 'a relative chain is in the certificate\'s directory');
  assert.equal(mail?.challengeDir, '/var/www/acme-mail');
  assert.equal(mail?.signWith, 'buypass');
});

test('macros: defined, expanded unquoted (keywords and several words too), not inside quotes; unused ones listed', () => {
  const d = dir();
  const file = write(d, 'macros.conf', [
    'api_url="https://ca.example.test/dir"',
    'keyspec = "/etc/acme/a.pem" "ecdsa"',
    'le=first',
    'unused="x"',
    'authority first {',
    '\tapi url $api_url',
    '\taccount key $keyspec',
    '\tcontact "$le"', // not expanded inside quotes: "$le" is no URI
    '}',
    'domain example.test {',
    '\tdomain key "/etc/ssl/private/e.key"',
    '\tdomain certificate "/etc/ssl/e.crt"',
    '\tsign with $le',
    '}',
  ].join('\n'));
  assert.deepEqual(problemsOf(file), [`${file}:8: contact: not a URI: $le (as in mailto:admin@example.org)`]);
  writeFileSync(file, readFileSync(file, 'utf8').replace('\tcontact "$le"\n', ''));
  const config = parseConfig(file);
  assert.equal(config.authorities[0]?.apiUrl, 'https://ca.example.test/dir');
  assert.equal(config.authorities[0]?.accountKey, '/etc/acme/a.pem');
  assert.equal(config.authorities[0]?.accountKeyType, 'ecdsa', 'the macro\'s second word is read as the key type');
  assert.equal(config.domains[0]?.signWith, 'first');
  assert.deepEqual(config.unusedMacros, ['unused']);
});

test('line continuation: a backslash at the end of a line joins it to the next, in and out of quotes; lines still count', () => {
  const d = dir();
  const file = write(d, 'cont.conf', [
    'authority ca {',
    '\tapi url \\',
    '\t\t"https://ca.example.test/\\',
    'dir"',
    '\taccount key "/etc/acme/a.pem"',
    '}',
    'domain example.test {',
    '\tdomain key "/etc/ssl/private/e.key"',
    '\tdomain certificate "/etc/ssl/e.crt"',
    '\tbogus option',
    '}',
  ].join('\n'));
  assert.deepEqual(problemsOf(file), [`${file}:10: syntax error`]);
  writeFileSync(file, readFileSync(file, 'utf8').replace('\tbogus option\n', ''));
  assert.equal(parseConfig(file).authorities[0]?.apiUrl, 'https://ca.example.test/dir');
});

test('include: the included file\'s lines are its own, its macros and authorities are shared, a missing one is named where included', () => {
  const d = dir();
  const sub = write(d, 'authorities.conf', [
    'ca_url="https://ca.example.test/dir"',
    'authority ca {',
    '\tapi url $ca_url',
    '\taccount key "/etc/acme/a.pem"',
    '\tfrobnicate',
    '}',
  ].join('\n'));
  const main = write(d, 'main.conf', [
    '# the authorities are kept apart',
    `include "${sub}"`,
    'domain example.test {',
    '\tdomain key "/etc/ssl/private/e.key"',
    '\tdomain certificate "/etc/ssl/e.crt"',
    '\tsign with ca',
    '}',
    `include "${join(d, 'missing.conf')}"`,
  ].join('\n'));
  assert.deepEqual(problemsOf(main), [
    `${sub}:5: syntax error`,
    `${main}:8: failed to include file ${join(d, 'missing.conf')}: no such file or directory`,
  ]);
  writeFileSync(sub, readFileSync(sub, 'utf8').replace('\tfrobnicate\n', ''));
  writeFileSync(main, readFileSync(main, 'utf8').replace(/include "[^"]*missing\.conf"/, ''));
  const config = parseConfig(main);
  assert.equal(config.domains[0]?.signWith, 'ca');
  assert.equal(config.authorities[0]?.apiUrl, 'https://ca.example.test/dir');

  const loop = write(d, 'loop.conf', `include "${join(d, 'loop.conf')}"\n`);
  assert.match(problemsOf(loop).at(-1) ?? '', /loop\.conf:1: failed to include file .*loop\.conf: includes nested more than 16 deep$/);
});

test('every problem is named by file and line, all of them in one reading', () => {
  const d = dir();
  const groupReadable = write(d, 'group.key', 'x');
  chmodSync(groupReadable, 0o640);
  const file = write(d, 'bad.conf', [
    'authority ca {',                                    // 1
    '\tapi url "http://ca.example.test/dir"',            // 2
    '\taccount key "/etc/acme/a.pem" dsa',               // 3
    '}',                                                 // 4
    'authority ca2 {',                                   // 5
    '\taccount key "/etc/acme/b.pem"',                   // 6
    '}',                                                 // 7
    'domain bad!name {',                                 // 8
    '}',                                                 // 9
    'domain example.test {',                             // 10
    `\tdomain key "${groupReadable}"`,                   // 11
    '\tdomain certificate "relative/e.crt"',             // 12
    '\tsign with nobody',                                // 13
    '\talternative names { ok.example.test, sp@ce }',    // 14
    '}',                                                 // 15
    'domain two.example.test {',                         // 16
    '\tdomain key "/etc/ssl/private/two.key"',           // 17
    '\tdomain certificate "/etc/ssl/two.crt"',           // 18
    '\tdomain full chain certificate "/elsewhere/two.pem"', // 19
    '\tsign with $undefined',                            // 20
    '}',                                                 // 21
    'domain three.example.test {',                       // 22
    '\tdomain certificate "/etc/ssl/three.crt"',         // 23
    '}',                                                 // 24
    '"unterminated',                                     // 25
  ].join('\n'));
  assert.deepEqual(problemsOf(file), [
    `${file}:2: api url: plain http is for a CA on this host's loopback only (127.0.0.0/8, ::1, localhost); use https: http://ca.example.test/dir`,
    `${file}:3: syntax error`,
    `${file}:1: authority ca: no api URL specified`,
    `${file}:5: authority ca2: no api URL specified`,
    `${file}:8: syntax error`,
    `${file}:9: syntax error`,
    `${file}:11: ${groupReadable}: group read/writable or world read/writable`,
    `${file}:12: relative/e.crt: not an absolute path`,
    `${file}:13: sign with: unknown authority`,
    `${file}:14: sp@ce: bad domain syntax`,
    `${file}:10: no domain key file specified for domain example.test`,
    `${file}:20: macro 'undefined' not defined`,
    `${file}:20: syntax error`,
    `${file}:19: domain full chain certificate /elsewhere/two.pem: not in /etc/ssl, the directory of the certificate, where its files are written`,
    `${file}:22: no domain key file specified for domain three.example.test`,
    `${file}:25: reached end of file while parsing quoted string`,
  ]);
});

// Would fail if key files were checked with lstat (a link's own mode is 0777: OpenBSD's stat() looks
// at the key), or if the same certificate file under two spellings were taken.
test('a key reached through a symlink is judged by the key; a file named twice, however spelt, is refused; http for a loopback CA', () => {
  const d = dir();
  const key = write(d, 'private.key', 'x');
  chmodSync(key, 0o600);
  symlinkSync(key, join(d, 'link.key'));
  // A test CA on the loopback may be plain http, as for --server (Boulder's http://127.0.0.1:4001).
  const ok = write(d, 'ok.conf', `authority ca {\n\tapi url "http://127.0.0.1:4001/directory"\n\taccount key "${d}/account.pem"\n}\n`
    + `domain a.example.test {\n\tdomain key "${d}/link.key"\n\tdomain full chain certificate "${d}/a.pem"\n}\n`);
  assert.equal(parseConfig(ok).domains[0]?.domainKey, join(d, 'link.key'));
  const twice = write(d, 'twice.conf', `authority ca {\n\tapi url "https://ca.example.test/dir"\n\taccount key "${d}/account.pem"\n}\n`
    + `domain a.example.test {\n\tdomain key "${d}/link.key"\n\tdomain certificate "${d}/a.pem"\n\tdomain chain certificate "a.pem"\n}\n`);
  assert.deepEqual(problemsOf(twice), [`${twice}:5: domain a.example.test: ${d}/a.pem named twice`]);
});

test('-n prints the configuration as OpenBSD does, which reads back to the same', () => {
  const d = dir();
  const config = parseConfig(write(d, 'acme-client.conf', EXAMPLE));
  const printed = printConfig(config);
  assert.match(printed, /^authority letsencrypt \{\n\tapi url "https:\/\/acme-v02\.api\.letsencrypt\.org\/directory"\n\taccount key "\/etc\/acme\/letsencrypt-privkey\.pem" rsa\n\}\n\n/);
  assert.match(printed, /\tdomain chain certificate "\/etc\/ssl\/mail\.chain\.pem"\n/);
  const again = parseConfig(write(d, 'printed.conf', printed));
  assert.deepEqual(again.domains.map((x) => ({ ...x, place: null })), config.domains.map((x) => ({ ...x, place: null })));
  assert.deepEqual(again.authorities.map((x) => ({ ...x, place: null })), config.authorities.map((x) => ({ ...x, place: null })));
});
