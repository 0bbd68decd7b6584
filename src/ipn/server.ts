import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { listen } from '../lib/listen.js';
import type { Logger } from '../log/logger.js';
import type { Mode } from '../lyra/types.js';
import { BodyTooLargeError, parseFormFields, readBoundedBody } from './body.js';
import { appendToInbox, recentInboxHashes, repairInboxTail } from './inbox.js';
import { IpnAnswerError, readIpnAnswer, type IpnNotice } from './notice.js';

/** The signature check (src/lyra/ipn.ts `verifyIpn`, bound to the shop's keys by the caller). */
export type IpnVerifier = (fields: Record<string, string>) => { ok: true } | { ok: false; reason: string };

export interface IpnHandlerOptions {
  verify: IpnVerifier;
  /** The only shop + mode this receiver records; authentic notices for others are acknowledged and ignored. */
  shopId: string;
  mode: Mode;
  stateDir: string;
  logger: Logger;
  /** Bodies above this are refused with 413 before being buffered. Default 64 KiB (a V4/Payment is ~2–8 KiB). */
  maxBodyBytes?: number;
  /**
   * Whether the ledger holds the order a notice is about: false for one it does not (nothing is journalled for it),
   * undefined when it cannot tell now (a run holds the ledger: the notice is journalled, and dropped when applied).
   */
  knowsOrder?: (notice: IpnNotice) => Promise<boolean | undefined>;
  /** Called after a notice is durably in the journal (the applier's `kick`). */
  onAccepted?: (notice: IpnNotice) => void;
  /** Called for every refused request, with the HTTP status (the console counts them). */
  onRefused?: (status: number) => void;
  now?: () => Date;
}

export interface IpnServerOptions extends IpnHandlerOptions {
  /** Default 0 (a free port). */
  port?: number;
  /** Default 127.0.0.1: the receiver is meant to sit behind a TLS reverse proxy (docs/follow-up.md). */
  host?: string;
}

/** The receiver's request handler, for a server of its own (`startIpnServer`) or mounted in another (`paybatch serve`). */
export type IpnRequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface IpnServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

const DEFAULT_MAX_BODY = 64 * 1024;
/** Recently seen kr-hash values: a re-delivery of the same payload is acknowledged without a second journal line. */
const DEDUPE_SIZE = 10_000;

/**
 * Lyra's payment notifications over plain HTTP (TLS ends at the proxy): verify, append to the journal with fsync,
 * answer; the ledger is updated afterwards (inbox-applier.ts). 200 accepted (also a re-delivery, or an authentic
 * notice about another shop/order); 400 unsigned or malformed; 401 bad signature; 405 not POST; 413 too large;
 * 415 not a form; 500 journal not written (Lyra retries). Refusals log reason and sizes, never the kr-answer.
 */
export async function startIpnServer(opts: IpnServerOptions): Promise<IpnServer> {
  const server: Server = createServer(await createIpnHandler(opts));
  // A slow or stalled client must not hold a socket: Lyra itself gives up after 10 s.
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  server.keepAliveTimeout = 5_000;

  const { url, port, close } = await listen(server, opts.port ?? 0, opts.host ?? '127.0.0.1');
  return { url, port, close };
}

/** The receiver's checks and journal (see startIpnServer for the answers), as a plain Node request handler. */
export async function createIpnHandler(opts: IpnHandlerOptions): Promise<IpnRequestHandler> {
  const limit = opts.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const now = opts.now ?? (() => new Date());
  const log = opts.logger;
  // The replay check outlives a restart: it starts from the hashes of the journal's last lines.
  const seen = new Set<string>(await recentInboxHashes(opts.stateDir, opts.shopId, opts.mode, DEDUPE_SIZE));

  const remember = (hash: string): void => {
    seen.add(hash);
    if (seen.size > DEDUPE_SIZE) seen.delete(seen.values().next().value as string);
  };

  const refuse = (res: ServerResponse, status: number, reason: string, extra: Record<string, unknown> = {}): void => {
    log.warn({ event: 'ipn.refused', status, reason, ...extra }, 'notification refused');
    opts.onRefused?.(status);
    send(res, status, reason);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method === 'GET' && (req.url === '/healthz' || req.url?.endsWith('/healthz'))) return send(res, 200, 'ok');
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      return refuse(res, 405, 'method not allowed', { method: req.method });
    }
    const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/x-www-form-urlencoded') return refuse(res, 415, 'expected application/x-www-form-urlencoded');

    let body: Buffer;
    try {
      body = await readBoundedBody(req, limit);
    } catch (e) {
      if (e instanceof BodyTooLargeError) {
        res.setHeader('Connection', 'close');
        return refuse(res, 413, 'body too large', { limit });
      }
      throw e;
    }
    const fields = parseFormFields(body);
    const hash = fields['kr-hash'];
    const answer = fields['kr-answer'];
    if (!hash || !answer) return refuse(res, 400, 'unsigned: kr-hash and kr-answer are required', { bytes: body.length });

    const verdict = opts.verify(fields);
    if (!verdict.ok) {
      return refuse(res, 401, 'bad signature', { detail: verdict.reason, hashKey: fields['kr-hash-key'], bytes: body.length });
    }

    let notice: IpnNotice;
    try {
      notice = readIpnAnswer(answer);
    } catch (e) {
      if (e instanceof IpnAnswerError) return refuse(res, 400, e.message, { code: e.code });
      throw e;
    }
    const who = { orderId: notice.orderId, paymentOrderId: notice.paymentOrderId, transactionUuid: notice.transactionUuid };
    if (notice.shopId !== opts.shopId || notice.mode !== opts.mode) {
      log.warn({ event: 'ipn.other_shop', shopId: notice.shopId, mode: notice.mode, ...who }, 'authentic notification for another shop or mode: ignored');
      return send(res, 200, 'OK');
    }
    const key = hash.toLowerCase();
    if (seen.has(key)) {
      log.info({ event: 'ipn.duplicate', ...who }, 're-delivered notification: already recorded');
      return send(res, 200, 'OK');
    }
    if ((await opts.knowsOrder?.(notice)) === false) {
      // An order this ledger never sent (another tool on the same shop): acknowledged so Lyra stops, not recorded.
      log.info({ event: 'ipn.unknown_order', ...who }, 'authentic notification for an order this ledger does not hold: not recorded');
      return send(res, 200, 'OK');
    }
    await appendToInbox(opts.stateDir, { v: 1, receivedAt: now().toISOString(), hash: key, notice });
    remember(key);
    log.info(
      { event: 'ipn.accepted', ...who, orderStatus: notice.orderStatus, detailedStatus: notice.detailedStatus, paymentOrderStatus: notice.paymentOrderStatus ?? null, at: notice.at },
      'notification accepted',
    );
    send(res, 200, 'OK');
    opts.onAccepted?.(notice);
  };

  if (await repairInboxTail(opts.stateDir, opts.shopId, opts.mode)) log.warn({ event: 'ipn.journal_repaired' }, 'the IPN journal ended in a torn line (crash): terminated it');

  return (req, res) => {
    handle(req, res).catch((e: unknown) => {
      log.error({ event: 'ipn.failed', err: e }, 'notification not recorded: Lyra will retry');
      opts.onRefused?.(500);
      if (!res.headersSent) send(res, 500, 'not recorded');
      else res.destroy();
    });
  };
}

function send(res: ServerResponse, status: number, text: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.end(`${text}\n`);
}
