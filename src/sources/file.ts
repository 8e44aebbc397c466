import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from '../log.js';
import { rejectionReason } from '../state/rejection.js';
import { parseFileRegistry } from './file-registry.js';
import { readRegularFile } from './regular-file.js';
import { OnceLog, SourceHealth, type Sink, type Source, type SourceStatus } from './source.js';
import { messageOf } from '../errors.js';

/** A registry kept in a local JSON file, re-read whenever it changes; a broken edit keeps the last good view. */
export class FileSource implements Source {
  readonly name = 'file';
  private readonly health = new SourceHealth(this.name);
  private readonly once: OnceLog;
  private watcher: FSWatcher | null = null;
  private sink: Sink | null = null;
  private retry: NodeJS.Timeout | null = null;
  private trailing: NodeJS.Timeout | null = null;
  private reading: Promise<void> = Promise.resolve();

  constructor(
    private readonly path: string,
    private readonly log: Logger,
    private readonly maxBytes: number,
  ) {
    this.once = new OnceLog((m, meta) => log.warn(m, meta));
    this.health.set('path', path);
  }

  async start(sink: Sink): Promise<void> {
    this.sink = sink;
    this.watcher = watch(this.path, { ignoreInitial: true });
    this.watcher.on('add', () => this.seen());
    this.watcher.on('change', () => this.seen());
    this.watcher.on('unlink', () => {
      this.health.fail(`${this.path}: file removed; keeping the last good registry`);
      this.log.warn('registry file removed; keeping the last good registry', { source: this.name, path: this.path });
    });
    this.watcher.on('error', (e) => this.health.fail(`${this.path}: watch failed: ${messageOf(e)}`));
    await new Promise<void>((resolve) => this.watcher!.once('ready', () => resolve()));
    await this.schedule();
  }

  async stop(): Promise<void> {
    if (this.retry) clearTimeout(this.retry);
    if (this.trailing) clearTimeout(this.trailing);
    await this.watcher?.close();
    this.watcher = null;
    this.sink = null;
  }

  status(): SourceStatus {
    return this.health.status();
  }

  /**
   * Reads now, and once more when the burst of events is over: chokidar drops
   * a change that follows another within 50 ms and never reports it later,
   * so without the second look the last of two quick edits would be lost.
   */
  private seen(): void {
    void this.schedule();
    if (this.trailing) clearTimeout(this.trailing);
    this.trailing = setTimeout(() => {
      this.trailing = null;
      void this.schedule();
    }, 100);
  }

  /** Serializes reads so two quick edits cannot land out of order. */
  private schedule(second = false): Promise<void> {
    this.reading = this.reading.then(() => this.read(second));
    return this.reading;
  }

  private async read(second: boolean): Promise<void> {
    if (!this.sink) return;
    const read = await readRegularFile(this.path, this.maxBytes, 'file.maxBytes');
    if (!read.ok) {
      if (read.limit) this.health.overLimit(read.limit);
      return this.failed(read.reason, second);
    }
    try {
      const services = parseFileRegistry(read.bytes.toString('utf8'), (r) => {
        this.health.rejected(r);
        this.once.warnOnce('registry value rejected', {
          source: this.name,
          path: this.path,
          where: r.where,
          field: r.field,
          reason: rejectionReason(r),
        });
      });
      this.health.ok();
      this.log.debug('registry file read', { source: this.name, path: this.path, services: services.length });
      this.sink?.({ kind: 'sync', source: this.name, services });
    } catch (e) {
      this.failed(messageOf(e), second);
    }
  }

  /** An editor may be half-way through writing: look once more shortly before calling it broken for good. */
  private failed(reason: string, second: boolean): void {
    if (!second) {
      this.retry ??= setTimeout(() => {
        this.retry = null;
        void this.schedule(true);
      }, 250);
      return;
    }
    this.health.fail(`${this.path}: ${reason}`);
    this.log.warn('registry file unusable; keeping the last good registry', {
      source: this.name,
      path: this.path,
      reason,
    });
  }
}
