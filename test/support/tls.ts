import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand } from './processes.js';

/**
 * Makes a throwaway self-signed certificate for `cn` in `dir` and returns the
 * path of a PEM holding certificate and key together, as HAProxy's `crt` wants.
 */
export async function selfSignedPem(dir: string, cn = 'test'): Promise<string> {
  const key = join(dir, `${cn}.key`);
  const cert = join(dir, `${cn}.crt`);
  const { code, output } = await runCommand('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    `/CN=${cn}`,
    '-keyout',
    key,
    '-out',
    cert,
  ]);
  if (code !== 0) throw new Error(`openssl req failed: ${output}`);
  const pem = join(dir, `${cn}.pem`);
  writeFileSync(pem, readFileSync(cert, 'utf8') + readFileSync(key, 'utf8'), { mode: 0o600 });
  return pem;
}
