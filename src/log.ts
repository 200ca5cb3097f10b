// Diagnostics shared by the parent and every child. All of them write to the inherited stderr in
// the C style `acme-client: <subject>: <problem>`, so a failure is visible without -v and grep finds
// it. stdout is never written here: with -t it belongs to chngproc alone.

/** An error as a value: what it concerns, and what is wrong with it. */
export class Failure extends Error {
  constructor(readonly subject: string, readonly problem: string) {
    super(`${subject}: ${problem}`);
  }
}

/** A moment as messages give it: RFC 3339 UTC to the second. */
export function utcTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Node's "ENOSPC: no space left on device, write" as strerror(3) would say it. */
export function errnoText(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return /^[A-Z][A-Z0-9_]*: (.+?)(?:, [a-z]+(?: '.*')?)?$/.exec(message)?.[1] ?? message;
}

let verbosity = 0;

export function setVerbosity(level: number): void {
  verbosity = level;
}

// Server-supplied text reaches the terminal: strip control characters so it cannot move the cursor,
// rewrite lines or forge another message, and the Unicode direction controls so it cannot show
// a name or a URL other than the one it carries.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

export function sanitize(text: string): string {
  return text.replace(UNSAFE, (c) => (c === '\n' || c === '\t' ? ' ' : '?'));
}

/** Who says it: acme-client, or another command of the package. */
let program = 'acme-client';

export function setProgram(name: string): void {
  program = name;
}

/** What a line is, as syslog(3) has it: a failure, a warning, a step (-v), a trace (-vv). */
export type Severity = 'error' | 'warning' | 'info' | 'debug';

/** Where lines go: stderr, unless acme-client-server's [logging] says otherwise. */
export interface LogOutput {
  /** One message, `<subject>: <problem>`, without the program's name. */
  line(severity: Severity, message: string): void;
  /** A child's own lines, already prefixed with its name. */
  relay(text: string, severity: Severity): void;
}

export const STDERR_OUTPUT: LogOutput = {
  line: (_severity, message) => void process.stderr.write(`${program}: ${message}\n`),
  relay: (text) => void process.stderr.write(text),
};

let output: LogOutput = STDERR_OUTPUT;

export function setLogOutput(to: LogOutput): void {
  output = to;
}

/** A child's output, passed on where this process's lines go. */
export function relayChildOutput(text: string, severity: Severity): void {
  output.relay(text, severity);
}

function say(severity: Severity, subject: string, problem: string): void {
  output.line(severity, `${sanitize(subject)}: ${sanitize(problem)}`);
}

export function warn(subject: string, problem: string): void {
  say('warning', subject, problem);
}

/** -v: each step. */
export function debug(subject: string, what: string): void {
  if (verbosity >= 1) say('info', subject, what);
}

/** -vv: traces, HTTP exchanges. */
export function trace(subject: string, what: string): void {
  if (verbosity >= 2) say('debug', subject, what);
}

/** Prints any thrown value as one line; a Failure keeps its subject. */
export function reportError(role: string, err: unknown): void {
  if (err instanceof Failure) say('error', err.subject, err.problem);
  else if (err instanceof Error && typeof (err as { subject?: unknown }).subject === 'string') {
    const e = err as Error & { subject: string; problem?: string };
    say('error', e.subject, e.problem ?? e.message);
  } else say('error', role, err instanceof Error ? err.message : String(err));
}
