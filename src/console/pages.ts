import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import type { RunRecord } from '../app/run-history.js';
import type { ActionRow } from '../follow/cancel.js';
import type { StatusRow } from '../follow/status.js';
import { formatMinor, formatMoney } from '../orders/currencies.js';
import type { SummaryJson } from '../report/summary.js';
import { STATUS_ORDER, type BatchRows, type MoneyDay } from './batches.js';

/**
 * The console's pages: hono's `html` template escapes every interpolated value (a CSV cell holding `<script>` shows
 * as text). No script at all (meta refresh, inline SVG, /assets/console.css), so the CSP forbids scripts outright.
 */
type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

export function layout(title: string, body: Html, opts: { refreshSeconds?: number; loggedIn?: boolean } = {}): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${opts.refreshSeconds ? html`<meta http-equiv="refresh" content="${opts.refreshSeconds}">` : ''}
<title>${title} · paybatch</title>
<link rel="stylesheet" href="/assets/console.css">
</head>
<body>
<header>
<a class="brand" href="/">paybatch</a>
${opts.loggedIn === false
  ? ''
  : html`<nav><a href="/">Batches</a><a href="/send">Send a file</a></nav>
<form method="post" action="/logout" class="logout"><button type="submit">Log out</button></form>`}
</header>
<main>
<h1>${title}</h1>
${body}
</main>
</body>
</html>`;
}

export function loginPage(message?: string): Html {
  return layout(
    'Log in',
    html`${message ? html`<p class="error" role="alert">${message}</p>` : ''}
<form method="post" action="/login" class="login">
<label>Password <input type="password" name="password" autocomplete="current-password" required autofocus></label>
<button type="submit">Log in</button>
</form>`,
    { loggedIn: false },
  );
}

export function errorPage(title: string, message: string, back?: { href: string; label: string }): Html {
  return layout(title, html`<p class="error" role="alert">${message}</p>${back ? html`<p><a href="${back.href}">${back.label}</a></p>` : ''}`);
}

function counts(summary: SummaryJson): Html {
  const statuses = Object.entries(summary.statuses).sort((a, b) => rank(a[0]) - rank(b[0]));
  return html`${statuses.map(([s, n]) => html`<span class="status ${s}">${s} ${n}</span> `)}`;
}

function totals(summary: SummaryJson, status = 'CREATED'): Html {
  const byCurrency = summary.totals[status] ?? {};
  const items = Object.entries(byCurrency).map(([cur, t]) => formatMoney(t.minor, cur));
  return html`${items.length ? items.join(' · ') : '—'}`;
}

function rank(s: string): number {
  return STATUS_ORDER.includes(s) ? STATUS_ORDER.indexOf(s) : STATUS_ORDER.length;
}

function baseName(path: string): string {
  return path.split(/[\\/]/).pop() ?? path;
}

/** A retention period as people say it: 24 hours, 30 days. */
export function duration(ms: number): string {
  const days = ms / 86_400_000;
  if (Number.isInteger(days)) return `${days} day${days === 1 ? '' : 's'}`;
  const hours = Math.round(ms / 3_600_000);
  if (hours >= 1) return `${hours} hour${hours === 1 ? '' : 's'}`;
  const minutes = Math.max(1, Math.round(ms / 60_000));
  return `${minutes} minute${minutes === 1 ? '' : 's'}`;
}

function when(iso: string | undefined): string {
  return iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '—';
}

/** Live figures of a running batch: done, rows per second, ETA, the rate it is allowed. */
export function liveProgress(run: RunRecord, now: Date): Html {
  const done = run.summary.rows;
  const total = Math.max(run.estimatedRows, done);
  const seconds = Math.max((now.getTime() - Date.parse(run.startedAt)) / 1000, 0.001);
  const perSecond = done / seconds;
  const eta = perSecond > 0 && total > done ? Math.ceil((total - done) / perSecond) : undefined;
  return html`<div class="progress"><progress value="${done}" max="${total}">${done}/${total}</progress>
<span>${done} / ~${total} rows · ${perSecond.toFixed(1)} rows/s${eta !== undefined ? html` · ETA ${eta}s` : ''}${run.perSecond ? html` · rate ${run.perSecond}/s` : ''}</span></div>`;
}

export function batchesPage(runs: RunRecord[], chart: Map<string, MoneyDay[]> | undefined, now: Date): Html {
  const running = runs.some((r) => r.state === 'running');
  return layout(
    'Batches',
    html`<section class="charts"><h2>Paid and outstanding, last 14 days</h2>
${chart === undefined ? html`<p class="note">The ledger is in use by a run: the picture shows again when it has finished.</p>` : chart.size === 0 ? html`<p class="note">No order sent yet.</p>` : [...chart.entries()].map(([cur, days]) => moneyChart(cur, days))}
</section>
<table class="batches">
<thead><tr><th>Batch</th><th>Started by</th><th>Source</th><th>Started</th><th>Ended</th><th>State</th><th>Rows per status</th><th>Created, per currency</th></tr></thead>
<tbody>
${runs.length === 0 ? html`<tr><td colspan="8">No batch has run from this state directory yet.</td></tr>` : ''}
${runs.map(
  (r) => html`<tr class="${r.state}">
<td><a href="/batches/${r.batchId}">${r.batchId}</a></td>
<td>${r.origin}</td>
<td>${baseName(r.file)}</td>
<td>${when(r.startedAt)}</td>
<td>${when(r.endedAt)}</td>
<td>${r.state}${r.state === 'running' ? liveProgress(r, now) : ''}</td>
<td>${counts(r.summary)}</td>
<td>${totals(r.summary)}</td>
</tr>`,
)}
</tbody>
</table>`,
    running ? { refreshSeconds: 2 } : {},
  );
}

/** Stacked bars per day: paid (green) under outstanding (amber), scaled to the largest day. */
function moneyChart(currency: string, days: MoneyDay[]): Html {
  const width = 560;
  const height = 140;
  const barWidth = width / days.length;
  const top = Math.max(1, ...days.map((d) => d.paid + d.outstanding));
  const last = days[days.length - 1]!;
  return html`<figure class="chart"><figcaption>${currency}: paid ${formatMoney(last.paid, currency)} · outstanding ${formatMoney(last.outstanding, currency)}</figcaption>
<svg viewBox="0 0 ${width} ${height + 16}" width="${width}" height="${height + 16}" role="img" aria-label="${currency} paid and outstanding per day">
${days.map((d, i) => {
  const paidH = (d.paid / top) * height;
  const outH = (d.outstanding / top) * height;
  const x = i * barWidth + 2;
  return html`<g><title>${d.day}: paid ${formatMinor(d.paid, currency)}, outstanding ${formatMinor(d.outstanding, currency)}</title>
<rect x="${x}" y="${height - paidH}" width="${barWidth - 4}" height="${paidH}" fill="#2e7d32"></rect>
<rect x="${x}" y="${height - paidH - outH}" width="${barWidth - 4}" height="${outH}" fill="#f0a020"></rect></g>`;
})}
<text x="0" y="${height + 13}" font-size="11">${days[0]!.day}</text><text x="${width}" y="${height + 13}" font-size="11" text-anchor="end">${last.day}</text>
</svg>
<p class="legend"><span class="paid">■ paid</span> <span class="outstanding">■ outstanding</span></p></figure>`;
}

export function batchPage(run: RunRecord, rows: BatchRows, filter: string | undefined, now: Date, message?: Html): Html {
  const statuses = Object.keys(run.summary.statuses).sort((a, b) => rank(a) - rank(b));
  const actionable = rows.rows.some((r) => r.orderId && SENT.has(r.status));
  return layout(
    `Batch ${run.batchId}`,
    html`${message ?? ''}
<dl class="facts">
<dt>Source</dt><dd>${baseName(run.file)} (started by ${run.origin}, ${run.engine} engine, ${run.target})</dd>
<dt>Started</dt><dd>${when(run.startedAt)}</dd><dt>Ended</dt><dd>${when(run.endedAt)}</dd>
<dt>State</dt><dd>${run.state}${run.message ? html` — ${run.message}` : ''}</dd>
<dt>Rows</dt><dd>${counts(run.summary)}</dd>
<dt>Created</dt><dd>${totals(run.summary)}</dd>
</dl>
${run.state === 'running' ? liveProgress(run, now) : ''}
<p class="downloads">Download:
<a href="/batches/${run.batchId}/files/report">report</a>
${run.files.toFix ? html`· <a href="/batches/${run.batchId}/files/tofix">rows to fix</a>` : ''}
· <a href="/batches/${run.batchId}/files/reconciliation">reconciliation export</a></p>
<nav class="filter">Show:
<a href="/batches/${run.batchId}"${filter ? '' : html` aria-current="page"`}>all</a>
${statuses.map((s) => html`<a href="/batches/${run.batchId}?status=${s}"${filter === s ? html` aria-current="page"` : ''}>${s}</a> `)}
</nav>
${rows.noReport ? html`<p class="note">${rows.noReport}</p>` : ''}
${rows.ledgerNote ? html`<p class="note">${rows.ledgerNote}</p>` : ''}
<form method="post" action="/batches/${run.batchId}/act">
${actionable
  ? html`<fieldset class="actions"><legend>With the selected orders</legend>
<button type="submit" name="action" value="cancel">Cancel…</button>
<button type="submit" name="action" value="settle">Refresh status (settle UNCERTAIN)…</button>
<label>New expiry date <input type="date" name="expiresOn"></label><button type="submit" name="action" value="expire">Change expiry…</button>
</fieldset>`
  : ''}
<table class="rows">
<thead><tr><th></th><th>Line</th><th>Order</th><th>Status</th><th>Amount</th><th>Channel</th><th>Send to</th><th>Payment</th><th>Error</th><th>Note</th></tr></thead>
<tbody>
${rows.rows.map(
  (r) => html`<tr class="${r.status}">
<td>${r.orderId && SENT.has(r.status) ? html`<input type="checkbox" name="orderId" value="${r.orderId}" aria-label="select ${r.orderId}">` : ''}</td>
<td>${r.line}</td><td>${r.orderId}</td><td><span class="status ${r.status}">${r.status}</span></td>
<td class="num">${r.amount} ${r.currency}</td><td>${r.channel}</td><td>${r.sendTo}</td><td>${r.paymentOrderStatus}</td>
<td>${r.errorCode ? html`<code>${r.errorCode}</code> ` : ''}${r.errorMessage}</td><td>${r.note}</td>
</tr>`,
)}
</tbody>
</table>
</form>
${rows.matching > rows.rows.length ? html`<p class="note">${rows.rows.length} of ${rows.matching} rows shown: the report has them all.</p>` : ''}`,
    run.state === 'running' ? { refreshSeconds: 2 } : {},
  );
}

/** Rows whose order may exist on the platform: the ones an action can apply to. */
const SENT = new Set(['CREATED', 'UNCERTAIN']);

export type ActionName = 'cancel' | 'settle' | 'expire';

/** What an action will do, said before it is done; the form repeats the selection for the second step. */
export function confirmActionPage(run: RunRecord, action: ActionName, orderIds: string[], what: string, expiresOn?: string): Html {
  return layout(
    'Please confirm',
    html`<p class="confirm">${what}</p>
<form method="post" action="/batches/${run.batchId}/act">
<input type="hidden" name="action" value="${action}">
<input type="hidden" name="confirmed" value="yes">
${expiresOn ? html`<input type="hidden" name="expiresOn" value="${expiresOn}">` : ''}
${orderIds.map((id) => html`<input type="hidden" name="orderId" value="${id}">`)}
<ul class="selection">${orderIds.map((id) => html`<li>${id}</li>`)}</ul>
<button type="submit" class="danger">Yes, ${action === 'cancel' ? 'cancel them' : action === 'expire' ? 'change the expiry' : 'refresh them'}</button>
<a href="/batches/${run.batchId}">No, go back</a>
</form>`,
  );
}

export function actionResultPage(run: RunRecord, title: string, rows: (ActionRow | StatusRow)[], note?: string): Html {
  return layout(
    title,
    html`${note ? html`<p class="note">${note}</p>` : ''}
<table class="rows"><thead><tr><th>Order</th><th>Result</th><th>Payment</th><th>Amount</th><th>Message</th></tr></thead>
<tbody>${rows.map(
      (r) => html`<tr><td>${r.orderId}</td><td><span class="status ${r.result}">${r.result}</span></td><td>${r.paymentOrderStatus ?? ''}</td>
<td class="num">${r.amountMinor !== undefined && r.currency ? formatMoney(r.amountMinor, r.currency) : ''}</td><td>${r.errorCode ? html`<code>${r.errorCode}</code> ` : ''}${r.errorMessage ?? ''}</td></tr>`,
    )}</tbody></table>
<p><a href="/batches/${run.batchId}">Back to the batch</a></p>`,
  );
}

/** The form's run-wide values: `serve`'s defaults, or what was typed when a refused upload shows the form again. */
export interface SendDefaults {
  currency?: string;
  channel?: string;
  expiresIn?: string;
}

export function sendPage(defaults: SendDefaults, message?: string): Html {
  return layout(
    'Send a file',
    html`${message ? html`<p class="error" role="alert">${message}</p>` : ''}
<p>Upload the invoices (CSV or .xlsx). Nothing is sent before you have seen the validation and confirmed.</p>
<form method="post" action="/send" enctype="multipart/form-data" class="send">
<label>File <input type="file" name="file" accept=".csv,.txt,.tsv,.xlsx" required></label>
<label>Currency for rows without one <input name="currency" value="${defaults.currency ?? ''}" placeholder="EUR" size="4"></label>
<label>Channel for rows without one <select name="channel">
${['', 'MAIL', 'SMS', 'WHATSAPP', 'INVOICE', 'URL'].map((c) => html`<option value="${c}"${c === (defaults.channel ?? '') ? html` selected` : ''}>${c || '(from the file)'}</option>`)}
</select></label>
<label>Expires in (rows without a date) <input name="expiresIn" value="${defaults.expiresIn ?? ''}" placeholder="30d" size="5"></label>
<button type="submit">Check the file</button>
</form>`,
  );
}

export interface InvalidRow {
  line: string;
  orderId: string;
  errorCode: string;
  errorMessage: string;
}

export function validationPage(upload: { id: string; name: string; summary: SummaryJson; hints: string[] }, invalid: InvalidRow[], more: number): Html {
  const valid = upload.summary.statuses.VALID ?? 0;
  const bad = upload.summary.statuses.INVALID ?? 0;
  return layout(
    `Check of ${upload.name}`,
    html`<p class="summary"><span class="status VALID">VALID ${valid}</span> <span class="status INVALID">INVALID ${bad}</span></p>
<p>To send: ${totals(upload.summary, 'VALID')}</p>
${upload.hints.map((h) => html`<p class="note">${h}</p>`)}
${bad > 0
  ? html`<h2>Rows that will not be sent</h2>
<table class="rows invalid"><thead><tr><th>Line</th><th>Order</th><th>Code</th><th>What to fix</th></tr></thead>
<tbody>${invalid.map((r) => html`<tr><td>${r.line}</td><td>${r.orderId}</td><td><code>${r.errorCode}</code></td><td>${r.errorMessage}</td></tr>`)}</tbody></table>
${more > 0 ? html`<p class="note">and ${more} more: the rows-to-fix file of the run lists them all.</p>` : ''}`
  : ''}
${valid > 0
  ? html`<form method="post" action="/uploads/${upload.id}/send" class="confirm">
<p>Send ${valid} payment ${valid === 1 ? 'order' : 'orders'} (${totals(upload.summary, 'VALID')})? Each buyer receives a payment link; an invoice already sent is never sent twice.</p>
<button type="submit" class="danger">Send ${valid} ${valid === 1 ? 'order' : 'orders'}</button> <a href="/send">No, upload another file</a>
</form>`
  : html`<p>Nothing to send. <a href="/send">Upload another file</a></p>`}`,
  );
}

export const CONSOLE_CSS = `
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1b1b1b;background:#fafafa}
header{display:flex;gap:1.5em;align-items:center;background:#1d3557;color:#fff;padding:.6em 1.2em}
header a{color:#fff;text-decoration:none;margin-right:1em}.brand{font-weight:700}
.logout{margin-left:auto}main{padding:1em 1.5em}
table{border-collapse:collapse;width:100%;background:#fff;margin:.8em 0}
th,td{border-bottom:1px solid #ddd;padding:.35em .5em;text-align:left;vertical-align:top}
th{background:#eef1f5}.num{text-align:right;white-space:nowrap}
.status{display:inline-block;padding:0 .45em;border-radius:.6em;background:#e0e0e0;font-size:12px;white-space:nowrap}
.CREATED,.VALID,.OK{background:#d7f0da}.INVALID,.FAILED{background:#fbd9d3}.UNCERTAIN{background:#ffe9a8}.PENDING{background:#dde7f7}
tr.CREATED,tr.INVALID,tr.FAILED,tr.UNCERTAIN,tr.PENDING{background:none}
.error{color:#a00000;font-weight:600}.note{color:#555}.confirm{font-size:15px}
.danger{background:#b3261e;color:#fff;border:0;padding:.4em .9em;border-radius:4px}
progress{width:12em;vertical-align:middle;margin-right:.5em}.progress{margin:.3em 0}
.facts{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}.facts dt{font-weight:600}
.filter a{margin-right:.6em}.filter a[aria-current]{font-weight:700}
.charts{display:flex;flex-wrap:wrap;gap:1em}.charts h2{width:100%;font-size:16px;margin:0}
.chart{background:#fff;border:1px solid #ddd;padding:.5em;margin:0}.legend .paid{color:#2e7d32}.legend .outstanding{color:#f0a020}
form.send label,form.login label{display:block;margin:.5em 0}fieldset.actions{margin:.5em 0}
`;
