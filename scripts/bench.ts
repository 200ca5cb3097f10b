// `npm run bench`: acme-client side by side with the peer ACME clients that Debian packages (uacme,
// lego, certbot, dehydrated, acme-tiny, lacme) and the npm `acme-client` library (node-acme-client,
// driven by scripts/bench-node-peer.cts), all against one throwaway local Pebble, in one run.
// Our client runs twice over: with an EC P-256 account key (acme-client, the coming default, the
// row every ratio divides) and with an RSA-4096 one (acme-client-rsa: each signature costs more).
//
//   npm run bench [-- --rounds N] [--only CLIENT | --clients a,b] [--cases issue1,noop,...]
//                    [--timeout S] [--slow] [--out FILE] [--keep] [--no-setup] [--no-isolate] [--sample-ms MS] [--rtt MS]
//
// Cases: issue1 (a new certificate for b1.example.test, forced), issue100 (one certificate for
// n1..n100.bench.example.test, forced), noop (the nightly run: the certificate is valid, nothing to
// do), revoke (revoke b1's certificate), node (`node -e 0`, the floor of any Node.js program, `node`
// running `node -e 0`, and the floor of our no-op, scripts/noop-floor.ts; run with noop), keygen (what RSA-4096 key generation costs our client), noop-ari (ours only: the
// nightly run when the CA's renewal window decides, ARI being our default; it asks the CA's
// renewalInfo through scripts/ariproxy.ts, which Debian's Pebble lacks). Every case runs N rounds
// (default 5), the clients interleaved and their order rotated each round, so that drift of a
// shared machine hits them all alike; each cell is the median and the range (min-max). lego and
// dehydrated take minutes on 100 names: their issue100 is skipped unless --slow, which runs it once.
//
// How:
//  1. Set-up, on the host: as root, `apt-get update` and `apt-get install` of each selected peer
//     whose command is missing (a package that fails is skipped with a note).
//  2. The measuring process re-runs itself in a new network and mount namespace (unshare -n -m)
//     with only `lo` up, so neither the lab nor any client can reach anything but 127.0.0.1/::1.
//     It runs from a private copy of the node binary, and the clients get another (the wrapper a
//     copy of python3), so that the clients' processes share no page with the bench, the wrapper
//     or unrelated node processes (PSS would otherwise hand those part of the clients' memory).
//     Without unshare the bench runs unisolated, every client pointed at the local Pebble
//     explicitly (uacme and lacme then cannot run: they only trust the system store).
//  3. startLab() (Pebble, pebble-challtestsrv, nginx on loopback, authorization reuse off, no
//     validation sleep, no injected badNonce). Inside the namespace only, the system CA bundle is
//     bind-mounted over by system + the lab's TLS CA, for the clients that have no other way to
//     trust a CA (uacme: libcurl-gnutls ignores every variable; lacme: clears its environment).
//  4. Each client gets its own directory, account (registered untimed) and, untimed, a first
//     certificate for b1.example.test. Our client gets EC P-256 domain keys and its account key
//     (EC P-256, or RSA-4096 for acme-client-rsa) made with openssl beforehand, so no key
//     generation is timed in the issuance cases; so does the node library.
//  5. Every timed run goes through a small python3 wrapper (written into the work dir) that
//     becomes a child subreaper, posix_spawn()s the client, times wall clock around it and, after
//     reaping every descendant, reports getrusage(RUSAGE_CHILDREN): user+sys CPU of the whole
//     process tree (microsecond resolution, unlike /usr/bin/time's 10 ms) and the largest
//     single-process RSS. Meanwhile this process sums the PSS (/proc/PID/smaps_rollup) of every
//     process under the wrapper every ~10 ms and keeps the largest sum, at nice 19 (the wrapper
//     puts the client back to nice 0). Even so the reads slow a client of many processes (ours,
//     one name at RTT 50: 684 against 659 ms), so runs through the relay (--rtt) sample nothing
//     unless --sample-ms says otherwise.
//     Each run has a time limit (default 120 s); whatever is left is killed.
//
//  6. Where our time goes (bench-trace.ts): a python3 collector, started by the outer process
//     (the kernel answers it only outside the namespace), records the fork, exec and exit of every
//     process the bench starts and the CPU of every thread as it ends; each timed run of ours is
//     split into the parent, its six children and their helpers. Each round also runs our 1- and
//     100-name issuances and the ARI no-op once more with -vv, the wrapper stamping each stderr
//     line, to time every ACME request. Neither is in the tables' figures; both get a section of
//     their own.
//  7. The ARI no-op (noop-ari): scripts/ariproxy.ts in front of the lab's Pebble, in a node process
//     of its own at nice 0 (scripts/bench-ariproxy.ts), adds renewalInfo to the directory and
//     answers it with a window not yet open. Our client gets a certificate through it (untimed);
//     before each timed run the state file's askAfter is put in the past, as on the first night
//     after the CA's Retry-After, so that certproc says "ask". A run counts only if it exits 2
//     after exactly GET /dir and GET /renewal-info/<CertID>, and fileproc kept the answer.
//  8. --rtt MS: a CA across the internet. scripts/latency-relay.ts, in a node process of its own at
//     nice 0, relays TCP to Pebble holding each chunk MS/2 each way (and a new connection's first
//     bytes one round trip more, for its handshake); every client is given its directory URL, and
//     Pebble names every other URL after the Host header, so each client stays on it. The relay
//     notes when it accepts each connection: a run's first is when its first request left, timed
//     from the wrapper's start of the client (both CLOCK_MONOTONIC). These runs measure time: PSS
//     is not sampled (see 5) unless --sample-ms is given.
//
// The tables go to stdout and, for a run of every client and case, to bench/RESULTS.md (--out to
// choose; a subset run writes only where --out says). A summary comes first: each job, our two
// account key types, the fastest peer and our ratio to it, next to issue 15's goals.
//
// Only node built-ins (and Debian's python3 for the wrapper, unshare, ip, mount, openssl), and
// the devDependency node-acme-client for that peer.
//
// The parts, in scripts/bench/: cli.ts (the options), cases.ts (the cases), peers.ts (the clients and
// how each runs each case), outer.ts (steps 1, 2), measure.ts (5: one timed run), lab.ts (7, 8: around
// Pebble), runner.ts (3, 4: the lab and the rounds), report.ts (the tables); bench-trace.ts (6).
import { type Args, USAGE, readArgs } from './bench/cli.js';
import { log } from './bench/common.js';
import { outer } from './bench/outer.js';
import { inner } from './bench/runner.js';

// ---- main ------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  let args: Args;
  try { args = readArgs(argv); } catch (e) {
    process.stderr.write(`bench: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (args.inNs) return inner(args, []);
  return outer(args, argv);
}

main().then((code) => { process.exitCode = code; }, (err: unknown) => {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
