import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { httpGet } from '../../test/support/http.js';
import { spawnTracked, terminate } from '../../test/support/processes.js';

/** One `config installed` log line, with the time it reached the benchmark. */
export interface Install {
  /** process.hrtime.bigint() when the line arrived (a pipe hop after it was written). */
  readonly at: bigint;
  readonly how: 'live' | 'reload' | 'file';
  readonly ms: number;
  readonly version: number;
  readonly services: readonly string[];
  readonly commands: readonly string[];
  readonly stages: Readonly<Record<string, number>>;
}

/** Switchyard in its own process (`node bin/switchyard.js serve --config FILE`), its JSON log read as it arrives. */
export class SwitchyardProcess {
  readonly installs: Install[] = [];
  /** warn and error lines. */
  readonly problems: string[] = [];
  readonly tail: string[] = [];
  private partial = '';

  private constructor(
    readonly child: ChildProcess,
    readonly httpBase: string,
  ) {
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => this.feed(chunk));
    }
  }

  static spawn(
    repo: string,
    dir: string,
    config: Record<string, unknown> & { http: { listen: string } },
  ): SwitchyardProcess {
    const file = join(dir, 'switchyard.json');
    writeFileSync(file, JSON.stringify(config, null, 2));
    const child = spawnTracked('node', [join(repo, 'bin/switchyard.js'), 'serve', '--config', file], { cwd: repo });
    return new SwitchyardProcess(child, `http://${config.http.listen}`);
  }

  private feed(chunk: string): void {
    const at = process.hrtime.bigint();
    const lines = (this.partial + chunk).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      this.tail.push(line);
      if (this.tail.length > 60) this.tail.shift();
      let e: Record<string, unknown>;
      try {
        e = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      if (e.level === 'warn' || e.level === 'error') this.problems.push(line.slice(0, 600));
      if (e.message !== 'config installed') continue;
      this.installs.push({
        at,
        how: e.how as Install['how'],
        ms: Number(e.ms),
        version: Number(e.version),
        services: (e.services as string[] | undefined) ?? [],
        commands: (e.commands as string[] | undefined) ?? [],
        stages: (e.stages as Record<string, number> | undefined) ?? {},
      });
    }
  }

  /** `/metrics` counters this benchmark reads, summed over labels. */
  async counters(): Promise<{ reloads: number; reloadFailures: number; runtimeUpdates: number }> {
    const r = await httpGet(`${this.httpBase}/metrics`);
    if (r.status !== 200) throw new Error(`GET /metrics: ${r.status}`);
    const sum = (name: string, filter: (labels: string) => boolean = () => true): number => {
      let total = 0;
      for (const m of r.body.matchAll(new RegExp(`^${name}(?:\\{([^}]*)\\})? (\\S+)$`, 'gm')))
        if (filter(m[1] ?? '')) total += Number(m[2]);
      return total;
    };
    return {
      reloads: sum('switchyard_reloads_total', (l) => l.includes('outcome="ok"')),
      reloadFailures: sum('switchyard_reloads_total', (l) => l.includes('outcome="failed"')),
      runtimeUpdates: sum('switchyard_runtime_updates_total'),
    };
  }

  async health(): Promise<{ status: number; body: string }> {
    return httpGet(`${this.httpBase}/health`);
  }

  async stop(): Promise<void> {
    await terminate(this.child, 'SIGTERM');
  }
}
