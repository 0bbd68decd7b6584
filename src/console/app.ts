import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { csrf } from 'hono/csrf';
import { HTTPException } from 'hono/http-exception';
import { secureHeaders } from 'hono/secure-headers';
import { runBatch, type RunBatchOptions } from '../app/run-batch.js';
import { findRun, listRuns, type RunRecord } from '../app/run-history.js';
import { validateFile } from '../app/validate-file.js';
import { toJudgeFileOptions, type InputArgs } from '../cli/input-options.js';
import { siblingPath } from '../report/files.js';
import { openCsv } from '../csv/read.js';
import { PaybatchError } from '../errors/paybatch-error.js';
import { cancelCandidates, cancelOrders } from '../follow/cancel.js';
import { openFollow, type FollowArgs, type LedgerStore } from '../follow/context.js';
import { checkStatus } from '../follow/status.js';
import { describeAmounts } from '../follow/tally.js';
import { updateOrders } from '../follow/update.js';
import { findOrderIdColumn } from '../follow/select.js';
import { judgeExpiry } from '../orders/judge.js';
import type { Logger } from '../log/logger.js';
import { resolveUncertain } from '../follow/resolve.js';
import { moneyOverTime, notInBatch, readBatchRows, reconciliationCsv, withLedger } from './batches.js';
import { ConsoleAuth, SESSION_COOKIE } from './auth.js';
import type { ConsoleMetrics } from './metrics.js';
import * as pages from './pages.js';
import { tooOldToSend, uploadsDir as uploadsDirOf, type UploadRetention } from './uploads.js';

export interface ConsoleAppOptions {
  auth: ConsoleAuth;
  stateDir: string;
  store: LedgerStore;
  metrics: ConsoleMetrics;
  logger: Logger;
  /** What a batch sent from the console shares with `paybatch run`: engine, ledger, rate, credentials. */
  send: Omit<RunBatchOptions, 'file' | 'judge' | 'files' | 'origin' | 'onStart' | 'signal' | 'progress'>;
  /** The follow-up settings (`paybatch cancel`/`update`/`status` options) for actions. */
  follow: FollowArgs;
  /** Aborted when the server stops: console runs stop like a CLI run on Ctrl-C (report written, re-run to finish). */
  signal: AbortSignal;
  defaults: pages.SendDefaults;
  /** Largest upload accepted, in bytes. */
  maxUploadBytes: number;
  /** Origins other than the server's own that may post forms (the public URL behind a reverse proxy). */
  origins?: string[];
  /** How long uploads are kept (src/console/uploads.ts sweeps them); a check older than `keepUnsentMs` is not sent. */
  retention: UploadRetention;
  /** The clock (tests move it). */
  now?: () => Date;
}

interface Upload {
  id: string;
  createdAt: string;
  name: string;
  file: string;
  input: InputArgs;
  summary: import('../report/summary.js').SummaryJson;
  hints: string[];
  validation: string;
  batchId?: string;
}

const PUBLIC = new Set(['/login', '/healthz', '/assets/console.css']);

/**
 * The ops console (hono): login, batches, a batch's rows and actions, sending a file. hono's middleware gives the
 * strict CSP and refuses cross-site posts; every page and action needs a session; no buyer data in URLs or logs.
 */
export function createConsoleApp(o: ConsoleAppOptions): Hono {
  const app = new Hono();
  const uploadsDir = uploadsDirOf(o.stateDir);
  const now = o.now ?? (() => new Date());

  app.use(
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'none'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
      },
      referrerPolicy: 'no-referrer',
    }),
  );
  app.use(csrf(o.origins?.length ? { origin: (origin, c) => origin === new URL(c.req.url).origin || o.origins!.includes(origin) } : {}));
  app.use(async (c, next) => {
    c.header('Cache-Control', 'no-store');
    if (PUBLIC.has(c.req.path)) return next();
    if (o.auth.isSession(getCookie(c, SESSION_COOKIE))) return next();
    const bearer = c.req.header('authorization')?.match(/^Bearer (.+)$/)?.[1];
    if (bearer && (await o.auth.check(bearer, clientOf(c))) === 'ok') return next();
    if (c.req.method === 'GET' && (c.req.header('accept') ?? '').includes('text/html')) return c.redirect('/login', 303);
    return c.text('login required\n', 401);
  });

  app.get('/assets/console.css', (c) => c.body(pages.CONSOLE_CSS, 200, { 'Content-Type': 'text/css; charset=utf-8', 'Cache-Control': 'max-age=300' }));

  app.get('/login', (c) => c.html(pages.loginPage()));
  app.post('/login', async (c) => {
    const form = await c.req.parseBody();
    const verdict = await o.auth.check(typeof form.password === 'string' ? form.password : '', clientOf(c));
    if (verdict === 'limited') return c.html(pages.loginPage('Too many failed attempts: wait a quarter of an hour.'), 429);
    if (verdict === 'wrong') {
      o.logger.warn({ event: 'console.login_refused' }, 'console login refused');
      return c.html(pages.loginPage('Wrong password.'), 401);
    }
    setCookie(c, SESSION_COOKIE, o.auth.newSession(), { httpOnly: true, sameSite: 'Strict', path: '/', secure: new URL(c.req.url).protocol === 'https:' || (o.origins ?? []).some((x) => x.startsWith('https:')) });
    return c.redirect('/', 303);
  });
  app.post('/logout', (c) => {
    o.auth.endSession(getCookie(c, SESSION_COOKIE));
    deleteCookie(c, SESSION_COOKIE, { path: '/' });
    return c.redirect('/login', 303);
  });

  app.get('/', async (c) => {
    const now = new Date();
    const [runs, chart] = await Promise.all([listRuns(o.stateDir), moneyOverTime(o.store, 14, now)]);
    return c.html(pages.batchesPage(runs, chart, now));
  });

  const runOr404 = async (c: Context): Promise<RunRecord | Response> => {
    const run = await findRun(o.stateDir, c.req.param('id') ?? '');
    return run ?? c.html(pages.errorPage('Not found', 'There is no such batch in this state directory.', { href: '/', label: 'All batches' }), 404);
  };

  app.get('/batches/:id', async (c) => {
    const run = await runOr404(c);
    if (run instanceof Response) return run;
    const filter = c.req.query('status') || undefined;
    return c.html(pages.batchPage(run, await readBatchRows(run, o.store, filter), filter, new Date()));
  });

  app.get('/batches/:id/files/:kind', async (c) => {
    const run = await runOr404(c);
    if (run instanceof Response) return run;
    const kind = c.req.param('kind');
    let body: string | Buffer | undefined;
    if (kind === 'report') body = await readFile(run.files.report).catch(() => undefined);
    else if (kind === 'tofix' && run.files.toFix) body = await readFile(run.files.toFix).catch(() => undefined);
    else if (kind === 'reconciliation') {
      body = await reconciliationCsv(o.store, run.batchId);
      if (body === undefined) return c.html(pages.errorPage('Busy', 'A run is using the ledger right now: download the reconciliation export when it has finished.', { href: `/batches/${run.batchId}`, label: 'Back to the batch' }), 503);
    }
    if (body === undefined) return c.html(pages.errorPage('Not found', 'This file is not there (not written yet, or moved away).', { href: `/batches/${run.batchId}`, label: 'Back to the batch' }), 404);
    return c.body(new Uint8Array(body instanceof Buffer ? body : Buffer.from(body)), 200, {
      'Content-Type': 'text/csv; charset=utf-8',
      'Content-Disposition': `attachment; filename="${run.batchId}.${kind}.csv"`,
    });
  });

  app.post('/batches/:id/act', async (c) => {
    const run = await runOr404(c);
    if (run instanceof Response) return run;
    const form = await c.req.parseBody({ all: true });
    const action = String(form.action ?? '');
    const orderIds = [...new Set(toList(form.orderId))];
    const back = { href: `/batches/${run.batchId}`, label: 'Back to the batch' };
    if (action !== 'cancel' && action !== 'settle' && action !== 'expire') return c.html(pages.errorPage('Unknown action', 'Choose cancel, refresh or change expiry.', back), 400);
    if (orderIds.length === 0) return c.html(pages.errorPage('Nothing selected', 'Tick the orders to act on first.', back), 400);
    const strangers = await notInBatch(run, o.store, orderIds);
    if (strangers.length) return c.html(pages.errorPage('Not in this batch', `${strangers.join(', ')}: not an order of batch ${run.batchId}; act on an order from the page of its own batch.`, back), 400);
    const expiresOn = typeof form.expiresOn === 'string' ? form.expiresOn : '';
    let expirationDate: string | undefined;
    if (action === 'expire') {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(expiresOn) || Number.isNaN(Date.parse(`${expiresOn}T23:59:59Z`))) return c.html(pages.errorPage('No date', 'Give the new expiry date.', back), 400);
      // The rows' rule (after now, at most 90 days ahead), on the machine's clock, before asking and again before
      // sending: a confirmation left open past midnight is refused here, not by the platform (PSP_1007).
      const judged = judgeExpiry(expiresOn, 'UTC', now().getTime());
      if (!judged.ok) return c.html(pages.errorPage('Expiry refused', `${judged.message.charAt(0).toUpperCase()}${judged.message.slice(1)}${judged.reason === 'too-far' ? ' UTC' : judged.reason === 'past' ? ' (a date ends at 23:59:59 UTC)' : ''}. No order was changed.`, back), 400);
      expirationDate = `${expiresOn}T23:59:59Z`;
    }
    if (form.confirmed !== 'yes') {
      const what = await describeAction(o.store, action, orderIds, run, expiresOn);
      return c.html(pages.confirmActionPage(run, action, orderIds, what, expiresOn || undefined));
    }
    const ctx = await openFollow(o.follow, { api: true });
    try {
      const bulk = { concurrency: o.follow.concurrency, limiter: ctx.limiter, signal: o.signal };
      if (action === 'cancel') {
        const { all } = await cancelCandidates(ctx.ledger, orderIds);
        const done = await cancelOrders({ candidates: all, ledger: ctx.ledger, client: ctx.client!, dryRun: false, bulk });
        o.logger.info({ event: 'console.cancel', batchId: run.batchId, orders: orderIds.length }, 'orders cancelled from the console');
        return c.html(pages.actionResultPage(run, 'Cancel', done.rows));
      }
      if (action === 'expire') {
        const done = await updateOrders({ targets: orderIds.map((orderId) => ({ orderId })), ledger: ctx.ledger, client: ctx.client!, runWide: { expirationDate: expirationDate! }, dryRun: false, bulk });
        o.logger.info({ event: 'console.update', batchId: run.batchId, orders: orderIds.length }, 'orders updated from the console');
        return c.html(pages.actionResultPage(run, 'Change expiry', done.rows));
      }
      // Settle: the UNCERTAIN orders go through paybatch resolve (Order/Get, notifications, expiry); the others are read.
      const entries = await Promise.all(orderIds.map((id) => ctx.ledger.get(id)));
      const uncertain = entries.filter((e): e is NonNullable<typeof e> => e?.state === 'UNCERTAIN');
      const settled = uncertain.length ? await resolveUncertain({ ledger: ctx.ledger, client: ctx.client!, entries: uncertain, bulk }) : { rows: [] };
      const others = orderIds.filter((id) => !uncertain.some((e) => e.orderId === id));
      const done = others.length ? await checkStatus({ orderIds: others, ledger: ctx.ledger, client: ctx.client!, offline: false, bulk }) : { rows: [] };
      const resolved = settled.rows.map((r) => ({
        orderId: r.orderId,
        result: r.decision,
        ...(r.paymentOrderStatus ? { paymentOrderStatus: r.paymentOrderStatus } : {}),
        amountMinor: r.amountMinor,
        currency: r.currency,
        errorMessage: r.safeFrom ? `${r.evidence}; safe to send again from ${r.safeFrom}` : r.evidence,
      }));
      return c.html(pages.actionResultPage(run, 'Settled', [...resolved, ...done.rows] as Parameters<typeof pages.actionResultPage>[2], 'UNCERTAIN orders were looked for on the platform (Order/Get) and in the notifications received: FOUND ones are CREATED now and never sent again; SAFE_TO_RESEND ones can no longer be paid (paybatch resolve FILE --resend-expired sends them); the others stay UNCERTAIN until the date shown. Every other order was read again.'));
    } finally {
      await ctx.close();
    }
  });

  app.get('/send', (c) => c.html(pages.sendPage(o.defaults)));
  app.post('/send', bodyLimit({ maxSize: o.maxUploadBytes, onError: (c) => c.html(pages.sendPage(o.defaults, `The file is larger than ${Math.round(o.maxUploadBytes / 1048576)} MiB.`), 413) }), async (c) => {
    const form = await c.req.parseBody();
    // A refused upload shows the form again with what was typed in it (the file itself is not kept).
    const typed = (k: keyof pages.SendDefaults): string | undefined => (typeof form[k] === 'string' ? form[k] : o.defaults[k]);
    const again: pages.SendDefaults = { currency: typed('currency'), channel: typed('channel'), expiresIn: typed('expiresIn') };
    const file = form.file;
    if (!(file instanceof File) || file.size === 0) return c.html(pages.sendPage(again, 'Choose a file to upload.'), 400);
    const id = randomBytes(12).toString('base64url');
    const dir = join(uploadsDir, id);
    await mkdir(dir, { recursive: true });
    const name = safeName(file.name);
    const path = join(dir, name);
    await writeFile(path, new Uint8Array(await file.arrayBuffer()));
    const text = (k: string): string | undefined => (typeof form[k] === 'string' && form[k].trim() !== '' ? form[k].trim() : undefined);
    const input: InputArgs = { ...(text('currency') ? { currency: text('currency')!.toUpperCase() } : {}), ...(text('channel') ? { channel: text('channel') } : {}), ...(text('expiresIn') ? { 'expires-in': text('expiresIn') } : {}) };
    const validation = siblingPath(path, 'validation');
    try {
      const checked = await validateFile(path, toJudgeFileOptions(input, new Date()), { report: validation, fix: siblingPath(path, 'validation.tofix') });
      const upload: Upload = { id, createdAt: now().toISOString(), name, file: path, input, summary: checked.summary.toJSON(), hints: checked.hints, validation };
      await writeFile(join(dir, 'upload.json'), JSON.stringify(upload));
    } catch (e) {
      // A file that cannot be checked is not kept: it could never be sent.
      await rm(dir, { recursive: true, force: true });
      if (PaybatchError.is(e)) return c.html(pages.sendPage(again, e.message.replaceAll(dir + '/', '')), 400);
      throw e;
    }
    return c.redirect(`/uploads/${id}`, 303);
  });

  const uploadOr404 = async (c: Context): Promise<Upload | Response> => {
    const id = c.req.param('id') ?? '';
    const upload = /^[A-Za-z0-9_-]{16}$/.test(id) ? await readFile(join(uploadsDir, id, 'upload.json'), 'utf8').then((t) => JSON.parse(t) as Upload, () => undefined) : undefined;
    return upload ?? c.html(pages.errorPage('Not found', 'There is no such upload.', { href: '/send', label: 'Send a file' }), 404);
  };

  app.get('/uploads/:id', async (c) => {
    const upload = await uploadOr404(c);
    if (upload instanceof Response) return upload;
    if (upload.batchId) return c.redirect(`/batches/${upload.batchId}`, 303);
    const { rows, more } = await invalidRows(upload.validation);
    return c.html(pages.validationPage(upload, rows, more));
  });

  app.post('/uploads/:id/send', async (c) => {
    const upload = await uploadOr404(c);
    if (upload instanceof Response) return upload;
    if (upload.batchId) return c.redirect(`/batches/${upload.batchId}`, 303);
    if (tooOldToSend(upload.createdAt, now(), o.retention)) {
      return c.html(pages.errorPage('Check too old', `This check is more than ${pages.duration(o.retention.keepUnsentMs)} old and its file is about to be removed: upload the file again to check and send it. Nothing was sent.`, { href: '/send', label: 'Send a file' }), 410);
    }
    const files = { report: siblingPath(upload.file, 'report'), toFix: siblingPath(upload.file, 'tofix'), summary: siblingPath(upload.file, 'report').replace(/\.(csv|txt|tsv)$/i, '') + '.json' };
    let started!: (batchId: string) => void;
    const onStart = new Promise<string>((resolve) => (started = resolve));
    const run = runBatch({ ...o.send, file: upload.file, judge: toJudgeFileOptions(upload.input, new Date()), files, origin: 'console', onStart: started, signal: o.signal });
    run.then(
      (r) => o.logger.info({ event: 'console.batch_done', batchId: r.batchId, exitCode: r.exitCode }, 'console batch finished'),
      // The code only: a message may quote a cell of the file, and buyer data stays out of the log (the page shows it).
      (e: unknown) => o.logger.warn({ event: 'console.batch_failed', code: PaybatchError.is(e) ? e.code : 'PB_INTERNAL' }, 'console batch failed'),
    );
    const first = await Promise.race([onStart, run.then((r) => r.batchId)]).catch((e: unknown) => e);
    if (typeof first !== 'string') {
      const message = PaybatchError.is(first) ? first.message : 'the batch could not start';
      return c.html(pages.errorPage('Not sent', `${message} Nothing was sent.`, { href: `/uploads/${upload.id}`, label: 'Back to the check' }), 400);
    }
    upload.batchId = first;
    await writeFile(join(uploadsDir, upload.id, 'upload.json'), JSON.stringify(upload));
    return c.redirect(`/batches/${first}`, 303);
  });

  app.notFound((c) => c.html(pages.errorPage('Not found', 'There is no such page.', { href: '/', label: 'All batches' }), 404));
  app.onError((e, c) => {
    // hono's own refusals (csrf: 403, body limit) keep their status.
    if (e instanceof HTTPException) return e.getResponse();
    o.logger.error({ event: 'console.error', code: PaybatchError.is(e) ? e.code : 'PB_INTERNAL' }, 'console request failed');
    const message = PaybatchError.is(e) ? e.message : 'Something went wrong; the server log has the details.';
    return c.html(pages.errorPage('Error', message), PaybatchError.is(e) && e.exitCode === 2 ? 400 : 500);
  });
  return app;
}

/** The client address for rate-limiting logins (the socket's; behind a proxy every client is the proxy: limited together). */
function clientOf(c: Context): string {
  const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
  return incoming?.socket?.remoteAddress ?? 'unknown';
}

function toList(v: unknown): string[] {
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return typeof v === 'string' ? [v] : [];
}

/** The uploaded file's name without folders or odd characters: it is only a label, the folder is ours. */
function safeName(name: string): string {
  const base = (name.split(/[\\/]/).pop() ?? '').replace(/[^\p{L}\p{N}._ -]/gu, '_').replace(/^\.+/, '').slice(0, 100);
  return /\.(csv|txt|tsv|xlsx|xlsm)$/i.test(base) ? base : `${base || 'upload'}.csv`;
}

const INVALID_SHOWN = 200;

async function invalidRows(validation: string): Promise<{ rows: pages.InvalidRow[]; more: number }> {
  const source = await openCsv(validation);
  const rows: pages.InvalidRow[] = [];
  let more = 0;
  try {
    const h = source.headers;
    const col = (n: string): number => (h.lastIndexOf(n) >= 0 ? h.lastIndexOf(n) : h.lastIndexOf(`paybatch_${n}`));
    let idCol = -1;
    try {
      idCol = findOrderIdColumn(h, undefined, validation);
    } catch {
      idCol = -1;
    }
    const [status, line, code, message] = [col('status'), col('line'), col('errorCode'), col('errorMessage')];
    for await (const r of source.rows) {
      if (r.cells[status] !== 'INVALID') continue;
      if (rows.length >= INVALID_SHOWN) {
        more += 1;
        continue;
      }
      rows.push({ line: r.cells[line] ?? '', orderId: idCol >= 0 ? (r.cells[idCol] ?? '') : '', errorCode: r.cells[code] ?? '', errorMessage: r.cells[message] ?? '' });
    }
  } finally {
    source.close();
  }
  return { rows, more };
}

/** The confirmation sentence: what will happen to how many orders, for how much. */
async function describeAction(store: LedgerStore, action: pages.ActionName, orderIds: string[], run: RunRecord, expiresOn: string): Promise<string> {
  const items: { amountMinor?: number; currency?: string }[] = [];
  const busy = await withLedger(store, async (ledger) => {
    for (const id of orderIds) {
      const e = await ledger.get(id);
      items.push({ amountMinor: e?.sent.amountMinor, currency: e?.sent.currency });
    }
  });
  const what = busy ? `${orderIds.length} order${orderIds.length === 1 ? '' : 's'}` : describeAmounts(items);
  if (action === 'cancel') return `Cancel ${what} of batch ${run.batchId}? Buyers will no longer be able to pay them. Orders already paid, refused or expired are left as they are.`;
  if (action === 'expire') return `Change the expiry of ${what} of batch ${run.batchId} to ${expiresOn} 23:59:59 UTC? Only orders still waiting for payment (RUNNING) change; the platform may notify the buyer again.`;
  return `Read ${what} of batch ${run.batchId} from the platform and record their status in the ledger? Nothing is sent to buyers; an UNCERTAIN order found on the platform becomes CREATED.`;
}
