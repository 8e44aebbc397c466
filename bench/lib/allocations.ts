import { Session } from 'node:inspector/promises';
import { shortFile } from './profile.js';

// Where a stretch of code allocates, garbage included: V8's sampling heap
// profiler keeping the samples of objects collected since, so what a render
// throws away counts as much as what it keeps. A built-in function (Map#set,
// Array#slice…) is named after the nearest caller with a source file.

interface SamplingNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SamplingNode[];
}

/** Bytes allocated per site, most first. */
export interface Allocations {
  readonly totalBytes: number;
  readonly bySite: ReadonlyArray<readonly [site: string, bytes: number]>;
}

/** Starts sampling (one sample per `intervalBytes` allocated); the function returned stops and summarizes. */
export async function sampleAllocations(repo: string, intervalBytes = 16_384): Promise<() => Promise<Allocations>> {
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: intervalBytes,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  return async () => {
    const { profile } = (await session.post('HeapProfiler.stopSampling')) as { profile: { head: SamplingNode } };
    session.disconnect();
    const bySite = new Map<string, number>();
    // The line is the built JavaScript's; only a nameless function needs it to be told apart.
    const name = (n: SamplingNode) =>
      `${shortFile(n.callFrame.url, repo)}:${n.callFrame.functionName || `(anonymous, built line ${n.callFrame.lineNumber + 1})`}`;
    const walk = (n: SamplingNode, caller: string | null) => {
      const builtin = n.callFrame.url === '';
      const site = builtin && caller ? `${n.callFrame.functionName || '(native)'} in ${caller}` : name(n);
      bySite.set(site, (bySite.get(site) ?? 0) + n.selfSize);
      for (const c of n.children) walk(c, builtin ? caller : name(n));
    };
    walk(profile.head, null);
    const sorted = [...bySite].filter(([, b]) => b > 0).sort((a, b) => b[1] - a[1]);
    return { totalBytes: sorted.reduce((sum, [, b]) => sum + b, 0), bySite: sorted };
  };
}
