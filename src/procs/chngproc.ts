// chngproc: publishes challenges. For http-01 it writes `<challengedir>/<token>` holding exactly
// the key authorization, mode 0444, and removes every file it wrote when netproc hangs up, on
// success and on failure alike. With -t it owns stdin and stdout instead: it prints
// `<type> <identifier> <key authorization>` and waits for the caller to echo the line back.
// A challenge it cannot publish (a file it cannot write, a caller that fails) it reports, and
// tells netproc, but it stays until netproc hangs up: the CA may still be validating the others,
// and their files (with -t, the caller's records, removed once the run is over) must be there
// until it has. It then exits 1. It talks to netproc only and needs no network.

import { promises as fs, rmSync } from 'node:fs';
import { join } from 'node:path';
import { atTermination, runChild } from '../ipc/child.js';
import { Channel } from '../ipc/channel.js';
import { ChngConfig, FD } from '../ipc/roles.js';
import { TOKEN } from '../check.js';
import { canonicalIp } from '../x509/ip.js';
import { ChngToNet, NetToChng, parseNetToChng } from '../ipc/messages.js';
import { removeStaleTemps, removeTempsInFlight, writeFileAtomic } from '../fsutil/atomic.js';
import { Failure, debug, reportError, trace, warn } from '../log.js';

/** A SHA-256 RFC 7638 thumbprint in base64url. */
const THUMBPRINT_LENGTH = 43;

function checkChallenge(m: NetToChng): void {
  // RFC 8555 §8.3: a token is base64url. Anything else ('../x', 'a/b', '') could name another file.
  if (!TOKEN.test(m.token)) throw new Failure(m.token.slice(0, 64) || '<empty token>', 'token is not valid base64url');
  const [token, thumb, ...rest] = m.keyAuthorization.split('.');
  if (token !== m.token || thumb === undefined || thumb.length !== THUMBPRINT_LENGTH || !TOKEN.test(thumb) || rest.length > 0) {
    throw new Failure(m.token, 'malformed key authorization');
  }
  // A domain name, or an IP address (RFC 8738) in the canonical form netproc sends.
  if (!/^(\*\.)?[a-z0-9._-]{1,253}$/.test(m.identifier) && canonicalIp(m.identifier) !== m.identifier) {
    throw new Failure(m.identifier.slice(0, 64), 'malformed identifier');
  }
}

/** Lines from stdin, one at a time, for the -t handshake. */
class StdinLines {
  private buffer = '';
  private ended = false;
  private wake: (() => void) | null = null;

  constructor() {
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk: string) => {
      this.buffer += chunk;
      this.wake?.();
    });
    process.stdin.on('end', () => {
      this.ended = true;
      this.wake?.();
    });
    process.stdin.on('error', () => {
      this.ended = true;
      this.wake?.();
    });
  }

  async next(): Promise<string | null> {
    for (;;) {
      const nl = this.buffer.indexOf('\n');
      if (nl >= 0) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        return line;
      }
      if (this.ended || this.buffer.length > 64 * 1024) return null;
      await new Promise<void>((r) => (this.wake = r));
      this.wake = null;
    }
  }

  close(): void {
    process.stdin.destroy();
  }
}

function writeStdout(line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(line, (err) => (err ? reject(new Failure('<stdout>', err.message)) : resolve()));
  });
}

/** A temporary challenge file this old was left by a killed run. */
const STALE_AFTER_MS = 10 * 60 * 1000;

runChild('chngproc', async (config: ChngConfig, confine) => {
  // With -t only stdin and stdout are needed: drop at once. For http-01 chngproc stays root (it
  // writes a root-owned directory) and relies on its jail; confine() then changes nothing.
  await confine();
  const net = new Channel<NetToChng, ChngToNet>(FD.chngproc.net, 'netproc', parseNetToChng);
  const written: string[] = [];
  // Ctrl-C reaches every process of the group and the parent passes SIGTERM on: published files
  // must go even then, so they are removed before dying.
  atTermination(() => {
    for (const path of written) rmSync(path, { force: true });
    removeTempsInFlight();
  });
  const stdin = config.challengeDir === null ? new StdinLines() : null;
  // A caller gone makes a write to stdout fail: writeStdout's callback has the error, and without
  // a listener the stream's 'error' event would end chngproc before it has told netproc.
  if (stdin !== null) process.stdout.on('error', () => undefined);
  /** Whether a challenge could not be published: the run fails once netproc is done. */
  let failed = false;
  try {
    // Any token's (tokens are the CA's and unknown in advance), but only one ten minutes old: a run
    // beside this one on the same directory, two crontab lines at the same minute, may be between
    // writing its file and renaming it.
    if (config.challengeDir !== null) {
      for (const name of await removeStaleTemps(config.challengeDir, () => true, STALE_AFTER_MS)) debug(join(config.challengeDir, name), 'removed a temporary file left by a killed run');
    }
    for (;;) {
      const request = await net.recv();
      if (request === null) return failed ? 1 : 0;
      // netproc's own mistake ends chngproc at once; a failure to publish is reported and told.
      checkChallenge(request);
      try {
        if (stdin !== null) {
          const line = `${config.challengeType} ${request.identifier} ${request.keyAuthorization}`;
          await writeStdout(`${line}\n`);
          trace(request.token, 'challenge written');
          const echo = await stdin.next();
          if (echo === null) throw new Failure('<stdin>', 'short read');
          if (echo.replace(/\r$/, '') !== line) throw new Failure('<stdin>', 'token mismatch');
          trace(request.token, 'challenge read');
        } else {
          const dir = config.challengeDir as string;
          const path = join(dir, request.token);
          // Recorded before it exists: a signal in the middle of the write must still remove it.
          written.push(path);
          try {
            await writeFileAtomic(dir, request.token, request.keyAuthorization, { mode: 0o444, durable: false });
          } catch (err) {
            // Nothing was written (writeFileAtomic leaves no file behind): nothing to remove, and
            // no second line about it (on a read-only directory, "cannot remove" too).
            written.splice(written.indexOf(path), 1);
            throw err;
          }
          debug(path, 'created');
        }
      } catch (err) {
        if (!(err instanceof Failure)) throw err;
        if (!failed) reportError('chngproc', err);
        failed = true;
        if (!(await net.send({ op: 'failed', id: request.id }))) return 1;
        continue;
      }
      if (!(await net.send({ op: 'ack', id: request.id }))) return failed ? 1 : 0;
    }
  } finally {
    net.close();
    stdin?.close();
    for (const path of written) {
      try {
        await fs.unlink(path);
        debug(path, 'removed');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') warn(path, `cannot remove: ${(err as Error).message}`);
      }
    }
  }
});
