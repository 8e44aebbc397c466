import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const repo = process.cwd();

/** The command of the Dockerfile's HEALTHCHECK (its `CMD` line, continuation joined), aimed at `port` instead of 8000. */
export function imageHealthcheckCommand(port: number): string {
  const dockerfile = readFileSync(join(repo, 'Dockerfile'), 'utf8').replace(/\\\n\s*/g, '');
  const line = dockerfile.split('\n').find((l) => l.startsWith('HEALTHCHECK '));
  if (!line) throw new Error('the Dockerfile has no HEALTHCHECK');
  const cmd = /\bCMD (.*)$/.exec(line)?.[1];
  if (!cmd) throw new Error(`HEALTHCHECK without CMD: ${line}`);
  return cmd.replaceAll('127.0.0.1:8000', `127.0.0.1:${port}`);
}

/** The HTTP health checks of the example Marathon app definition that runs Switchyard. */
export function appDefinitionHealthChecks(): { protocol: string; path: string; port: number }[] {
  const app = JSON.parse(readFileSync(join(repo, 'examples/marathon-switchyard.json'), 'utf8')) as {
    healthChecks: { protocol: string; path: string; port: number }[];
  };
  return app.healthChecks;
}
