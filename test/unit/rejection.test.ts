// One rejection record for every source: the same bad value, wherever it comes
// from, is reported as { where, field, value, expected } and shown one way.

import { expect } from 'chai';
import { parseFileRegistry } from '../../src/sources/file-registry.js';
import { appServices, toAppRecord } from '../../src/sources/marathon/apps.js';
import { decodeInstance, toService } from '../../src/sources/zookeeper/formats.js';
import { describeRejection, rejectionReason, type Rejection } from '../../src/state/rejection.js';

function collect(): { rejections: Rejection[]; reject: (r: Rejection) => void } {
  const rejections: Rejection[] = [];
  return { rejections, reject: (r) => rejections.push(r) };
}

describe('a rejected registry value', () => {
  it('is one record in the file registry: the entry, the field inside it, the value and what was expected', () => {
    const { rejections, reject } = collect();
    parseFileRegistry('{"services":[{"id":"web","backends":[{"host":"10.0.0.1","port":70000}]}]}', reject);
    expect(rejections).to.deep.equal([
      { where: 'services[0] (web)', field: 'backends[0].port', value: 70000, expected: 'a port 1-65535' },
    ]);
  });

  it('is the same record for a ZooKeeper instance, placed at its znode', () => {
    const d = decodeInstance('nerve', '{"host":"10.0.0.1","port":70000}', '/nerve/services/web/i-1');
    expect(d).to.deep.equal({
      kind: 'invalid',
      rejection: { where: '/nerve/services/web/i-1', field: 'port', value: 70000, expected: 'a port 1-65535' },
    });
  });

  it('is the same record for a Marathon app, placed at its app id', () => {
    const { rejections, reject } = collect();
    const app = toAppRecord({ id: '/shop/web', labels: { HAPROXY_0_PORT: '70000' }, ports: [10000] }, reject)!;
    appServices(app, '*', reject);
    expect(rejections).to.deep.equal([
      { where: '/shop/web', field: 'labels.HAPROXY_0_PORT', value: '70000', expected: 'a port 1-65535' },
    ]);
  });

  it('is the same record for a label read from a ZooKeeper instance, at the instance that carries it', () => {
    const { rejections, reject } = collect();
    const instance = { host: '10.0.0.1', port: 80, weight: 1, labels: { HAPROXY_0_PORT: '70000' } };
    toService('web', [{ znode: 'i-1', path: '/nerve/services/web/i-1', instance }], reject);
    expect(rejections).to.deep.equal([
      { where: '/nerve/services/web/i-1', field: 'labels.HAPROXY_0_PORT', value: '70000', expected: 'a port 1-65535' },
    ]);
  });

  it('reads as one line: what, the value JSON-quoted, what was expected; a missing value says so', () => {
    const r = { where: '/nerve/services/web/i-1', field: 'host', value: 'evil\n  bind :1', expected: 'a hostname' };
    expect(rejectionReason(r)).to.equal('bad host "evil\\n  bind :1": expected a hostname');
    expect(describeRejection(r)).to.equal('/nerve/services/web/i-1: bad host "evil\\n  bind :1": expected a hostname');
    expect(rejectionReason({ ...r, field: 'port', value: undefined, expected: 'a port 1-65535' })).to.equal(
      'missing port: expected a port 1-65535',
    );
  });

  it('quotes a place or field name that could forge a log line', () => {
    const r = { where: '/a\nforged', field: 'labels.x\ny', value: 1, expected: 'a string' };
    expect(describeRejection(r)).to.equal('"/a\\nforged": bad "labels.x\\ny" 1: expected a string');
  });
});
