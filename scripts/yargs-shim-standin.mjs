// What the bundles give yargs in place of its platform shim (yargs/lib/platform-shims/esm.mjs),
// the same but for two things acme-client never uses, which cost every start of a run:
// - The real shim reads process.stdout.columns as it is loaded, which makes Node build the stdout
//   stream (and a pipe's socket machinery) for a run that may never write to it. Here it is read
//   only if yargs asks (to lay out help text, which acme-client never lets yargs print).
// - yargs guesses its program's version when it is made, by walking up from the working directory
//   to the first package.json and reading it (acme-client turns that --version off, and prints
//   its own). Here the walk finds nothing, so no directory of the user's is read.
import { notStrictEqual, strictEqual } from 'assert';
import cliui from 'cliui';
import { inspect } from 'util';
import Parser from 'yargs-parser';
import { basename, dirname, extname, relative, resolve, join } from 'path';
import { getProcessArgvBin } from '../node_modules/yargs/build/lib/utils/process-argv.js';
import stringWidth from 'string-width';
import y18n from 'y18n';
import { readFileSync, readdirSync } from 'node:fs';

export default {
  assert: { notStrictEqual, strictEqual },
  cliui,
  findUp: () => undefined,
  getEnv: (key) => process.env[key],
  inspect,
  getProcessArgvBin,
  // Where yargs would start looking for a package.json: nowhere now (see findUp).
  mainFilename: '/',
  Parser,
  path: { basename, dirname, extname, relative, resolve, join },
  process: {
    argv: () => process.argv,
    cwd: process.cwd,
    emitWarning: (warning, type) => process.emitWarning(warning, type),
    execPath: () => process.execPath,
    exit: (code) => process.exit(code),
    nextTick: process.nextTick,
    get stdColumns() {
      return typeof process.stdout.columns !== 'undefined' ? process.stdout.columns : null;
    },
  },
  readFileSync,
  readdirSync,
  // yargs requires through this only for .config() files and commandDir, neither of which
  // acme-client uses; the caller-file lookup serves commandDir alone.
  require: () => {
    throw new Error('acme-client: yargs may not load modules');
  },
  getCallerFile: () => {
    throw new Error('acme-client: yargs may not look for its caller');
  },
  stringWidth,
  // No locale directory: yargs' messages stay in English, as the original's do.
  y18n: y18n({ directory: '/nonexistent', updateFiles: false }),
};
