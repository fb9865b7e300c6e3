/**
 * The pipeline stage built from the config: the connection tracker (ordering, gaps, protocol parsing)
 * with the limits given as flags, plus the text formatter for the L7 records it emits.
 */
import type { Config } from '../config/schema.js';
import { GapStage, type RecordStage } from '../capture/pipeline.js';
import { formatL7 } from '../output/encoders/text-l7.js';
import { ConnTracker } from './tracker.js';

/**
 * With --raw and events from the ring buffer (already in order), a stage that only marks gaps is enough and
 * costs a fraction of the tracker per event; perf buffers (several per-CPU rings) need the tracker's reorder.
 */
export function createStage(config: Config, opts: { ordered?: boolean } = {}): { stage: RecordStage; formatL7: typeof formatL7 } {
  if (config.raw && opts.ordered) return { stage: new GapStage(), formatL7 };
  const tracker = new ConnTracker({
    idleTimeoutMs: Number(config.idleTimeout ?? 5000),
    maxConnBytes: Number(config.maxConnBytes ?? 8 << 20),
    maxTotalBytes: Number(config.maxTotalBytes ?? 256 << 20),
    maxConns: Number(config.maxConns ?? 16384),
    parse: !config.raw,
  });
  return { stage: tracker, formatL7 };
}
