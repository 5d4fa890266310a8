// The fault settings (flags, control endpoint) and their validation.
// Everything is optional; an absent key means "no such fault".

export interface FaultRule {
  /** Regular expression tested against the path and query (e.g. "^/api/access/datafile/"). */
  path: string;
  /** Only this HTTP method (upper case). */
  method?: string;
  /** Only requests to this origin; both when absent. */
  origin?: 'api' | 'blob';
  /** Answer with this status before the request is handled. */
  status?: number;
  /** Seconds for a Retry-After header on the injected answer. */
  retryAfter?: number;
  /** Chance (0..1) that the rule fires on a matching request; 1 when absent. */
  probability?: number;
  /** Fire this many times, then stop; the GET shows what is left. Unlimited when absent. */
  count?: number;
  /** Close the connection after this many body bytes. */
  resetAfterBytes?: number;
  /** Pause the body for this long … */
  stallMs?: number;
  /** … after this many body bytes (0 when absent). */
  stallAfterBytes?: number;
  /** Extra delay before this request is handled. */
  latencyMs?: number;
}

export interface FaultSettings {
  /** Added before every request is handled. */
  latencyMs?: number;
  /** Cap on response body bytes per second, per connection. */
  bandwidthBytesPerSec?: number;
  /** Old-server mode (Dataverse 5.9–5.11): a Range request gets 200 and the whole body. */
  noRange?: boolean;
  /** Downloads answer 303 to the blob origin. */
  redirect?: boolean;
  /** Seed of the generator behind `probability`. */
  seed?: number;
  rules?: FaultRule[];
}

export class SettingsError extends Error {}

const RULE_NUMBERS = ['status', 'retryAfter', 'probability', 'count', 'resetAfterBytes', 'stallMs', 'stallAfterBytes', 'latencyMs'] as const;
const RULE_KEYS = new Set<string>(['path', 'method', 'origin', ...RULE_NUMBERS]);

function nonNegative(where: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new SettingsError(`${where} must be a non-negative number`);
  return v;
}

export function parseRule(input: unknown, where = 'rule'): FaultRule {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new SettingsError(`${where} must be a JSON object`);
  const o = input as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!RULE_KEYS.has(k)) throw new SettingsError(`${where}: unknown key '${k}'`);
  if (typeof o.path !== 'string') throw new SettingsError(`${where}: 'path' (a regular expression) is required`);
  try {
    new RegExp(o.path);
  } catch (e) {
    throw new SettingsError(`${where}: bad 'path' regular expression: ${(e as Error).message}`);
  }
  const rule: FaultRule = { path: o.path };
  if (o.method !== undefined) {
    if (typeof o.method !== 'string') throw new SettingsError(`${where}: 'method' must be a string`);
    rule.method = o.method.toUpperCase();
  }
  if (o.origin !== undefined) {
    if (o.origin !== 'api' && o.origin !== 'blob') throw new SettingsError(`${where}: 'origin' must be "api" or "blob"`);
    rule.origin = o.origin;
  }
  for (const k of RULE_NUMBERS) if (o[k] !== undefined) rule[k] = nonNegative(`${where}: '${k}'`, o[k]);
  if (rule.status !== undefined && (!Number.isInteger(rule.status) || rule.status < 200 || rule.status > 599)) {
    throw new SettingsError(`${where}: 'status' must be an HTTP status (200–599)`);
  }
  if (rule.probability !== undefined && rule.probability > 1) throw new SettingsError(`${where}: 'probability' must be between 0 and 1`);
  if (rule.count !== undefined && !Number.isInteger(rule.count)) throw new SettingsError(`${where}: 'count' must be an integer`);
  const effects = ['status', 'resetAfterBytes', 'stallMs', 'latencyMs'] as const;
  if (!effects.some((k) => rule[k] !== undefined)) {
    throw new SettingsError(`${where}: needs an effect (status, resetAfterBytes, stallMs or latencyMs)`);
  }
  return rule;
}

const SETTING_KEYS = new Set(['latencyMs', 'bandwidthBytesPerSec', 'noRange', 'redirect', 'seed', 'rules']);

/**
 * Merge `input` into `current`: keys given replace (`rules` replaces the whole
 * list), a null value removes the key. Throws SettingsError on a bad value.
 */
export function mergeSettings(current: FaultSettings, input: unknown): FaultSettings {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new SettingsError('fault settings must be a JSON object');
  const o = input as Record<string, unknown>;
  const next: FaultSettings = { ...current };
  for (const [k, v] of Object.entries(o)) {
    if (!SETTING_KEYS.has(k)) throw new SettingsError(`unknown fault setting '${k}'`);
    if (v === null) {
      delete next[k as keyof FaultSettings];
      continue;
    }
    switch (k) {
      case 'latencyMs':
      case 'bandwidthBytesPerSec':
      case 'seed':
        next[k] = nonNegative(`'${k}'`, v);
        break;
      case 'noRange':
      case 'redirect':
        if (typeof v !== 'boolean') throw new SettingsError(`'${k}' must be true or false`);
        next[k] = v;
        break;
      case 'rules':
        if (!Array.isArray(v)) throw new SettingsError(`'rules' must be an array`);
        next.rules = v.map((r, i) => parseRule(r, `rules[${i}]`));
        break;
    }
  }
  if (next.bandwidthBytesPerSec === 0) delete next.bandwidthBytesPerSec;
  return next;
}
