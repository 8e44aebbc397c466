import type { HealthCheck } from '../state/model.js';
import type {
  BambooApp,
  BambooTask,
  PathRoute,
  TemplateBackend,
  TemplateData,
  TemplateService,
  TemplateSlot,
  VirtualHost,
} from './data.js';

// The fields a template can read, as data the lint (lint.ts) walks. Each
// record below is typed by the data.ts interface it describes, so the
// compiler refuses a schema that misses a field of the view types or names
// one they do not have: the schema cannot drift from the types.
// test/unit/data-shape.test.ts holds it to the objects templateData builds.

/** What a template finds at a path: a value without fields, a record of named fields, a list of items of one shape, a map with free keys, or anything at all (nothing under it is checked). */
export type Shape = ValueShape | AnyShape | AnyRecordShape | ListShape<Shape> | MapShape<Shape>;

/** A string, number, boolean or null: nothing below it but `length`. */
export interface ValueShape {
  readonly kind: 'value';
}

/** Free-form or unknown (`vars`, a helper's result): no path under it is reported. */
export interface AnyShape {
  readonly kind: 'any';
}

/** An object with exactly the fields of `T`; `name` says what it is in a lint message ("a service"). */
export interface RecordShape<T> {
  readonly kind: 'record';
  readonly name: string;
  readonly fields: Fields<T>;
}

/** Any record, as the lint reads it. */
export interface AnyRecordShape {
  readonly kind: 'record';
  readonly name: string;
  readonly fields: Readonly<Record<string, Shape>>;
}

/** An array: numeric segments and `each` give its items, `length` its size. */
export interface ListShape<S> {
  readonly kind: 'list';
  readonly item: S;
}

/** A string-keyed object whose keys come from the registry (labels, env): any key may be read. */
export interface MapShape<S> {
  readonly kind: 'map';
  readonly value: S;
}

type Scalar = string | number | boolean | null | undefined;

/** The shape the schema must give a TypeScript type: how the compiler ties this file to data.ts. */
export type ShapeOf<T> = [T] extends [Scalar]
  ? ValueShape | AnyShape
  : [T] extends [readonly (infer E)[]]
    ? ListShape<ShapeOf<E>>
    : string extends keyof T
      ? MapShape<ShapeOf<T[string & keyof T]>> | AnyShape
      : RecordShape<T>;

/** Every field of `T`, optional ones included, each with its shape. */
export type Fields<T> = { readonly [K in keyof T]-?: ShapeOf<NonNullable<T[K]>> };

const value: ValueShape = { kind: 'value' };
const any: AnyShape = { kind: 'any' };
const list = <S>(item: S): ListShape<S> => ({ kind: 'list', item });
const map = <S>(of: S): MapShape<S> => ({ kind: 'map', value: of });
const record = <T>(name: string, fields: Fields<T>): RecordShape<T> => ({ kind: 'record', name, fields });

const strings = map(value);

const backend = record<TemplateBackend>('a backend', {
  id: value,
  name: value,
  host: value,
  port: value,
  weight: value,
  healthy: value,
  draining: value,
  checkPort: value,
});

const healthCheck = record<HealthCheck>('a health check', {
  protocol: value,
  path: value,
  intervalSeconds: value,
  timeoutSeconds: value,
  maxConsecutiveFailures: value,
});

const slot = record<TemplateSlot>('a server slot', { name: value, backend });

const service = record<TemplateService>('a service', {
  id: value,
  name: value,
  source: value,
  portIndex: value,
  escapedId: value,
  safeName: value,
  servicePort: value,
  mode: value,
  vhosts: list(value),
  paths: list(value),
  acl: value,
  balance: value,
  sticky: value,
  healthCheck,
  bindAddress: value,
  sslCert: value,
  redirectToHttps: value,
  backendWeight: value,
  raw: strings,
  labels: strings,
  env: strings,
  backends: list(backend),
  allBackends: list(backend),
  slots: list(slot),
});

const route = record<PathRoute>('a path route', { path: value, service, exactOnly: value });

const virtualHost = record<VirtualHost>('a virtual host', { host: value, routes: list(route) });

const task = record<BambooTask>('a task', {
  id: value,
  host: value,
  port: value,
  ports: list(value),
  alive: value,
  ready: value,
  state: value,
});

const app = record<BambooApp>('an app', {
  id: value,
  escapedId: value,
  mesosDnsId: value,
  splitId: list(value),
  healthCheckPath: value,
  healthCheckProtocol: value,
  servicePort: value,
  servicePorts: list(value),
  env: strings,
  labels: strings,
  tasks: list(task),
});

/** Everything a template receives at its root; `vars` are the operator's and free-form. */
export const templateDataShape: RecordShape<TemplateData> = record<TemplateData>('the template data', {
  services: list(service),
  httpRoutes: list(service),
  virtualHosts: list(virtualHost),
  pathRoutes: list(route),
  listeners: list(service),
  certificates: list(value),
  apps: list(app),
  vars: any,
});

/** The shape nothing is known about. */
export const anyShape: AnyShape = any;
/** A plain value. */
export const valueShape: ValueShape = value;
