import { resolve } from 'node:path';
import type { QueueScope } from '../engine/queue/keys.js';
import { modeOfPassword } from '../lyra/mode.js';
import type { BatchSource } from '../app/report-batch.js';
import { lyraOptionsFrom, type LyraArgs } from '../settings/settings.js';
import { inputOptions, type InputArgs } from './input-options.js';

/** What `run` and `enqueue` store with a queued batch (see BatchSource): this command line's input options. */
export type QueueBatchSource = BatchSource<InputArgs>;

const INPUT_KEYS = Object.keys(inputOptions) as (keyof InputArgs)[];

/** The batch source of a run or enqueue: the absolute file path, the shared input options as given, the run's clock. */
export function batchSource(file: string, argv: InputArgs & { 'ipn-url'?: string }, now: Date): QueueBatchSource {
  const input: InputArgs = {};
  for (const k of INPUT_KEYS) if (argv[k] !== undefined && k !== 'out') (input as Record<string, unknown>)[k] = argv[k];
  return { file: resolve(file), input, now: now.toISOString(), ...(argv['ipn-url'] ? { ipnTargetUrl: argv['ipn-url'] } : {}) };
}

/** The queue scope (shop + mode) from the Lyra settings: a queue belongs to one shop in one mode. */
export function scopeFromLyra(argv: LyraArgs & { prefix?: string }): QueueScope {
  const lyra = lyraOptionsFrom(argv);
  const mode = modeOfPassword(lyra.password)!;
  return { shopId: lyra.shopId, mode, ...(argv.prefix ? { prefix: argv.prefix } : {}) };
}
