import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/tmp.js';
import { eventually } from '../support/wait.js';

const script = join(process.cwd(), 'scripts/install-servers.sh');

/**
 * scripts/install-servers.sh run against a policy-rc.d in a temp directory
 * (POLICY_RC_D), with apt-get replaced on PATH by a script that records what
 * the policy said while packages were being installed — the only moment it
 * may say "exit 101".
 */
function sandbox(apt: 'ok' | 'fail' | 'hang' = 'ok') {
  const dir = tempDir('install-servers-');
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  const policy = join(dir, 'sbin', 'policy-rc.d');
  mkdirSync(join(dir, 'sbin'));
  const seen = join(dir, 'seen');
  writeFileSync(
    join(bin, 'apt-get'),
    `#!/bin/sh
if [ -e "${policy}" ]; then cat "${policy}" >> "${seen}"; else echo "(no policy)" >> "${seen}"; fi
[ "${apt}" = fail ] && { echo "E: Unable to locate package haproxy" >&2; exit 100; }
[ "${apt}" = hang ] && { touch "${dir}/hanging"; exec sleep 60; }
exit 0
`,
  );
  chmodSync(join(bin, 'apt-get'), 0o755);
  const run = (onStart?: (pid: number) => void) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn('bash', [script], {
        env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, POLICY_RC_D: policy, INSTALL_SERVERS_ALWAYS: '1' },
        stdio: ['ignore', 'ignore', 'pipe'],
        detached: true,
      });
      let stderr = '';
      child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('exit', (code) => resolve({ code, stderr }));
      onStart?.(child.pid!);
    });
  const duringInstall = () => readFileSync(seen, 'utf8');
  const leftovers = () => readdirSync(join(dir, 'sbin')).filter((n) => n !== 'policy-rc.d');
  return { dir, policy, run, duringInstall, leftovers };
}

describe('scripts/install-servers.sh leaves the machine as it found it', function () {
  this.timeout(60_000);
  const hostPolicy = '#!/bin/sh\n# the host policy: start everything\nexit 0\n';

  it('keeps package scripts from starting services while it installs', async () => {
    const s = sandbox();
    const r = await s.run();
    expect(r.code, r.stderr).to.equal(0);
    expect(s.duringInstall()).to.contain('exit 101');
  });

  it('removes the policy-rc.d it created', async () => {
    const s = sandbox();
    await s.run();
    expect(existsSync(s.policy)).to.equal(false);
    expect(s.leftovers()).to.deep.equal([]);
  });

  it("puts back the host's own policy-rc.d as it was, bytes and mode", async () => {
    const s = sandbox();
    writeFileSync(s.policy, hostPolicy);
    chmodSync(s.policy, 0o700);
    await s.run();
    expect(s.duringInstall()).to.contain('exit 101');
    expect(readFileSync(s.policy, 'utf8')).to.equal(hostPolicy);
    expect(statSync(s.policy).mode & 0o777).to.equal(0o700);
    expect(s.leftovers()).to.deep.equal([]);
  });

  it('cleans up when apt-get fails, and reports the failure', async () => {
    const s = sandbox('fail');
    const r = await s.run();
    expect(r.code).to.equal(1);
    expect(r.stderr).to.contain('Unable to locate package');
    expect(existsSync(s.policy)).to.equal(false);
  });

  it('cleans up when it is interrupted in the middle of the install', async () => {
    const s = sandbox('hang');
    writeFileSync(s.policy, hostPolicy);
    const r = await s.run((pid) => {
      // As Ctrl-C or a CI runner's cancel does: the signal goes to the whole process group.
      void eventually(() => statSync(join(s.dir, 'hanging'))).then(() => process.kill(-pid, 'SIGTERM'));
    });
    expect(r.code).to.not.equal(0);
    expect(readFileSync(s.policy, 'utf8')).to.equal(hostPolicy);
    expect(s.leftovers()).to.deep.equal([]);
  });
});
