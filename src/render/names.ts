// Names derived from service ids for use as proxy identifiers.

/** Bamboo's escaping: `/shop/web` → `::shop::web`; valid as an HAProxy proxy name. */
export function escapedId(id: string): string {
  return id.replace(/\//g, '::');
}

/**
 * A name made only of `[a-z0-9-]` and `_xx` escapes, one-to-one with the id
 * even when case is ignored (nginx compares upstream names without case, so
 * `Web` and `web` must not both be `web`), valid wherever a bare identifier
 * is (nginx upstream names included, where `:` would read as a port).
 */
export function safeName(id: string): string {
  return id.replace(/[^a-z0-9-]/g, (c) => `_${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Marathon-DNS name of an app: `/shop/web` → `web-shop`. */
export function mesosDnsId(id: string): string {
  return id.split('/').filter(Boolean).reverse().join('-');
}

/** The default path prefix of a service with neither vhost nor path: `/<id>`. */
export function defaultPath(id: string): string {
  return id.startsWith('/') ? id : `/${id}`;
}
