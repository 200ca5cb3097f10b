// The bench's paths, fixed names and small helpers, shared by its parts (scripts/bench.ts says how it works).
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..'); // build/scripts/bench/common.js -> repo root
/** The bench's entry, which the outer process runs again inside the namespace. */
export const SELF = join(ROOT, 'build', 'scripts', 'bench.js');
export const CLI = join(ROOT, 'dist', 'acme-client.js');
export const PYTHON = '/usr/bin/python3';
export const SYSTEM_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
export const UACME_HOOK = '/usr/share/uacme/uacme.sh';
export const PATH_ENV = '/usr/sbin:/usr/bin:/sbin:/bin';
export const EMAIL = 'bench@example.test';
export const SLOW_TIMEOUT_S = 900;

export const NAME1 = 'b1.example.test';
export const NAMES100 = Array.from({ length: 100 }, (_, i) => `n${i + 1}.bench.example.test`);

export const FLOOR = join(ROOT, 'build', 'floor', 'noop-floor.js');
export const ARI_PROXY = join(ROOT, 'build', 'scripts', 'bench-ariproxy.js');
export const RELAY = join(ROOT, 'build', 'scripts', 'latency-relay.js');
/** Where our client keeps the CA's renewal answer, beside the certificate (src/defaults.ts). */
export const STATE_FILE = 'acme-client-state.json';

// ---- small helpers -----------------------------------------------------------------------------

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
export const log = (s: string): void => { process.stderr.write(`bench: ${s}\n`); };

export function have(path: string): boolean {
  return existsSync(path);
}

/** A peer's package is there: its file if it names one, else dpkg's word. */
export function installed(p: { pkg: string; bin?: string }): boolean {
  if (p.bin !== undefined) return have(p.bin);
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', p.pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() === 'install ok installed';
}

export function lastLines(text: string, n = 3, max = 300): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const s = lines.slice(-n).join(' | ');
  return s.length > max ? '…' + s.slice(-max) : s;
}

export function fileTail(path: string, n = 3): string {
  try { return lastLines(readFileSync(path, 'utf8'), n); } catch { return '(no output)'; }
}

/** An untimed helper command (set-up, key making): throws with its output tail unless it exits with `expect`. */
export function runSync(argv: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutS?: number; stdout?: string; expect?: number; log?: string } = {}): void {
  const out = opts.stdout ? openSync(opts.stdout, 'w') : 'pipe';
  try {
    const r = spawnSync(argv[0]!, argv.slice(1), {
      cwd: opts.cwd, env: opts.env ?? { PATH: PATH_ENV }, timeout: (opts.timeoutS ?? 120) * 1000, killSignal: 'SIGKILL',
      stdio: ['ignore', out, 'pipe'], encoding: 'utf8', maxBuffer: 64 * 1024 * 1024,
    });
    const text = `${r.stdout ?? ''}${r.stderr ?? ''}`;
    if (opts.log) writeFileSync(opts.log, `$ ${argv.join(' ')}\n${text}\n`, { flag: 'a' });
    if (r.error) throw new Error(`${argv[0]}: ${r.error.message}`);
    const want = opts.expect ?? 0;
    if (r.status !== want) throw new Error(`${argv.slice(0, 3).join(' ')}… exit ${r.status ?? r.signal} (wanted ${want}): ${lastLines(text)}`);
  } finally {
    if (typeof out === 'number') closeSync(out);
  }
}

export function debVersion(pkg: string): string | null {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Version}', pkg], { encoding: 'utf8' });
  if (r.status !== 0 || !r.stdout) return null;
  return upstreamVersion(r.stdout);
}

/** A Debian version without its epoch, repack and revision: 2.10.0+ds1-2 is 2.10.0. */
export function upstreamVersion(version: string | null): string | null {
  return version === null ? null : version.trim().replace(/^\d+:/, '').replace(/[-+~](deb|ds|b\d|\d+$).*$/, '').replace(/-\d+$/, '');
}

export function median(v: number[]): number {
  const s = [...v].sort((x, y) => x - y);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function fmtS(x: number): string {
  return x < 1 ? x.toFixed(3) : x < 100 ? x.toFixed(2) : x.toFixed(0);
}

export function fmtMiB(kib: number): string {
  return (kib / 1024).toFixed(1);
}
