// One end of a socketpair between two children. The parent created the pair (a libuv stdio 'pipe'
// is an AF_UNIX socketpair), gave one end to each child and closed its own copy, so nothing but the
// peer is on the other side. Messages are checked on receipt: a child never trusts its peer.
// A peer that hangs up means "stop": recv() then yields null, as the C original's STOP == EOF,
// and `gone` settles, for a child that must stop at once rather than at its next word to the peer.

import net from 'node:net';
import { encodeFrame, FrameDecoder } from './frame.js';
import { Failure } from '../log.js';

export type Parser<T> = (value: unknown) => T;

export class Channel<In, Out> {
  private readonly socket: net.Socket;
  private readonly decoder = new FrameDecoder();
  private readonly inbox: In[] = [];
  private readonly waiters: { resolve: (m: In | null) => void; reject: (e: Error) => void }[] = [];
  private ended = false;
  private failure: Failure | null = null;
  private settleGone!: (why: Failure | null) => void;
  /**
   * Settles when the peer is gone before this end was closed: null when it hung up, the Failure
   * when it sent a bad message or hung up in the middle of one. Never settles after close().
   */
  readonly gone = new Promise<Failure | null>((resolve) => {
    this.settleGone = resolve;
  });

  /** `end`: a child's descriptor number, or the parent's end of a child's stdio pipe. */
  constructor(end: number | net.Socket, readonly peer: string, private readonly parse: Parser<In>) {
    this.socket = typeof end === 'number' ? new net.Socket({ fd: end, readable: true, writable: true }) : end;
    this.socket.on('data', (chunk: Buffer) => this.receive(chunk));
    this.socket.on('end', () => this.hangUp());
    this.socket.on('close', () => this.hangUp());
    // EPIPE and ECONNRESET are the peer going away: that is a stop, not a crash.
    this.socket.on('error', () => this.hangUp());
  }

  private receive(chunk: Buffer): void {
    if (this.failure !== null || this.ended) return;
    try {
      for (const frame of this.decoder.push(chunk)) this.deliver(this.parse(frame));
    } catch (err) {
      this.fail(new Failure(this.peer, `bad message: ${err instanceof Error ? err.message : String(err)}`));
    }
  }

  private deliver(message: In): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter.resolve(message);
    else this.inbox.push(message);
  }

  private fail(failure: Failure): void {
    this.failure = failure;
    this.settleGone(failure);
    this.socket.destroy();
    for (const w of this.waiters.splice(0)) w.reject(failure);
  }

  private hangUp(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.decoder.partial && this.failure === null) {
      this.fail(new Failure(this.peer, 'hung up in the middle of a message'));
      return;
    }
    this.settleGone(null);
    for (const w of this.waiters.splice(0)) w.resolve(null);
  }

  /** The next message, or null once the peer has hung up. Throws a Failure on a bad message. */
  recv(): Promise<In | null> {
    const next = this.inbox.shift();
    if (next !== undefined) return Promise.resolve(next);
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** Resolves true once written, false when the peer is already gone. */
  send(message: Out): Promise<boolean> {
    if (this.ended || this.failure !== null) return Promise.resolve(false);
    return new Promise((resolve) => {
      this.socket.write(encodeFrame(message), (err) => resolve(!err));
    });
  }

  /** Stops receiving and tells the peer we are done (it reads EOF). */
  close(): void {
    this.ended = true;
    this.socket.end();
    this.socket.unref();
  }
}
