import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBackends, type Backend } from './backends.js';
import { startHaproxy, haproxyCheck, type HaproxyHandle } from './haproxy.js';
import { countHits } from './http.js';
import { MarathonDouble, type AppInput } from './marathon-double.js';
import { nginxPrefix, nginxTest, startNginx, type NginxHandle } from './nginx.js';
import { freePort } from './ports.js';
import { startSwitchyard, waitForHealth, type SwitchyardHandle } from './switchyard.js';
import { tempDir } from './tmp.js';
import { eventually } from './wait.js';

const repo = process.cwd();

/** The address each proxy binds: two loopback addresses, so both can listen on every service port. */
export const ADDRESS = { haproxy: '127.0.0.1', nginx: '127.0.0.2' } as const;
export type ProxyName = keyof typeof ADDRESS;
export const PROXIES = Object.keys(ADDRESS) as ProxyName[];

/** How HAProxy is told to reload: `bin/haproxy-reload` (waits for the master's verdict) or a bare `kill -USR2` that reports nothing. */
export type HaproxyReload = 'checked' | 'usr2';

/** One /health `quarantined` entry. */
export interface Quarantined {
  service: string;
  target: string;
  reason: string;
  finding: string;
  since: number;
}

/**
 * One daemon with both default targets (templates/haproxy.cfg.hbs and
 * templates/nginx.conf.hbs), each installing into a real running proxy, fed
 * by the Marathon double, and a healthy app `/ok/web` that scales up and down
 * over a pool of live backends.
 */
export interface TwoProxies {
  readonly marathon: MarathonDouble;
  readonly sy: SwitchyardHandle;
  readonly haproxy: HaproxyHandle;
  readonly nginx: NginxHandle;
  readonly dir: string;
  /** The shared HTTP listener's port of both templates (vars.httpPort). */
  readonly httpPort: number;
  /** The shared TLS listener's port (vars.httpsPort, HAProxy only). */
  readonly httpsPort: number;
  readonly haproxyOut: string;
  readonly nginxOut: string;
  /** The healthy app's service port. */
  readonly okPort: number;
  /** Adds or kills tasks of the healthy app until it has `n`; returns the backend names it then has. */
  scaleHealthy(n: number): string[];
  /** Scales the healthy app to the other of 1 and 3 tasks and waits until both proxies serve exactly its tasks; returns how long that took. */
  bounceHealthy(): Promise<number>;
  /** Adds an app with one task on a fresh backend per entry of `tasks`; returns the task ids. */
  addApp(app: AppInput, tasks: readonly Backend[]): string[];
  /** Fresh live backends. */
  backends(names: readonly string[]): Promise<Backend[]>;
  /** Waits until `url` answers with exactly these backend names (every one of them, nothing else). */
  serves(url: string, names: readonly string[], headers?: Record<string, string>): Promise<void>;
  /** The /health quarantine entries of a service, by target; checks /health answers 200 and ok. */
  quarantineOf(service: string): Promise<Partial<Record<ProxyName, Quarantined>>>;
  /** Waits until the service is quarantined on each of `targets` and on no other. */
  quarantined(service: string, targets: readonly ProxyName[]): Promise<Partial<Record<ProxyName, Quarantined>>>;
  /** Waits until no target holds the service in quarantine. */
  released(service: string): Promise<void>;
  /** `haproxy -c` and `nginx -t` on the installed files: the failures, if any. */
  checkInstalled(): Promise<string[]>;
  /** Failed loads the HAProxy master has counted since it started. */
  haproxyFailedLoads(): Promise<number>;
  stop(): Promise<void>;
}

export interface TwoProxiesOptions {
  haproxyReload: HaproxyReload;
  /** Marathon's raw-config labels (marathon.allowRawLabels). */
  allowRawLabels?: boolean;
  /** Routing rules from this ZooKeeper, under `rulesPath`. */
  rules?: { connect: string; rulesPath: string };
}

/** Starts the Marathon double, the daemon, then HAProxy and nginx on the first configs it installs, and the healthy app at 2 tasks. */
export async function startTwoProxies(opts: TwoProxiesOptions): Promise<TwoProxies> {
  const dir = tempDir('quarantine-');
  const prefix = nginxPrefix();
  const haproxyOut = join(dir, 'haproxy.cfg');
  const nginxOut = join(prefix, 'conf', 'nginx.conf');
  const haproxyPid = join(dir, 'haproxy.pid');
  const [httpPort, httpsPort, okPort] = [await freePort(), await freePort(), await freePort()];
  const pool = await startBackends(['ok-1', 'ok-2', 'ok-3']);
  const extra: Backend[] = [...pool];
  const marathon = new MarathonDouble({ keepAliveMs: 500 });
  const url = await marathon.start();
  marathon.addApp({ id: '/ok/web', ports: [okPort], labels: { HAPROXY_0_VHOST: 'ok.example.com' } });
  const okTasks = new Map<string, string>();
  const scaleHealthy = (n: number): string[] => {
    for (const b of pool) {
      const has = okTasks.has(b.name);
      const want = pool.indexOf(b) < n;
      if (want && !has) okTasks.set(b.name, marathon.addTask('/ok/web', { host: '127.0.0.1', ports: [b.port] }));
      if (!want && has) {
        marathon.killTask(okTasks.get(b.name)!);
        okTasks.delete(b.name);
      }
    }
    return [...okTasks.keys()].sort();
  };
  scaleHealthy(2);

  const sy = await startSwitchyard(
    {
      marathon: { endpoints: [url], pollIntervalMs: 60_000, allowRawLabels: opts.allowRawLabels ?? false },
      ...(opts.rules ? { zookeeper: opts.rules } : {}),
      targets: [
        {
          name: 'haproxy',
          template: join(repo, 'templates/haproxy.cfg.hbs'),
          output: haproxyOut,
          validate: 'haproxy -c -f {{file}}',
          reload:
            opts.haproxyReload === 'checked'
              ? `${join(repo, 'bin/haproxy-reload')} ${join(dir, 'master.sock')}`
              : `kill -USR2 $(cat ${haproxyPid})`,
          vars: { bind: ADDRESS.haproxy, httpPort, httpsPort, hardStopAfter: '1s' },
        },
        {
          name: 'nginx',
          template: join(repo, 'templates/nginx.conf.hbs'),
          output: nginxOut,
          validate: `nginx -t -q -p ${prefix} -c {{file}}`,
          reload: `kill -HUP $(cat ${join(prefix, 'nginx.pid')})`,
          vars: { bind: ADDRESS.nginx, httpPort, workerProcesses: 1, errorLog: 'logs/error.log' },
        },
      ],
      reload: { quietMs: 50, maxDelayMs: 300 },
      guard: { enabled: false },
    },
    dir,
  );
  await eventually(() => [readFileSync(haproxyOut), readFileSync(nginxOut)], {
    message: 'first configs never installed',
  });
  const haproxy = await startHaproxy({ configFile: haproxyOut, dir });
  writeFileSync(haproxyPid, `${haproxy.pid}\n`);
  const nginx = await startNginx({ prefix, configFile: nginxOut });
  // Their first reloads found no proxy running; the retries load the configs the proxies started from.
  await waitForHealth(sy, 'ok', 30_000);

  const serves = async (url: string, names: readonly string[], headers: Record<string, string> = {}) => {
    const want = [...names].sort();
    await eventually(
      async () => {
        const got = [...(await countHits(url, Math.max(3, want.length * 3), headers)).keys()].sort();
        if (JSON.stringify(got) !== JSON.stringify(want))
          throw new Error(`${url} served ${got.join(',') || 'nothing'}, want ${want.join(',')}`);
      },
      { timeoutMs: 30_000, intervalMs: 100, message: `${url} never served ${want.join(',')}` },
    );
  };

  const quarantineOf = async (service: string) => {
    const h = await sy.health();
    if (h.status !== 200 || h.body.status !== 'ok')
      throw new Error(`/health is ${h.status} ${h.body.status} (${JSON.stringify(h.body.failing)})`);
    const out: Partial<Record<ProxyName, Quarantined>> = {};
    for (const q of h.body.quarantined as Quarantined[]) if (q.service === service) out[q.target as ProxyName] = q;
    return out;
  };

  let okScale = 2;
  return {
    marathon,
    sy,
    haproxy,
    nginx,
    dir,
    httpPort,
    httpsPort,
    haproxyOut,
    nginxOut,
    okPort,
    scaleHealthy,
    async bounceHealthy() {
      okScale = okScale === 3 ? 1 : 3;
      const started = Date.now();
      const names = scaleHealthy(okScale);
      await Promise.all(PROXIES.map((p) => serves(`http://${ADDRESS[p]}:${okPort}/`, names)));
      return Date.now() - started;
    },
    addApp(app, tasks) {
      marathon.addApp(app);
      return tasks.map((b) => marathon.addTask(app.id, { host: '127.0.0.1', ports: [b.port] }));
    },
    async backends(names) {
      const started = await startBackends(names);
      extra.push(...started);
      return started;
    },
    serves,
    quarantineOf,
    async quarantined(service, targets) {
      return eventually(
        async () => {
          const q = await quarantineOf(service);
          const on = PROXIES.filter((p) => q[p]);
          if (JSON.stringify(on) !== JSON.stringify(targets))
            throw new Error(`${service} quarantined on [${on.join(',')}], want [${targets.join(',')}]`);
          return q;
        },
        { timeoutMs: 30_000, intervalMs: 100, message: `${service} never quarantined on ${targets.join(',')}` },
      );
    },
    async released(service) {
      await eventually(
        async () => {
          const q = await quarantineOf(service);
          if (Object.keys(q).length > 0) throw new Error(`${service} still quarantined: ${JSON.stringify(q)}`);
        },
        // A retry for an outside cause backs off up to 30 s.
        { timeoutMs: 60_000, intervalMs: 200, message: `${service} never left quarantine` },
      );
    },
    async checkInstalled() {
      const failures: string[] = [];
      const h = await haproxyCheck(haproxyOut);
      if (!h.ok) failures.push(`haproxy -c: ${h.output}`);
      const n = await nginxTest(prefix, nginxOut);
      if (!n.ok) failures.push(`nginx -t: ${n.output}`);
      return failures;
    },
    async haproxyFailedLoads() {
      const m = /^\d+\s+master\s+\d+\s+\[failed: (\d+)\]/m.exec(await haproxy.showProc());
      if (!m) throw new Error('no master line in show proc');
      return Number(m[1]);
    },
    async stop() {
      await sy.stop();
      await Promise.all([haproxy.stop(), nginx.stop()]);
      await marathon.stop();
      await Promise.all(extra.map((b) => b.close()));
    },
  };
}
