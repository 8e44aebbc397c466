import { createParser } from 'eventsource-parser';
import type { IncomingMessage } from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import { describe, type MarathonClient } from './client.js';
import { EventSizeGuard } from './event-size.js';
import type { LimitBreach, MarathonLimits } from './limits.js';

/** The event types Switchyard acts on; asking Marathon for only these keeps the stream small on big clusters. */
export const EVENT_TYPES = [
  'event_stream_attached',
  'status_update_event',
  'health_status_changed_event',
  'api_post_event',
  'app_terminated_event',
  'deployment_info',
  'deployment_success',
  'deployment_failed',
  'deployment_step_success',
  'instance_changed_event',
] as const;

export interface StreamHandlers {
  /** The stream is attached: everything from here on will be seen. */
  onOpen(endpoint: string): void;
  onEvent(type: string, data: unknown): void;
  /** The stream is gone (error, end, silent for longer than the idle limit, or over a size limit). */
  onClose(reason: string): void;
  /** A line or event went over its limit; the stream closes next. */
  onOverLimit(breach: LimitBreach): void;
}

/**
 * One connection to Marathon's /v2/events. It watches for silence: Marathon
 * sends keep-alives, so a stream quiet past `idleMs` is a dead TCP connection
 * that never saw a FIN, and is closed. A line or an event longer than its
 * limit closes it too, before the parser has buffered it: where it ends can
 * no longer be trusted, and the reconnect's full fetch catches up.
 */
export class EventStream {
  private body: IncomingMessage | null = null;
  private idle: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly abort = new AbortController();

  constructor(
    private readonly client: MarathonClient,
    private readonly idleMs: number,
    private readonly limits: Pick<MarathonLimits, 'maxEventLineBytes' | 'maxEventBytes'>,
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
      // plan-format=light (Marathon 1.5+; ignored before): deployment events without the whole group tree twice.
      const url = `${endpoint.replace(/\/+$/, '')}/v2/events?plan-format=light&${EVENT_TYPES.map((t) => `event_type=${t}`).join('&')}`;
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
        try {
          if (type === 'event_stream_attached' && !opened) {
            opened = true;
            this.handlers.onOpen(endpoint);
          }
          this.handlers.onEvent(type, data);
        } catch (e) {
          // A fault in handling one event costs this stream, not the process; the reconnect resyncs.
          this.close(
            `event stream from ${endpoint}: handling a ${JSON.stringify(type.slice(0, 60))} event failed: ${describe(e)}`,
          );
        }
      },
    });
    const sizes = new EventSizeGuard(this.limits.maxEventLineBytes, this.limits.maxEventBytes);
    const decoder = new StringDecoder('utf8');
    this.watchdog();
    body.on('data', (chunk: Buffer) => {
      if (this.closed) return;
      this.watchdog();
      const verdict = sizes.feed(chunk);
      if (verdict !== null) {
        const limit = verdict === 'line' ? 'maxEventLineBytes' : 'maxEventBytes';
        const breach: LimitBreach = {
          limit,
          max: this.limits[limit],
          offender: `the event stream from ${endpoint}`,
          found: verdict === 'line' ? 'a longer line' : 'a longer event',
        };
        this.handlers.onOverLimit(breach);
        this.close(
          `event stream from ${endpoint}: ${verdict === 'line' ? 'a line' : 'an event'} over marathon.${limit} (${breach.max})`,
        );
        return;
      }
      parser.feed(decoder.write(chunk));
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
