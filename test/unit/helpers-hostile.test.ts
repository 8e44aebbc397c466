// Every config-context helper against the hostile corpus: each value is
// either refused (a HelperRefusal, never another error) or comes out in a
// form the proxy's own tokenizer reads back as exactly that one value.

import { expect } from 'chai';
import { helpers, HelperRefusal } from '../../src/render/helpers.js';
import { haproxyLineWords, nginxTokens } from '../support/config-structure.js';
import { helperCorpus, legit, shown } from '../support/hostile.js';

const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const options = { hash: {}, data: {} };

/** Calls a helper as Handlebars would (options last); the result, or the refusal. */
function run(name: string, ...args: unknown[]): { out: unknown } | { refused: HelperRefusal } {
  try {
    return { out: (helpers[name] as (...a: unknown[]) => unknown)(...args, options) };
  } catch (e) {
    if (e instanceof HelperRefusal) return { refused: e };
    throw new Error(
      `${name}(${args.map(shown).join(', ')}) threw ${(e as Error).name} instead of refusing: ${(e as Error).message}`,
      { cause: e },
    );
  }
}

/** The one word an HAProxy line reads from `text`, or null when it reads none or several. */
function haproxyWord(text: string): string | null {
  const words = haproxyLineWords(`x ${text}`);
  return words && words.length === 2 ? words[1]! : null;
}

/** The string an nginx directive reads from `text` (a quoted token, unquoted and unescaped by the tokenizer), or null when it reads anything else. */
function nginxWord(text: string): string | null {
  const { tokens, error } = nginxTokens(`x ${text};`);
  if (error || tokens.length !== 3 || tokens[2]!.value !== ';' || !tokens[2]!.punct) return null;
  const t = tokens[1]!.value;
  if (!/^".*"$/s.test(t)) return null;
  return t.slice(1, -1);
}

describe('config-context helpers refuse or neutralize every hostile value', () => {
  const corpus = helperCorpus();

  it(`haproxyToken: one HAProxy word, the value itself (${corpus.length} values)`, () => {
    for (const v of corpus) {
      const r = run('haproxyToken', v);
      if ('refused' in r) continue;
      const out = String(r.out);
      expect(haproxyWord(out), shown(v)).to.equal(out);
      expect(/^[\x21-\x7e]+$/.test(out), shown(v)).to.equal(true);
      expect(out).to.equal(String(v));
    }
  });

  it('haproxyString: one HAProxy word that reads back as the value, with no variable expanded', () => {
    for (const v of corpus) {
      const r = run('haproxyString', v);
      if ('refused' in r) continue;
      const out = String(r.out);
      expect(CONTROL.test(out), shown(v)).to.equal(false);
      expect(haproxyWord(out), shown(v)).to.equal(String(v));
      // Inside double quotes HAProxy expands $VAR: every $ must be escaped.
      expect(/(^|[^\\])(\\\\)*\$/.test(out.slice(1, -1)), shown(v)).to.equal(false);
    }
  });

  it('nginxString: one nginx token that reads back as the value, and never a $', () => {
    for (const v of corpus) {
      const r = run('nginxString', v);
      if ('refused' in r) continue;
      const out = String(r.out);
      expect(CONTROL.test(out), shown(v)).to.equal(false);
      expect(out.includes('$'), shown(v)).to.equal(false);
      expect(nginxWord(out), shown(v)).to.equal(v === null || v === undefined ? '' : String(v));
    }
  });

  it('asHostname, asPort, asPath, asCidr, asHostPort: only values of their kind', () => {
    const cidr = /^(?:(?:\d{1,3}\.){3}\d{1,3}\/(?:[0-9]|[12]\d|3[0-2])|[0-9A-Fa-f:]+\/(?:\d{1,2}|1[01]\d|12[0-8]))$/;
    for (const v of corpus) {
      const host = run('asHostname', v);
      if ('out' in host) expect(legit.host(host.out), `asHostname ${shown(v)}`).to.equal(true);
      const port = run('asPort', v);
      if ('out' in port) expect(legit.port(port.out), `asPort ${shown(v)}`).to.equal(true);
      const path = run('asPath', v);
      if ('out' in path) expect(legit.path(path.out), `asPath ${shown(v)}`).to.equal(true);
      const c = run('asCidr', v);
      if ('out' in c) expect(cidr.test(String(c.out)), `asCidr ${shown(v)}`).to.equal(true);
      for (const p of [v, 8080]) {
        const hp = run('asHostPort', v, p);
        if ('out' in hp)
          expect(
            /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):\d{1,5}$/.test(String(hp.out)),
            `asHostPort ${shown(v)} ${shown(p)}`,
          ).to.equal(true);
      }
      const hp2 = run('asHostPort', '127.0.0.1', v);
      if ('out' in hp2) expect(hp2.out).to.equal(`127.0.0.1:${v}`);
    }
  });

  it('asLine: one line, the value itself', () => {
    for (const v of corpus) {
      const r = run('asLine', v);
      if ('refused' in r) continue;
      expect(CONTROL.test(String(r.out)), shown(v)).to.equal(false);
      expect(r.out).to.equal(v === null || v === undefined ? '' : String(v));
    }
  });

  it('brackets an IPv6 address for a server line and refuses what is not an address', () => {
    expect(run('asHostPort', '::1', 8080)).to.deep.equal({ out: '[::1]:8080' });
    expect(run('asHostPort', '10.0.0.1', 80)).to.deep.equal({ out: '10.0.0.1:80' });
    for (const bad of ['[::1]', 'a:b', '::1]:80 [x', 'fe80::1%eth0'])
      expect('refused' in run('asHostPort', bad, 80), bad).to.equal(true);
  });

  it('refuses, with a HelperRefusal naming the value, what cannot even be shown', () => {
    const deep = JSON.parse('['.repeat(10_000) + ']'.repeat(10_000));
    for (const name of [
      'haproxyToken',
      'haproxyString',
      'nginxString',
      'asHostname',
      'asPort',
      'asPath',
      'asCidr',
      'asLine',
    ]) {
      for (const v of [deep, { toString: 1, valueOf: 1 }, ['x'], { a: 1 }]) {
        const r = run(name, v);
        expect('refused' in r, `${name} ${shown(v)}`).to.equal(true);
        if ('refused' in r) expect(r.refused.message).to.match(new RegExp(`^${name}: refused `));
      }
    }
  });
});
