// The bare minimum of sending: an undici Pool and C loops posting CreatePaymentOrder bodies one after the other — no
// CSV, no validation, no ledger, no report. Plain JS (no transpiler) so nothing but the loop is measured.
// usage: node undici-loop.mjs BASE_URL SHOP_ID ROWS CONCURRENCY PREFIX   (password in PAYBATCH_PASSWORD)
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';

const [baseUrl, shopId, rowsArg, concurrencyArg, prefix] = process.argv.slice(2);
const rows = Number(rowsArg);
const concurrency = Number(concurrencyArg);
const auth = `Basic ${Buffer.from(`${shopId}:${process.env.PAYBATCH_PASSWORD}`).toString('base64')}`;
const url = new URL(baseUrl);
const pool = new Pool(url.origin, { connections: concurrency, pipelining: 1 });
const path = `${url.pathname.replace(/\/+$/, '')}/api-payment/V4/Charge/CreatePaymentOrder`;

let next = 1;
let ok = 0;
let failed = 0;
async function loop() {
  for (;;) {
    const i = next++;
    if (i > rows) return;
    const orderId = `${prefix}-${String(i).padStart(7, '0')}`;
    const body = JSON.stringify({
      orderId,
      amount: 1000 + i,
      currency: 'EUR',
      locale: 'fr_FR',
      channelOptions: { channelType: 'MAIL', mailOptions: { recipient: `compta${i}@client${i % 997}.example.com`, subject: `Facture ${orderId}` } },
    });
    const res = await pool.request({ method: 'POST', path, body, headers: { authorization: auth, 'content-type': 'application/json' } });
    const answer = await res.body.json();
    if (res.statusCode === 200 && answer.status === 'SUCCESS') ok++;
    else failed++;
  }
}

const t0 = performance.now();
await Promise.all(Array.from({ length: concurrency }, loop));
const ms = performance.now() - t0;
await pool.close();
process.stdout.write(`${JSON.stringify({ rows, ok, failed, ms, rowsPerSecond: (rows / ms) * 1000 })}\n`);
