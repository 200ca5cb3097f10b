// Bad input end to end against Pebble: unusable key files, a corrupt cert.pem, a cert dir that is
// full or read-only, and a long name list. Every refusal is exit 1 with exactly one
// `acme-client: <subject>: <problem>` line naming the file, and leaves the cert dir byte for byte
// as it was; a corrupt cert.pem is instead explained and replaced (unless -r asks to revoke it).

import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, labUnavailable, startLab } from '../scripts/pebble-lab.js';
import { ISSUED_SET, RunResult, ecKeys, needsRootAndLab, prerequisite, runClient, snapshot, workDir } from './helpers.js';

const skip = needsRootAndLab(labUnavailable);

/** Every file of a directory (no subdirectories here): name -> size and SHA-256 of the bytes. */

/** The temporary files writeFileAtomic makes: `.<name>.<hex>.tmp`. */
const TEMP_FILE = /^\..+\.[0-9a-f]+\.tmp$/;

/**
 * stderr without the one warning -F always prints (certproc's "forcing renewal"): what is left is
 * what the run says went wrong. Every line must be in the `acme-client: <subject>: <problem>` form.
 */
function problems(run: RunResult): string[] {
  const lines = run.stderr.split('\n').filter((l) => l !== '');
  for (const line of lines) assert.match(line, /^acme-client: .+: .+$/, `not an acme-client line: ${line}`);
  return lines.filter((l) => !/^acme-client: \S+\/cert\.pem: forcing renewal$/.test(l));
}

function sh(command: string): void {
  execFileSync('sh', ['-c', command], { stdio: ['ignore', 'ignore', 'pipe'] });
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('bad input against Pebble', { skip }, () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab();
  });
  /** Work areas made here, removed at the end (the tmpfs ones are unmounted and removed at once). */
  const made: string[] = [];
  const fresh = (): ReturnType<typeof workDir> => {
    const w = workDir();
    made.push(w.dir);
    return w;
  };
  after(async () => {
    await lab?.stop();
    for (const dir of made) {
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        // a tmpfs that would not unmount: its test has already failed on that
      }
    }
  });
  const env = (): NodeJS.ProcessEnv => ({ NODE_EXTRA_CA_CERTS: lab.tlsCaFile });
  const args = (certs: string, acct: string, dom: string): string[] =>
    ['--server', lab.directoryUrl, '-C', lab.challengeDir, '-c', certs, '-f', acct, '-k', dom];

  /** A work area with EC keys and a valid, freshly issued set for `name`. */
  const issued = async (name: string, w = fresh(), certs?: string): Promise<{ w: ReturnType<typeof workDir>; acct: string; dom: string; certs: string }> => {
    const { acct, dom } = ecKeys(w);
    const dir = certs ?? w.certs;
    const run = await runClient([...args(dir, acct, dom), name], { env: env() });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(readdirSync(dir).sort(), ISSUED_SET);
    return { w, acct, dom, certs: dir };
  };

  describe('unusable account and domain key files', () => {
    // One valid set, renewed by no case (each run is -F, so a renewal is wanted every time).
    let base: Awaited<ReturnType<typeof issued>>;
    const name = 'keys.bad.example.test';
    before(async () => {
      base = await issued(name);
    });

    const bad: [string, (path: string, good: string) => void, (flag: string) => string][] = [
      ['empty', (p) => writeFileSync(p, ''), () => 'key file is empty'],
      ['garbage text', (p) => writeFileSync(p, 'this is not a key\n\u0001\u0002 at all\n'), () => 'no PEM private key found'],
      ['an encrypted PEM', (p) => sh(`openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -aes256 -pass pass:x -out '${p}'`),
        () => 'key is encrypted; a passphrase-protected key cannot be used'],
      ['a public key PEM', (p, good) => sh(`openssl pkey -in '${good}' -pubout -out '${p}'`), () => 'file holds a public key, not a private key'],
      ['an Ed25519 key', (p) => sh(`openssl genpkey -algorithm ED25519 -out '${p}'`), () => 'unsupported key type ED25519 (use RSA or EC P-256/P-384)'],
      ['an RSA-1024 key', (p) => sh(`openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out '${p}'`),
        () => 'unsupported key type RSA 1024 (RSA keys need at least 2048 bits)'],
      // Pre-flight: not a readable regular file, refused before any child starts.
      ['a directory', (p) => mkdirSync(p), (flag) => `${flag} file must exist`],
      // O_NOFOLLOW: a link is refused even when it points at a good key.
      ['a symlink to a good key', (p, good) => symlinkSync(good, p), () => 'is a symbolic link'],
      // O_NONBLOCK: the pre-flight lets a FIFO by, and its open must not block the child for good.
      ['a FIFO', (p) => sh(`mkfifo '${p}'`), () => 'not a regular file'],
    ];
    for (const flag of ['-f', '-k']) {
      for (const [what, make, problem] of bad) {
        test(`${flag} ${what}: exit 1, one line naming the file, cert dir untouched`, async () => {
          const path = join(base.w.priv, `${flag.slice(1)}-${what.replace(/\W+/g, '-')}.pem`);
          make(path, flag === '-f' ? base.acct : base.dom);
          const before = snapshot(base.certs);
          const run = await runClient(['-F', ...args(base.certs, flag === '-f' ? path : base.acct, flag === '-k' ? path : base.dom), name], { env: env() });
          assert.equal(run.status, 1, run.stderr);
          assert.equal(run.stdout, '');
          assert.deepEqual(problems(run), [`acme-client: ${path}: ${problem(flag)}`], run.stderr);
          assert.deepEqual(snapshot(base.certs), before);
        });
      }
    }
  });

  describe('a corrupt cert.pem', () => {
    const corruptions: [string, (cert: string, key: string) => string][] = [
      ['a truncated PEM', (cert) => cert.slice(0, Math.floor(cert.length / 2))],
      ['garbage', () => 'garbage, not a certificate\n'],
      ['a PEM private key', (_cert, key) => key],
    ];
    for (const [what, corrupt] of corruptions) {
      test(`${what}: with -r exit 1 and nothing changes; without, a warning and a renewal`, async () => {
        const name = `${what.toLowerCase().replace(/\W+/g, '-')}.cert.bad.example.test`;
        const { acct, dom, certs } = await issued(name);
        const certFile = join(certs, 'cert.pem');
        writeFileSync(certFile, corrupt(readFileSync(certFile, 'utf8'), readFileSync(dom, 'utf8')));
        const before = snapshot(certs);

        const revoke = await runClient(['-r', ...args(certs, acct, dom), name], { env: env() });
        assert.equal(revoke.status, 1, revoke.stderr);
        const lines = problems(revoke);
        assert.equal(lines.length, 1, revoke.stderr);
        assert.match(lines[0] as string, new RegExp(`^acme-client: ${escape(certFile)}: unreadable certificate: .+$`));
        assert.deepEqual(snapshot(certs), before);

        const renew = await runClient(args(certs, acct, dom).concat(name), { env: env() });
        assert.equal(renew.status, 0, renew.stderr);
        const warned = problems(renew);
        assert.equal(warned.length, 1, renew.stderr);
        assert.match(warned[0] as string, new RegExp(`^acme-client: ${escape(certFile)}: unreadable certificate \\(.+\\), renewing$`));

        assert.deepEqual(readdirSync(certs).sort(), ISSUED_SET);
        const cert = readFileSync(certFile, 'utf8');
        const chain = readFileSync(join(certs, 'chain.pem'), 'utf8');
        assert.equal(readFileSync(join(certs, 'fullchain.pem'), 'utf8'), cert + chain);
        const leaf = new X509Certificate(cert);
        const issuer = new X509Certificate(chain);
        assert.equal(leaf.subjectAltName, `DNS:${name}`);
        assert.ok(leaf.checkIssued(issuer) && leaf.verify(issuer.publicKey), 'signed by the next in the chain');
        for (const f of ['cert.pem', 'chain.pem', 'fullchain.pem']) assert.equal(statSync(join(certs, f)).mode & 0o777, 0o444, `${f} mode`);
      });
    }
  });

  describe('a cert dir that cannot be written', () => {
    /** A 64 KiB tmpfs holding a valid set, unmounted afterwards whatever happens. */
    const onTmpfs = async (t: TestContext, name: string, body: (s: Awaited<ReturnType<typeof issued>>) => Promise<void>): Promise<void> => {
      const w = fresh();
      const mnt = join(w.dir, 'tmpfs-certs');
      mkdirSync(mnt);
      try {
        sh(`mount -t tmpfs -o size=64k,mode=0755 acme-client-badinput '${mnt}'`);
      } catch (err) {
        rmSync(w.dir, { recursive: true, force: true });
        t.skip(prerequisite(`cannot mount a tmpfs here: ${String((err as { stderr?: unknown }).stderr ?? err).trim()}`) || undefined);
        return;
      }
      try {
        await body(await issued(name, w, mnt));
      } finally {
        sh(`umount '${mnt}'`);
        rmSync(w.dir, { recursive: true, force: true });
      }
    };
    /** Exactly one line, its subject the cert dir or a file in it, its problem what `why` matches. */
    const oneLineNamingTheDir = (run: RunResult, dir: string, why: RegExp): void => {
      const lines = problems(run);
      assert.equal(lines.length, 1, run.stderr);
      const m = /^acme-client: (.+?): (.+)$/.exec(lines[0] as string);
      assert.ok(m, lines[0]);
      assert.ok(m[1] === dir || m[1]?.startsWith(`${dir}/`), `the line names the cert dir or a file in it: ${lines[0]}`);
      assert.match(m[2] as string, why);
    };

    test('full file system: -F fails with one line, the old set intact, no temporary file left', async (t) => {
      await onTmpfs(t, 'full.bad.example.test', async ({ acct, dom, certs }) => {
        const fd = openSync(join(certs, 'filler'), 'w');
        try {
          const block = Buffer.alloc(1024, 0x2e);
          for (;;) writeSync(fd, block);
        } catch (err) {
          assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
        } finally {
          closeSync(fd);
        }
        const before = snapshot(certs);
        const run = await runClient(['-F', ...args(certs, acct, dom), 'full.bad.example.test'], { env: env() });
        assert.equal(run.status, 1, run.stderr);
        oneLineNamingTheDir(run, certs, /no space left on device|ENOSPC/i);
        assert.deepEqual(readdirSync(certs).filter((f) => TEMP_FILE.test(f)), []);
        assert.deepEqual(snapshot(certs), before);
      });
    });

    test('read-only file system: -F fails with one line, the old set intact', async (t) => {
      await onTmpfs(t, 'ro.bad.example.test', async ({ acct, dom, certs }) => {
        sh(`mount -o remount,ro '${certs}'`);
        const before = snapshot(certs);
        const run = await runClient(['-F', ...args(certs, acct, dom), 'ro.bad.example.test'], { env: env() });
        assert.equal(run.status, 1, run.stderr);
        oneLineNamingTheDir(run, certs, /read-only|not writable|EROFS/i);
        assert.deepEqual(snapshot(certs), before);
      });
    });
  });

  describe('a key dir that is full', () => {
    for (const flag of ['-n', '-N']) {
      test(`${flag}: exit 1 with one line naming the key, and no key or temporary file is left`, async (t) => {
        const w = fresh();
        const mnt = join(w.dir, 'tmpfs-keys');
        mkdirSync(mnt, { mode: 0o700 });
        try {
          sh(`mount -t tmpfs -o size=16k,mode=0700 acme-client-badinput '${mnt}'`);
        } catch (err) {
          t.skip(prerequisite(`cannot mount a tmpfs here: ${String((err as { stderr?: unknown }).stderr ?? err).trim()}`) || undefined);
          return;
        }
        try {
          // Room for less than a key: the write fails part-way, as on a disk that fills up.
          writeFileSync(join(mnt, 'filler'), Buffer.alloc(14 * 1024, 0x2e));
          const { acct, dom } = ecKeys(w);
          const key = join(mnt, 'new.pem');
          const run = await runClient([flag, ...args(w.certs, flag === '-n' ? key : acct, flag === '-N' ? key : dom), 'fullkey.bad.example.test'], { env: env() });
          assert.equal(run.status, 1, run.stderr);
          const lines = problems(run);
          assert.equal(lines.length, 1, run.stderr);
          assert.match(lines[0] as string, new RegExp(`^acme-client: ${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot create key: .*(no space left on device|ENOSPC)`, 'i'));
          assert.deepEqual(readdirSync(mnt), ['filler']);
          assert.deepEqual(readdirSync(w.certs), []);
        } finally {
          sh(`umount '${mnt}'`);
        }
      });
    }
  });

  // Pebble (2.4 as 2.10) sets no limit on the names in an order (101 and 1000 are issued too): the "over the
  // CA's limit" refusal needs a CA that has one (test/fakeca.ts). Here: a long list just works.
  test('300 names: issued, every name in the certificate', async () => {
    const names = Array.from({ length: 300 }, (_, i) => `n${i}.many.bad.example.test`);
    const w = fresh();
    const { acct, dom } = ecKeys(w);
    const run = await runClient([...args(w.certs, acct, dom), ...names], { env: env() });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stderr, '');
    const leaf = new X509Certificate(readFileSync(join(w.certs, 'cert.pem')));
    const sans = (leaf.subjectAltName ?? '').split(', ').map((s) => s.replace(/^DNS:/, ''));
    assert.equal(sans.length, 300);
    assert.deepEqual([...sans].sort(), [...names].sort());
  });
});
