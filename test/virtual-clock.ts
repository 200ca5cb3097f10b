// virtual-clock: preloaded into a product process by a test (node --import build/test/virtual-clock.js),
// so that a long timer the product arms (a grace on shutdown, a hook's time limit) can be seen and
// made to expire at once instead of waited for. The product is run unchanged: each timer of a
// minute or more is reported on stderr as `virtual-clock: armed <ms>`, and SIGUSR2 fires those still
// pending, each reported as `virtual-clock: fired <ms>`. Shorter timers run as they would.
//
// node:timers is patched before the product loads: node:child_process takes its setTimeout from
// there when it is first loaded (spawn's `timeout` option), the product's own code from the global.

import { createRequire } from 'node:module';

const LONG_MS = 60_000;
const timers = createRequire(import.meta.url)('node:timers') as typeof import('node:timers');
const realSetTimeout = timers.setTimeout;
const realClearTimeout = timers.clearTimeout;
const pending = new Map<unknown, { ms: number; fire: () => void }>();

function virtualSetTimeout(callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]): NodeJS.Timeout {
  if (typeof ms !== 'number' || ms < LONG_MS) return realSetTimeout(callback, ms, ...args);
  const fire = (): void => {
    pending.delete(handle);
    callback(...args);
  };
  const handle = realSetTimeout(fire, ms);
  pending.set(handle, { ms, fire });
  process.stderr.write(`virtual-clock: armed ${ms}\n`);
  return handle;
}

function virtualClearTimeout(handle: NodeJS.Timeout | string | number | undefined): void {
  pending.delete(handle);
  realClearTimeout(handle);
}

Object.assign(timers, { setTimeout: virtualSetTimeout, clearTimeout: virtualClearTimeout });
Object.assign(globalThis, { setTimeout: virtualSetTimeout, clearTimeout: virtualClearTimeout });

process.on('SIGUSR2', () => {
  for (const [handle, { ms, fire }] of [...pending]) {
    realClearTimeout(handle as NodeJS.Timeout);
    process.stderr.write(`virtual-clock: fired ${ms}\n`);
    fire();
  }
});
