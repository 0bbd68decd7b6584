/** The items of `batches`, one at a time, in order (for callers that want rows where a reader hands batches). */
export async function* flatten<T>(batches: AsyncIterable<T[]>): AsyncGenerator<T> {
  for await (const batch of batches) yield* batch;
}
