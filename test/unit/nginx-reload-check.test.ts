import { expect } from 'chai';
import { listenLines, refusals, withListenLines } from '../../src/targets/nginx/reload-check.js';
import { nginxReloadOptions } from '../../src/targets/nginx/reload-command.js';
import { linesNamed } from '../../src/targets/quarantine.js';

const FILE = '/etc/nginx/nginx.conf';
const CONFIG = [
  'http {', //                                 1
  '    server {', //                           2
  '        listen 0.0.0.0:80 default_server;', // 3
  '        listen [::1]:8443 ssl;', //         4
  '    }', //                                  5
  '    server { listen 8081; }', //            6
  '    # listen 9999;', //                     7
  '    server { listen unix:/run/x.sock; }', // 8
  '}', //                                      9
].join('\n');

describe('nginx reload check', () => {
  it('reads each listen line with its address and port, skipping comments and unix sockets', () => {
    expect(listenLines(CONFIG)).to.deep.equal([
      { line: 3, host: '0.0.0.0', port: 80 },
      { line: 4, host: '::1', port: 8443 },
      { line: 6, host: '', port: 8081 },
    ]);
  });

  it("takes the [emerg] and [alert] lines of the log's new part as nginx's words", () => {
    const tail = [
      '2026/12/04 04:40:00 [notice] 1#1: signal process started',
      '2026/12/04 04:40:00 [emerg] 1#1: bind() to 0.0.0.0:8081 failed (98: Address already in use)',
      '',
    ].join('\n');
    expect(refusals(tail)).to.deep.equal([
      '2026/12/04 04:40:00 [emerg] 1#1: bind() to 0.0.0.0:8081 failed (98: Address already in use)',
    ]);
  });

  it('names the listen line of a failed bind as nginx names lines (file:N), a listen on any address included', () => {
    const [named] = withListenLines(
      ['[emerg] bind() to 0.0.0.0:8081 failed (98: Address already in use)'],
      FILE,
      listenLines(CONFIG),
    );
    expect(named).to.contain(`(listen in ${FILE}:6)`);
    expect(linesNamed(named!, FILE)).to.deep.equal([6]);
  });

  it('leaves words that already name a line of the file as they are', () => {
    const words = [`[emerg] unknown directive "lisen" in ${FILE}:6`];
    expect(withListenLines(words, FILE, listenLines(CONFIG))).to.deep.equal(words);
  });

  it('takes the pid file, a timeout in seconds, and optional --error-log and --config', () => {
    expect(nginxReloadOptions(['/run/nginx.pid', '5', '--error-log', '/var/log/e.log'])).to.deep.equal({
      pidFile: '/run/nginx.pid',
      timeoutMs: 5000,
      errorLog: '/var/log/e.log',
      config: null,
    });
    expect(() => nginxReloadOptions([])).to.throw(/usage: nginx-reload/);
  });
});
