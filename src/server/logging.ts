// acme-client-server's [logging], as the ACME Management Server's: where its lines go (stderr,
// stdout, or syslog) and from which level. Syslog is reached through logger(1), which Node cannot
// do itself (/dev/log is a datagram socket); each line goes with its own priority, facility daemon.

import { spawn, type ChildProcess } from 'node:child_process';
import { Failure, STDERR_OUTPUT, setLogOutput, type Severity } from '../log.js';

export type LogDestination = 'stderr' | 'stdout' | 'syslog';
export type LogLevel = 'debug' | 'info' | 'warning' | 'error';

export interface LogSettings {
  destination: LogDestination;
  level: LogLevel;
}

const LOGGER = '/usr/bin/logger';
const DAEMON_FACILITY = 3;
const SYSLOG_SEVERITY: Record<Severity, number> = { error: 3, warning: 4, info: 6, debug: 7 };

/** The -v count a level stands for: info is each step, as -v; debug the traces, as -vv. */
export function verbosityFor(level: LogLevel, verbose: number): number {
  return Math.max(verbose, level === 'debug' ? 2 : level === 'info' ? 1 : 0);
}

export interface Logging {
  /** What the HTTP front's stderr is: ours, stdout, or a pipe whose lines are relayed. */
  childStderr: 'inherit' | 1 | 'pipe';
  /** Every line handed on (logger has them all) before the process exits. */
  close(): Promise<void>;
}

export function startLogging(settings: LogSettings, program: string): Logging {
  // Lines at or above the level; info and debug are written only when asked for (verbosityFor).
  const kept = (severity: Severity): boolean => settings.level !== 'error' || severity !== 'warning';
  if (settings.destination === 'stderr') {
    setLogOutput({ line: (severity, message) => kept(severity) && STDERR_OUTPUT.line(severity, message), relay: STDERR_OUTPUT.relay });
    return { childStderr: 'inherit', close: () => Promise.resolve() };
  }
  if (settings.destination === 'stdout') {
    setLogOutput({
      line: (severity, message) => kept(severity) && void process.stdout.write(`${program}: ${message}\n`),
      relay: (text) => void process.stdout.write(text),
    });
    return { childStderr: 1, close: () => Promise.resolve() };
  }
  const logger: ChildProcess = spawn(LOGGER, ['--prio-prefix', '-t', program, `--id=${process.pid}`], { stdio: ['pipe', 'ignore', 'inherit'] });
  const ended = new Promise<void>((resolve) => {
    logger.once('close', () => resolve());
    logger.once('error', (err) => {
      // Where else could this go: syslog is what failed.
      STDERR_OUTPUT.line('error', `${LOGGER}: cannot start: ${err.message}`);
      resolve();
    });
  });
  const input = logger.stdin;
  if (input === null) throw new Failure(LOGGER, 'no input');
  input.on('error', () => undefined);
  const send = (severity: Severity, message: string): void => {
    if (kept(severity)) input.write(`<${DAEMON_FACILITY * 8 + SYSLOG_SEVERITY[severity]}>${message}\n`);
  };
  setLogOutput({
    line: send,
    relay: (text, severity) => text.split('\n').filter((l) => l.trim() !== '').forEach((l) => send(severity, l)),
  });
  return {
    childStderr: 'pipe',
    close: () => {
      setLogOutput(STDERR_OUTPUT);
      input.end();
      return ended;
    },
  };
}
