import { expect } from 'chai';
import { describeJsonError, parseJsonDocument } from '../../src/json-document.js';

function error(text: string, depth = 32): string {
  const d = parseJsonDocument(text, depth);
  if (d.ok) throw new Error(`${JSON.stringify(text)} was taken`);
  return describeJsonError(d);
}

describe('parseJsonDocument: one JSON document, bounded in depth, errors that quote nothing', function () {
  it('takes what JSON.parse takes, with the same value', function () {
    for (const text of [
      '{"a":[1,-2.5e3,true,false,null,"x\\u00e9\\n"],"b":{}}',
      ' [] ',
      '"s"',
      '0',
      '{"k":{"k":[[]]}}',
      '\n\t{ "a" : 1 }\r\n',
    ]) {
      const d = parseJsonDocument(text, 32);
      expect(d, text).to.deep.equal({ ok: true, value: JSON.parse(text) });
    }
  });

  it('refuses a second document after the first', function () {
    expect(error('{"a":1} {"b":2}')).to.equal(
      'at line 1, column 9 (offset 8): expected the end of the input: one JSON document only',
    );
    expect(error('[1]\n[2]')).to.match(/line 2, column 1 .*one JSON document only/);
  });

  it('refuses nesting past the limit at the first bracket too many, without recursing', function () {
    expect(error('[[[1]]]', 2)).to.equal(
      'at line 1, column 3 (offset 2): expected at most 2 levels of nested arrays and objects',
    );
    expect(error('{"a":'.repeat(1_000_000), 64)).to.match(/\(offset 320\): expected at most 64 levels/);
  });

  it('names what was expected where the text goes wrong', function () {
    expect(error('{"a" 1}')).to.match(/offset 5\): expected ":" after the key/);
    expect(error('{a:1}')).to.match(/offset 1\): expected a string key in double quotes/);
    expect(error('[1,]')).to.match(/offset 3\): expected a JSON value$/);
    expect(error('[1 2]')).to.match(/offset 3\): expected "," or "]"/);
    expect(error('{"a":1 "b":2}')).to.match(/offset 7\): expected "," or "}"/);
    expect(error('"abc')).to.match(/offset 4\): expected a closing double quote/);
    expect(error('"a\\x"')).to.match(/offset 2\): expected an escape/);
    expect(error('"\\u12g4"')).to.match(/offset 1\): expected four hex digits/);
    expect(error('"a\nb"')).to.match(/offset 2\): expected no raw control character/);
    expect(error('01')).to.match(/offset 1\): expected the end of the input/);
    expect(error('-')).to.match(/offset 0\): expected a number/);
    expect(error('')).to.match(/offset 0\): expected a JSON value, not the end of the input/);
    expect(error('tru')).to.match(/offset 0\): expected a JSON value/);
  });

  it('never quotes the text, whatever it holds', function () {
    const secret = 'root:$6$hash:19000';
    for (const text of [secret, `{"a":${secret}}`, `["${secret}`, `{"${secret}"}`])
      expect(error(text)).to.not.include('hash');
  });

  it('counts lines and columns from the start of the offending line', function () {
    expect(error('{\n  "a": 1,\n  "b": x\n}')).to.equal('at line 3, column 8 (offset 19): expected a JSON value');
  });
});
