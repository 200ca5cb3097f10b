// `npm run demo`: get a real certificate from a throwaway local ACME CA (Pebble) with the built
// client, look at it, and show that a second run has nothing to do.
//
// Everything the client writes goes to a fresh /tmp/acme-client-demo-XXXXXX that is kept
// afterwards (certs/, private/, acme/, and lab-logs/ with the CA's and the web server's logs);
// the CA itself, with its temp dir, is gone when the demo ends.
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { labUnavailable, startLab, type Lab } from './pebble-lab.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..'); // build/scripts/demo.js -> repo root
const cli = join(root, 'dist', 'acme-client.js');
const domains = ['demo.example.test', 'www.demo.example.test'];
const CLI_TIMEOUT_MS = 180_000;

const EXIT_MEANING: Record<number, string> = {
  0: 'a new certificate was obtained and installed',
  1: 'failure',
  2: 'nothing to do: the certificate is still valid and was not renewed',
};

function say(s = ''): void {
  process.stdout.write(s + '\n');
}

function heading(s: string): void {
  say();
  say(`==> ${s}`);
}

function runClient(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  say(`$ SSL_CERT_FILE=${env.SSL_CERT_FILE} node ${relative(root, cli)} ${args.join(' ')}`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], {
      cwd: root, env, stdio: ['ignore', 'inherit', 'inherit'], timeout: CLI_TIMEOUT_MS, killSignal: 'SIGKILL',
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (signal) say(`(acme-client killed by ${signal}${signal === 'SIGKILL' ? `, timeout ${CLI_TIMEOUT_MS / 1000} s?` : ''})`);
      resolve(code ?? 1);
    });
  });
}

function describeExit(code: number, expected: number): void {
  say(`exit status ${code}: ${EXIT_MEANING[code] ?? 'unexpected'}${code === expected ? '' : `  (expected ${expected}: ${EXIT_MEANING[expected]})`}`);
}

async function showCertificate(lab: Lab, certDir: string): Promise<boolean> {
  const files = ['cert.pem', 'chain.pem', 'fullchain.pem'].map((f) => join(certDir, f));
  let ok = true;
  for (const f of files) {
    say(`  ${f}${existsSync(f) ? '' : '   (missing!)'}`);
    if (!existsSync(f)) ok = false;
  }
  if (!existsSync(files[0]!)) return false;
  const cert = new X509Certificate(readFileSync(files[0]!));
  heading('What the certificate holds');
  say(`  subject   : ${cert.subject.replace(/\n/g, ', ')}`);
  say(`  SANs      : ${cert.subjectAltName ?? '(none)'}`);
  say(`  issuer    : ${cert.issuer.replace(/\n/g, ', ')}`);
  say(`  notBefore : ${cert.validFrom}`);
  say(`  notAfter  : ${cert.validTo}`);
  say(`  serial    : ${cert.serialNumber}`);
  say(`  key       : ${cert.publicKey.asymmetricKeyType}${cert.publicKey.asymmetricKeyDetails?.namedCurve ? ` ${cert.publicKey.asymmetricKeyDetails.namedCurve}` : ''}`
    + `${cert.publicKey.asymmetricKeyDetails?.modulusLength ? ` ${cert.publicKey.asymmetricKeyDetails.modulusLength} bits` : ''}`);
  const sans = (cert.subjectAltName ?? '').split(', ').map((s) => s.replace(/^DNS:/, '')).sort();
  if (JSON.stringify(sans) !== JSON.stringify([...domains].sort())) {
    say(`  !! SANs differ from the names asked for (${domains.join(', ')})`);
    ok = false;
  }

  // The chain: chain.pem's first certificate issued the leaf, and it chains up to Pebble's root.
  try {
    const issuers = (await lab.issuerPems()).match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    const [pebbleRoot, pebbleInter] = issuers.map((p) => new X509Certificate(p));
    if (existsSync(files[1]!) && pebbleRoot && pebbleInter) {
      const chain = new X509Certificate(readFileSync(files[1]!));
      const leafOk = cert.checkIssued(chain) && cert.verify(chain.publicKey);
      const chainOk = chain.fingerprint256 === pebbleInter.fingerprint256 && chain.verify(pebbleRoot.publicKey);
      say(`  chain     : ${leafOk && chainOk ? 'verified' : 'NOT verified'}: leaf <- ${chain.subject.replace(/\n/g, ', ')} <- ${pebbleRoot.subject.replace(/\n/g, ', ')} (Pebble's root of this run)`);
      if (!(leafOk && chainOk)) ok = false;
    }
    const status = (await lab.certStatus(cert.serialNumber)) as { Status?: string };
    say(`  at the CA : ${status.Status ?? JSON.stringify(status)}`);
  } catch (e) {
    say(`  (could not check against the CA: ${(e as Error).message})`);
  }
  return ok;
}

async function main(): Promise<number> {
  const missing = labUnavailable();
  if (missing) {
    console.error(`demo: ${missing}`);
    return 1;
  }
  if (!existsSync(cli)) {
    console.error(`demo: ${cli} is missing: run \`npm run build\` (npm run demo does it first)`);
    return 1;
  }

  heading('Starting a throwaway ACME CA (Pebble + pebble-challtestsrv + nginx on 127.0.0.1)');
  const lab = await startLab();
  let status = 1;
  const work = mkdtempSync('/tmp/acme-client-demo-');
  try {
    say(`  ACME directory : ${lab.directoryUrl}`);
    say(`  its TLS CA     : ${lab.tlsCaFile}`);
    say(`  challenge dir  : ${lab.challengeDir}  (http://<name>:${lab.httpPort}/.well-known/acme-challenge/)`);

    chmodSync(work, 0o755);
    const certDir = join(work, 'certs');
    const privDir = join(work, 'private');
    const acmeDir = join(work, 'acme');
    mkdirSync(certDir, { mode: 0o755 });
    mkdirSync(privDir, { mode: 0o700 });
    mkdirSync(acmeDir, { mode: 0o700 });
    const acctKey = join(acmeDir, 'account.key');
    const domainKey = join(privDir, `${domains[0]}.key`);
    const args = ['-v', '-n', '-N', '--server', lab.directoryUrl, '-C', lab.challengeDir, '-c', certDir,
      '-f', acctKey, '-k', domainKey, ...domains];
    const env = { ...process.env, SSL_CERT_FILE: lab.tlsCaFile };

    heading(`First run: new account key, new domain key, new certificate for ${domains.join(', ')}`);
    let n = lab.requestCount();
    const first = await runClient(args, env);
    describeExit(first, 0);
    say(`(${lab.requestCount() - n} requests to the CA)`);
    let ok = first === 0;
    if (first === 0) {
      say(`  account key : ${acctKey}${existsSync(acctKey) ? '' : '   (missing!)'}`);
      say(`  domain key  : ${domainKey}${existsSync(domainKey) ? '' : '   (missing!)'}`);
      if (!existsSync(acctKey) || !existsSync(domainKey)) ok = false;
      if (!(await showCertificate(lab, certDir))) ok = false;
    }

    heading('Second run: the certificate is still valid, so there is nothing to do');
    n = lab.requestCount();
    const second = await runClient(args, env);
    describeExit(second, 2);
    say(`(${lab.requestCount() - n} requests to the CA)`);
    if (second !== 2) ok = false;

    status = ok ? 0 : 1;
  } finally {
    try { cpSync(lab.logDir, join(work, 'lab-logs'), { recursive: true }); } catch { /* the demo's result matters more */ }
    await lab.stop();
  }

  heading(status === 0 ? 'Demo succeeded' : 'Demo FAILED');
  say(`  files kept in ${work}: certs/ private/ acme/ lab-logs/ (Pebble's, nginx's and challtestsrv's logs)`);
  say('  the CA is gone: its keys lived only in memory and in its removed temp dir');
  return status;
}

main().then((code) => { process.exitCode = code; }, (err: unknown) => {
  console.error(`demo: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
