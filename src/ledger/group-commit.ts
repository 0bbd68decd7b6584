import type { FileHandle } from 'node:fs/promises';
import { PaybatchError } from '../errors/paybatch-error.js';

interface Pending {
  buf: Buffer;
  /** Called, in file order, once the line is written and synced, with where it landed. */
  written: (offset: number, length: number) => void;
  resolve: () => void;
  reject: (e: Error) => void;
}

/**
 * Appends lines to the journal with group commit: whatever queued up while one write + fdatasync was in flight
 * goes out in the next single write + fdatasync. No timer: an idle journal starts writing at the end of the current
 * turn of the event loop (setImmediate), so a lone claim waits for nothing, and what the same turn queues — a row's
 * outcome and the next row's claim, a burst of concurrent claims — shares one fsync. A failed write or sync poisons
 * the journal (what reached the disk is unknown): every later append rejects, the run aborts, and the next open
 * replays what is there.
 */
export class GroupCommitter {
  private queue: Pending[] = [];
  private flushing = false;
  private scheduled = false;
  private failure: Error | undefined;
  commits = 0;

  constructor(
    private readonly fh: FileHandle,
    /** Bytes in the file: where the next line lands. */
    private end: number,
    private readonly onCommit?: (lines: number, bytes: number) => void,
  ) {}

  append(line: string, written: (offset: number, length: number) => void): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ buf: Buffer.from(line + '\n', 'utf8'), written, resolve, reject });
      if (!this.flushing && !this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          if (!this.flushing) void this.pump();
        });
      }
    });
  }

  /** Resolves when nothing is queued or being written. */
  async idle(): Promise<void> {
    while (this.flushing || this.queue.length) await new Promise<void>((r) => setImmediate(r));
  }

  private async pump(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length) {
        const batch = this.queue;
        this.queue = [];
        const data = batch.length === 1 ? batch[0]!.buf : Buffer.concat(batch.map((p) => p.buf));
        try {
          let done = 0;
          while (done < data.length) done += (await this.fh.write(data, done, data.length - done)).bytesWritten;
          await this.fh.datasync();
        } catch (e) {
          this.failure = new PaybatchError('PB_LEDGER_WRITE', `cannot write the ledger journal: ${(e as Error).message}`, 3);
          for (const p of [...batch, ...this.queue]) p.reject(this.failure);
          this.queue = [];
          return;
        }
        this.commits++;
        let off = this.end;
        for (const p of batch) {
          p.written(off, p.buf.length);
          off += p.buf.length;
        }
        this.end = off;
        this.onCommit?.(batch.length, data.length);
        for (const p of batch) p.resolve();
      }
    } finally {
      this.flushing = false;
    }
  }
}
