import v8 from 'node:v8';
import type { Worker } from 'node:worker_threads';
import { packError, type PackedError } from '../../errors/cross-thread.js';
import { spawnThread } from '../../lib/spawn-thread.js';
import type { OpenCsvOptions } from '../read.js';

/** The reading thread's young generation, MB. */
const READER_YOUNG_MB = 8;

/** What the reading thread is started with: `taken[0]`, batches its consumer has taken (its flow control). */
export interface ReaderSetup {
  taken: Int32Array;
}

/** The file it is then told to read, in its first message. */
export interface ReaderTask {
  file: string;
  opts: OpenCsvOptions;
}

/** Messages of the reading thread. A batch is its cells run together in one string, and where each cell ends. */
export type FromReader =
  | { t: 'open'; headers: string[]; delimiter: string; encoding: string; bom: boolean; lineEnding: '\r\n' | '\n'; sepLine: boolean; estimatedRows: number }
  | { t: 'batch'; index: number; text: string; ends: Uint32Array; lines: Float64Array }
  | { t: 'end' }
  | { t: 'fail'; error: PackedError };

/**
 * The thread of `read-worker`, and its messages, queued from the moment it starts (an error while it boots included).
 * It waits for its file (`read`) before doing anything but loading its modules.
 */
export class ReaderThread {
  readonly taken = new Int32Array(new SharedArrayBuffer(4));
  private readonly worker: Worker;
  private readonly queue: FromReader[] = [];
  private waiting: ((m: FromReader) => void) | undefined;
  private over = false;
  private file: string | undefined;
  private opts: OpenCsvOptions | undefined;

  constructor() {
    // The young generation starts at its full size: YoungGenerationCap freezes growth for the whole process, which
    // would leave the reader's at whatever size it had. For the validate rows/s row (bench/notes.md, "Speed-only code").
    v8.setFlagsFromString(`--min-semi-space-size=${READER_YOUNG_MB}`);
    this.worker = spawnThread(import.meta.url, 'thread-entry', {
      workerData: { taken: this.taken } satisfies ReaderSetup,
      // csv-parse's garbage dies young: a small young generation keeps the thread's memory small.
      resourceLimits: { maxYoungGenerationSizeMb: READER_YOUNG_MB },
    });
    this.worker.on('message', (m: FromReader) => this.deliver(m));
    this.worker.on('error', (e) => this.deliver({ t: 'fail', error: packError(e) }));
    // A clean exit comes after the last message ('end' or 'fail'); any other is a failure.
    this.worker.on('exit', (code) => {
      if (code !== 0 && !this.over) this.deliver({ t: 'fail', error: { kind: 'Error', message: `the thread reading ${this.file ?? 'a file'} stopped (exit code ${code})` } });
    });
  }

  /**
   * Gives the thread its file: it opens it and posts 'open', then its batches. The thread keeps the process alive from
   * now. Given the same file and options again, does nothing (it is reading them already).
   */
  read(file: string, opts: OpenCsvOptions): void {
    if (this.file !== undefined) {
      if (this.reads(file, opts)) return;
      throw new Error(`reading thread: already reading ${this.file}, asked to read ${file}`);
    }
    this.file = file;
    this.opts = opts;
    this.worker.ref();
    this.worker.postMessage({ file, opts } satisfies ReaderTask);
  }

  /** It was given a file: `file` with the same options. */
  reads(file: string, opts: OpenCsvOptions): boolean {
    return this.file === file && this.opts?.encoding === opts.encoding && this.opts?.delimiter === opts.delimiter && this.opts?.readBytes === opts.readBytes && this.opts?.batchBytes === opts.batchBytes;
  }

  /** It was given no file yet. */
  get idle(): boolean {
    return this.file === undefined;
  }

  /** The thread's next message. */
  next(): Promise<FromReader> {
    const m = this.queue.shift();
    return m !== undefined ? Promise.resolve(m) : new Promise((resolve) => (this.waiting = resolve));
  }

  /** Its messages are over ('end' came): the thread exits by itself. */
  finish(): void {
    this.over = true;
  }

  /** `finish` or `close` was called: nothing more is to come from it. */
  get finished(): boolean {
    return this.over;
  }

  /** Stops the thread, whatever it is doing. */
  close(): void {
    this.over = true;
    void this.worker.terminate();
  }

  /** Does not keep the process alive until given a file. */
  unref(): void {
    this.worker.unref();
  }

  private deliver(m: FromReader): void {
    const w = this.waiting;
    if (w) {
      this.waiting = undefined;
      w(m);
    } else this.queue.push(m);
  }
}

/** A thread started by `startReaderEarly`, not yet taken. */
let early: ReaderThread | undefined;

/**
 * Starts a reading thread before its file is known, so that it boots while the command line is parsed and the judging
 * modules load. Until taken it does not keep the process alive; `dropEarlyReader` stops it if the file is read in-process.
 */
export function startReaderEarly(): void {
  early ??= new ReaderThread();
  early.unref();
}

/**
 * Gives the early thread its file now, for the `openCsvOffThread` that follows (`paybatch validate` does so before it
 * loads its judging modules). `dropEarlyReader` must follow whatever happens: a thread given a file keeps the process alive.
 */
export function readEarly(file: string, opts: OpenCsvOptions): void {
  if (early?.idle) early.read(file, opts);
}

/** Stops the thread `startReaderEarly` started, if it was not taken. */
export function dropEarlyReader(): void {
  early?.close();
  early = undefined;
}

/**
 * The options a file is read with (`--encoding`, `--delimiter`, `--sheet`): one function for `paybatch validate`'s early
 * thread and for `judgeFile`, which takes that thread only if they are the same.
 */
export function readingOptions(opts: { encoding?: string; delimiter?: string; sheet?: string }): OpenCsvOptions {
  return { encoding: opts.encoding, delimiter: opts.delimiter, ...(opts.sheet !== undefined ? { sheet: opts.sheet } : {}) };
}

/**
 * The thread for reading `file` with `opts`: the one `startReaderEarly` started if it is free or reading just that (see
 * `readEarly`), else a new one. Call its `read(file, opts)` either way.
 */
export function takeReaderThread(file: string, opts: OpenCsvOptions): ReaderThread {
  let thread = early;
  early = undefined;
  if (thread && !thread.idle && !thread.reads(file, opts)) {
    thread.close();
    thread = undefined;
  }
  return thread ?? new ReaderThread();
}
