import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Route } from '../server.js';
import { dashboardClient } from './client.js';
import { PAGE_CSS, PAGE_HTML } from './page.js';

/**
 * The page allows its own script, style and API and nothing else: no inline
 * script or style, no other origin, no framing, no form posts, and Trusted
 * Types required, so an HTML sink (innerHTML and the like) throws instead of
 * parsing a registry value as markup.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join('; ');

interface Asset {
  readonly type: string;
  readonly body: Buffer;
  readonly etag: string;
}

function asset(type: string, text: string): Asset {
  const body = Buffer.from(text, 'utf8');
  return { type, body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"` };
}

/** `GET /` (the page), `/dashboard.js` (its script, from dashboardClient's source) and `/dashboard.css`. */
export function dashboardRoutes(): Route[] {
  const assets = new Map<string, Asset>([
    ['/', asset('text/html; charset=utf-8', PAGE_HTML)],
    ['/dashboard.js', asset('text/javascript; charset=utf-8', `'use strict';\n(${dashboardClient.toString()})();\n`)],
    ['/dashboard.css', asset('text/css; charset=utf-8', PAGE_CSS)],
  ]);
  const route: Route = (req, res, url) => {
    // Browsers ask for it unbidden; an empty answer keeps a 404 out of the console.
    if (url.pathname === '/favicon.ico') {
      res.writeHead(204, { 'Cache-Control': 'max-age=86400' }).end();
      return true;
    }
    const a = assets.get(url.pathname);
    if (!a || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
    send(res, a, req.headers['if-none-match'] === a.etag, req.method === 'HEAD');
    return true;
  };
  return [route];
}

function send(res: ServerResponse, a: Asset, notModified: boolean, head: boolean): void {
  res.writeHead(notModified ? 304 : 200, {
    'Content-Type': a.type,
    ...(notModified ? {} : { 'Content-Length': String(a.body.length) }),
    ETag: a.etag,
    'Cache-Control': 'no-cache',
    'Content-Security-Policy': CONTENT_SECURITY_POLICY,
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
  });
  res.end(notModified || head ? undefined : a.body);
}
