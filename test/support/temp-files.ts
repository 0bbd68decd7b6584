import { afterAll, beforeAll } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A temporary folder for the suite (made before it, removed after) and a way to write a file into it. */
export function tempFiles(prefix: string): { dir(): string; fileWith(name: string, content: string | Buffer): Promise<string> } {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  return {
    dir: () => dir,
    fileWith: async (name, content) => {
      const p = join(dir, name);
      await writeFile(p, content);
      return p;
    },
  };
}
