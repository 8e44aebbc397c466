import { expect } from 'chai';
import { parseConfig } from '../../src/config/load.js';
import { planReconfigure } from '../../src/reconfigure.js';

const config = (over: Record<string, unknown> = {}) =>
  parseConfig(
    {
      marathon: { endpoints: ['http://m1:8080'] },
      file: { path: 'registry.json' },
      targets: [
        { name: 'haproxy', template: 'h.hbs', output: 'h.cfg', vars: { httpPort: 80 } },
        { name: 'nginx', template: 'n.hbs', output: 'n.conf' },
      ],
      ...over,
    },
    '/etc/switchyard',
  );
const names = { before: ['marathon', 'file'], after: ['marathon', 'file'] };

describe('planning a re-read config', () => {
  it('keeps everything when nothing changed', () => {
    const p = planReconfigure(config(), config(), names);
    expect(p).to.deep.include({
      sourcesKept: ['marathon', 'file'],
      sourcesChanged: [],
      targetsKept: ['haproxy', 'nginx'],
    });
    expect(p.targetsChanged).to.deep.equal([]);
  });

  it('rebuilds only the target whose vars changed', () => {
    const next = config({
      targets: [
        { name: 'haproxy', template: 'h.hbs', output: 'h.cfg', vars: { httpPort: 8080 } },
        { name: 'nginx', template: 'n.hbs', output: 'n.conf' },
      ],
    });
    const p = planReconfigure(config(), next, names);
    expect(p).to.deep.include({
      targetsChanged: ['haproxy'],
      targetsKept: ['nginx'],
      sourcesKept: ['marathon', 'file'],
    });
  });

  it('rebuilds only the source whose settings changed', () => {
    const p = planReconfigure(config(), config({ marathon: { endpoints: ['http://m2:8080'] } }), names);
    expect(p).to.deep.include({ sourcesChanged: ['marathon'], sourcesKept: ['file'] });
  });

  it('rebuilds every target when the command timeout they run with changes, and applies reload timings in place', () => {
    const p = planReconfigure(config(), config({ reload: { quietMs: 5, timeoutMs: 1000 } }), names);
    expect(p.targetsChanged).to.deep.equal(['haproxy', 'nginx']);
    expect(p.settingsChanged).to.deep.equal(['reload']);
  });

  it('names sources and targets added and removed', () => {
    const next = config({ targets: [{ name: 'edge', template: 'e.hbs', output: 'e.cfg' }] });
    const p = planReconfigure(config(), next, { before: ['marathon', 'file'], after: ['file', 'zookeeper'] });
    expect(p).to.deep.include({
      sourcesRemoved: ['marathon'],
      sourcesAdded: ['zookeeper'],
      targetsRemoved: ['haproxy', 'nginx'],
      targetsAdded: ['edge'],
    });
  });

  it('lists what only a restart applies', () => {
    const p = planReconfigure(config(), config({ http: { listen: '0.0.0.0:9000' }, log: { level: 'debug' } }), names);
    expect(p.needRestart).to.deep.equal(['http.listen', 'log']);
  });
});
