// The template compiler (src/render/compile.ts) against Handlebars itself:
// every template, rendered by both from the same data, gives the same bytes,
// or both throw the same error. The repository's templates run through
// loadTemplate (cached loops, partials and all) on realistic and hostile
// states; a corpus of small templates covers each construct of the
// language on plain data, edge cases included.

import { expect } from 'chai';
import Handlebars from 'handlebars';
import { mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { compileTemplate, createEnvironment } from '../../src/render/compile.js';
import { templateData, type TemplateData, type Vars } from '../../src/render/data.js';
import { helpers } from '../../src/render/helpers.js';
import { sampleSnapshot } from '../../src/render/sample.js';
import { allocateSlots } from '../../src/render/slots.js';
import { loadTemplate } from '../../src/render/template.js';
import type { Service, Snapshot } from '../../src/state/model.js';
import { hostileText, helperCorpus } from '../support/hostile.js';
import { backend, service } from './fixtures.js';

const COMPILE = { noEscape: true, strict: false, preventIndent: true } as const;

/** What a render gave: its text (or fragments), or the error it threw. */
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

/** The same cluster with registry text replaced by hostile values (the templates' checks are the sources'; these show both engines fail or pass alike). */
function hostileCluster(): Service[] {
  const text = hostileText('h.example.com').map((h) => h.value as string);
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

function states(): Array<[string, () => TemplateData]> {
  const snap = (services: Service[]): Snapshot => ({ version: 1, services, rules: [] });
  const withSlots = (s: Snapshot, vars: Vars) => templateData(s, vars, allocateSlots(new Map(), s.services));
  const out: Array<[string, () => TemplateData]> = [];
  varSets.forEach((vars, i) => {
    out.push([`sample state, vars ${i}`, () => templateData(sampleSnapshot(), vars)]);
    out.push([`cluster with slots, vars ${i}`, () => withSlots(snap(cluster()), vars)]);
    out.push([`hostile cluster, vars ${i}`, () => withSlots(snap(hostileCluster()), vars)]);
  });
  out.push(['no services', () => templateData(snap([]), varSets[1]!)]);
  return out;
}

describe('compiled templates: every template in the repository', () => {
  const files = repositoryTemplates();

  it('finds the templates of templates/ and examples/', () => {
    const names = files.map((f) => relative(root, f));
    expect(names).to.include.members([
      'templates/haproxy.cfg.hbs',
      'templates/nginx.conf.hbs',
      'examples/templates/bamboo-haproxy.cfg.hbs',
      'examples/templates/haproxy-tls-sni.cfg.hbs',
    ]);
  });

  for (const file of files) {
    it(`renders ${relative(root, file)} fragment for fragment as Handlebars does, twice (the second from the loop caches)`, async () => {
      const reference = await loadTemplate(file, { engine: 'handlebars' });
      const compiled = await loadTemplate(file);
      expect(compiled.engine).to.equal('compiled');
      expect(reference.engine).to.equal('handlebars');
      for (const [name, state] of states()) {
        const data = state();
        for (const pass of [1, 2]) {
          expect(
            outcome(() => compiled.renderFragments(data)),
            `${basename(file)}, ${name}, render ${pass}`,
          ).to.deep.equal(outcome(() => reference.renderFragments(data)));
        }
      }
    });
  }
});

// ---------------------------------------------------------------------------
// The corpus: small templates on plain data.

/** Helpers that show what a helper sees of its options, and call its programs in unusual ways. */
const probes: Record<string, Handlebars.HelperDelegate> = {
  /** The options as data: their keys in order, name, hash, location, programs, data frame and block params. */
  options(this: unknown, ...args: unknown[]) {
    const o = args.pop() as Handlebars.HelperOptions & {
      name: string;
      loc: unknown;
      blockParams: unknown;
      lookupProperty: unknown;
    };
    const fn = o.fn as ((...a: unknown[]) => unknown) & { blockParams?: number };
    return JSON.stringify({
      args: args.length,
      keys: Object.keys(o),
      name: o.name,
      hash: o.hash,
      loc: o.loc,
      fn: typeof o.fn,
      declared: fn?.blockParams,
      data: o.data && Object.keys(o.data),
      blockParams: o.blockParams === undefined ? 'none' : String(o.blockParams),
      lookup: typeof o.lookupProperty,
      self: this === null ? 'null' : typeof this,
    });
  },
  /** Runs its block on its own context with a frame and block params of its own, then its inverse on the first argument. */
  twice(this: unknown, ...args: unknown[]) {
    const o = args.pop() as Handlebars.HelperOptions;
    const data = Handlebars.createFrame(o.data ?? {});
    data.index = 7;
    data.extra = 'E';
    return `${o.fn(this, { data, blockParams: [args[0], 'second'] })}|${o.inverse(args[0])}`;
  },
  /** Calls its programs with no arguments at all, then with a number as context. */
  bare(o: Handlebars.HelperOptions) {
    const [fn, inverse] = [o.fn, o.inverse] as Array<(context?: unknown) => string>;
    return `${fn!()}|${fn!(7)}|${inverse!()}`;
  },
  boom() {
    throw new Error('boom');
  },
  five: () => 5,
  self(this: unknown) {
    return this === null || this === undefined
      ? String(this)
      : typeof this === 'object'
        ? `object:${Object.keys(this as object).join(',')}`
        : `${typeof this}:${String(this)}`;
  },
};

/** A fresh copy of every data set: iterators are used up by a render. */
function plainData(): unknown[] {
  class Point {
    x = 1;
    get sum() {
      return 42;
    }
    describe() {
      return 'method';
    }
  }
  function* letters() {
    yield 'a';
    yield 'b';
  }
  const inherited = Object.create({ k: 'inherited', f: () => 'inherited function' });
  inherited.own = 'own';
  return [
    {
      a: 1,
      b: 'B',
      s: 'str',
      n: 7,
      z: 0,
      e: '',
      t: true,
      f: false,
      nul: null,
      und: undefined,
      xs: [1, 'two', { a: 'A3', b: 0 }, null, [5, 6]],
      empty: [],
      o: { k: 'K', a: 'oa', b: { c: 'deep' } },
      fn() {
        return `lambda:${typeof this === 'object' && this ? Object.keys(this).length : String(this)}`;
      },
      m: new Map<string, unknown>([
        ['mk', 'mv'],
        ['m2', { a: 2 }],
      ]),
      set: new Set([1, 2, 3]),
      gen: letters(),
      // eslint-disable-next-line no-sparse-arrays -- a hole, which each skips
      sparse: [1, , 3],
      point: new Point(),
      inherited,
      proto: JSON.parse(
        '{"__proto__": {"polluted": "yes"}, "constructor": "own constructor", "toString": "own toString"}',
      ),
    },
    { a: { b: 'AB', c: [1, 2] }, xs: [], o: {}, s: '', n: -1, z: 0, e: 'e', fn: 'not a function', t: 1 },
    {
      a: [{ a: 1 }, { a: 2 }],
      xs: [
        { xs: [1, 2], a: 'inner' },
        { a: 'i2', xs: [] },
      ],
      o: { a: { a: { a: 'three' } } },
    },
    null,
    'a string context',
    [1, 2, 3],
    0,
  ];
}

/** A Handlebars environment with Switchyard's helpers and the probes, and the partials registered from their source. */
function environment(
  partials: Record<string, string>,
  configure?: (env: typeof Handlebars) => void,
): { env: typeof Handlebars; asts: Map<string, hbs.AST.Program> } {
  const env = createEnvironment();
  env.registerHelper(helpers);
  env.registerHelper(probes);
  configure?.(env);
  const asts = new Map<string, hbs.AST.Program>();
  for (const [name, source] of Object.entries(partials)) {
    env.registerPartial(name, env.compile(env.parse(source), COMPILE));
    asts.set(name, env.parse(source));
  }
  return { env, asts };
}

/**
 * Renders each template with Handlebars and with the compiler, on every
 * data set, and asserts the same outcome; returns the outcomes, so a spec can
 * also say what they are.
 */
function same(
  templates: string[],
  options: {
    partials?: Record<string, string>;
    data?: () => unknown[];
    configure?: (env: typeof Handlebars) => void;
  } = {},
): Outcome[][] {
  const { env, asts } = environment(options.partials ?? {}, options.configure);
  return templates.map((template) => {
    const reference = env.compile(env.parse(template), COMPILE);
    const compiled = compileTemplate(env, env.parse(template), asts);
    expect(compiled, `compiles ${JSON.stringify(template)}`).to.not.equal(null);
    const expected = (options.data ?? plainData)().map((d) =>
      outcome(() => reference(d, { allowProtoPropertiesByDefault: false })),
    );
    const actual = (options.data ?? plainData)().map((d) => outcome(() => compiled!(d)));
    actual.forEach((a, i) => expect(a, `${JSON.stringify(template)} on data set ${i}`).to.deep.equal(expected[i]));
    return actual;
  });
}

describe('compiled templates: the corpus', () => {
  // Both engines log a denied prototype method once (Handlebars.logger); the corpus denies many on purpose.
  let logLevel: unknown;
  before(() => {
    logLevel = Handlebars.logger.level;
    (Handlebars.logger as { level: unknown }).level = 'silent';
  });
  after(() => {
    (Handlebars.logger as { level: unknown }).level = logLevel;
  });

  describe('output', () => {
    it('prints null and undefined as nothing, any other value as `+` joins it', () => {
      same(['[{{nul}}|{{und}}|{{z}}|{{f}}|{{e}}|{{t}}|{{n}}|{{xs}}|{{o}}|{{point}}]', '{{{o}}}{{&s}}']);
    });

    it('adds numbers printed side by side, as Handlebars does when a program starts with them', () => {
      const [[first]] = same([
        '{{n}}{{n}}',
        'x{{n}}{{n}}',
        '{{n}}{{n}}x',
        '{{#if t}}{{n}}{{n}}{{/if}}',
        '{{n}}{{#each xs}}{{/each}}{{n}}',
      ]);
      expect(first).to.deep.equal({ text: '14' });
    });

    it('keeps text, comments and whitespace control as Handlebars parsed them', () => {
      same([
        'a {{!c}} b {{!-- {{x}} --}} c',
        '  {{~n~}}  \n',
        '{{#if t}}\n  yes\n{{else}}\n  no\n{{/if}}\n',
        'x\r\n{{#each xs}}\r\n{{this}}\r\n{{/each}}\r\n',
      ]);
    });

    it('prints raw blocks as text', () => {
      same(['{{{{raw}}}} {{n}} {{#if}} {{{{/raw}}}}']);
    });
  });

  describe('paths', () => {
    it('read own properties, `this` and `.`, and dotted paths through null', () => {
      same([
        '{{this}}|{{.}}|{{a}}|{{a.b}}|{{a.b.c}}|{{o.b.c}}|{{nul.x}}|{{und.x.y}}|{{this.a}}|{{./a}}|{{[a]}}|{{o.[k]}}',
      ]);
    });

    it('give the length of arrays and strings, own properties both', () => {
      same(['{{xs.length}} {{s.length}} {{empty.length}} {{a.c.length}}']);
    });

    it('deny what an object inherits: prototype fields, methods, constructor, __proto__', () => {
      same([
        '[{{constructor}}|{{toString}}|{{__proto__}}|{{o.constructor}}|{{o.hasOwnProperty}}|{{inherited.k}}|{{inherited.own}}|{{inherited.f}}|{{point.x}}|{{point.sum}}|{{point.describe}}|{{s.toUpperCase}}|{{n.toFixed}}]',
      ]);
    });

    it('read data named like prototype properties when the data owns them', () => {
      same([
        '[{{proto.constructor}}|{{proto.toString}}|{{proto.polluted}}|{{proto.__proto__}}|{{proto.__proto__.polluted}}]',
      ]);
    });

    it('call a function found at a path with the context as `this`', () => {
      same(['{{fn}}', '{{this.fn}}', '{{#with o}}{{../fn}}{{/with}}', '{{#each xs}}{{../fn}}{{/each}}']);
    });

    it('climb contexts with ../ only where a block entered a new one', () => {
      same([
        '{{#each xs}}{{../a}}|{{#each this}}{{../../a}}{{../length}}{{/each}}{{/each}}',
        '{{#with o}}{{#with b}}{{../k}}{{../../a}}{{../../../a}}{{/with}}{{/with}}',
        '{{#if t}}{{../a}}{{#if t}}{{../../a}}{{/if}}{{/if}}',
        '{{#with this}}{{../a}}{{/with}}',
        '{{#each xs}}{{#if this}}{{../a}}{{else}}{{../a}}{{/if}}{{/each}}',
        '{{#with nul}}x{{else}}{{../a}}{{/with}}',
      ]);
    });

    it('climb past an item loosely equal to its parent context, which enters no new level (wrapProgram compares with !=)', () => {
      const [[first]] = same(
        ['{{#each xs}}[{{../s}}]{{/each}}', '{{#each this}}{{#each this}}[{{../../length}}]{{/each}}{{/each}}'],
        {
          data: () => [
            { s: 'root', xs: ['[object Object]', 'other'] },
            [['1', 1], [null]],
            { s: 'root', xs: [null, undefined] },
          ],
        },
      );
      expect(first).to.deep.equal({ text: '[][root]' });
    });

    it('read @root, @index, @key, @first, @last and a parent frame through @../', () => {
      same([
        '{{@root.a}}{{#each xs}}[{{@index}}{{@key}}{{@first}}{{@last}}{{@root.n}}]{{/each}}',
        '{{#each o}}{{@key}}={{@index}},{{#each ../xs}}{{@../key}}{{@../../root.n}}{{/each}}{{/each}}',
        '{{@index}}{{@root}}{{@root.constructor}}{{@foo.bar}}',
      ]);
    });

    it('read block params, the item and its index or key, and shadow nothing else', () => {
      same([
        '{{#each xs as |x i|}}[{{x}}:{{i}}:{{x.a}}]{{/each}}',
        '{{#each o as |v k|}}{{k}}={{v}};{{#each ../xs as |y j|}}{{k}}{{j}}{{/each}}{{/each}}',
        '{{#with o as |w|}}{{w.k}}{{k}}{{/with}}',
        '{{#each xs as |x|}}{{#if x}}{{x}}{{/if}}{{/each}}',
        '{{#each xs as |a|}}{{a}}{{this.a}}{{/each}}',
        '{{#each xs as |x|}}{{x 1 2}}{{/each}}',
      ]);
    });
  });

  describe('helpers', () => {
    it('call helpers with arguments, sub-expressions and literals of every kind', () => {
      same([
        '{{eq a 1}} {{default nul "d"}} {{add (add 1 2) n}} {{or f z "x"}} {{and t 1 "s"}} {{not e}} {{default undefined null "u"}} {{eq -1 n}} {{toUpper "a b"}} {{add 1.5 true}}',
      ]);
    });

    it('give a helper the options Handlebars gives: name, hash in its order, data, location, programs, lookupProperty', () => {
      same([
        '{{options}}',
        '{{options a 1 k=1 z=a a=(five) k=2 u=undefined}}',
        '{{#options a}}x{{/options}}',
        '{{#options as |p q|}}x{{else}}y{{/options}}',
        '{{#each xs as |x|}}{{options x}}{{/each}}',
        '{{options (options)}}',
      ]);
    });

    it('call a helper on the context, or on an empty stand-in for a missing one', () => {
      same([
        '{{self}}',
        '{{#each xs}}{{self}}{{/each}}',
        '{{#with nul}}x{{else}}{{self}}{{/with}}',
        '{{#if t}}{{self}}{{/if}}',
      ]);
    });

    it('prefer a helper to a field of the same name, unless the path says this or ../', () => {
      same(['{{five}} {{this.five}} {{five.x}}', '{{#with o}}{{five}}{{../five}}{{/with}}'], {
        data: () => [{ five: 'field' }, {}],
      });
    });

    it('call a function found at a helper-shaped path with the arguments, as Handlebars does', () => {
      same(['{{fn 1}}', '{{o.k.x 1}}'], {
        data: () => [{ fn: (x: unknown) => `got ${String(x)}` }, { o: { k: { x: () => 'deep' } } }],
      });
    });

    it('throw Handlebars’ error for a missing helper, naming it', () => {
      const [[first], [second]] = same([
        '{{missing 1}}',
        '{{#missing a}}x{{/missing}}',
        '{{a.b.missing 1}}',
        '{{eq (missing) 1}}',
      ]);
      expect(first).to.deep.equal({ error: 'Error: Missing helper: "missing"' });
      expect(second).to.deep.equal({ error: 'Error: Missing helper: "missing"' });
    });

    it('throw what a helper throws', () => {
      same([
        '{{boom}}',
        '{{#each xs}}{{boom}}{{/each}}',
        '{{haproxyToken s}}{{haproxyString "a%b"}}',
        '{{add (boom) (missing 1)}}',
      ]);
    });

    it('look fields up with lookup, own properties only', () => {
      same([
        '{{lookup o "k"}} {{lookup xs 1}} {{lookup o "constructor"}} {{lookup nul "x"}} {{lookup z "x"}} {{lookup s "length"}} {{#lookup o "k"}}x{{/lookup}}',
        '{{lookup o}}',
        '{{lookup}}',
      ]);
    });

    it('throw the built-in helpers’ errors for the wrong number of arguments', () => {
      same([
        '{{#if}}x{{/if}}',
        '{{#if a b}}x{{/if}}',
        '{{#unless}}x{{/unless}}',
        '{{#with}}x{{/with}}',
        '{{#each}}x{{/each}}',
        '{{if a}}',
        '{{each xs}}',
        '{{with o}}',
        '{{#each xs o}}x{{/each}}',
      ]);
    });

    it('log through log without printing anything', () => {
      same(['{{log "quiet" level="debug"}}x']);
    });
  });

  describe('blocks', () => {
    it('take a truthy, non-empty value through if, and else if chains in order', () => {
      same([
        '{{#if a}}A{{else if b}}B{{else if s}}S{{else}}none{{/if}}',
        '{{#if xs}}y{{else}}n{{/if}}{{#if empty}}y{{else}}n{{/if}}{{#if z}}y{{else}}n{{/if}}{{#if e}}y{{/if}}{{#if o}}y{{/if}}',
      ]);
    });

    it('count zero with includeZero', () => {
      same([
        '{{#if z includeZero=true}}zero{{else}}no{{/if}}',
        '{{#if z includeZero=t}}zero{{else}}no{{/if}}',
        '{{#if e includeZero=true}}y{{else}}n{{/if}}',
        '{{#unless z includeZero=true}}n{{else}}zero{{/unless}}',
      ]);
    });

    it('call a function condition with the context as `this`', () => {
      same([
        '{{#if fn}}yes{{/if}}',
        '{{#unless fn}}no{{else}}yes{{/unless}}',
        '{{#with fn}}{{this}}{{/with}}',
        '{{#each fn}}{{this}}{{/each}}',
      ]);
    });

    it('invert with unless and with inverse sections', () => {
      same([
        '{{#unless a}}not a{{else}}a{{/unless}}',
        '{{^if a}}not a{{/if}}',
        '{{^a}}no a{{/a}}',
        '{{^xs}}no xs{{else}}xs{{/xs}}',
        '{{^each empty}}none{{/each}}',
      ]);
    });

    it('enter a non-empty value with with, and its inverse otherwise', () => {
      same([
        '{{#with o}}{{k}}{{else}}none{{/with}}',
        '{{#with empty}}x{{else}}empty{{/with}}',
        '{{#with z}}[{{this}}]{{/with}}',
        '{{#with e}}x{{else}}blank{{/with}}',
      ]);
    });

    it('run a block of a field as blockHelperMissing does: true, false, lists, objects, functions', () => {
      same([
        '{{#t}}[{{this}}]{{/t}}',
        '{{#f}}x{{else}}false{{/f}}',
        '{{#xs}}[{{this}}]{{/xs}}',
        '{{#empty}}x{{else}}empty{{/empty}}',
        '{{#o}}{{k}}{{/o}}',
        '{{#z}}[{{this}}]{{/z}}',
        '{{#fn}}{{this}}{{/fn}}',
        '{{#o.b}}{{c}}{{/o.b}}',
        '{{#this.xs}}{{this}}{{/this.xs}}',
        '{{#nul}}x{{else}}null{{/nul}}',
      ]);
    });

    it('give a custom block helper programs that take a context, a data frame and block params', () => {
      same([
        '{{#twice a as |x y|}}[{{x}}{{y}}{{@index}}{{@extra}}{{this}}]{{else}}({{this}}){{/twice}}',
        '{{#bare}}[{{this}}]{{else}}<{{this}}>{{/bare}}',
        '{{#each xs}}{{#twice this}}{{@index}}{{../a}}{{else}}inv{{/twice}}{{/each}}',
      ]);
    });
  });

  describe('each', () => {
    it('iterates arrays, keeping primitives, null and nested lists as contexts', () => {
      same([
        '{{#each xs}}[{{this}}|{{a}}|{{@index}}|{{@first}}|{{@last}}]{{/each}}',
        '{{#each xs}}{{#each this}}{{this}}{{/each}}{{/each}}',
      ]);
    });

    it('takes its inverse for an empty list or anything not iterable', () => {
      same([
        '{{#each empty}}x{{else}}empty{{/each}}',
        '{{#each s}}x{{else}}string{{/each}}',
        '{{#each n}}x{{else}}number{{/each}}',
        '{{#each nul}}x{{else}}null{{/each}}',
        '{{#each t}}x{{else}}true{{/each}}',
      ]);
    });

    it('skips the holes of a sparse array', () => {
      same(['{{#each sparse}}[{{@index}}:{{this}}:{{@last}}]{{else}}none{{/each}}']);
    });

    it('iterates objects by key, Maps, Sets and generators in order', () => {
      same([
        '{{#each o}}{{@key}}={{this}}{{@first}}{{@last}};{{/each}}',
        '{{#each m}}{{@key}}:{{this}}{{@last}};{{/each}}',
        '{{#each set}}{{@index}}={{this}}{{/each}}',
        '{{#each gen}}{{this}}{{@last}}{{/each}}',
        '{{#each point}}{{@key}}{{/each}}',
        '{{#each inherited}}{{@key}}{{/each}}',
        '{{#each proto}}{{@key}}{{/each}}',
      ]);
    });

    it('closes an iterator when its block throws', () => {
      const closed: string[] = [];
      const data = () => [
        {
          items: {
            *[Symbol.iterator]() {
              try {
                yield 1;
                yield 2;
              } finally {
                closed.push('closed');
              }
            },
          },
        },
      ];
      same(['{{#each items}}{{boom}}{{/each}}'], { data });
      expect(closed).to.deep.equal(['closed', 'closed']);
    });
  });

  describe('partials', () => {
    const partials = {
      item: '<{{a}}|{{k}}|{{this}}|{{@index}}|{{../a}}|{{#each xs}}{{this}}{{/each}}>',
      indented: '  {{> item}}\n{{#if a}}\n    {{> item k=2}}\n{{/if}}\n',
      nested: '({{> item}})',
    };

    it('render with the current context, a given one, or one extended by a hash', () => {
      same(
        [
          '{{> item}}',
          '{{> item o}}',
          '{{> item k=1}}',
          '{{> item o k=a}}',
          '{{> item "text"}}',
          '{{> item xs a=(five)}}',
          '{{#each xs}}{{> item k=@index}}{{/each}}',
          '{{> "item"}}',
        ],
        { partials },
      );
    });

    it('print a standalone partial’s indent once, before it (preventIndent)', () => {
      same(['{{> indented}}', 'x\n  {{> indented}}\n', '{{#each xs}}\n  {{> nested}}\n{{/each}}'], { partials });
    });

    it('throw Handlebars’ error for a partial that is not registered', () => {
      const [[first]] = same(['{{> nope}}', '{{#if t}}{{> nope o k=(five)}}{{/if}}', '{{> toString}}'], { partials });
      expect(first).to.deep.equal({ error: 'Error: The partial nope could not be found' });
    });

    it('may call themselves', () => {
      same(['{{> tree}}'], {
        partials: { tree: '[{{a}}{{#each xs}}{{> tree}}{{/each}}]' },
        data: () => [{ a: 1, xs: [{ a: 2, xs: [{ a: 3 }] }, { a: 4 }] }],
      });
    });
  });

  describe('environments', () => {
    it('call built-in helpers that were registered over like any helper', () => {
      same(
        [
          '{{#if a}}y{{else}}n{{/if}}{{#unless a}}u{{/unless}}{{#each xs}}{{this}}{{/each}}{{#with o}}{{k}}{{/with}}{{lookup o "k"}}',
        ],
        {
          configure: (env) => {
            const builtin = { ...env.helpers };
            for (const name of ['if', 'each', 'with', 'lookup'])
              env.registerHelper(name, function (this: unknown, ...args: unknown[]) {
                return `<${name}>${String((builtin[name] as (...a: unknown[]) => unknown).apply(this, args))}`;
              });
          },
        },
      );
    });

    it('use registered helperMissing and blockHelperMissing', () => {
      same(['{{missing}}{{missing 1}}{{#missing}}x{{/missing}}{{#o}}{{k}}{{/o}}{{#a.b}}y{{/a.b}}'], {
        configure: (env) => {
          env.registerHelper(
            'helperMissing',
            (...args: unknown[]) => `HM(${args.length}:${(args[args.length - 1] as { name: string }).name})`,
          );
          env.registerHelper(
            'blockHelperMissing',
            function (this: unknown, context: unknown, o: Handlebars.HelperOptions) {
              return `BHM(${typeof context})${o.fn(context)}`;
            },
          );
        },
      });
    });

    it('compile for an environment Handlebars made, calling even the built-in helpers', () => {
      const env = Handlebars.create();
      env.registerHelper(helpers);
      const template = '{{#each xs}}{{#if this}}{{this}}{{else}}-{{/if}}{{/each}}{{default nul "d"}}';
      const compiled = compileTemplate(env, env.parse(template), new Map())!;
      for (const d of plainData())
        expect(outcome(() => compiled(d))).to.deep.equal(
          outcome(() => env.compile(env.parse(template), COMPILE)(d, { allowProtoPropertiesByDefault: false })),
        );
    });
  });

  describe('what stays with Handlebars', () => {
    const unsupported = {
      'a decorator': '{{* decorator}}x',
      'an inline partial': '{{#*inline "p"}}inline{{/inline}}{{> p}}',
      'a partial block': '{{#> item}}fallback{{/item}}',
      'a dynamic partial': '{{> (lookup . "name")}}',
      'a partial given two contexts': '{{> item a b}}',
      '@partial-block': '{{> @partial-block}}',
    };

    for (const [what, template] of Object.entries(unsupported)) {
      it(`leaves ${what} to Handlebars`, () => {
        const { env, asts } = environment({ item: '<{{this}}>' });
        expect(compileTemplate(env, env.parse(template), asts)).to.equal(null);
      });
    }

    it('leaves a partial registered as source text, or without its syntax tree, to Handlebars', () => {
      const { env } = environment({});
      env.registerPartial('text', '<{{a}}>');
      expect(compileTemplate(env, env.parse('{{> text}}'), new Map())).to.equal(null);
      env.registerPartial('compiled', env.compile('<{{a}}>'));
      expect(compileTemplate(env, env.parse('{{> compiled}}'), new Map())).to.equal(null);
    });

    it('loads such a template with Handlebars, which renders it', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'sy-compile-'));
      mkdirSync(join(dir, 'partials'));
      writeFileSync(join(dir, 't.hbs'), '{{#*inline "row"}}[{{id}}]{{/inline}}{{#each services}}{{> row}}{{/each}}');
      const template = await loadTemplate(join(dir, 't.hbs'));
      expect(template.engine).to.equal('handlebars');
      expect(
        template.render(templateData({ version: 1, services: [service('a'), service('b')], rules: [] }, {})),
      ).to.equal('[a][b]');
    });

    it('throws a TypeError, as Handlebars does, for a value called as a helper that is no function (V8 words the message after the code, so it differs)', () => {
      const { env, asts } = environment({});
      const template = '{{s 1}}';
      const reference = outcome(() =>
        env.compile(env.parse(template), COMPILE)({ s: 'str' }, { allowProtoPropertiesByDefault: false }),
      );
      const compiled = outcome(() => compileTemplate(env, env.parse(template), asts)!({ s: 'str' }));
      expect(reference)
        .to.have.property('error')
        .that.matches(/^TypeError: .*is not a function$/);
      expect(compiled)
        .to.have.property('error')
        .that.matches(/^TypeError: .*is not a function$/);
    });
  });

  describe('the code generated', () => {
    it('takes text, names and keys from the template only as string literals', () => {
      const { env, asts } = environment({});
      const hostile = '"); globalThis.pwned = 1; ("';
      const template = `${hostile}{{[${hostile}]}}{{options k=(eq "${hostile.replace(/"/g, '\\"')}" 1)}}{{#each xs as |${'x'}|}}{{x.[${hostile}]}}{{/each}}`;
      const compiled = compileTemplate(env, env.parse(template), asts)!;
      const data = { [hostile]: 'field', xs: [{ [hostile]: 'item' }] };
      expect(compiled(data)).to.equal(
        env.compile(env.parse(template), COMPILE)(data, { allowProtoPropertiesByDefault: false }),
      );
      expect((globalThis as { pwned?: unknown }).pwned).to.equal(undefined);
    });

    it('keeps block params, fields and helpers apart from its own variables, whatever their names', () => {
      same(
        ['{{#each xs as |t u|}}{{t}}{{u}}{{c0}}{{T}}{{d}}{{hm}}{{#with this as |bp|}}{{bp}}{{dp}}{{/with}}{{/each}}'],
        {
          data: () => [{ xs: [1, { c0: 'c', T: 'T', d: 'd', hm: 'h', dp: 'p' }], t: 'outer t' }],
        },
      );
    });
  });
});
