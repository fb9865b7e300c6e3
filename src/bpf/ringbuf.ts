/**
 * Splitting the native addon's sample batches. Layout (native/index.d.ts): repeated
 * [u32 LE length][sample bytes][zero padding so the next record starts 8-byte aligned].
 * Samples are views into the batch (no copy); a handler that keeps one must copy it.
 */
export function forEachSample(batch: Buffer, count: number, fn: (sample: Buffer) => void): number {
  let off = 0;
  let n = 0;
  while (n < count && off + 4 <= batch.length) {
    const len = batch.readUInt32LE(off);
    const start = off + 4;
    const end = start + len;
    if (end > batch.length) break; // malformed batch: never read past it
    fn(batch.subarray(start, end));
    n++;
    off = (end + 7) & ~7;
  }
  return n;
}

/** Build a batch in the same layout (tests and benchmarks replay recorded streams with it). */
export function buildBatch(samples: Buffer[]): Buffer {
  let size = 0;
  for (const s of samples) size = ((size + 4 + s.length + 7) & ~7);
  const out = Buffer.alloc(size);
  let off = 0;
  for (const s of samples) {
    out.writeUInt32LE(s.length, off);
    s.copy(out, off + 4);
    off = (off + 4 + s.length + 7) & ~7;
  }
  return out;
}
