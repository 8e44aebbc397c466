// Errors keep their cause on the way up, and the log shows the stack (with
// every cause) at the debug level only.

import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { messageOf, stackOf } from '../../src/errors.js';
import { Logger, type LogEntry, type LogLevel } from '../../src/log.js';
import { ZkError } from '../../src/sources/zookeeper/client.js';

function capture(level: LogLevel): { log: Logger; entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  return { log: new Logger(level, (e) => entries.push(e)), entries };
}

describe('errors with their causes', () => {
  const inner = new TypeError("Cannot read properties of undefined (reading 'port')");
  const outer = new ZkError('BAD_ARGUMENTS', 'the request could not be sent', { cause: inner });

  it('logs an error field as its message at info, without a stack', () => {
    const { log, entries } = capture('info');
    log.warn('zookeeper request failed', { error: outer });
    expect(entries).to.have.length(1);
    expect(entries[0]!).to.not.have.property('errorStack');
    expect(JSON.parse(JSON.stringify(entries[0], (_k, v) => (v instanceof Error ? v.message : v))).error).to.equal(
      'the request could not be sent',
    );
  });

  it('adds the stack of the error and of its cause at debug', () => {
    const { log, entries } = capture('debug');
    log.warn('zookeeper request failed', { error: outer });
    const stack = String(entries[0]!.errorStack);
    expect(stack).to.match(/^ZkError: the request could not be sent\n\s+at /);
    expect(stack).to.contain("Caused by: TypeError: Cannot read properties of undefined (reading 'port')");
    expect(stack).to.contain('error-causes.test');
  });

  it('describes anything thrown, an Error or not', () => {
    expect(messageOf(outer)).to.equal('the request could not be sent');
    expect(messageOf('a string')).to.equal('a string');
    expect(stackOf(42)).to.equal('42');
  });

  it('keeps the parser error as the cause of a config file that is not JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-cause-'));
    writeFileSync(join(dir, 'switchyard.json'), '{"targets": [');
    let thrown: unknown;
    try {
      loadConfig(join(dir, 'switchyard.json'), {});
    } catch (e) {
      thrown = e;
    }
    expect(thrown).to.be.instanceOf(ConfigError);
    expect((thrown as Error).message).to.match(/not valid JSON/);
    expect((thrown as Error).cause).to.be.instanceOf(SyntaxError);
  });
});
