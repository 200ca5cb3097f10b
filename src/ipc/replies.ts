// Replies matched to requests by id over one channel, so that requests can overlap: netproc asks
// acctproc for many signatures at once and chngproc to publish many challenges at once.

import { Failure } from '../log.js';

export class Replies<T extends { id: number }> {
  private readonly pending = new Map<number, { resolve: (m: T) => void; reject: (e: Error) => void }>();
  private nextId = 1;

  constructor(private readonly peer: string) {}

  take(): { id: number; reply: Promise<T> } {
    const id = this.nextId++;
    const reply = new Promise<T>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    return { id, reply };
  }

  deliver(message: T): void {
    const waiter = this.pending.get(message.id);
    if (!waiter) throw new Failure(this.peer, `reply to a request never made (${message.id})`);
    this.pending.delete(message.id);
    waiter.resolve(message);
  }

  /** The peer hung up or broke: every request still waiting fails with the same reason. */
  abandon(reason: Error): void {
    for (const w of this.pending.values()) w.reject(reason);
    this.pending.clear();
  }
}
