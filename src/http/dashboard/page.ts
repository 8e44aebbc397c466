// The dashboard's static parts: the HTML shell (no data in it: the script
// fills it from the API views) and its style sheet. Nothing here varies per
// request, so the page itself cannot carry a registry value.

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchyard</title>
<link rel="stylesheet" href="/dashboard.css">
<script src="/dashboard.js" defer></script>
</head>
<body>
<header>
  <h1>Switchyard</h1>
  <span id="status" class="badge starting">loading</span>
  <span id="failing"></span>
  <span id="counts"></span>
  <span id="updated"></span>
  <form id="token-form" autocomplete="off">
    <span id="token-state">read-only</span>
    <input id="token" type="password" placeholder="API token" aria-label="API token">
    <button type="submit">Use token</button>
    <button type="button" id="forget-token">Forget</button>
  </form>
</header>
<p id="notice"></p>
<main>
<section id="overview">
  <div>
    <h2>Sources</h2>
    <table><thead><tr><th>source</th><th>state</th><th>synced</th><th>stream</th><th>last error</th></tr></thead>
    <tbody id="sources-body"></tbody></table>
  </div>
  <div>
    <h2>Targets</h2>
    <table><thead><tr><th>target</th><th>state</th><th>last success</th><th>last install</th><th>last error</th><th>template error</th><th></th></tr></thead>
    <tbody id="targets-body"></tbody></table>
  </div>
</section>
<section id="rejections" hidden>
  <h2>Registry values refused</h2>
  <table><thead><tr><th>source</th><th>where</th><th>field</th><th>why</th><th>last seen</th><th>times</th></tr></thead>
  <tbody id="rejections-body"></tbody></table>
</section>
<section id="quarantine" hidden>
  <h2>Quarantined services</h2>
  <table><thead><tr><th>service</th><th>target</th><th>reason</th><th>since</th></tr></thead>
  <tbody id="quarantine-body"></tbody></table>
</section>
<section id="held" hidden>
  <h2>Held by the drop guard <button type="button" id="release-all">Release all</button></h2>
  <table><thead><tr><th>service</th><th>change</th><th>held since</th><th>until</th><th></th></tr></thead>
  <tbody id="held-body"></tbody></table>
</section>
<section id="services">
  <h2>Services</h2>
  <div class="bar">
    <input id="search" type="search" placeholder="search id, vhost, path, backend host:port" aria-label="search services">
    <button type="button" id="prev">‹ prev</button>
    <span id="services-info"></span>
    <button type="button" id="next">next ›</button>
  </div>
  <table><thead><tr><th>service</th><th>source</th><th>port</th><th>routes</th><th>backends</th><th>serving</th></tr></thead>
  <tbody id="services-body"></tbody></table>
</section>
<section id="detail" hidden></section>
<section id="rules">
  <h2>Routing rules <button type="button" id="new-rule">New rule</button></h2>
  <p id="rules-info"></p>
  <table id="rules-table"><thead><tr><th>service</th><th>rule</th><th></th></tr></thead>
  <tbody id="rules-body"></tbody></table>
  <form id="rule-form" hidden autocomplete="off">
    <label>service id <input name="id" required></label>
    <label>vhosts <input name="vhosts" placeholder="a.example.com, b.example.com"></label>
    <label>paths <input name="paths" placeholder="/api, /v2"></label>
    <label>port <input name="port" inputmode="numeric"></label>
    <label>mode <select name="mode"><option value=""></option><option>http</option><option>tcp</option></select></label>
    <label>balance <select name="balance"><option value=""></option><option>roundrobin</option><option>static-rr</option><option>leastconn</option><option>first</option><option>source</option><option>uri</option><option>random</option></select></label>
    <label>acl <input name="acl" placeholder="hdr(host) -i a.example.com"></label>
    <button type="submit">Save</button>
    <button type="button" id="cancel-rule">Cancel</button>
  </form>
</section>
<section id="events">
  <h2>Recent installs and refusals</h2>
  <table><thead><tr><th class="narrow">time</th><th class="narrow">target</th><th class="narrow">version</th><th>what</th></tr></thead>
  <tbody id="events-body"></tbody></table>
</section>
</main>
</body>
</html>
`;

export const PAGE_CSS = `
:root { --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --line: #d0d7de; --muted: #57606a; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { font: 13px/1.4 system-ui, sans-serif; margin: 0; color: #1f2328; background: #f6f8fa; }
header { display: flex; flex-wrap: wrap; gap: 12px; align-items: center; padding: 8px 16px; background: #fff; border-bottom: 1px solid var(--line); }
header h1 { font-size: 16px; margin: 0; }
#token-form { margin-left: auto; display: flex; gap: 6px; align-items: center; }
#token-state, #counts, #updated { color: var(--muted); }
#failing { color: var(--bad); }
.badge { padding: 2px 8px; border-radius: 10px; color: #fff; background: var(--muted); font-weight: 600; }
.badge.ok { background: var(--ok); color: #fff; }
.badge.degraded { background: var(--bad); color: #fff; }
.badge.starting { background: var(--warn); color: #fff; }
#notice { margin: 0; padding: 0 16px; min-height: 1.4em; }
#notice.ok { color: var(--ok); }
#notice.bad { color: var(--bad); }
main { padding: 0 16px 32px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; margin: 12px 0; }
#overview { display: grid; grid-template-columns: 1fr 1.6fr; gap: 16px; }
h2 { font-size: 14px; margin: 4px 0 8px; }
h3 { font-size: 13px; margin: 12px 0 4px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid var(--line); vertical-align: top; overflow-wrap: anywhere; }
th { color: var(--muted); font-weight: 600; }
.ok { color: var(--ok); }
.bad, .error { color: var(--bad); }
/* A template's parse error marks the column on its own line under the source line. */
td.error { white-space: pre-wrap; }
.bar { display: flex; gap: 8px; align-items: center; margin-bottom: 6px; }
#search { flex: 1; padding: 4px 8px; }
.backend { display: inline-block; margin: 1px 3px 1px 0; padding: 0 6px; border-radius: 8px; font-family: ui-monospace, monospace; font-size: 12px; }
.backend.healthy { background: #dafbe1; }
.backend.unhealthy { background: #ffebe9; }
.backend.draining { background: #fff8c5; }
.more, .flag { color: var(--muted); }
tr.held .flag, tr.quarantined .flag { color: var(--bad); }
button.link { background: none; border: none; padding: 0; color: #0969da; cursor: pointer; font: inherit; text-align: left; }
pre { background: #f6f8fa; border: 1px solid var(--line); padding: 6px; overflow: auto; max-height: 360px; font-size: 12px; white-space: pre; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; }
dt { color: var(--muted); }
dd { margin: 0; overflow-wrap: anywhere; }
#detail .head { display: flex; justify-content: space-between; align-items: center; }
#rule-form { display: flex; flex-wrap: wrap; gap: 8px; margin-top: 8px; }
tr.refusal td { background: #fff5f5; }
th.narrow { width: 1%; white-space: nowrap; }
#events td:nth-child(-n + 3) { white-space: nowrap; }
`;
