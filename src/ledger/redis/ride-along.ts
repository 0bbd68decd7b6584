import { RedisScript } from './redis-script.js';

/**
 * Another module's Lua step run in the same call as a ledger script, right after it: one round trip where two were
 * needed (the queue's limiter, with the claim and the record). The ledger knows nothing of it beyond this (README.md).
 */
export interface RideAlong {
  /** The step's whole script as if it ran alone, on its own KEYS[1…] and ARGV[1…]. */
  body: string;
  keys: string[];
  args: (string | number)[];
}

/** `body` with its keys and arguments moved up past the first script's (`KEYS[1]` → `KEYS[1 + keys]` …). */
function shiftLua(body: string, keys: number, args: number): string {
  return body.replace(/\bKEYS\[(\d+)\]/g, (_, n: string) => `KEYS[${Number(n) + keys}]`).replace(/\bARGV\[(\d+)\]/g, (_, n: string) => `ARGV[${Number(n) + args}]`);
}

/**
 * A ledger script (`first()`) and a ride-along (`second()`) as one script; `combine` gets the ledger's answer as `r`.
 * Built once per body: a call site passes the same number of keys and arguments every time.
 */
export class WithRideAlong {
  private readonly scripts = new Map<string, RedisScript>();

  constructor(
    private readonly first: string,
    private readonly combine: string,
  ) {}

  script(along: RideAlong, firstKeys: number, firstArgs: number): RedisScript {
    let script = this.scripts.get(along.body);
    if (!script) {
      const then = shiftLua(along.body, firstKeys, firstArgs);
      script = new RedisScript(`local function first()\n${this.first}\nend\nlocal function second()\n${then}\nend\nlocal r = first()\n${this.combine}`);
      this.scripts.set(along.body, script);
    }
    return script;
  }
}

const aloneScripts = new Map<string, RedisScript>();

/** A ride-along as a call of its own (the ledger script's optional keys are absent: its keys cannot follow them). */
export function alone(along: RideAlong): RedisScript {
  let script = aloneScripts.get(along.body);
  if (!script) aloneScripts.set(along.body, (script = new RedisScript(along.body)));
  return script;
}
