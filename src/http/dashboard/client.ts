/// <reference lib="dom" />

// The dashboard's browser script. It is served as its own file,
// `/dashboard.js`, made from this function's source text (so it is
// type-checked and linted with the rest, and needs no build step of its own):
// it must not refer to anything outside itself. Every value from the
// registry is untrusted: it reaches the page only as text (textContent,
// element attributes set one by one), never as markup, and the page's
// Content-Security-Policy (Trusted Types required) makes any HTML sink throw.

/** The page's whole behaviour; runs once in the browser. */
export function dashboardClient(): void {
  type Json = Record<string, unknown>;
  const POLL_MS = 1000;
  const PAGE = 50;
  const TOKEN_KEY = 'switchyard.token';

  const state = {
    version: -1,
    eventsHead: -1,
    query: '',
    offset: 0,
    open: null as string | null,
    /** Whether the daemon keeps routing rules (it needs the zookeeper section); null until the first overview. */
    rules: null as boolean | null,
  };

  const $ = (id: string): HTMLElement => {
    const e = document.getElementById(id);
    if (!e) throw new Error(`the page has no #${id}`);
    return e;
  };

  /** An element with attributes and children; strings become text nodes, never markup. */
  function el(tag: string, attrs: Record<string, string> = {}, ...children: (Node | string | null)[]): HTMLElement {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    for (const c of children) if (c !== null) e.append(typeof c === 'string' ? document.createTextNode(c) : c);
    return e;
  }

  function fill(parent: HTMLElement, ...children: (Node | string | null)[]): void {
    parent.replaceChildren(...children.filter((c): c is Node | string => c !== null));
  }

  function ago(ms: number | null | undefined): string {
    if (ms === null || ms === undefined) return 'never';
    const s = Math.max(0, Math.round(ms / 1000));
    return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
  }

  const since = (epochMs: number | null | undefined) =>
    epochMs === null || epochMs === undefined ? 'never' : ago(Date.now() - epochMs);
  const time = (epochMs: number) => new Date(epochMs).toLocaleTimeString();

  function token(): string {
    return sessionStorage.getItem(TOKEN_KEY) ?? '';
  }

  async function getJson(path: string): Promise<Json> {
    const r = await fetch(path, { headers: authHeaders(), cache: 'no-store' });
    const body = (await r.json().catch(() => ({}))) as Json;
    if (r.status === 401)
      throw new Error('This dashboard needs the token to read (http.protectReads): enter it above.');
    if (!r.ok) throw new Error(String(body.error ?? `${r.status} ${r.statusText}`));
    return body;
  }

  function authHeaders(): Record<string, string> {
    const t = token();
    return t ? { Authorization: `Bearer ${t}` } : {};
  }

  /** A write through the API, with the token when one is set; the answer's error is shown as it is. */
  async function write(method: string, path: string, body?: unknown): Promise<boolean> {
    const headers: Record<string, string> = { ...authHeaders() };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const answer = (await r.json().catch(() => ({}))) as Json;
    if (r.ok) {
      notice(`${method} ${path}: done`, 'ok');
      return true;
    }
    if (r.status === 401) {
      notice('This write needs the token: enter it above.', 'bad');
      $('token').focus();
    } else notice(`${method} ${path}: ${String(answer.error ?? r.status)}`, 'bad');
    return false;
  }

  function notice(text: string, kind: 'ok' | 'bad'): void {
    const n = $('notice');
    n.className = kind;
    n.textContent = text;
  }

  // ---- overview: status, sources, targets, quarantine, held ------------------

  function renderOverview(o: Json): void {
    const status = String(o.status);
    const badge = $('status');
    badge.textContent = status;
    badge.className = `badge ${status}`;
    const failing = (o.failing as string[]) ?? [];
    $('failing').textContent = failing.length ? `failing: ${failing.join(', ')}` : '';
    const counts = (o.counts as Json) ?? {};
    $('counts').textContent =
      `version ${String(o.version)} · ${String(counts.services)} services · ` +
      `${String(counts.serving)}/${String(counts.backends)} backends serving`;
    $('updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
    renderSources((o.sources as Record<string, Json>) ?? {});
    renderRejections((o.sources as Record<string, Json>) ?? {});
    renderTargets((o.targets as Record<string, Json>) ?? {});
    renderQuarantine(o.quarantined as Json[] | undefined);
    renderHeld((o.held as Json[]) ?? []);
  }

  function renderSources(sources: Record<string, Json>): void {
    fill(
      $('sources-body'),
      ...Object.values(sources).map((s) =>
        el(
          'tr',
          { 'data-source': String(s.name) },
          el('td', {}, String(s.name)),
          el('td', { class: s.healthy ? 'ok' : 'bad' }, s.healthy ? 'healthy' : s.synced ? 'stale' : 'not synced'),
          el('td', {}, ago(s.ageMs as number | null)),
          el('td', {}, s.connected === null ? '—' : s.connected ? 'connected' : 'disconnected'),
          el('td', { class: 'error' }, s.lastError ? String(s.lastError) : ''),
        ),
      ),
    );
  }

  /** Values the sources refused at the boundary: registry data, so text only, like everything else. */
  function renderRejections(sources: Record<string, Json>): void {
    const rows = Object.values(sources).flatMap((s) =>
      ((s.rejections as Json[] | undefined) ?? []).map((r) =>
        el(
          'tr',
          { 'data-source': String(s.name) },
          el('td', {}, String(s.name)),
          el('td', { class: 'where' }, String(r.where)),
          el('td', {}, String(r.field)),
          el('td', { class: 'error' }, String(r.reason)),
          el('td', {}, since(r.lastAt as number)),
          el('td', {}, String(r.count)),
        ),
      ),
    );
    $('rejections').hidden = rows.length === 0;
    fill($('rejections-body'), ...rows);
  }

  const lastInstall = new Map<string, Json>();

  function renderTargets(targets: Record<string, Json>): void {
    fill(
      $('targets-body'),
      ...Object.values(targets).map((t) => {
        const name = String(t.name);
        const install = lastInstall.get(name);
        const enc = encodeURIComponent(name);
        return el(
          'tr',
          { 'data-target': name },
          el('td', {}, name),
          el('td', { class: t.ok ? 'ok' : 'bad' }, t.ok ? 'ok' : `failed${t.stage ? ` (${String(t.stage)})` : ''}`),
          el('td', {}, since(t.lastSuccessAt as number | null)),
          el('td', {}, install ? `${String(install.how)} ${since(install.at as number)}` : '—'),
          el('td', { class: 'error' }, t.lastError ? String(t.lastError) : ''),
          el('td', { class: 'error' }, t.templateError ? String(t.templateError) : ''),
          el(
            'td',
            {},
            el('a', { href: `/api/targets/${enc}/config`, target: '_blank' }, 'config'),
            ' ',
            el('a', { href: `/api/targets/${enc}/diff`, target: '_blank' }, 'diff'),
          ),
        );
      }),
    );
  }

  function renderQuarantine(list: Json[] | undefined): void {
    const section = $('quarantine');
    section.hidden = !list || list.length === 0;
    fill(
      $('quarantine-body'),
      ...(list ?? []).map((q) =>
        el(
          'tr',
          {},
          el('td', {}, String(q.service)),
          el('td', {}, String(q.target)),
          el('td', { class: 'error' }, String(q.reason)),
          el('td', {}, typeof q.since === 'number' ? since(q.since) : String(q.since)),
        ),
      ),
    );
  }

  function renderHeld(held: Json[]): void {
    $('held').hidden = held.length === 0;
    fill(
      $('held-body'),
      ...held.map((h) => {
        const id = String(h.id);
        const button = el('button', { class: 'release', 'data-id': id }, 'Release');
        button.addEventListener('click', () => void release([id]));
        return el(
          'tr',
          { 'data-id': id },
          el('td', {}, id),
          el('td', {}, `${String(h.from)} → ${String(h.to)} backends`),
          el('td', {}, since(h.since as number)),
          el('td', {}, `applies by itself ${new Date(h.until as number).toLocaleTimeString()}`),
          el('td', {}, button),
        );
      }),
    );
  }

  async function release(ids: string[] | null): Promise<void> {
    if (await write('POST', '/api/guard/release', ids ? { ids } : {})) await poll();
  }

  // ---- services ---------------------------------------------------------------

  async function loadServices(): Promise<void> {
    const q = new URLSearchParams({ query: state.query, offset: String(state.offset), limit: String(PAGE) });
    let page: Json;
    try {
      page = await getJson(`/api/catalog/services?${q}`);
    } catch (e) {
      $('services-info').textContent = (e as Error).message;
      return;
    }
    const total = Number(page.total);
    const services = page.services as Json[];
    $('services-info').textContent =
      total === 0
        ? 'no service matches'
        : `${state.offset + 1}–${state.offset + services.length} of ${total}${state.query ? ' matching' : ''}`;
    ($('prev') as HTMLButtonElement).disabled = state.offset === 0;
    ($('next') as HTMLButtonElement).disabled = state.offset + PAGE >= total;
    fill($('services-body'), ...services.map(serviceRow));
  }

  function serviceRow(s: Json): HTMLElement {
    const id = String(s.id);
    const open = el('button', { class: 'link', 'data-id': id }, id);
    open.addEventListener('click', () => void openService(id));
    const routes: string[] = [
      ...(s.vhosts as string[]).map((v) => `host ${v}`),
      ...(s.paths as string[]).map((p) => `path ${p}`),
    ];
    if (s.acl) routes.push(`acl ${String(s.acl)}`);
    const flags = [s.held ? 'held' : '', s.quarantined ? 'quarantined' : ''].filter(Boolean).join(' ');
    return el(
      'tr',
      { 'data-id': id, class: flags },
      el('td', {}, open, flags ? el('span', { class: 'flag' }, ` ${flags}`) : null),
      el('td', {}, String(s.source)),
      el('td', {}, `${s.servicePort === null ? '—' : String(s.servicePort)} ${String(s.mode)}`),
      el('td', {}, routes.join(', ')),
      el('td', { class: 'backends' }, ...(s.backends as Json[]).map(backendChip), more(s)),
      el('td', {}, `${String(s.serving)}/${String(s.backendCount)}`),
    );
  }

  function more(s: Json): HTMLElement | null {
    const shown = (s.backends as Json[]).length;
    const all = Number(s.backendCount);
    return all > shown ? el('span', { class: 'more' }, `+${all - shown} more`) : null;
  }

  function backendChip(b: Json): HTMLElement {
    const health = b.draining ? 'draining' : b.healthy ? 'healthy' : 'unhealthy';
    return el(
      'span',
      { class: `backend ${health}`, title: `${String(b.id)} · ${health} · weight ${String(b.weight)}` },
      `${String(b.host)}:${String(b.port)}`,
      Number(b.weight) !== 1 ? ` w${String(b.weight)}` : '',
    );
  }

  async function openService(id: string): Promise<void> {
    state.open = id;
    await loadDetail();
  }

  async function loadDetail(): Promise<void> {
    const id = state.open;
    const panel = $('detail');
    if (id === null) {
      panel.hidden = true;
      return;
    }
    let s: Json;
    try {
      s = await getJson(`/api/catalog/services/${encodeURIComponent(id)}`);
    } catch (e) {
      fill(panel, el('h2', {}, id), el('p', { class: 'error' }, (e as Error).message));
      panel.hidden = false;
      return;
    }
    if (state.open !== id) return;
    const close = el('button', {}, 'Close');
    close.addEventListener('click', () => {
      state.open = null;
      panel.hidden = true;
    });
    const env = s.env as Json;
    const fields: [string, string][] = [
      ['name', String(s.name)],
      ['source', String(s.source)],
      ['service port', s.servicePort === null ? '—' : String(s.servicePort)],
      ['mode', String(s.mode)],
      ['vhosts', (s.vhosts as string[]).join(', ') || '—'],
      ['paths', (s.paths as string[]).join(', ') || '—'],
      ['acl', s.acl === null ? '—' : String(s.acl)],
      ['balance', `${String(s.balance)}${s.sticky ? ', sticky' : ''}`],
      ['health check', s.healthCheck ? JSON.stringify(s.healthCheck) : 'none'],
      ['rule', s.rule ? JSON.stringify(s.rule) : 'none'],
      ['held', s.held ? JSON.stringify(s.held) : 'no'],
      [
        'env',
        env.shown ? JSON.stringify(env.values) : `${(env.keys as string[]).join(', ') || 'none'} (values hidden)`,
      ],
    ];
    const labels = Object.entries(s.labels as Record<string, string>);
    fill(
      panel,
      el('div', { class: 'head' }, el('h2', { id: 'detail-id' }, String(s.id)), close),
      el('dl', {}, ...fields.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)])),
      el('h3', {}, 'Labels'),
      labels.length === 0
        ? el('p', {}, 'none')
        : el('table', { id: 'labels' }, ...labels.map(([k, v]) => el('tr', {}, el('td', {}, k), el('td', {}, v)))),
      el('h3', {}, 'Backends'),
      el(
        'table',
        {},
        el('tr', {}, ...['id', 'address', 'health', 'weight', 'draining'].map((h) => el('th', {}, h))),
        ...(s.backends as Json[]).map((b) =>
          el(
            'tr',
            {},
            el('td', {}, String(b.id)),
            el('td', {}, `${String(b.host)}:${String(b.port)}`),
            el('td', { class: b.healthy ? 'ok' : 'bad' }, b.healthy ? 'healthy' : 'unhealthy'),
            el('td', {}, String(b.weight)),
            el('td', {}, b.draining ? 'draining' : ''),
          ),
        ),
      ),
      ...(s.quarantined as Json[]).map((q) =>
        el('p', { class: 'error' }, `quarantined on ${String(q.target)}: ${String(q.reason)}`),
      ),
      ...(s.targets as Json[]).map(targetPart),
    );
    panel.hidden = false;
  }

  function targetPart(t: Json): HTMLElement {
    const slots = t.slots as Json[];
    const runtime = t.runtime as Json | null;
    const live = new Map(
      ((runtime?.servers as Json[] | undefined) ?? []).map((x) => [`${String(x.backend)}/${String(x.name)}`, x]),
    );
    const fragment = t.fragment as Json;
    const text =
      fragment.kind === 'diff'
        ? String(fragment.text)
        : fragment.kind === 'error'
          ? `does not render: ${String(fragment.error)}`
          : fragment.kind === 'same'
            ? '(adds nothing to this config)'
            : String(fragment.reason);
    return el(
      'section',
      { class: 'target', 'data-target': String(t.target) },
      el('h3', {}, `On ${String(t.target)}`),
      slots.length === 0
        ? null
        : el(
            'table',
            { class: 'slots' },
            el(
              'tr',
              {},
              ...['slot', 'holds', 'address', 'weight', 'config', 'HAProxy says'].map((h) => el('th', {}, h)),
            ),
            ...slots.map((x) => {
              const r = live.get(`${String(x.backend)}/${String(x.name)}`);
              return el(
                'tr',
                {},
                el('td', {}, `${String(x.backend)}/${String(x.name)}`),
                el('td', {}, x.holds === null ? 'parked' : String(x.holds)),
                el('td', {}, `${String(x.host)}:${String(x.port)}`),
                el('td', {}, String(x.weight)),
                el('td', {}, x.disabled ? 'disabled' : 'enabled'),
                el(
                  'td',
                  {},
                  r
                    ? `${String(r.state)}${r.maint ? ', maint' : ''}, weight ${String(r.weight)}`
                    : runtime
                      ? '—'
                      : 'no runtime API',
                ),
              );
            }),
          ),
      runtime && 'error' in runtime ? el('p', { class: 'error' }, `runtime API: ${String(runtime.error)}`) : null,
      el('pre', { class: 'fragment' }, text),
    );
  }

  // ---- rules ------------------------------------------------------------------

  async function loadRules(): Promise<void> {
    const body = $('rules-body');
    $('rules-table').hidden = $('new-rule').hidden = state.rules !== true;
    if (state.rules !== true) {
      $('rules-info').textContent = 'Routing rules need the zookeeper section in the config.';
      return;
    }
    let rules: Json[];
    try {
      rules = (await getJson('/api/rules')).rules as Json[];
    } catch (e) {
      $('rules-info').textContent = (e as Error).message;
      fill(body);
      return;
    }
    $('rules-info').textContent = rules.length === 0 ? 'no rules' : '';
    fill(
      body,
      ...rules.map((r) => {
        const id = String(r.id);
        const edit = el('button', { class: 'edit', 'data-id': id }, 'Edit');
        edit.addEventListener('click', () => editRule(r));
        const del = el('button', { class: 'delete', 'data-id': id }, 'Delete');
        del.addEventListener('click', () => void deleteRule(id));
        const { id: _id, ...rest } = r;
        return el(
          'tr',
          { 'data-id': id },
          el('td', {}, id),
          el('td', {}, JSON.stringify(rest)),
          el('td', {}, edit, del),
        );
      }),
    );
  }

  const form = () => $('rule-form') as HTMLFormElement;
  const field = (name: string) => form().elements.namedItem(name) as HTMLInputElement | HTMLSelectElement;

  function editRule(r: Json | null): void {
    const f = form();
    f.hidden = false;
    const list = (v: unknown) => ((v as string[] | undefined) ?? []).join(', ');
    field('id').value = r ? String(r.id) : '';
    (field('id') as HTMLInputElement).readOnly = r !== null;
    field('vhosts').value = list(r?.vhosts);
    field('paths').value = list(r?.paths);
    field('port').value = r?.port === undefined ? '' : String(r.port);
    field('mode').value = r?.mode === undefined ? '' : String(r.mode);
    field('balance').value = r?.balance === undefined ? '' : String(r.balance);
    field('acl').value = r?.acl === undefined ? '' : String(r.acl);
  }

  async function saveRule(): Promise<void> {
    const id = field('id').value.trim();
    if (!id) return notice('A rule needs the service id.', 'bad');
    const split = (v: string) =>
      v
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean);
    const rule: Json = { id };
    const vhosts = split(field('vhosts').value);
    const paths = split(field('paths').value);
    if (vhosts.length) rule.vhosts = vhosts;
    if (paths.length) rule.paths = paths;
    if (field('port').value.trim()) rule.port = Number(field('port').value.trim());
    if (field('mode').value) rule.mode = field('mode').value;
    if (field('balance').value) rule.balance = field('balance').value;
    if (field('acl').value.trim()) rule.acl = field('acl').value.trim();
    if (await write('PUT', `/api/rules/${encodeURIComponent(id)}`, rule)) {
      form().hidden = true;
      await loadRules();
    }
  }

  async function deleteRule(id: string): Promise<void> {
    if (await write('DELETE', `/api/rules/${encodeURIComponent(id)}`)) await loadRules();
  }

  // ---- recent events ------------------------------------------------------------

  async function loadEvents(): Promise<void> {
    let events: Json[];
    try {
      events = (await getJson('/api/events')).events as Json[];
    } catch {
      return;
    }
    for (const e of events) if (e.kind === 'install') lastInstall.set(String(e.target), e);
    fill($('events-body'), ...events.reverse().map(eventRow));
  }

  function eventRow(e: Json): HTMLElement {
    const install = e.kind === 'install';
    const services = (e.services as string[] | undefined) ?? [];
    const changed = Number(e.servicesChanged ?? 0);
    const what = install
      ? `${String(e.how)}: ${changed === 0 ? '(no service changed: a retry or a template edit)' : services.slice(0, 5).join(', ')}${changed > 5 ? ` and ${changed - 5} more` : ''}`
      : `refused at ${String(e.stage)}: ${String(e.error)}${Number(e.count) > 1 ? ` (${String(e.count)} times, last ${since(e.lastAt as number)})` : ''}`;
    const cell = el('td', { class: install ? '' : 'error' }, what);
    const commands = (e.commands as string[] | undefined) ?? [];
    if (commands.length > 0) cell.append(el('pre', { class: 'commands' }, commands.join('\n')));
    if (e.hasDiff) {
      const show = el('button', { class: 'diff', 'data-seq': String(e.seq) }, 'diff');
      show.addEventListener('click', () => void showDiff(Number(e.seq), cell, show));
      cell.append(' ', show);
    }
    return el(
      'tr',
      { 'data-seq': String(e.seq), class: String(e.kind) },
      el('td', {}, time(e.at as number)),
      el('td', {}, String(e.target)),
      el('td', {}, String(e.version)),
      cell,
    );
  }

  async function showDiff(seq: number, cell: HTMLElement, button: HTMLElement): Promise<void> {
    const e = await getJson(`/api/events/${seq}`);
    const diff = e.diff as Json;
    button.remove();
    cell.append(el('pre', { class: 'fragment' }, diff.kind === 'diff' ? String(diff.text) : String(diff.reason ?? '')));
  }

  // ---- live refresh -------------------------------------------------------------

  /** Polls the small overview; the services page, the open service, rules and events are fetched again only when they changed. */
  async function poll(): Promise<void> {
    let o: Json;
    try {
      o = await getJson('/api/overview');
    } catch (e) {
      $('status').textContent = 'unreachable';
      $('status').className = 'badge degraded';
      $('failing').textContent = (e as Error).message;
      return;
    }
    const version = Number(o.version);
    const head = Number(o.events);
    state.rules = (o.features as Json | undefined)?.rules === true;
    const work: Promise<void>[] = [];
    if (head !== state.eventsHead) {
      state.eventsHead = head;
      work.push(loadEvents());
    }
    if (version !== state.version) {
      state.version = version;
      work.push(loadServices(), loadDetail(), loadRules());
    }
    await Promise.all(work);
    renderOverview(o);
  }

  function loop(): void {
    void poll().finally(() => setTimeout(loop, POLL_MS));
  }

  // ---- wiring -------------------------------------------------------------------

  function start(): void {
    const search = $('search') as HTMLInputElement;
    let typing: ReturnType<typeof setTimeout> | undefined;
    search.addEventListener('input', () => {
      clearTimeout(typing);
      typing = setTimeout(() => {
        state.query = search.value;
        state.offset = 0;
        void loadServices();
      }, 150);
    });
    $('prev').addEventListener('click', () => {
      state.offset = Math.max(0, state.offset - PAGE);
      void loadServices();
    });
    $('next').addEventListener('click', () => {
      state.offset += PAGE;
      void loadServices();
    });
    $('release-all').addEventListener('click', () => void release(null));
    $('new-rule').addEventListener('click', () => editRule(null));
    form().addEventListener('submit', (e) => {
      e.preventDefault();
      void saveRule();
    });
    $('cancel-rule').addEventListener('click', () => {
      form().hidden = true;
    });
    const tokenInput = $('token') as HTMLInputElement;
    const showToken = () => ($('token-state').textContent = token() ? 'token set for this tab' : 'read-only');
    $('token-form').addEventListener('submit', (e) => {
      e.preventDefault();
      if (tokenInput.value) sessionStorage.setItem(TOKEN_KEY, tokenInput.value);
      else sessionStorage.removeItem(TOKEN_KEY);
      tokenInput.value = '';
      showToken();
    });
    $('forget-token').addEventListener('click', () => {
      sessionStorage.removeItem(TOKEN_KEY);
      showToken();
    });
    showToken();
    loop();
  }

  start();
}
