import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// Summaries of V8 .cpuprofile files (node --cpu-prof): self time per
// file:function, within a window of time.

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; scriptId: string | number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number; // µs, CLOCK_MONOTONIC (the clock process.hrtime uses)
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  readonly key: string;
  readonly ms: number;
}

export interface ProfileSummary {
  /** CPU ms sampled in the window (idle excluded). */
  readonly busyMs: number;
  readonly byFunction: SelfTime[];
  readonly byFile: SelfTime[];
  /** Inclusive (self + callees) time of Switchyard's own functions (src/…, or named functions of the bundle). */
  readonly inclusiveSrc: SelfTime[];
}

/** The newest .cpuprofile file in dir. */
export function newestProfile(dir: string): string {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort();
  if (files.length === 0) throw new Error(`no .cpuprofile in ${dir}`);
  return join(dir, files[files.length - 1]!);
}

/** A readable location: repo-relative for Switchyard (dist/src/x.js → src/x.ts), package/file for dependencies. */
export function shortFile(url: string, repo: string): string {
  if (url === '') return '';
  let path = url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf('/node_modules/');
  if (nm >= 0) return path.slice(nm + '/node_modules/'.length);
  if (path.startsWith(repo + '/')) path = path.slice(repo.length + 1);
  return path.replace(/^dist\/(src|bench|test)\//, '$1/').replace(/\.js$/, '.ts');
}

/**
 * Self time per `file:function` and per file for the samples taken between `fromNs` and `toNs`
 * (process.hrtime.bigint() values of any process on this machine; null = open end).
 */
export function summarize(file: string, repo: string, fromNs: bigint | null, toNs: bigint | null): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n] as const));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const keys = new Map<number, string>();
  const keyOf = (n: ProfileNode): string => {
    let key = keys.get(n.id);
    if (key !== undefined) return key;
    const { functionName, url, scriptId } = n.callFrame;
    const where = shortFile(url, repo);
    if (where) key = `${where}:${functionName || '(anonymous)'}`;
    else if (functionName) key = functionName;
    else if (String(scriptId) === '0') {
      // Nameless native code (string flattening, UTF-8 encoding…): named after its caller.
      const up = parent.get(n.id);
      key = `(native) in ${up === undefined ? '?' : keyOf(byId.get(up)!)}`;
    }
    // Code compiled from strings has a script but no URL: Handlebars' compiled templates (new Function).
    else key = '(compiled template code: anonymous, no script URL)';
    keys.set(n.id, key);
    return key;
  };
  // Per leaf node: the distinct src/ functions on its stack.
  const stackSrc = new Map<number, string[]>();
  const srcOnStack = (id: number): string[] => {
    let keys = stackSrc.get(id);
    if (keys) return keys;
    const set = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const k = keyOf(byId.get(cur)!);
      // Switchyard's functions: from src/, or from the bundle (bin/switchyard.js runs it; it holds the
      // libraries too, named by their functions); the bundle's anonymous functions name nothing.
      if (k.startsWith('src/') || (k.startsWith('dist/bundle/') && !k.endsWith(':(anonymous)'))) set.add(k);
    }
    keys = [...set];
    stackSrc.set(id, keys);
    return keys;
  };
  const inclusive = new Map<string, number>();
  const from = fromNs === null ? -Infinity : Number(fromNs / 1000n);
  const to = toNs === null ? Infinity : Number(toNs / 1000n);
  const fn = new Map<string, number>();
  const files = new Map<string, number>();
  let busy = 0;
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    // A sample stands for the interval up to the next one.
    const dur = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    if (t < from || t > to) continue;
    const node = byId.get(profile.samples[i]!);
    if (!node) continue;
    if (node.callFrame.functionName === '(idle)') continue;
    busy += dur;
    const key = keyOf(node);
    fn.set(key, (fn.get(key) ?? 0) + dur);
    const fileKey = shortFile(node.callFrame.url, repo) || (key.startsWith('(native) in ') ? '(native code)' : key);
    files.set(fileKey, (files.get(fileKey) ?? 0) + dur);
    for (const k of srcOnStack(node.id)) inclusive.set(k, (inclusive.get(k) ?? 0) + dur);
  }
  const top = (m: Map<string, number>) => [...m].map(([key, ms]) => ({ key, ms })).sort((a, b) => b.ms - a.ms);
  return { busyMs: busy, byFunction: top(fn), byFile: top(files), inclusiveSrc: top(inclusive) };
}

/** Renders the top entries of a summary as text lines. */
export function formatSummary(title: string, s: ProfileSummary, n = 15): string {
  const lines = [`${title}: ${s.busyMs.toFixed(0)} ms on CPU (idle excluded)`, '  top self time by file:function'];
  for (const e of s.byFunction.slice(0, n))
    lines.push(`    ${e.ms.toFixed(1).padStart(8)} ms  ${pctOf(e.ms, s.busyMs)}  ${e.key}`);
  lines.push('  self time by file / package');
  for (const e of s.byFile.slice(0, 10))
    lines.push(`    ${e.ms.toFixed(1).padStart(8)} ms  ${pctOf(e.ms, s.busyMs)}  ${e.key}`);
  lines.push("  inclusive time (self + callees) of Switchyard's own functions");
  for (const e of s.inclusiveSrc.slice(0, 12))
    lines.push(`    ${e.ms.toFixed(1).padStart(8)} ms  ${pctOf(e.ms, s.busyMs)}  ${e.key}`);
  return lines.join('\n');
}

function pctOf(x: number, total: number): string {
  return `${((100 * x) / Math.max(total, 1e-9)).toFixed(1).padStart(5)}%`;
}
