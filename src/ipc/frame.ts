// Framing for the channels between children: a 4-byte big-endian length, then that many bytes of
// UTF-8 JSON. A peer announcing a frame over the limit is broken or hostile; the reader refuses it
// rather than buffering without bound.

export const MAX_FRAME = 1 << 20;

export function encodeFrame(message: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(message), 'utf8');
  if (body.length > MAX_FRAME) throw new Error(`frame of ${body.length} bytes exceeds ${MAX_FRAME}`);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length, 0);
  return Buffer.concat([head, body]);
}

/** Accumulates stream chunks and yields each complete frame's parsed JSON, in order. */
export class FrameDecoder {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): unknown[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: unknown[] = [];
    while (this.pending.length >= 4) {
      const length = this.pending.readUInt32BE(0);
      if (length > MAX_FRAME) throw new Error(`frame of ${length} bytes exceeds ${MAX_FRAME}`);
      if (this.pending.length < 4 + length) break;
      const body = this.pending.subarray(4, 4 + length).toString('utf8');
      this.pending = this.pending.subarray(4 + length);
      try {
        frames.push(JSON.parse(body));
      } catch {
        throw new Error('frame is not valid JSON');
      }
    }
    return frames;
  }

  /** True when the stream ended in the middle of a frame. */
  get partial(): boolean {
    return this.pending.length > 0;
  }
}
