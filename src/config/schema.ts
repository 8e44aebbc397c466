import { z } from 'zod';
import type { IgnoredVariable } from './env.js';

// The config file's schema. Every object is strict: an unknown key is an
// error, because a typo must not silently do nothing. Keys beyond the
// contract's are documented in the README's configuration section.

const url = z.string().regex(/^(https?|zk):\/\/[^\s]+$/, 'expected an http://, https:// or zk:// URL');

const hostPort = z.string().regex(/^[A-Za-z0-9.:[\]-]+:\d{1,5}$/, 'expected HOST:PORT');

const ms = (min: number, max: number) => z.number().int().min(min).max(max);

const MiB = 1024 * 1024;
/** A limit on untrusted input: a whole number from `min` up to `max`, `fallback` when unset. */
const limit = (min: number, max: number, fallback: number) => z.number().int().min(min).max(max).default(fallback);

const groupName = z.string().regex(/^(\*|[A-Za-z0-9._-]+)$/, 'expected "*" or a group name');

const marathon = z.strictObject({
  endpoints: z.array(url).min(1),
  eventStream: z.boolean().default(true),
  pollIntervalMs: ms(1000, 3_600_000).default(30_000),
  user: z.string().default(''),
  password: z.string().default(''),
  // marathon-lb's --group, repeatable: a list, or one name (how it was written before lists).
  group: z
    .union([z.array(groupName).min(1), groupName])
    .transform((g) => (typeof g === 'string' ? [g] : g))
    .default(['*']),
  // marathon-lb's --strict-mode: a port is routed only with HAPROXY_{n}_ENABLED=true.
  strictMode: z.boolean().default(false),
  // The mode of a port no label sets: http, or marathon-lb's rule (tcp unless a vhost or an HTTP health check).
  defaultMode: z.enum(['http', 'tcp']).default('http'),
  requestTimeoutMs: ms(100, 600_000).default(15_000),
  streamIdleTimeoutMs: ms(1000, 3_600_000).default(30_000),
  // marathon-lb's template-override labels are raw config from whoever deploys an app.
  allowRawLabels: z.boolean().default(false),
  // Limits on what Marathon sends (README, "Limits"): whatever Marathon says, memory stays bounded.
  maxAppListBytes: limit(1024, 4096 * MiB, 256 * MiB),
  maxAppBytes: limit(1024, 1024 * MiB, 32 * MiB),
  maxApps: limit(1, 10_000_000, 50_000),
  maxTasksPerApp: limit(1, 10_000_000, 10_000),
  maxPortsPerApp: limit(1, 65_535, 1000),
  maxLabelsPerApp: limit(1, 1_000_000, 1000),
  maxLabelBytes: limit(64, 64 * MiB, 64 * 1024),
  maxEventLineBytes: limit(1024, 1024 * MiB, 16 * MiB),
  maxEventBytes: limit(1024, 1024 * MiB, 16 * MiB),
});

const registry = z.strictObject({
  path: z.string().regex(/^\/[A-Za-z0-9._/-]*$/, 'expected an absolute znode path'),
  format: z.enum(['nerve', 'curator', 'serverset']),
});

const zookeeper = z.strictObject({
  connect: z.string().regex(/^[A-Za-z0-9.:,[\]-]+(\/[A-Za-z0-9._/-]*)?$/, 'expected HOST:PORT[,HOST:PORT...]'),
  sessionTimeoutMs: ms(1000, 600_000).default(10_000),
  // One instance znode's data; ZooKeeper's own jute.maxbuffer is about 1 MiB.
  maxNodeBytes: z
    .number()
    .int()
    .min(256)
    .max(16 * 1024 * 1024)
    .default(64 * 1024),
  registries: z.array(registry).default([]),
  rulesPath: z
    .string()
    .regex(/^\/[A-Za-z0-9._/-]*$/, 'expected an absolute znode path')
    .default('/switchyard/rules'),
});

// Sidecars sharing `path` elect one leader that alone follows Marathon and publishes its view there.
const fleet = z.strictObject({
  path: z.string().regex(/^\/[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/, 'expected an absolute znode path (not "/")'),
  heartbeatMs: ms(100, 600_000).default(2000),
  maxAgeMs: ms(1000, 86_400_000).default(30_000),
});

const varValue = z.union([z.string(), z.number(), z.boolean()]);

const target = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9._-]+$/, 'expected a name of letters, digits, ".", "_" or "-"'),
  template: z.string().min(1),
  output: z.string().min(1),
  validate: z.string().default(''),
  reload: z.string().default(''),
  runtimeApi: z.string().default(''),
  // Hand the proxy addresses, not host names (default: when validate or reload runs nginx); see `resolve`.
  resolveHosts: z.boolean().optional(),
  vars: z.record(z.string(), varValue).default({}),
});

export const configSchema = z
  .strictObject({
    marathon: marathon.optional(),
    zookeeper: zookeeper.optional(),
    fleet: fleet.optional(),
    file: z
      .strictObject({
        path: z.string().min(1),
        maxBytes: z
          .number()
          .int()
          .min(1024)
          .max(1024 * 1024 * 1024)
          .default(16 * 1024 * 1024),
      })
      .optional(),
    targets: z.array(target).min(1),
    reload: z
      .strictObject({
        quietMs: ms(0, 600_000).default(100),
        maxDelayMs: ms(0, 3_600_000).default(1000),
        minIntervalMs: ms(0, 3_600_000).default(0),
        timeoutMs: ms(100, 3_600_000).default(30_000),
      })
      .prefault({}),
    // The host name cache of targets that resolve hosts (README, "Host names").
    resolve: z
      .strictObject({
        refreshMs: ms(1000, 86_400_000).default(30_000),
        timeoutMs: ms(100, 60_000).default(5000),
        maxHosts: limit(1, 1_000_000, 10_000),
        maxConcurrent: limit(1, 256, 8),
      })
      .prefault({}),
    render: z
      .strictObject({
        // A render running longer is stopped, holding the event loop at most this long; the template is refused.
        budgetMs: ms(100, 600_000).default(5000),
        // Each new template version's first render runs in a worker thread with this much heap at most.
        trialHeapMb: z.number().int().min(64).max(16_384).default(1024),
      })
      .prefault({}),
    guard: z
      .strictObject({
        enabled: z.boolean().default(true),
        maxDrop: z.number().min(0).max(1).default(0.5),
        holdMs: ms(0, 86_400_000).default(60_000),
      })
      .prefault({}),
    http: z
      .strictObject({
        listen: hostPort.default('127.0.0.1:8000'),
        token: z.string().default(''),
        maxBodyBytes: z
          .number()
          .int()
          .min(1024)
          .max(64 * 1024 * 1024)
          .default(64 * 1024),
        maxBodyDepth: z.number().int().min(2).max(1000).default(32),
        // Reads of full state (/api/state, rules, dashboard views) need the token too; /health, /live, /metrics never do.
        protectReads: z.boolean().default(false),
        // Marathon env values (where secrets live) to readers without the token; templates always see them.
        exposeEnv: z.boolean().default(false),
        maxHeaderBytes: z
          .number()
          .int()
          .min(1024)
          .max(1024 * 1024)
          .default(16 * 1024),
        clientTimeoutMs: ms(1000, 3_600_000).default(30_000),
        maxPipelined: z.number().int().min(1).max(1000).default(16),
        maxStateReaders: z.number().int().min(1).max(100_000).default(128),
      })
      .prefault({}),
    log: z
      .strictObject({
        level: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
        format: z.enum(['json', 'text', 'auto']).default('auto'),
        eventLoopWarnMs: ms(10, 600_000).default(500),
      })
      .prefault({}),
  })
  .superRefine((c, ctx) => {
    if (!c.marathon && !c.file && !(c.zookeeper && c.zookeeper.registries.length > 0)) {
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: 'no source configured: expected "marathon", "file" or "zookeeper.registries"',
      });
    }
    const seen = new Set<string>();
    c.targets.forEach((t, i) => {
      if (seen.has(t.name))
        ctx.addIssue({ code: 'custom', path: ['targets', i, 'name'], message: `duplicate target name "${t.name}"` });
      seen.add(t.name);
    });
    if (c.fleet && !c.zookeeper)
      ctx.addIssue({ code: 'custom', path: ['fleet'], message: 'a fleet needs "zookeeper.connect" to meet in' });
    if (c.fleet && !c.marathon)
      ctx.addIssue({ code: 'custom', path: ['fleet'], message: 'a fleet shares a Marathon view: expected "marathon"' });
    if (c.marathon?.endpoints.some((e) => e.startsWith('zk://')) && c.marathon.endpoints.length > 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['marathon', 'endpoints'],
        message: 'a zk:// endpoint must be the only one',
      });
    }
  });

/**
 * The validated config, with defaults filled in and relative paths resolved
 * against `configDir`, where commands also run; `ignoredEnv` lists the
 * SWITCHYARD_* variables an orchestrator set that are not config keys.
 */
export type Config = z.output<typeof configSchema> & {
  readonly configDir: string;
  readonly ignoredEnv: readonly IgnoredVariable[];
};
export type TargetConfig = Config['targets'][number];
export type MarathonConfig = NonNullable<Config['marathon']>;
export type ZookeeperConfig = NonNullable<Config['zookeeper']>;
export type FleetConfig = NonNullable<Config['fleet']>;
