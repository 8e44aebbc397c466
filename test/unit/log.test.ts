import { expect } from 'chai';
import { PassThrough } from 'node:stream';
import { jsonLine, Logger, streamSink, textLine, type LogEntry } from '../../src/log.js';

const at = new Date(2026, 11, 4, 1, 2, 3, 45);

describe('logger', () => {
  it('hands the sink the level, the message, the child fields and the call fields', () => {
    const entries: LogEntry[] = [];
    const log = new Logger('debug', (e) => entries.push(e)).child({ component: 'marathon' });
    log.warn('event stream lost', { reason: 'ended', retryInMs: 500 });
    expect(entries).to.deep.equal([
      { component: 'marathon', reason: 'ended', retryInMs: 500, level: 'warn', message: 'event stream lost' },
    ]);
  });

  it('drops entries below its level', () => {
    const entries: LogEntry[] = [];
    const log = new Logger('warn', (e) => entries.push(e));
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    expect(entries.map((e) => e.level)).to.deep.equal(['warn', 'error']);
  });

  it('writes one JSON object per line: level, message, fields, timestamp', () => {
    const line = jsonLine({ level: 'info', message: 'config installed', target: 'haproxy', ms: 12 }, at);
    expect(Object.keys(JSON.parse(line))).to.deep.equal(['level', 'message', 'target', 'ms', 'timestamp']);
    expect(JSON.parse(line)).to.deep.equal({
      level: 'info',
      message: 'config installed',
      target: 'haproxy',
      ms: 12,
      timestamp: at.toISOString(),
    });
  });

  it('writes a readable line for a terminal', () => {
    expect(textLine({ level: 'warn', message: 'held', services: ['a', 'b'], source: 'marathon' }, at)).to.equal(
      '01:02:03.045 warn  held  services=["a","b"] source=marathon',
    );
  });

  it('writes an Error as its message and a bigint as its digits, and survives a cycle', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(JSON.parse(jsonLine({ level: 'error', message: 'm', e: new Error('boom'), n: 10n }, at))).to.include({
      e: 'boom',
      n: '10',
    });
    expect(JSON.parse(jsonLine({ level: 'error', message: 'm', cyclic }, at))).to.include({
      message: 'm',
      fields: '(not serializable)',
    });
  });

  it('writes each entry as one line to its stream', () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => (text += c.toString()));
    const log = new Logger('info', streamSink(out, jsonLine));
    log.info('a');
    log.info('b', { multi: 'line\nvalue' });
    const lines = text.split('\n');
    expect(lines).to.have.length(3);
    expect(lines.slice(0, 2).map((l) => JSON.parse(l).message)).to.deep.equal(['a', 'b']);
  });
});
