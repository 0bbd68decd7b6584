import { readFileSync } from 'node:fs';
import os from 'node:os';

/** What the numbers were measured on: ratios travel between machines, absolute times do not. */
export function describeMachine(): string {
  const cpus = os.cpus();
  const model = cpus[0]?.model.trim() ?? 'unknown CPU';
  const memGb = (os.totalmem() / 2 ** 30).toFixed(1);
  let distro = `${os.type()} ${os.release()}`;
  try {
    const m = /^PRETTY_NAME="?([^"\n]+)"?/m.exec(readFileSync('/etc/os-release', 'utf8'));
    if (m) distro = `${m[1]} (${os.type()} ${os.release()})`;
  } catch {
    /* not Linux */
  }
  return `${model}, ${cpus.length} cores, ${memGb} GiB RAM, Node ${process.version}, ${distro}`;
}

/** The 1-minute load average at the start: other work on a shared machine moves every absolute number. */
export function loadAverage(): string {
  return os.loadavg().map((l) => l.toFixed(2)).join(' / ');
}
