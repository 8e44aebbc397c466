import { expect } from 'chai';
import { listenerPorts, listensOn } from '../../src/targets/listeners.js';

const CONFIG = [
  'frontend stats',
  '    bind 127.0.0.1:9000',
  'frontend port_21000',
  '    bind [::]:21000 ssl crt /etc/ssl/a.pem',
  'backend web',
  '    server web-1 10.0.0.1:9001 weight 1',
  'server {',
  '    listen 8081;',
  '    listen 127.0.0.1:8443 ssl;',
  '    proxy_pass http://10.0.0.2:7000;',
  '}',
].join('\n');

describe('listener lines of a config', () => {
  it('finds the ports of bind and listen lines, with or without an address', () => {
    expect([...listenerPorts(CONFIG)].sort()).to.deep.equal([21000, 8081, 8443, 9000]);
  });

  it('answers for one port from the bytes the same way', () => {
    const bytes = Buffer.from(CONFIG);
    for (const port of [9000, 21000, 8081, 8443]) expect(listensOn(bytes, port), `${port}`).to.equal(true);
  });

  it('takes a port on a server line, in a URL or inside a longer number as no listener', () => {
    const bytes = Buffer.from(CONFIG);
    for (const port of [9001, 7000, 900, 2100, 443]) expect(listensOn(bytes, port), `${port}`).to.equal(false);
  });
});
