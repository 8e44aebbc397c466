// Every template in the repository, rendered through the cached loops
// (fragments.ts) and through Handlebars' own `each` from the same data, gives
// the same bytes, or both throw the same error — on realistic and hostile
// states, and again from a warm cache. The cached path is the fast one; plain
// Handlebars is the reference it is held to.

import { expect } from 'chai';
import { readdirSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { RenderCache } from '../../src/render/cache.js';
import { templateData, type TemplateData, type Vars } from '../../src/render/data.js';
import { sampleSnapshot } from '../../src/render/sample.js';
import { allocateSlots } from '../../src/render/slots.js';
import { loadTemplate } from '../../src/render/template.js';
import type { Service, Snapshot } from '../../src/state/model.js';
import { hostileText, helperCorpus } from '../support/hostile.js';
import { backend, service } from './fixtures.js';

/** What a render gave: its text, or the error it threw. */
type Outcome = { text: unknown } | { error: string };

function outcome(render: () => unknown): Outcome {
  try {
    return { text: render() };
  } catch (e) {
    return { error: `${(e as Error).name}: ${(e as Error).message}` };
  }
}

// ---------------------------------------------------------------------------
// The repository's templates.

const root = process.cwd();

/** Every template file in the repository (partials/ holds partials, which their templates load). */
function repositoryTemplates(): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) {
        if (name !== 'node_modules' && name !== 'dist' && name !== 'partials' && !name.startsWith('.')) walk(path);
      } else if (name.endsWith('.hbs')) {
        found.push(path);
      }
    }
  };
  for (const dir of ['templates', 'examples', 'test']) walk(join(root, dir));
  return found.sort();
}

/** A cluster touching every branch of the templates: routes of each kind, listeners, TLS, stickiness, checks, drains, Bamboo's labels. */
function cluster(): Service[] {
  const check = {
    protocol: 'HTTP',
    path: '/health',
    intervalSeconds: 3,
    timeoutSeconds: 2,
    maxConsecutiveFailures: 2,
  } as const;
  return [
    service(
      '/shop/web',
      [backend('w1', 31001), backend('w2', 31002, { draining: true }), backend('w3', 31003, { healthy: false })],
      {
        source: 'marathon',
        name: '/shop/web',
        vhosts: ['shop.example.com', '*.shop.example.com'],
        paths: ['/', '/api/'],
        servicePort: 10001,
        sticky: true,
        healthCheck: check,
        sslCert: '/certs/shop.pem',
        labels: { BAMBOO_VHOSTS: 'a.example.com,b.example.com' },
        env: { BAMBOO_TCP_PORT: '12001' },
      },
    ),
    service('/shop/web_1', [backend('w1', 31011)], {
      source: 'marathon',
      name: '/shop/web',
      portIndex: 1,
      servicePort: 10011,
    }),
    service('/api', [backend('a1', 32001, { checkPort: 32002 })], {
      source: 'marathon',
      name: '/api',
      paths: ['/v1', '/v1/'],
      healthCheck: { ...check, protocol: 'HTTPS' },
      redirectToHttps: true,
      balance: 'leastconn',
    }),
    service('canary', [backend('c1', 33001)], {
      acl: 'hdr(x-canary) -m found',
      raw: { httpFrontendAcl: 'acl raw_canary hdr(x) -m found', backendHead: 'option httplog' },
    }),
    service('db', [backend('d1', 5432), backend('d2', 5433)], {
      mode: 'tcp',
      servicePort: 15432,
      bindAddress: '::1',
      sticky: true,
      balance: 'source',
    }),
    service('empty', [], {
      servicePort: 10003,
      raw: { bindOptions: 'accept-proxy', frontendHead: 'option httplog', backendHttpOptions: 'option forwardfor' },
    }),
    service('hosted', [backend('h1', 34001, { weight: 0 })], {
      vhosts: ['hosted.example.com'],
      balance: 'uri',
      servicePort: 10001,
    }),
    service('random', [backend('r1', 35001)], { paths: ['/r'], balance: 'random', backendWeight: 3 }),
  ];
}

/** The same cluster with registry text replaced by hostile values (the templates' checks are the sources'; these show both paths fail or pass alike). */
function hostileCluster(): Service[] {
  // NUL marks fragment boundaries (fragments.ts) and no value that passed the boundary checks holds one.
  const text = hostileText('h.example.com')
    .map((h) => h.value as string)
    .filter((v) => !v.includes('\u0000'));
  const any = helperCorpus();
  return cluster().map((s, i) => ({
    ...s,
    acl: i === 3 ? text[i % text.length]! : s.acl,
    vhosts: s.vhosts.length ? [text[(i * 3) % text.length]!, ...s.vhosts] : s.vhosts,
    paths: s.paths.map((p, j) => `${p}${text[(i + j) % text.length]}`),
    raw: { httpFrontendAcl: text[(i * 5) % text.length]!, backendHead: text[(i * 7) % text.length]! },
    labels: { BAMBOO_VHOSTS: String(text[(i * 11) % text.length]) },
    env: { BAMBOO_TCP_PORT: String(any[(i * 13) % any.length]) },
    backends: s.backends.map((b, j) => ({ ...b, host: j === 0 ? b.host : text[(i + j * 17) % text.length]! })),
  }));
}

const varSets: Vars[] = [
  {},
  { bind: '127.0.0.1', httpPort: 8080, httpsPort: 8443, certificate: '/certs/default.pem', cookie: 'SID' },
  {
    maxconn: 4096,
    statsSocket: '/run/haproxy.sock',
    mworkerMaxReloads: 3,
    reuseport: true,
    serverStateFile: '/run/state',
    stream: true,
    streamModule: 'modules/stream.so',
    workerProcesses: 2,
  },
  { bind: 'x\n  bind :1', httpPort: 0, maxconn: '', stream: false, cookie: '"' },
];

type State = (cache?: RenderCache) => TemplateData;

function states(): Array<[string, State]> {
  const snap = (services: Service[]): Snapshot => ({ version: 1, services, rules: [] });
  const out: Array<[string, State]> = [];
  varSets.forEach((vars, i) => {
    const sample = sampleSnapshot();
    const plain = snap(cluster());
    const hostile = snap(hostileCluster());
    out.push([`sample state, vars ${i}`, (cache) => templateData(sample, vars, { cache })]);
    for (const [name, s] of [
      ['cluster', plain],
      ['hostile cluster', hostile],
    ] as const) {
      const slots = allocateSlots(new Map(), s.services);
      out.push([`${name} with slots, vars ${i}`, (cache) => templateData(s, vars, { slots, cache })]);
    }
  });
  const none = snap([]);
  out.push(['no services', (cache) => templateData(none, varSets[1]!, { cache })]);
  return out;
}

describe('every template in the repository', () => {
  const files = repositoryTemplates();

  it('is found in templates/ and examples/', () => {
    const names = files.map((f) => relative(root, f));
    expect(names).to.include.members([
      'templates/haproxy.cfg.hbs',
      'templates/nginx.conf.hbs',
      'examples/templates/bamboo-haproxy.cfg.hbs',
      'examples/templates/haproxy-tls-sni.cfg.hbs',
    ]);
  });

  for (const file of files) {
    it(`renders ${relative(root, file)} through its cached loops as Handlebars does, twice (the second from the cache)`, async () => {
      const reference = await loadTemplate(file, { cachedLoops: false });
      const cached = await loadTemplate(file);
      for (const [name, state] of states()) {
        const cache = new RenderCache();
        const expected = outcome(() => reference.render(state()));
        for (const pass of [1, 2]) {
          expect(
            outcome(() => cached.renderFragments(state(cache), cache).fragments.join('')),
            `${basename(file)}, ${name}, render ${pass}`,
          ).to.deep.equal(expected);
        }
      }
    });
  }
});
