import cliProgress from 'cli-progress';
import type { RowStatus } from '../engine/outcome.js';

export interface Progress {
  /** One row is done with this status. */
  tick(status: RowStatus): void;
  /** Why no row finished lately (queue mode: see `queueWaitingNote`): a line, or on a terminal beside the bar until the next row. */
  note(text: string | undefined): void;
  /** Stops the bar or the timer; prints nothing more. */
  stop(): void;
}

/**
 * Says what a queue-mode run waits for when no row finished for a while: no worker, or rows held by workers (a dead
 * worker's rows wait for its lock to lapse and BullMQ's stalled check), which otherwise looks like a hang.
 */
export function queueWaitingNote(workers: number, inFlight: number): string {
  if (workers === 0) return "no worker is connected to this shop's queue — start one: paybatch worker --redis URL";
  if (inFlight === 0) return `waiting for ${workers} worker${workers === 1 ? '' : 's'} to take the next rows`;
  return `${inFlight} row${inFlight === 1 ? '' : 's'} taken by workers and not finished; if a worker stopped, its rows go back to the queue once their lock lapses (up to about two minutes with the default lock) and another worker sends them — never twice`;
}

export interface ProgressOptions {
  /** Approximate number of rows (from a line count): the bar and ETA use it; a row count above it just raises it. */
  total: number;
  /** A terminal gets a redrawn bar; anything else (cron, CI, a pipe) a plain line every `intervalMs`. */
  tty: boolean;
  stream: NodeJS.WriteStream | NodeJS.WritableStream;
  intervalMs?: number;
  now?: () => number;
  label?: string;
}

const ORDER: RowStatus[] = ['CREATED', 'UNCERTAIN', 'FAILED', 'INVALID', 'PENDING'];

/** Done/total, rate, ETA and counts per status: on a TTY as a bar, elsewhere as a line every few seconds. */
export function createProgress(opts: ProgressOptions): Progress {
  const now = opts.now ?? Date.now;
  const started = now();
  const counts: Record<RowStatus, number> = { CREATED: 0, INVALID: 0, FAILED: 0, UNCERTAIN: 0, PENDING: 0 };
  let done = 0;
  let total = Math.max(opts.total, 0);
  const countsText = () =>
    ORDER.filter((s) => counts[s] > 0)
      .map((s) => `${s} ${counts[s]}`)
      .join(', ') || 'nothing yet';

  if (opts.tty) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${opts.label ?? 'sending'} {bar} {value}/{total} rows | {speed}/s | ETA {eta_formatted} | {counts}`,
        hideCursor: true,
        clearOnComplete: false,
        stopOnComplete: false,
        etaBuffer: 200,
        fps: 5,
        stream: opts.stream as NodeJS.WriteStream,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { speed: '0.0', counts: countsText() });
    return {
      note(text) {
        bar.update(done, { counts: text ? `${countsText()} | ${text}` : countsText() });
      },
      tick(status) {
        counts[status] += 1;
        done += 1;
        if (done > total) {
          total = done;
          bar.setTotal(total);
        }
        const secs = (now() - started) / 1000;
        bar.update(done, { speed: secs > 0 ? (done / secs).toFixed(1) : '0.0', counts: countsText() });
      },
      stop() {
        bar.setTotal(done);
        bar.stop();
      },
    };
  }

  const line = () => {
    const secs = (now() - started) / 1000;
    const rate = secs > 0 ? done / secs : 0;
    const left = Math.max(total - done, 0);
    const eta = rate > 0 && left > 0 ? `, ETA ${formatDuration(left / rate)}` : '';
    opts.stream.write(`paybatch: ${done}/${total > done ? `~${total}` : done} rows, ${rate.toFixed(1)} rows/s${eta} — ${countsText()}\n`);
  };
  const timer = setInterval(line, opts.intervalMs ?? 5000);
  timer.unref();
  return {
    note(text) {
      if (text) opts.stream.write(`paybatch: ${done} rows done — ${text}\n`);
    },
    tick(status) {
      counts[status] += 1;
      done += 1;
      if (done > total) total = done;
    },
    stop() {
      clearInterval(timer);
    },
  };
}

export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
