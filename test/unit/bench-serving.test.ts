// The benchmarks decide that an event has reached a config by reading the
// installed file (bench/lib/measure.ts serving()). That check is held here to
// the repository's own templates as they render a healthy, a draining and an
// unhealthy backend: if a template changes how it writes a server line, the
// benchmarks would otherwise time the wrong version, or wait forever.

import { expect } from 'chai';
import { join } from 'node:path';
import { serving } from '../../bench/lib/measure.js';
import { templateData } from '../../src/render/data.js';
import { allocateSlots } from '../../src/render/slots.js';
import { loadTemplate } from '../../src/render/template.js';
import type { Snapshot } from '../../src/state/model.js';
import { backend, service } from './fixtures.js';

const snapshot: Snapshot = {
  version: 1,
  rules: [],
  services: [
    service(
      '/web',
      [
        backend('web.1', 31001, { host: '10.1.0.1' }),
        backend('web.2', 31002, { host: '10.1.0.2', draining: true }),
        backend('web.3', 31003, { host: '10.1.0.3', healthy: false }),
      ],
      {
        servicePort: 21000,
        vhosts: ['web.example.com'],
        healthCheck: { protocol: 'HTTP', path: '/health', intervalSeconds: 10, timeoutSeconds: 20 },
      },
    ),
  ],
};

async function rendered(template: string): Promise<string> {
  const t = await loadTemplate(join(process.cwd(), 'templates', template));
  const slots = allocateSlots(new Map(), snapshot.services);
  return String(t.render(templateData(snapshot, { bind: '127.0.0.1', httpPort: 8080 }, { slots })));
}

for (const template of ['haproxy.cfg.hbs', 'nginx.conf.hbs']) {
  describe(`bench: does ${template} send a backend traffic`, () => {
    let config = '';
    before(async () => (config = await rendered(template)));

    it('a healthy backend: yes', () => {
      expect(serving(config, '10.1.0.1:31001')).to.equal(true);
    });

    it('a draining backend (TASK_KILLING): no', () => {
      expect(serving(config, '10.1.0.2:31002')).to.equal(false);
    });

    it('a backend failing its health check: no', () => {
      expect(serving(config, '10.1.0.3:31003')).to.equal(false);
    });

    it('an address that only starts like a served one: no', () => {
      expect(serving(config, '10.1.0.1:3100')).to.equal(false);
    });
  });
}
