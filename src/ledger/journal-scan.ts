import { open } from 'node:fs/promises';

export interface ScannedLine {
  /** Byte offset of the line in the file, and its length including the newline. */
  offset: number;
  length: number;
  text: string;
}

/**
 * Streams the complete lines of a journal with their byte offsets. A last line without its newline is a write
 * torn by a crash: it is not yielded, and `validEnd` (set when the scan ends) tells where the intact part stops.
 */
export async function* scanLines(path: string, result: { validEnd: number; tornBytes: number }, chunkSize = 1 << 20): AsyncGenerator<ScannedLine> {
  const fh = await open(path, 'r');
  try {
    let carry: Buffer = Buffer.alloc(0);
    let carryOffset = 0;
    let pos = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(chunkSize);
      const { bytesRead } = await fh.read(chunk, 0, chunkSize, pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      const buf: Buffer = carry.length ? Buffer.concat([carry, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
      let start = 0;
      for (;;) {
        const nl = buf.indexOf(0x0a, start);
        if (nl < 0) break;
        yield { offset: carryOffset + start, length: nl + 1 - start, text: buf.toString('utf8', start, nl) };
        start = nl + 1;
      }
      carryOffset += start;
      carry = Buffer.from(buf.subarray(start));
    }
    result.validEnd = carryOffset;
    result.tornBytes = carry.length;
  } finally {
    await fh.close();
  }
}
