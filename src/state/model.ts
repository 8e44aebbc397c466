// The normalized model every layer speaks. Values in it have already passed
// the boundary checks of `validate.ts`: a template may print them as they are.

export type Mode = 'http' | 'tcp';

export const BALANCE_ALGORITHMS = ['roundrobin', 'static-rr', 'leastconn', 'first', 'source', 'uri', 'random'] as const;
export type Balance = (typeof BALANCE_ALGORITHMS)[number];

/** One place a service's traffic can go: a task, a znode instance or a file entry. */
export interface Backend {
  /** Stable within its service (task id, znode name, host:port); names the proxy's server slot. */
  readonly id: string;
  readonly host: string;
  readonly port: number;
  /** 0–256, HAProxy's weight range; 1 unless the registry says otherwise. */
  readonly weight: number;
  /**
   * Passes its health checks (or has none) and, during a Marathon deployment, its readiness check. Unhealthy backends
   * stay in the state so a flap is membership, not structure.
   */
  readonly healthy: boolean;
  /** Going away (TASK_KILLING): finish in-flight requests, take no new ones. */
  readonly draining: boolean;
  /** The port proxy-side health checks probe (HAPROXY_{n}_BACKEND_HEALTHCHECK_PORT_INDEX); null: `port`. */
  readonly checkPort: number | null;
}

/** A health check as the registry describes it; drives proxy-side checks. */
export interface HealthCheck {
  readonly protocol: 'HTTP' | 'HTTPS' | 'TCP';
  readonly path?: string;
  /** Seconds between checks (Marathon's intervalSeconds, 1–86400); absent: the template's default. */
  readonly intervalSeconds?: number;
  /** Seconds a check may take (Marathon's timeoutSeconds, 1–86400); absent: the template's default. */
  readonly timeoutSeconds?: number;
  /** Failures in a row Marathon tolerates before killing the task (0–1000; 0: never kills); absent: not said. */
  readonly maxConsecutiveFailures?: number;
}

/**
 * marathon-lb's template-override labels an operator allowed
 * (`marathon.allowRawLabels`), by camelCase template name
 * (`HAPROXY_0_BACKEND_HEAD` → `backendHead`): one checked line of raw config each.
 */
export type RawConfig = Readonly<Record<string, string>>;

/** One routable thing: a Marathon app's port, a ZooKeeper service or a file entry. */
export interface Service {
  /** Unique across sources; `[A-Za-z0-9._/-]+`. Marathon app port n>0 is `<appId>_<n>`. */
  readonly id: string;
  /** The registry's own name (Marathon app id, znode name). */
  readonly name: string;
  /** The source that produced it ('marathon', 'zookeeper', 'file'). */
  readonly source: string;
  /** Position among the app's ports (0 for single-port registries). */
  readonly portIndex: number;
  /** Port of its own listener; null when it has none. */
  readonly servicePort: number | null;
  readonly mode: Mode;
  readonly vhosts: readonly string[];
  readonly paths: readonly string[];
  /** A raw HAProxy condition from a routing rule (Bamboo's `acl`); null when none. */
  readonly acl: string | null;
  readonly balance: Balance;
  readonly sticky: boolean;
  readonly healthCheck: HealthCheck | null;
  /** Address its own listener binds (HAPROXY_{n}_BIND_ADDR), an IP literal; null: the target's `vars.bind`. */
  readonly bindAddress: string | null;
  /** PEM file (absolute path) its listener and vhosts are served with over TLS (HAPROXY_{n}_SSL_CERT); null: no TLS of its own. */
  readonly sslCert: string | null;
  /** Plain-HTTP requests reaching it on the shared listener are redirected to https (HAPROXY_{n}_REDIRECT_TO_HTTPS). */
  readonly redirectToHttps: boolean;
  /** Route priority among routes of the same kind, higher first (HAPROXY_{n}_BACKEND_WEIGHT); 0 by default. */
  readonly backendWeight: number;
  /** Raw config lines the operator allowed from marathon-lb template labels; empty unless allowed. */
  readonly raw: RawConfig;
  readonly labels: Readonly<Record<string, string>>;
  readonly env: Readonly<Record<string, string>>;
  /** Sorted by id. */
  readonly backends: readonly Backend[];
}

/** A routing rule stored in ZooKeeper: overrides what labels say for one service id. */
export interface Rule {
  readonly id: string;
  readonly vhosts?: readonly string[];
  readonly paths?: readonly string[];
  readonly port?: number;
  readonly mode?: Mode;
  readonly balance?: Balance;
  readonly acl?: string;
}

/**
 * What a source tells the state: the whole of its services (`sync`), or one
 * service added, replaced or gone. Services are replaced whole, never patched,
 * so the state can share unchanged ones between versions.
 */
export type Change =
  | { readonly kind: 'sync'; readonly source: string; readonly services: readonly Service[] }
  | { readonly kind: 'upsert'; readonly source: string; readonly service: Service }
  | { readonly kind: 'remove'; readonly source: string; readonly id: string }
  | { readonly kind: 'rules'; readonly rules: readonly Rule[] };

/** An immutable view of the state at one version; the only input to rendering. */
export interface Snapshot {
  readonly version: number;
  /** Effective services (rules applied, sources merged), sorted by id. */
  readonly services: readonly Service[];
  readonly rules: readonly Rule[];
}
