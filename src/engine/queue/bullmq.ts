import { createRequire } from 'node:module';
import type * as BullMQ from 'bullmq';

/**
 * BullMQ, loaded as the CommonJS package it is (`require`): an ES import would first scan its sources for export
 * names, a slower start for every process or thread that sends.
 */
const bullmq = createRequire(import.meta.url)('bullmq') as typeof BullMQ;

export const { Queue, Worker, UnrecoverableError, WaitingError } = bullmq;
// The classes' instance types under the same names: the two type parameters this project gives them, defaults as bullmq's.
export type Queue<D = any, R = any> = BullMQ.Queue<D, R>;
export type Worker<D = any, R = any> = BullMQ.Worker<D, R>;
export type { Job, JobsOptions } from 'bullmq';
