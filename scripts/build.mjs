// Build: type-check and compile everything with tsc (build/, used by the tests), then bundle the
// parent and each child into one self-contained file (dist/), so that a child's permission
// allow-list can name a single file and node_modules is never read at run time.
import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync, chmodSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', root], { stdio: 'inherit', cwd: root });

const esbuild = require('esbuild');
// node-forge is CommonJS and calls require('crypto'): give the ESM bundles a real require.
const banner = "import { createRequire as __acmeCreateRequire } from 'node:module'; const require = __acmeCreateRequire(import.meta.url);";
const procs = readdirSync(join(root, 'src/procs')).filter((f) => f.endsWith('.ts'));

/**
 * dist/ is what ships: the breakout hook is defined away and removed as dead code. The test build
 * in build/breakout-dist/ keeps it, so tests can ask confined children to try to escape.
 */
function bundle(outdir, breakoutHook) {
  rmSync(outdir, { recursive: true, force: true });
  const common = {
    bundle: true, platform: 'node', format: 'esm', target: 'node20', logLevel: 'warning', legalComments: 'none',
    minifySyntax: true, define: { __BREAKOUT_HOOK__: String(breakoutHook) },
    alias: { 'string-width': join(root, 'scripts/string-width-standin.mjs') },
  };
  // The parent's yargs goes to a chunk of its own, loaded only when a run has work: the nightly
  // "nothing to do" neither reads nor compiles it.
  esbuild.buildSync({ ...common, entryPoints: { 'acme-client': join(root, 'src/main.ts') }, outdir, splitting: true,
    chunkNames: 'chunks/[name]-[hash]', banner: { js: '#!/usr/bin/env node\n' + banner } });
  for (const f of procs) {
    esbuild.buildSync({ ...common, entryPoints: [join(root, 'src/procs', f)], outfile: join(outdir, 'procs', f.replace(/\.ts$/, '.js')),
      banner: { js: banner } });
  }
  chmodSync(join(outdir, 'acme-client.js'), 0o755);
}

bundle(join(root, 'dist'), false);
bundle(join(root, 'build/breakout-dist'), true);
