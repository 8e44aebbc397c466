// switchyard_input_limit_exceeded_total counts each input refused for a
// limit, by where it came from and the limit's config key: request bodies
// (http), the registry file (file) and template renders (render). The
// Marathon limits are counted in marathon-list-limits.test.ts.

import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { httpGet, httpPost } from '../support/http.js';
import { startSwitchyard, waitForHealth, type SwitchyardHandle } from '../support/switchyard.js';
import { tempDir } from '../support/tmp.js';
import { eventually } from '../support/wait.js';

const GOOD = '{{#each services}}{{id}}\n{{/each}}';
const BLOW_UP =
  '{{#each services}}{{#each ../services}}{{#each ../../services}}{{#each ../../../services}}x{{/each}}{{/each}}{{/each}}{{/each}}\n';

function registry(n: number): string {
  return JSON.stringify({
    services: Array.from({ length: n }, (_, i) => ({
      id: `svc-${i}`,
      backends: [{ host: '127.0.0.1', port: 10_000 + i }],
    })),
  });
}

describe('/metrics: inputs refused for a limit', function () {
  this.timeout(60_000);
  let dir: string;
  let sy: SwitchyardHandle;

  before(async () => {
    dir = tempDir('limit-metrics-');
    writeFileSync(join(dir, 'registry.json'), registry(300));
    writeFileSync(join(dir, 't.hbs'), GOOD);
    sy = await startSwitchyard(
      {
        file: { path: 'registry.json', maxBytes: 64 * 1024 },
        targets: [{ name: 'list', template: 't.hbs', output: 'out.txt' }],
        reload: { quietMs: 0, maxDelayMs: 0 },
        render: { budgetMs: 500 },
        http: { listen: '127.0.0.1:0', maxBodyBytes: 1024, maxBodyDepth: 4 },
      },
      dir,
    );
    await waitForHealth(sy, 'ok');
  });

  after(() => sy?.stop());

  /** The counter's value for a source and limit (0 while absent); scrapes within 250 ms share one text. */
  const count = async (source: string, limit: string): Promise<number> => {
    const text = (await httpGet(`${sy.url}/metrics`)).body;
    const line = `switchyard_input_limit_exceeded_total{source="${source}",limit="${limit}"} `;
    const found = text.split('\n').find((l) => l.startsWith(line));
    return found ? Number(found.slice(line.length)) : 0;
  };
  const counted = (source: string, limit: string, n: number) =>
    eventually(async () => expect(await count(source, limit)).to.equal(n));

  const release = (body: string) => httpPost(`${sy.url}/api/guard/release`, body);

  it('counts a request body over http.maxBodyBytes', async () => {
    expect((await release(JSON.stringify({ ids: ['x'.repeat(2000)] }))).status).to.equal(413);
    await counted('http', 'http.maxBodyBytes', 1);
  });

  it('counts a request body nested deeper than http.maxBodyDepth', async () => {
    expect((await release('{"ids":[[[[["x"]]]]]}')).status).to.equal(400);
    await counted('http', 'http.maxBodyDepth', 1);
  });

  it('does not count a body that is refused for its syntax alone', async () => {
    expect((await release('{"ids":')).status).to.equal(400);
    await counted('http', 'http.maxBodyDepth', 1);
  });

  it('counts a registry file over file.maxBytes under the file source', async () => {
    writeFileSync(join(dir, 'registry.json'), registry(2000));
    await waitForHealth(sy, 'degraded');
    await eventually(async () => expect(await count('file', 'file.maxBytes')).to.be.at.least(1));
    writeFileSync(join(dir, 'registry.json'), registry(300));
    await waitForHealth(sy, 'ok');
  });

  it('counts a template edit whose trial render runs past render.budgetMs', async () => {
    writeFileSync(join(dir, 't.hbs'), BLOW_UP);
    await counted('render', 'render.budgetMs', 1);
    writeFileSync(join(dir, 't.hbs'), GOOD);
    await waitForHealth(sy, 'ok');
  });
});
