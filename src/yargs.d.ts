// yargs 18 ships no type declarations; this covers only the calls src/args.ts,
// src/dns01/main.ts and src/server/main.ts make.
declare module 'yargs' {
  export interface ParsedArguments {
    readonly _: readonly (string | number)[];
    readonly [key: string]: unknown;
  }

  export interface Argv {
    parserConfiguration(config: Readonly<Record<string, boolean>>): Argv;
    boolean(keys: readonly string[]): Argv;
    count(key: string): Argv;
    string(keys: readonly string[]): Argv;
    array(keys: readonly string[]): Argv;
    requiresArg(keys: readonly string[]): Argv;
    nargs(counts: Readonly<Record<string, number>>): Argv;
    /** Unknown options are errors; operands are left to the caller. */
    strictOptions(): Argv;
    help(enable: false): Argv;
    version(enable: false): Argv;
    exitProcess(enable: boolean): Argv;
    // yargs passes a null or undefined message when it only has an error, and vice versa.
    fail(handler: (message: string | null | undefined, error: Error | null | undefined) => void): Argv;
    parseSync(args: readonly string[]): ParsedArguments;
  }

  export default function yargs(processArgs?: readonly string[]): Argv;
}

// yargs' own parser (yargs-parser), as yargs/helpers exports it; only what src/args.ts uses.
declare module 'yargs/helpers' {
  import type { ParsedArguments } from 'yargs';

  export interface ParserOptions {
    configuration?: Readonly<Record<string, boolean>>;
    boolean?: readonly string[];
    count?: readonly string[];
    string?: readonly string[];
    array?: readonly string[];
    narg?: Readonly<Record<string, number>>;
  }

  export const Parser: {
    detailed(args: readonly string[], options: ParserOptions): { argv: ParsedArguments; error: Error | null };
  };
}
