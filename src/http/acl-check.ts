import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// A rule's `acl` is raw HAProxy: validate.ts makes sure it stays one clean
// line, but only HAProxy knows whether it can parse it (an unknown fetch,
// `src` with a word that is no address, a bad regex...). One it cannot would
// fail `haproxy -c` for the whole config of every sidecar, so the rules API
// asks HAProxy before storing it.

const CHECK_TIMEOUT_MS = 10_000;

/**
 * HAProxy's complaint about `acl` as an ACL criterion in an HTTP frontend;
 * null when it takes it, or when there is no `haproxy` here to ask (the
 * syntax check has already passed). `acl` must have passed isAclCondition:
 * it is written into a config line as it is.
 */
export async function haproxyRefusesAcl(acl: string, binary = 'haproxy'): Promise<string | null> {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-acl-'));
  // Names no rule can know: an ACL that refers to a proxy by name (`nbsrv(check)`) must find here
  // exactly what it finds in a real config — nothing of the scratch config's own.
  const own = `switchyard-acl-check-${randomBytes(8).toString('hex')}`;
  try {
    const file = join(dir, 'acl.cfg');
    await writeFile(
      file,
      [
        'defaults',
        '    mode http',
        '    timeout connect 1s',
        '    timeout client 1s',
        '    timeout server 1s',
        `frontend ${own}`,
        '    bind 127.0.0.1:1',
        `    acl ${own} ${acl}`,
        `    use_backend ${own} if ${own}`,
        `backend ${own}`,
        '',
      ].join('\n'),
    );
    return await new Promise<string | null>((resolve) => {
      execFile(binary, ['-c', '-f', file], { timeout: CHECK_TIMEOUT_MS }, (error, stdout, stderr) => {
        if (!error) return resolve(null);
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return resolve(null);
        const alerts = `${stdout}\n${stderr}`
          .split('\n')
          .filter(
            (l) =>
              l.includes('[ALERT]') && !/Fatal errors found|Error\(s\) found in configuration file|no such ACL/.test(l),
          )
          .map((l) =>
            l
              .replace(/^.*?: config : /, '')
              .replace(/parsing \[[^\]]*\] ?: /, '')
              .trim(),
          );
        resolve(alerts.join('; ') || `haproxy -c refused it (${error.message.split('\n')[0]})`);
      });
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
