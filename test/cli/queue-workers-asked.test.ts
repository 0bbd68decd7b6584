import { describe, expect, it } from 'vitest';
import { queueWorkersAsked } from '../../src/cli/queue-workers-asked.js';

describe('the local queue workers a run command line asks for, read before yargs parses it', () => {
  it.each([
    [['run', 'f.csv'], {}, 0],
    [['run', 'f.csv', '--redis', 'redis://q:6379'], {}, 1],
    [['run', 'f.csv', '--redis=redis://q:6379', '--workers', '3'], {}, 3],
    [['run', 'f.csv', '--workers=2'], { REDIS_URL: 'redis://q:6379' }, 2],
    [['run', 'f.csv', '--redis', 'redis://q:6379', '--workers', '0'], {}, 0],
    [['run', 'f.csv', '--redis', '--workers', '2'], {}, 0],
    [['run', 'f.csv', '--redis', 'redis://q', '--workers', 'lots'], {}, 1],
    [['run', '--', '--redis', 'redis://q'], {}, 0],
    [['run', '--job', 'jobs/monthly.json'], {}, 0],
  ] as const)('%j with env %j: %i', (argv, env, n) => {
    expect(queueWorkersAsked(argv, env)).toBe(n);
  });
});
