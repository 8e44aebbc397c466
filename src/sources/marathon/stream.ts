import { createParser } from 'eventsource-parser';
import type { IncomingMessage } from 'node:http';
import { describe, type MarathonClient } from './client.js';

/** The event types Switchyard acts on; asking Marathon for only these keeps the stream small on big clusters. */
export const EVENT_TYPES = [
  'event_stream_attached',
  'status_update_event',
  'health_status_changed_event',
  'api_post_event',
  'app_terminated_event',
  'deployment_success',
  'deployment_step_success',
  'instance_changed_event',
] as const;

export interface StreamHandlers {
  /** The stream is attached: everything from here on will be seen. */
  onOpen(endpoint: string): void;
  onEvent(type: string, data: unknown): void;
  /** The stream is gone (error, end, or silent for longer than the idle limit). */
  onClose(reason: string): void;
}

/**
 * One connection to Marathon's /v2/events. It watches for silence: Marathon
 * sends keep-alives, so a stream quiet past `idleMs` is a dead TCP connection
 * that never saw a FIN, and is closed.
 */
export class EventStream {
  private body: IncomingMessage | null = null;
  private idle: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly abort = new AbortController();

  constructor(
    private readonly client: MarathonClient,
    private readonly idleMs: number,
    private readonly handlers: StreamHandlers,
  ) {}

  /** Connects to the first endpoint that accepts; reports failure through onClose. */
  async open(): Promise<void> {
    const failures: string[] = [];
    let endpoints: string[];
    try {
      endpoints = await this.client.ordered();
    } catch (e) {
      return this.close(describe(e));
    }
    for (const endpoint of endpoints) {
      if (this.closed) return;
      const url = `${endpoint.replace(/\/+$/, '')}/v2/events?${EVENT_TYPES.map((t) => `event_type=${t}`).join('&')}`;
      try {
        // Silence once attached is the watchdog's to judge, with its own message.
        const res = await this.client.get(url, 'text/event-stream', { bodyIdleMs: 0, signal: this.abort.signal });
        if (res.status !== 200) {
          res.body.destroy();
          failures.push(`${url}: HTTP ${res.status}`);
          continue;
        }
        if (this.closed) {
          res.body.destroy();
          return;
        }
        this.client.prefer(endpoint);
        this.attach(res.body, endpoint);
        return;
      } catch (e) {
        failures.push(`${url}: ${describe(e)}`);
      }
    }
    this.close(`event stream: ${failures.join('; ')}`);
  }

  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    if (this.idle) clearTimeout(this.idle);
    this.abort.abort();
    this.body?.destroy();
    this.handlers.onClose(reason);
  }

  private attach(body: IncomingMessage, endpoint: string): void {
    this.body = body;
    let opened = false;
    const parser = createParser({
      onEvent: (ev) => {
        if (this.closed) return;
        let data: unknown;
        try {
          data = JSON.parse(ev.data);
        } catch {
          return;
        }
        const type = ev.event ?? (data as { eventType?: string } | null)?.eventType ?? 'message';
        if (type === 'event_stream_attached' && !opened) {
          opened = true;
          this.handlers.onOpen(endpoint);
        }
        this.handlers.onEvent(type, data);
      },
    });
    this.watchdog();
    body.setEncoding('utf8');
    body.on('data', (chunk: string) => {
      this.watchdog();
      parser.feed(chunk);
    });
    body.on('end', () => this.close(`event stream from ${endpoint} ended`));
    body.on('error', (e) => this.close(`event stream from ${endpoint}: ${describe(e)}`));
  }

  private watchdog(): void {
    if (this.idle) clearTimeout(this.idle);
    this.idle = setTimeout(
      () => this.close(`event stream silent for ${this.idleMs} ms (no keep-alive): presumed dead`),
      this.idleMs,
    );
  }
}
