import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { relative, sep } from 'node:path';
import { promisify } from 'node:util';

// The spec files one mocha invocation would run, as paths relative to the checkout (mocha's --dry-run lists them
// without running a single test).
async function specFiles(command: string, args: string[]): Promise<string[]> {
  const { stdout } = await promisify(execFile)(command, [...args, '--dry-run', '--reporter', 'json'], {
    maxBuffer: 64 * 1024 * 1024,
    timeout: 60_000,
  });
  const report = JSON.parse(stdout) as { tests: { file: string }[] };
  return [...new Set(report.tests.map((t) => relative(process.cwd(), t.file)))];
}

describe('npm scripts that run specs', () => {
  it('test:unit runs the unit specs alone, from the TypeScript sources (no build first)', async () => {
    const files = await specFiles('npm', ['run', '--silent', 'test:unit', '--']);
    expect(files.length).to.be.greaterThan(0);
    for (const file of files) expect(file).to.match(new RegExp(`^test\\${sep}unit\\${sep}.*\\.test\\.ts$`));
  });

  it('the default mocha config (npm test) still runs the unit and the integration specs from the build', async () => {
    const files = await specFiles('npx', ['mocha']);
    expect(files.some((f) => f.startsWith(['dist', 'test', 'unit', ''].join(sep)))).to.equal(true);
    expect(files.some((f) => f.startsWith(['dist', 'test', 'integration', ''].join(sep)))).to.equal(true);
    expect(files.every((f) => f.startsWith('dist' + sep))).to.equal(true);
  });
});
