import { expect } from 'chai';
import { describeRefusal } from '../../src/targets/refusal.js';

// How a validate refusal reads: the output named instead of the temporary
// candidate, and the candidate's lines the proxy named quoted below it.

const candidate = '/etc/haproxy/.haproxy.cfg.1a2b.tmp';
const output = '/etc/haproxy/haproxy.cfg';
const config = [
  'global',
  '    maxconn 10',
  '    bogus on',
  'defaults',
  '    mode http',
  `    x ${'y'.repeat(300)}`,
].join('\n');

describe('a validate refusal', () => {
  it('names the output in place of the candidate and quotes each line named, in order', () => {
    const message = `[ALERT] parsing [${candidate}:3] : unknown keyword 'bogus'\n[ALERT] parsing [${candidate}:2] : odd\n[ALERT] Error(s) found in configuration file : ${candidate}`;
    expect(describeRefusal(message, candidate, output, config)).to.equal(
      [
        `[ALERT] parsing [${output}:3] : unknown keyword 'bogus'`,
        `[ALERT] parsing [${output}:2] : odd`,
        `[ALERT] Error(s) found in configuration file : ${output}`,
        'the candidate (not installed) at those lines:',
        `  ${output}:2:     maxconn 10`,
        `  ${output}:3:     bogus on`,
      ].join('\n'),
    );
  });

  it('quotes at most 200 characters of a line and nothing past the end of the candidate', () => {
    const shown = describeRefusal(`in ${candidate}:6 and ${candidate}:99`, candidate, output, Buffer.from(config));
    const quoted = shown.split('\n').slice(2);
    expect(quoted).to.have.length(1);
    expect(quoted[0]).to.equal(`  ${output}:6:     x ${'y'.repeat(200 - 6)}…`);
  });

  it('is the message with the output named when it names no line', () => {
    expect(describeRefusal(`cannot open ${candidate}`, candidate, output, config)).to.equal(`cannot open ${output}`);
  });
});
