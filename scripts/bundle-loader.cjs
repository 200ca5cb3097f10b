// The build writes this as each command and child in dist/, with its own name in the two paths
// below. It compiles the bundle beside it with the V8 code cache the build made for that bundle, so
// that a start does not parse and compile the bundle's functions again (bench/RESULTS.md). The
// cache sits with the code and is as trusted as the code. Without it, or when V8 refuses it (a
// Node other than the one that built it, a bundle of another length), the bundle is compiled as
// usual: slower, never different. V8 knows a bundle from its cache only by its length: rebuild,
// never edit, a bundle.
'use strict';
const { readFileSync } = require('node:fs');
const { Script } = require('node:vm');
const { createRequire } = require('node:module');

const filename = `${__dirname}/__BUNDLE__.bundle.js`;
let cachedData;
try {
  cachedData = readFileSync(`${__dirname}/__BUNDLE__.bundle.cache`);
} catch {
  cachedData = undefined;
}
// The bundle is one function expression taking what Node gives a CommonJS module.
const bundle = new Script(readFileSync(filename, 'utf8'), { filename, cachedData }).runInThisContext();
const bundleModule = { exports: {} };
bundle(bundleModule.exports, createRequire(filename), bundleModule, filename, __dirname);
