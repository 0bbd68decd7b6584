/** `2020-04-20T18:13:26+00:00`: the UTC form Lyra answers with. */
export function isoUtc(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', '+00:00');
}
