import { createHash, scryptSync } from 'node:crypto';
import type { MarathonConfig } from '../../config/schema.js';

/**
 * The Marathon settings that shape a published view, each as a short digest
 * (credentials are never published in clear). Sidecars of one fleet must
 * agree on all of them: a view made with another group or endpoint is not
 * the view this sidecar's own config asks for.
 */
export type FleetSettings = Readonly<Record<SettingName, string>>;

export type SettingName = 'marathon.endpoints' | 'marathon.group' | 'marathon.credentials' | 'marathon.allowRawLabels';

const NAMES: readonly SettingName[] = [
  'marathon.endpoints',
  'marathon.group',
  'marathon.credentials',
  'marathon.allowRawLabels',
];

function digest(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}

export function fleetSettings(m: MarathonConfig): FleetSettings {
  return {
    'marathon.endpoints': digest(m.endpoints),
    // The app selection as a whole: strict mode and the default mode shape the view as the groups do.
    'marathon.group': digest([m.group, m.strictMode, m.defaultMode]),
    // Slow to compute on purpose: anyone who reads ZooKeeper sees it, and must not guess a password from it cheaply.
    'marathon.credentials': scryptSync(m.password, `switchyard fleet credentials of ${m.user}`, 8).toString('hex'),
    'marathon.allowRawLabels': digest(m.allowRawLabels),
  };
}

/** The names of the settings that differ (all of them when `theirs` is not a settings object). */
export function differingSettings(mine: FleetSettings, theirs: unknown): SettingName[] {
  const other = (theirs !== null && typeof theirs === 'object' ? theirs : {}) as Record<string, unknown>;
  return NAMES.filter((n) => other[n] !== mine[n]);
}
