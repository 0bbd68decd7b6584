import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ROW_CHANNEL, listRuns, type RowMessage } from '../app/run-history.js';
import { LIMITER_WAIT_CHANNEL, THROTTLE_PAUSE_CHANNEL } from '../engine/rate-limit.js';

/**
 * What `paybatch serve` exposes on /metrics, learnt from diagnostics channels so engine and client carry no metrics
 * code; BullMQ's job counts join in queue mode. `worker --metrics-port` serves the sending part.
 */
export interface Metrics {
  registry: Registry;
  /** The text served on /metrics. */
  text(): Promise<string>;
  contentType: string;
  close(): void;
}

export interface ConsoleMetrics extends Metrics {
  ipn: Counter<'result'>;
}

export interface WorkerMetrics extends Metrics {
  /** A queued row this worker finished. */
  jobDone(status: string): void;
  /** The platform throttled: every worker pauses this long. */
  throttled(ms: number): void;
}

/** The undici request fields read here (its diagnostics channel messages). */
interface UndiciRequest {
  origin?: string | URL;
  path: string;
  method: string;
}

/**
 * What every process that calls the platform has: process figures, API latency, limiter waits and throttling pauses,
 * learnt from diagnostics channels. `listen` adds the caller's own channels; `close` ends them all.
 */
function sendingMetrics(apiPathPrefix: string) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'paybatch_process_' });
  const api = new Histogram({
    name: 'paybatch_api_request_duration_seconds',
    help: 'Lyra REST API calls of this process: time to the response headers, by service and HTTP status',
    labelNames: ['service', 'status'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    registers: [registry],
  });
  const waits = new Histogram({ name: 'paybatch_limiter_wait_seconds', help: 'Time each request waited for the rate limiter before it started', buckets: [0, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5], registers: [registry] });
  const pauses = new Counter({ name: 'paybatch_throttle_pauses_total', help: 'Pauses of every start because the platform throttled (PSP_106, HTTP 429/503)', registers: [registry] });
  const pausedSeconds = new Counter({ name: 'paybatch_throttle_pause_seconds_total', help: 'Seconds of throttling pauses asked for', registers: [registry] });
  const onWait = (m: unknown): void => waits.observe((m as { ms: number }).ms / 1000);
  const pause = (ms: number): void => {
    pauses.inc();
    pausedSeconds.inc(ms / 1000);
  };
  const onPause = (m: unknown): void => pause((m as { ms: number }).ms);
  const started = new WeakMap<object, { at: number; service: string }>();
  const marker = `${apiPathPrefix.replace(/\/$/, '')}/`;
  const onCreate = (m: unknown): void => {
    const req = (m as { request: UndiciRequest }).request;
    const at = req.path.indexOf(marker);
    if (at < 0) return;
    started.set(req, { at: performance.now(), service: req.path.slice(at + marker.length).split('?')[0]! });
  };
  const onHeaders = (m: unknown): void => {
    const { request, response } = m as { request: UndiciRequest; response: { statusCode: number } };
    const s = started.get(request);
    if (!s) return;
    started.delete(request);
    api.observe({ service: s.service, status: String(response.statusCode) }, (performance.now() - s.at) / 1000);
  };
  const onError = (m: unknown): void => {
    const { request } = m as { request: UndiciRequest };
    const s = started.get(request);
    if (!s) return;
    started.delete(request);
    api.observe({ service: s.service, status: 'error' }, (performance.now() - s.at) / 1000);
  };
  const subscriptions: [string, (m: unknown) => void][] = [
    [LIMITER_WAIT_CHANNEL.name as string, onWait],
    [THROTTLE_PAUSE_CHANNEL.name as string, onPause],
    ['undici:request:create', onCreate],
    ['undici:request:headers', onHeaders],
    ['undici:request:error', onError],
  ];
  for (const [name, fn] of subscriptions) subscribe(name, fn);

  return {
    registry,
    pause,
    listen(name: string, fn: (m: unknown) => void): void {
      subscriptions.push([name, fn]);
      subscribe(name, fn);
    },
    metrics: {
      registry,
      contentType: registry.contentType,
      text: () => registry.metrics(),
      close() {
        for (const [name, fn] of subscriptions) unsubscribe(name, fn);
      },
    } satisfies Metrics,
  };
}

/** `paybatch serve`: the sending part, plus rows of its batches, notifications, runs in progress and BullMQ's counts. */
export function createConsoleMetrics(opts: { stateDir: string; apiPathPrefix: string; queue?: { name: string; jobCounts(): Promise<Record<string, number>> } }): ConsoleMetrics {
  const { registry, listen, metrics } = sendingMetrics(opts.apiPathPrefix);
  const orders = new Counter({ name: 'paybatch_orders_total', help: 'Rows finished by batch runs of this process, by outcome (status) and error code', labelNames: ['status', 'error_code'], registers: [registry] });
  const ipn = new Counter({ name: 'paybatch_ipn_notifications_total', help: 'Payment notifications received, by result (accepted, refused)', labelNames: ['result'], registers: [registry] });
  listen(ROW_CHANNEL.name as string, (m) => {
    const row = m as RowMessage;
    orders.inc({ status: row.status, error_code: row.errorCode ?? '' });
  });
  ipn.inc({ result: 'accepted' }, 0);
  ipn.inc({ result: 'refused' }, 0);
  new Gauge({
    name: 'paybatch_batches_running',
    help: 'Batch runs of this state directory in progress (any process: CLI, schedule, console)',
    registers: [registry],
    async collect() {
      this.set((await listRuns(opts.stateDir)).filter((r) => r.state === 'running').length);
    },
  });

  const queue = opts.queue;
  if (queue) {
    new Gauge({
      name: 'bullmq_job_count',
      help: 'Number of jobs in the queue by state',
      labelNames: ['queue', 'state'],
      registers: [registry],
      async collect() {
        for (const [state, n] of Object.entries(await queue.jobCounts())) this.set({ queue: queue.name, state }, n);
      },
    });
  }

  return { ...metrics, ipn };
}

/**
 * `worker --metrics-port`: the sending part, and this worker's finished rows as `paybatch_worker_jobs_total`
 * (`paybatch_orders_total` is the batch process's), so a sum over every target counts a row once.
 */
export function createWorkerMetrics(opts: { apiPathPrefix: string }): WorkerMetrics {
  const { registry, pause, metrics } = sendingMetrics(opts.apiPathPrefix);
  const jobs = new Counter({ name: 'paybatch_worker_jobs_total', help: 'Queued rows this worker finished, by outcome (status)', labelNames: ['status'], registers: [registry] });
  return { ...metrics, jobDone: (status) => jobs.inc({ status }), throttled: pause };
}
