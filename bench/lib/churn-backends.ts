import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { captureOutput, spawnTracked, terminate, type OutputBuffer } from '../../test/support/processes.js';
import type { HostReply, HostRequest } from './churn-backend-host.js';

type Pending = (r: HostReply) => void;
type Distribute<T> = T extends unknown ? Omit<T, 'id'> : never;

/**
 * The backends of a churn run, served by churn-backend-host.js in a child
 * process (see there). Every request's arrival time is recorded per backend.
 */
export class BackendHost {
  private next = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly output: OutputBuffer;

  private constructor(private readonly child: ChildProcess) {
    this.output = captureOutput(child);
    child.on('message', (r: HostReply) => {
      const done = this.pending.get(r.id);
      this.pending.delete(r.id);
      done?.(r);
    });
  }

  static spawn(): BackendHost {
    const script = fileURLToPath(new URL('./churn-backend-host.js', import.meta.url));
    return new BackendHost(spawnTracked('node', [script], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] }));
  }

  get pid(): number {
    return this.child.pid!;
  }

  private ask<R extends HostReply>(msg: Distribute<HostRequest>): Promise<R> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      const onExit = () => reject(new Error(`backend host exited: ${this.output.text()}`));
      this.child.once('exit', onExit);
      this.pending.set(id, (r) => {
        this.child.off('exit', onExit);
        if (r.op === 'error') reject(new Error(`backend host: ${r.error}`));
        else resolve(r as R);
      });
      this.child.send({ ...msg, id });
    });
  }

  /** Starts one backend per name; resolves to their ports. */
  async start(names: readonly string[]): Promise<Map<string, number>> {
    const r = await this.ask<Extract<HostReply, { op: 'start' }>>({ op: 'start', names: [...names] });
    return new Map(Object.entries(r.ports));
  }

  /**
   * Checks that the child's clock is this process's: the child's reading must
   * fall between our readings before and after the round trip.
   */
  async clockSkewNs(): Promise<{ roundTripNs: bigint; inside: boolean }> {
    const before = process.hrtime.bigint();
    const r = await this.ask<Extract<HostReply, { op: 'clock' }>>({ op: 'clock' });
    const after = process.hrtime.bigint();
    const theirs = BigInt(r.now);
    return { roundTripNs: after - before, inside: theirs >= before && theirs <= after };
  }

  /** Every backend's request arrival times (ns, CLOCK_MONOTONIC), ascending. */
  async hits(): Promise<Map<string, number[]>> {
    const r = await this.ask<Extract<HostReply, { op: 'dump' }>>({ op: 'dump' });
    return new Map(Object.entries(r.hits));
  }

  async stop(): Promise<void> {
    try {
      await Promise.race([this.ask({ op: 'close' }), new Promise((r) => setTimeout(r, 2000))]);
    } catch {
      // already gone
    }
    if (this.child.connected) this.child.disconnect();
    await terminate(this.child, 'SIGTERM');
  }
}
