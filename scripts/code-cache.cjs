// node scripts/code-cache.cjs FILE.bundle.js...: writes each bundle's V8 code cache beside it
// (FILE.bundle.cache), every function compiled, so that the functions a run calls need no compile
// either. The file is the CRC-32 of the bundle then the data (4 bytes, big-endian), then the data,
// which the loader (scripts/bundle-loader.cjs) checks before V8 sees them. Run by scripts/build.mjs with the Node
// that will run the bundles and no NODE_OPTIONS: V8 takes a cache only from its own version and
// flags. --no-lazy is set for the compile alone, as V8 checks the flags the cache was written under.
'use strict';
const { crc32 } = require('node:zlib');
const { readFileSync, writeFileSync } = require('node:fs');
const { Script } = require('node:vm');
const v8 = require('node:v8');

// A Node without zlib.crc32 (before 20.15) gets no caches: the loaders compile the bundles as usual.
for (const filename of typeof crc32 === 'function' ? process.argv.slice(2) : []) {
  const source = readFileSync(filename);
  v8.setFlagsFromString('--no-lazy');
  const script = new Script(source.toString('utf8'), { filename });
  v8.setFlagsFromString('--lazy');
  const data = script.createCachedData();
  const check = Buffer.alloc(4);
  check.writeUInt32BE(crc32(data, crc32(source)));
  writeFileSync(filename.replace(/\.js$/, '.cache'), Buffer.concat([check, data]));
}
