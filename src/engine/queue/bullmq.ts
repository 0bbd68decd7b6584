import { createRequire } from 'node:module';
import type * as BullMQ from 'bullmq';

/**
 * BullMQ, loaded as the CommonJS package it is (`require`). Imported from an ES module, Node would first read bullmq's
 * sources to find their export names (cjs-module-lexer): a slower load, paid by every process or thread that sends,
 * and by a queued run's producer while the credentials are checked.
 */
const bullmq = createRequire(import.meta.url)('bullmq') as typeof BullMQ;

export const { Queue, Worker, UnrecoverableError, WaitingError } = bullmq;
// The classes' instance types under the same names: the two type parameters this project gives them, defaults as bullmq's.
export type Queue<D = any, R = any> = BullMQ.Queue<D, R>;
export type Worker<D = any, R = any> = BullMQ.Worker<D, R>;
export type { Job, JobsOptions } from 'bullmq';
