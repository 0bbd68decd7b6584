import { resolve } from 'node:path';
import type { QueueScope } from '../engine/queue/keys.js';
import { modeOfPassword } from '../lyra/mode.js';
import type { JudgedRow } from '../orders/types.js';
import { lyraOptionsFrom, type LyraArgs } from '../settings/settings.js';
import { inputOptions, type InputArgs } from './input-options.js';

/**
 * Stored with a batch in Redis: how its file was judged, so `paybatch report` (on any machine that can read the file)
 * judges it again identically — `now` included, since relative expiry dates (--expires-in) depend on it.
 */
export interface QueueBatchSource {
  file: string;
  input: InputArgs;
  now: string;
  /** `run --ipn-url`: added to every order sent, so added again when judging for the report (same fingerprint). */
  ipnTargetUrl?: string;
}

const INPUT_KEYS = Object.keys(inputOptions) as (keyof InputArgs)[];

/** The batch source of a run or enqueue: the absolute file path, the shared input options as given, the run's clock. */
export function batchSource(file: string, argv: InputArgs & { 'ipn-url'?: string }, now: Date): QueueBatchSource {
  const input: InputArgs = {};
  for (const k of INPUT_KEYS) if (argv[k] !== undefined && k !== 'out') (input as Record<string, unknown>)[k] = argv[k];
  return { file: resolve(file), input, now: now.toISOString(), ...(argv['ipn-url'] ? { ipnTargetUrl: argv['ipn-url'] } : {}) };
}

/** Adds `run --ipn-url` / `enqueue --ipn-url` to every valid order without its own. */
export async function* withIpnTarget(rows: AsyncIterable<JudgedRow>, url: string | undefined): AsyncIterable<JudgedRow> {
  for await (const row of rows) {
    if (url && row.judgement.ok && row.judgement.order.request.ipnTargetUrl === undefined) row.judgement.order.request.ipnTargetUrl = url;
    yield row;
  }
}

/** The queue scope (shop + mode) from the Lyra settings: a queue belongs to one shop in one mode. */
export function scopeFromLyra(argv: LyraArgs & { prefix?: string }): QueueScope {
  const lyra = lyraOptionsFrom(argv);
  const mode = modeOfPassword(lyra.password)!;
  return { shopId: lyra.shopId, mode, ...(argv.prefix ? { prefix: argv.prefix } : {}) };
}
