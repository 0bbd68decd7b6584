/** A batch id: sortable by time, unique enough across machines, safe in keys and job ids. */
export function newBatchId(now: Date, random: () => number = Math.random): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `b${stamp}-${Math.floor(random() * 36 ** 4).toString(36).padStart(4, '0')}`;
}
