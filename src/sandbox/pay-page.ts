import type { PaymentOrder } from '../lyra/types.js';
import { formatMoney } from '../orders/currencies.js';

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The tiny hosted "payment page" behind a sandbox link: a person can pay or refuse, and see the state. */
export function payPage(o: PaymentOrder, action: string): string {
  const amount = esc(formatMoney(o.amount, o.currency));
  const open = o.paymentOrderStatus === 'RUNNING';
  const buttons = open
    ? `<form method="post" action="${esc(action)}"><button name="action" value="pay">Pay</button> <button name="action" value="refuse">Refuse the payment</button></form>`
    : `<p>This payment order is <strong>${esc(o.paymentOrderStatus)}</strong>.</p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sandbox payment ${esc(o.orderId ?? o.paymentOrderId)}</title>
<style>body{font-family:sans-serif;max-width:32em;margin:3em auto}button{font-size:1.1em;padding:.4em 1em}</style></head>
<body><h1>paybatch sandbox — payment page</h1>
<p>Order <strong>${esc(o.orderId ?? '(no reference)')}</strong>: ${amount}</p>
<p>Status: <strong>${esc(o.paymentOrderStatus)}</strong>, expires ${esc(o.expirationDate)}</p>
${buttons}
<p><small>No card, no money: this page only plays the buyer and sends the signed IPN.</small></p>
</body></html>`;
}
