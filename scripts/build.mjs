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
rmSync(join(root, 'dist'), { recursive: true, force: true });
// node-forge is CommonJS and calls require('crypto'): give the ESM bundles a real require.
const banner = "import { createRequire as __acmeCreateRequire } from 'node:module'; const require = __acmeCreateRequire(import.meta.url);";
const common = { bundle: true, platform: 'node', format: 'esm', target: 'node20', logLevel: 'warning', legalComments: 'none' };
esbuild.buildSync({ ...common, entryPoints: [join(root, 'src/main.ts')], outfile: join(root, 'dist/acme-client.js'),
  banner: { js: '#!/usr/bin/env node\n' + banner } });
const procs = readdirSync(join(root, 'src/procs')).filter((f) => f.endsWith('.ts'));
for (const f of procs) {
  esbuild.buildSync({ ...common, entryPoints: [join(root, 'src/procs', f)], outfile: join(root, 'dist/procs', f.replace(/\.ts$/, '.js')),
    banner: { js: banner } });
}
chmodSync(join(root, 'dist/acme-client.js'), 0o755);
