/**
 * A persistent per-file cache (src/discovery/file-cache.ts) for target inspection: read on first use, and
 * written a moment after the last new entry (off the startup path) or at once by save() (end of a run).
 */
import { FileCache } from '../../discovery/file-cache.js';

const SAVE_DELAY_MS = 2000;

export class DeferredFileCache<T> {
  private disk: FileCache<T> | undefined;
  private saveTimer: NodeJS.Timeout | undefined;

  constructor(private readonly name: string) {}

  get(key: string): T | undefined {
    return this.open().get(key);
  }

  /** Remember `value` and write the cache a moment later. */
  set(key: string, value: T): void {
    this.open().set(key, value);
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.disk?.save();
    }, SAVE_DELAY_MS);
    this.saveTimer.unref();
  }

  /** Write what was learnt now. */
  save(): void {
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    this.disk?.save();
  }

  private open(): FileCache<T> {
    this.disk ??= new FileCache<T>(this.name);
    return this.disk;
  }
}
