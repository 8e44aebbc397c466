import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Service, Snapshot } from '../../src/state/model.js';
import {
  installedBackends,
  installedState,
  recordPath,
  templateDigest,
  writeRecord,
} from '../../src/targets/record.js';
import { tempDir } from '../support/tmp.js';

const snapshot: Snapshot = {
  version: 7,
  rules: [],
  services: [{ id: '/web', backends: [{}, {}, {}] } as unknown as Service],
};

describe('install records', () => {
  it('confirm a file the proxy took, with the backends it was rendered from', async () => {
    const output = join(tempDir('record-'), 'haproxy.cfg');
    writeFileSync(output, 'part one\npart two\n');
    await writeRecord(output, Buffer.from('part one\npart two\n'), snapshot, null);
    const state = await installedState(output);
    expect(state.kind).to.equal('confirmed');
    expect([...installedBackends(state)]).to.deep.equal([['/web', 3]]);
  });

  it('leave a file installed after the record unconfirmed, still knowing the backends the proxy runs', async () => {
    const output = join(tempDir('record-'), 'haproxy.cfg');
    writeFileSync(output, 'old\n');
    await writeRecord(output, 'old\n', snapshot, null);
    writeFileSync(output, 'new, never reloaded\n');
    const state = await installedState(output);
    expect(state).to.include({ kind: 'unconfirmed', why: 'it differs from the last install the proxy took' });
    expect([...installedBackends(state)]).to.deep.equal([['/web', 3]]);
  });

  it('leave a file without a record, or with a broken one, unconfirmed', async () => {
    const output = join(tempDir('record-'), 'haproxy.cfg');
    writeFileSync(output, 'text\n');
    expect(await installedState(output)).to.include({ kind: 'unconfirmed', why: 'no install record beside it' });
    writeFileSync(recordPath(output), '{"sha256": 1');
    expect(await installedState(output)).to.include({ kind: 'unconfirmed', why: 'its install record is not readable' });
  });

  it("read the backends of a record-less file from the default HAProxy template's server slots", async () => {
    const output = join(tempDir('record-'), 'haproxy.cfg');
    writeFileSync(
      output,
      'backend ::web\n    server s1 10.0.0.1:31001 weight 1\n    server s2 10.0.0.2:31001 weight 1\n    server s3 127.0.0.1:1 weight 0 disabled\n',
    );
    expect([...installedBackends(await installedState(output))]).to.deep.equal([['/web', 2]]);
  });

  it('keep the digest of the template version the config was rendered from', async () => {
    const output = join(tempDir('record-'), 'haproxy.cfg');
    writeFileSync(output, 'text\n');
    const texts = new Map([['/t/haproxy.cfg.hbs', '{{#each services}}{{id}}{{/each}}']]);
    await writeRecord(output, 'text\n', snapshot, templateDigest(texts));
    const state = await installedState(output);
    expect(state.kind === 'confirmed' && state.record.template).to.equal(templateDigest(texts));
    expect(templateDigest(new Map([['/t/haproxy.cfg.hbs', '{{#each services}}{{id}};{{/each}}']]))).not.to.equal(
      templateDigest(texts),
    );
  });

  it('say nothing is installed when there is no file', async () => {
    expect(await installedState(join(tempDir('record-'), 'none.cfg'))).to.deep.equal({ kind: 'none' });
  });
});
