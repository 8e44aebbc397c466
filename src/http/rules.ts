import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import type { Rule } from '../state/model.js';
import { RuleStoreError, type Expected, type RuleStore, type RuleStoreFailure } from '../state/rule-store.js';
import { isRuleId, validateRule } from '../state/rules.js';
import { describeValue } from '../state/rejection.js';
import { haproxyRefusesAcl } from './acl-check.js';
import {
  authorized,
  DEFAULT_BODY_LIMITS,
  HttpError,
  readJson,
  sendHttpError,
  unauthorized,
  type BodyLimits,
} from './request.js';
import { sendJson, type Route } from './server.js';

// The rules API of the contract: GET /api/rules, GET|PUT|DELETE
// /api/rules/<id URL-encoded as one segment>, and Bamboo's /api/services
// ({"id","acl"}) over the same store. Reads are open; writes need the bearer
// token when one is set, and are always conditional on the znode version.

const NO_ZOOKEEPER = 'routing rules need the zookeeper section in the config';

/** The routes for HttpServer; with no store (no zookeeper section) they answer 503 with the reason. */
export function rulesRoutes(
  store: RuleStore | null,
  token: string,
  log: Logger,
  limits: BodyLimits = DEFAULT_BODY_LIMITS,
): Route[] {
  const route: Route = async (req, res, url) => {
    const m = /^\/api\/(rules|services)(?:\/(.*))?$/.exec(url.pathname);
    if (!m) return false;
    try {
      if (!store) throw new HttpError(503, NO_ZOOKEEPER);
      const alias = m[1] === 'services';
      const rest = m[2] ?? '';
      const write = req.method !== 'GET' && req.method !== 'HEAD';
      if (write && !authorized(req, token)) throw unauthorized();
      const api = new RulesApi(store, req, res, log, limits);
      if (rest === '') await (alias ? api.bambooCollection() : api.collection());
      else await (alias ? api.bambooItem(idFrom(rest, true)) : api.item(idFrom(rest, false)));
    } catch (e) {
      // A refused body or id never reaches the store; say so, naming the request, so hostile writes leave a trace.
      if (e instanceof HttpError && (e.status === 400 || e.status === 401 || e.status === 413)) {
        log.warn('rules API request refused', {
          method: req.method,
          path: url.pathname,
          remote: req.socket.remoteAddress,
          status: e.status,
          reason: e.message.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' '),
        });
      }
      fail(res, e);
    }
    return true;
  };
  return [route];
}

/** One request against the store. */
class RulesApi {
  constructor(
    private readonly store: RuleStore,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly log: Logger,
    private readonly limits: BodyLimits,
  ) {}

  async collection(): Promise<void> {
    this.allow('GET', 'HEAD');
    const rules = await this.store.list();
    sendJson(this.res, 200, { rules: rules.map((r) => r.rule) });
  }

  async item(id: string): Promise<void> {
    switch (this.req.method) {
      case 'GET':
      case 'HEAD': {
        const found = await this.store.get(id);
        if (!found) throw new HttpError(404, `no rule for service ${JSON.stringify(id)}`);
        return this.send(200, found.rule, found.version);
      }
      case 'PUT': {
        const check = validateRule(await readJson(this.req, this.limits), id);
        if (!check.ok) throw new HttpError(400, check.reason);
        await refuseAclHaproxyRefuses(check.rule);
        return this.write(check.rule, await this.expectation(id));
      }
      case 'DELETE':
        return this.delete(id);
      default:
        this.allow('GET', 'HEAD', 'PUT', 'DELETE');
    }
  }

  /** Bamboo lists services as a map of id to {Id, Acl}; POST creates or replaces one, id in the body. */
  async bambooCollection(): Promise<void> {
    if (this.req.method === 'POST') {
      const body = bambooBody(await readJson(this.req, this.limits));
      if (body.id === undefined) throw new HttpError(400, '"id" is required');
      return this.bambooWrite(body.id, body.acl);
    }
    this.allow('GET', 'HEAD', 'POST');
    const rules = await this.store.list();
    sendJson(this.res, 200, Object.fromEntries(rules.map(({ rule }) => [rule.id, bambooView(rule)])));
  }

  async bambooItem(id: string): Promise<void> {
    switch (this.req.method) {
      case 'GET':
      case 'HEAD': {
        const found = await this.store.get(id);
        if (!found) throw new HttpError(404, `no service rule for ${JSON.stringify(id)}`);
        this.res.setHeader('ETag', `"${found.version}"`);
        return sendJson(this.res, 200, bambooView(found.rule));
      }
      case 'PUT': {
        const body = bambooBody(await readJson(this.req, this.limits));
        if (body.id !== undefined && body.id !== id)
          throw new HttpError(
            400,
            `"id" ${JSON.stringify(body.id)} differs from the id in the URL, ${JSON.stringify(id)}`,
          );
        return this.bambooWrite(id, body.acl);
      }
      case 'DELETE':
        return this.delete(id);
      default:
        this.allow('GET', 'HEAD', 'PUT', 'DELETE');
    }
  }

  /** Bamboo knows only the acl: change that, keep whatever else the rule says. */
  private async bambooWrite(id: string, acl: string): Promise<void> {
    const expected = await this.expectation(id);
    const current = await this.store.get(id);
    const base: Rule = current?.rule ?? { id };
    const { acl: _old, ...rest } = base;
    const check = validateRule(acl === '' ? rest : { ...rest, acl }, id);
    if (!check.ok) throw new HttpError(400, check.reason);
    await refuseAclHaproxyRefuses(check.rule);
    const stored = await this.store.put(check.rule, expected === 'current' ? (current?.version ?? 'absent') : expected);
    this.log.info('routing rule written', { id, version: stored.version, created: stored.created, api: 'services' });
    this.res.setHeader('ETag', `"${stored.version}"`);
    sendJson(this.res, stored.created ? 201 : 200, bambooView(stored.rule));
  }

  private async write(rule: Rule, expected: Expected): Promise<void> {
    const stored = await this.store.put(rule, expected);
    this.log.info('routing rule written', { id: rule.id, version: stored.version, created: stored.created });
    this.send(stored.created ? 201 : 200, stored.rule, stored.version);
  }

  private async delete(id: string): Promise<void> {
    const expected = await this.expectation(id);
    if (expected === 'absent') throw new HttpError(400, 'If-None-Match does not apply to DELETE');
    if (!(await this.store.remove(id, typeof expected === 'number' ? expected : undefined)))
      throw new HttpError(404, `no rule for service ${JSON.stringify(id)}`);
    this.log.info('routing rule deleted', { id });
    sendJson(this.res, 200, { deleted: id });
  }

  /**
   * What the write may assume, from the conditional headers: `If-Match: "<version>"`
   * (409 when the rule is elsewhere), `If-Match: *` (it must exist), `If-None-Match: *`
   * (it must not). Without them the write is still conditional, on the version just read.
   */
  private async expectation(id: string): Promise<Expected> {
    const ifMatch = this.req.headers['if-match']?.trim();
    const ifNoneMatch = this.req.headers['if-none-match']?.trim();
    if (ifMatch !== undefined && ifNoneMatch !== undefined)
      throw new HttpError(400, 'give If-Match or If-None-Match, not both');
    if (ifNoneMatch !== undefined) {
      if (ifNoneMatch !== '*') throw new HttpError(400, 'If-None-Match: only "*" (create, never replace) is supported');
      return 'absent';
    }
    if (ifMatch === undefined) return 'current';
    if (ifMatch === '*') {
      const found = await this.store.get(id);
      if (!found) throw new RuleStoreError('conflict', `no rule for service ${JSON.stringify(id)} to match "*"`);
      return found.version;
    }
    const version = /^(?:"(\d{1,10})"|(\d{1,10}))$/.exec(ifMatch);
    if (!version)
      throw new HttpError(
        400,
        `bad If-Match ${JSON.stringify(ifMatch.slice(0, 40))}: expected a quoted znode version such as "3", as the ETag gives`,
      );
    return Number(version[1] ?? version[2]);
  }

  private send(status: number, rule: Rule, version: number): void {
    this.res.setHeader('ETag', `"${version}"`);
    sendJson(this.res, status, rule);
  }

  private allow(...methods: string[]): void {
    if (!methods.includes(this.req.method ?? ''))
      throw new HttpError(405, `method ${this.req.method} not allowed here`, { Allow: methods.join(', ') });
  }
}

/** A rule whose acl HAProxy cannot parse would fail every sidecar's whole config: refuse it with HAProxy's own reason. */
async function refuseAclHaproxyRefuses(rule: Rule): Promise<void> {
  if (rule.acl === undefined) return;
  const complaint = await haproxyRefusesAcl(rule.acl);
  if (complaint)
    throw new HttpError(
      400,
      `bad "acl" ${describeValue(rule.acl)}: HAProxy does not take it: ${complaint.slice(0, 300)}`,
    );
}

/** The service id from the path: one URL-encoded segment (`/` as %2F); Bamboo's alias also takes the rest of the path as it is. */
function idFrom(rest: string, alias: boolean): string {
  if (!alias && rest.includes('/'))
    throw new HttpError(400, 'the service id must be URL-encoded as one path segment ("/" as %2F)');
  let id: string;
  try {
    id = decodeURIComponent(rest);
  } catch {
    throw new HttpError(400, 'the service id in the path is not valid percent-encoding');
  }
  if (!isRuleId(id))
    throw new HttpError(400, `bad service id ${describeValue(id)}: expected [A-Za-z0-9._/-], at most 200 characters`);
  return id;
}

/** Bamboo's body, keys in any case as Go's JSON decoding takes them: `{"id"?, "acl"?}`. */
function bambooBody(body: unknown): { id?: string; acl: string } {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new HttpError(400, 'expected a JSON object {"id","acl"}');
  let id: string | undefined;
  let acl = '';
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
    const k = key.toLowerCase();
    if (k === 'id') {
      if (!isRuleId(value))
        throw new HttpError(400, `bad "id" ${describeValue(value)}: expected a service id of [A-Za-z0-9._/-]`);
      id = value;
    } else if (k === 'acl') {
      if (value !== null && typeof value !== 'string') throw new HttpError(400, '"acl" must be a string');
      acl = typeof value === 'string' ? value : '';
    } else {
      throw new HttpError(400, `unknown field ${describeValue(key)}: /api/services takes "id" and "acl"`);
    }
  }
  return id === undefined ? { acl } : { id, acl };
}

/** A rule as Bamboo shows a service. */
function bambooView(rule: Rule): { Id: string; Acl: string } {
  return { Id: rule.id, Acl: rule.acl ?? '' };
}

/** The HTTP status of each way a store call fails. */
const STATUS: Record<RuleStoreFailure, number> = { conflict: 409, corrupt: 500, unavailable: 503 };

function fail(res: ServerResponse, e: unknown): void {
  if (sendHttpError(res, e)) return;
  if (e instanceof RuleStoreError) return sendJson(res, STATUS[e.failure], { error: e.message });
  throw e;
}
