// The build writes this as each command and child in dist/, with its own name in the two paths
// below. It compiles the bundle beside it with the V8 code cache the build made for that bundle, so
// that a start does not parse and compile the bundle's functions again (bench/RESULTS.md). The
// cache file starts with the CRC-32 (big-endian) of the bundle then V8's data, as the build wrote
// them: data that does not match is not given to V8, which trusts its caches (a damaged one can
// crash it) and knows a bundle only by its length. A CRC finds what this guards against, a damaged
// file or a bundle edited after the build, and node:zlib loads faster than node:crypto, which the
// parent never needs otherwise (2 ms of each start). Without a cache that matches, on a Node
// without zlib.crc32 (before 20.15), or when V8 refuses one (a Node other than the one that built
// it), the bundle is compiled as usual: slower, never different.
'use strict';
const { readFileSync } = require('node:fs');
const { Script } = require('node:vm');
const { createRequire } = require('node:module');

const filename = `${__dirname}/__BUNDLE__.bundle.js`;
const source = readFileSync(filename);
let cachedData;
try {
  const cache = readFileSync(`${__dirname}/__BUNDLE__.bundle.cache`);
  const data = cache.subarray(4);
  const { crc32 } = require('node:zlib');
  if (typeof crc32 === 'function' && crc32(data, crc32(source)) === cache.readUInt32BE(0)) cachedData = data;
} catch {
  cachedData = undefined;
}
// The bundle is one function expression taking what Node gives a CommonJS module.
const bundle = new Script(source.toString('utf8'), { filename, cachedData }).runInThisContext();
const bundleModule = { exports: {} };
bundle(bundleModule.exports, createRequire(filename), bundleModule, filename, __dirname);
