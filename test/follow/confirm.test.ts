import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { confirm } from '../../src/follow/confirm.js';

function terminal(answer?: string): PassThrough & { isTTY: boolean } {
  const input = Object.assign(new PassThrough(), { isTTY: true });
  if (answer !== undefined) setImmediate(() => input.write(answer));
  return input;
}

describe('asking before an irreversible bulk action', () => {
  it('on a terminal, goes ahead only on an explicit yes', async () => {
    const output = new PassThrough();
    let shown = '';
    output.on('data', (d: Buffer) => (shown += d.toString()));
    expect(await confirm({ question: 'Cancel 3 orders?', yes: false, input: terminal('y\n'), output })).toBe(true);
    expect(shown).toContain('Cancel 3 orders? [y/N]');
    expect(await confirm({ question: 'Cancel 3 orders?', yes: false, input: terminal('\n'), output })).toBe(false);
    expect(await confirm({ question: 'Cancel 3 orders?', yes: false, input: terminal('nope\n'), output })).toBe(false);
  });

  it('without a terminal and without --yes, refuses at once instead of waiting for an answer that never comes', async () => {
    const input = new PassThrough();
    await expect(confirm({ question: 'Cancel?', yes: false, input, output: new PassThrough() })).rejects.toMatchObject({ code: 'PB_CONFIRM_NEEDS_TTY', exitCode: 2 });
  });

  it('--yes asks nothing', async () => {
    expect(await confirm({ question: 'Cancel?', yes: true, input: new PassThrough(), output: new PassThrough() })).toBe(true);
  });
});
