// node scripts/code-cache.cjs FILE.bundle.js...: writes each bundle's V8 code cache beside it
// (FILE.bundle.cache), every function compiled, so that the functions a run calls need no compile
// either. Run by scripts/build.mjs with the Node that will run the bundles: V8 takes a cache only
// from its own version and flags. --no-lazy is set for the compile alone, as V8 checks the flags
// the cache was written under.
'use strict';
const { readFileSync, writeFileSync } = require('node:fs');
const { Script } = require('node:vm');
const v8 = require('node:v8');

for (const filename of process.argv.slice(2)) {
  v8.setFlagsFromString('--no-lazy');
  const script = new Script(readFileSync(filename, 'utf8'), { filename });
  v8.setFlagsFromString('--lazy');
  writeFileSync(filename.replace(/\.js$/, '.cache'), script.createCachedData());
}
