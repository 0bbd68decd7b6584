import { createRequire } from 'node:module';
import type * as BullMQ from 'bullmq';

/**
 * BullMQ, loaded as the CommonJS package it is (`require`). Imported from an ES module, Node would first read bullmq's
 * sources to find their export names (cjs-module-lexer, through each file it re-exports): `import('bullmq')` took
 * 170–217 ms, `require('bullmq')` 101–134 ms (fresh processes, alternated). Every process or thread that sends loads it,
 * and a queued run's producer does so while the credentials are checked: with L = 200 ms, the check's answer waited
 * for that load to end before the first chunk could be queued (CPU profile and per-step marks of a run).
 */
const bullmq = createRequire(import.meta.url)('bullmq') as typeof BullMQ;

export const { Queue, Worker, UnrecoverableError, WaitingError } = bullmq;
// The classes' instance types under the same names: the two type parameters this project gives them, defaults as bullmq's.
export type Queue<D = any, R = any> = BullMQ.Queue<D, R>;
export type Worker<D = any, R = any> = BullMQ.Worker<D, R>;
export type { Job, JobsOptions } from 'bullmq';
