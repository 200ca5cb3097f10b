// Build: type-check and compile everything with tsc (build/, used by the tests), then bundle the
// parent and each child into one self-contained file (dist/), so that a child's permission
// allow-list names its own code alone (that bundle, its code cache and the loader beside them) and
// node_modules is never read at run time.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, chmodSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', root], { stdio: 'inherit', cwd: root });

const esbuild = require('esbuild');
const procs = readdirSync(join(root, 'src/procs')).filter((f) => f.endsWith('.ts'));

// The bundles are CommonJS: Node starts a CommonJS file without its ES module loader, which saves
// every process of a run some CPU (bench/RESULTS.md). dist/package.json says so, as the
// project's own says "module". Our code and yargs ask for import.meta.url, which a CommonJS file spells this way:
const BUNDLE_URL = "const __bundleUrl = require('node:url').pathToFileURL(__filename).href;";

/**
 * yargs' node:assert, as scripts/assert-standin.mjs: the two checks it uses, without the module;
 * and its platform shim, as scripts/yargs-shim-standin.mjs: without what it reads at every start
 * for features acme-client does not use.
 */
const assertStandIn = {
  name: 'assert-standin',
  setup(build) {
    build.onResolve({ filter: /^(node:)?assert$/ }, () => ({ path: join(root, 'scripts/assert-standin.mjs') }));
    build.onResolve({ filter: /\/platform-shims\/esm\.mjs$/ }, (args) => (args.importer.includes('/node_modules/yargs/') ? { path: join(root, 'scripts/yargs-shim-standin.mjs') } : undefined));
  },
};

/**
 * dist/ is what ships: the breakout hook is defined away and removed as dead code. The test build
 * in build/breakout-dist/ keeps it, so tests can ask confined children to try to escape.
 */
function commonOptions(breakoutHook) {
  return {
    bundle: true, platform: 'node', format: 'cjs', target: 'node20', logLevel: 'warning', legalComments: 'none',
    minifySyntax: true, define: { __BREAKOUT_HOOK__: String(breakoutHook), 'import.meta.url': '__bundleUrl' },
    alias: { 'string-width': join(root, 'scripts/string-width-standin.mjs') },
    plugins: [assertStandIn],
    banner: { js: BUNDLE_URL },
  };
}

async function bundle(outdir, breakoutHook) {
  rmSync(outdir, { recursive: true, force: true });
  const common = commonOptions(breakoutHook);
  await esbuild.build({ ...common, entryPoints: [join(root, 'src/main.ts')], outfile: join(outdir, 'acme-client.js'),
    banner: { js: `#!/usr/bin/env node
${BUNDLE_URL}` } });
  // acme-client-dns01 runs the acme-client.js beside it.
  await esbuild.build({ ...common, entryPoints: [join(root, 'src/dns01/main.ts')], outfile: join(outdir, 'acme-client-dns01.js'),
    banner: { js: `#!/usr/bin/env node
${BUNDLE_URL}` } });
  // acme-client-server runs the acme-client.js beside it for each order.
  await esbuild.build({ ...common, entryPoints: [join(root, 'src/server/main.ts')], outfile: join(outdir, 'acme-client-server.js'),
    banner: { js: `#!/usr/bin/env node
${BUNDLE_URL}` } });
  for (const f of procs) {
    await esbuild.build({ ...common, entryPoints: [join(root, 'src/procs', f)], outfile: join(outdir, 'procs', f.replace(/\.ts$/, '.js')) });
  }
  writeFileSync(join(outdir, 'package.json'), '{ "type": "commonjs" }\n');
  const commands = ['acme-client.js', 'acme-client-dns01.js', 'acme-client-server.js'];
  const bundles = [...commands, ...procs.map((f) => join('procs', f.replace(/\.ts$/, '.js')))].map((f) => join(outdir, f));
  for (const file of bundles) loadThroughCodeCache(file);
  makeCodeCaches(bundles.map((f) => f.replace(/\.js$/, '.bundle.js')));
  for (const command of commands) chmodSync(join(outdir, command), 0o755);
}

/** V8 flags in NODE_OPTIONS would make caches that a plain `node` refuses. */
function makeCodeCaches(bundleFiles) {
  execFileSync(process.execPath, [join(root, 'scripts/code-cache.cjs'), ...bundleFiles], { stdio: 'inherit', env: { ...process.env, NODE_OPTIONS: '' } });
}

/**
 * FILE.js becomes FILE.bundle.js, wrapped as the function Node would make of it, and FILE.js the
 * loader (scripts/bundle-loader.cjs) that compiles it with its code cache: paths, command lines and
 * permission lists still name FILE.js, and the loader reads the two files beside it.
 */
function loadThroughCodeCache(file) {
  const text = readFileSync(file, 'utf8');
  const shebang = text.startsWith('#!') ? text.slice(0, text.indexOf('\n') + 1) : '';
  writeFileSync(file.replace(/\.js$/, '.bundle.js'), `(function (exports, require, module, __filename, __dirname) {\n${text.slice(shebang.length)}\n})`);
  const name = file.slice(file.lastIndexOf('/') + 1, -'.js'.length);
  writeFileSync(file, shebang + readFileSync(join(root, 'scripts/bundle-loader.cjs'), 'utf8').replaceAll('__BUNDLE__', name));
}

await bundle(join(root, 'dist'), false);
await bundle(join(root, 'build/breakout-dist'), true);

// The bench's floor of a no-op (scripts/noop-floor.ts), built as dist/ is; its child is empty.
const floor = join(root, 'build/floor');
rmSync(floor, { recursive: true, force: true });
await esbuild.build({ ...commonOptions(false), entryPoints: [join(root, 'scripts/noop-floor.ts')], outfile: join(floor, 'noop-floor.js') });
writeFileSync(join(floor, 'package.json'), '{ "type": "commonjs" }\n');
writeFileSync(join(floor, 'noop-floor-child.js'), '');
loadThroughCodeCache(join(floor, 'noop-floor.js'));
makeCodeCaches([join(floor, 'noop-floor.bundle.js')]);
