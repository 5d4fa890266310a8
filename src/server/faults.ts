// Fault injection and shaping, settable at run time (flags of `dvfs serve`,
// the loopback control endpoint): latency, a bandwidth cap per connection,
// injected error statuses, connection resets and stalls mid-body, old-server
// mode (no Range) and redirect mode.
//
// Rules are tested in order against every request (both origins unless a rule
// names one). A matching rule "fires" when its count is not used up and its
// probability (seeded generator) says so. The first firing rule with a
// `status` answers the request and ends the evaluation; the body effects
// (resets, stalls) and latencies of the rules that fired before it add up.
import { randomInt } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { pipeline, type Readable } from 'node:stream';
import type { Shaping } from './config.js';
import { internalError, sendJson, type Ctx } from './http.js';
import type { RequestLog } from './request-log.js';
import { mergeSettings, type FaultRule, type FaultSettings } from './faults/settings.js';
import { Prng } from './faults/prng.js';
import { ShapedBody, type Stall } from './faults/shape.js';
import { s3Error, s3ErrorFor } from './faults/s3-errors.js';

export type { FaultRule, FaultSettings } from './faults/settings.js';
export { SettingsError } from './faults/settings.js';

export type Origin = 'api' | 'blob';

interface RuleState {
  rule: FaultRule;
  regex: RegExp;
  /** What is left of `count`; undefined = unlimited. */
  remaining?: number;
  fired: number;
}

/** What the rules decided for one request's body. */
interface BodyEffects {
  resetAfterBytes?: number;
  stalls: Stall[];
}

/** Requests of the control endpoint are exempt from every fault (and from the request log). */
export function isControlRequest(ctx: Pick<Ctx, 'apiPath'>): boolean {
  return /^control(\/|$)/.test(ctx.apiPath);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class Faults implements Shaping {
  private settings: FaultSettings = {};
  private rules: RuleState[] = [];
  private prng!: Prng;
  private readonly effects = new WeakMap<IncomingMessage, BodyEffects>();

  constructor(private readonly requestLog: RequestLog) {
    this.reset();
  }

  /** Merge settings (the control endpoint's POST): keys given replace, `rules` replaces the list, null removes. */
  set(input: Record<string, unknown>): void {
    const next = mergeSettings(this.settings, input);
    if (input.seed !== undefined && input.seed !== null) this.prng = new Prng(next.seed!);
    if (input.seed === null) next.seed = this.newSeed();
    if (input.rules !== undefined) {
      this.rules = (next.rules ?? []).map((rule) => ({ rule, regex: new RegExp(rule.path), remaining: rule.count, fired: 0 }));
    }
    this.settings = next;
  }

  /** Back to no faults at all (with a fresh random seed). */
  reset(): void {
    this.settings = { seed: this.newSeed() };
    this.rules = [];
  }

  /** A random seed, and a generator started from it. */
  private newSeed(): number {
    const seed = randomInt(2 ** 31);
    this.prng = new Prng(seed);
    return seed;
  }

  /** The current settings, with what is left of each rule's count and how often it fired. */
  view(): Record<string, unknown> {
    const { rules: _rules, ...rest } = this.settings;
    void _rules;
    return {
      ...rest,
      rules: this.rules.map((r) => ({ ...r.rule, count: r.remaining, fired: r.fired })),
    };
  }

  async beforeRequest(ctx: Ctx, origin: Origin = 'api'): Promise<boolean> {
    if (origin === 'api' && isControlRequest(ctx)) return false;
    const method = ctx.req.method ?? 'GET';
    const target = ctx.url.pathname + ctx.url.search;
    let delay = this.settings.latencyMs ?? 0;
    let answer: FaultRule | undefined;
    const effects: BodyEffects = { stalls: [] };
    let hasEffects = false;
    for (const r of this.rules) {
      const { rule } = r;
      if (rule.origin !== undefined && rule.origin !== origin) continue;
      if (rule.method !== undefined && rule.method !== method) continue;
      if (!r.regex.test(target)) continue;
      if (r.remaining !== undefined && r.remaining <= 0) continue;
      if (rule.probability !== undefined && this.prng.next() >= rule.probability) continue;
      if (r.remaining !== undefined) r.remaining -= 1;
      r.fired += 1;
      delay += rule.latencyMs ?? 0;
      if (rule.resetAfterBytes !== undefined) {
        effects.resetAfterBytes = Math.min(effects.resetAfterBytes ?? Infinity, rule.resetAfterBytes);
        hasEffects = true;
      }
      if (rule.stallMs !== undefined) {
        effects.stalls.push({ afterBytes: rule.stallAfterBytes ?? 0, ms: rule.stallMs });
        hasEffects = true;
      }
      if (rule.status !== undefined) {
        answer = rule;
        break;
      }
    }
    if (hasEffects) this.effects.set(ctx.req, effects);
    if (delay > 0) await sleep(delay);
    if (!answer) return false;
    this.answer(ctx, origin, answer);
    return true;
  }

  /** The injected error: the real server's JSON shapes on the API origin, S3's XML on the blob origin. */
  private answer(ctx: Ctx, origin: Origin, rule: FaultRule): void {
    const status = rule.status!;
    const headers: Record<string, string> = {};
    if (rule.retryAfter !== undefined) headers['Retry-After'] = String(Math.round(rule.retryAfter));
    // Drain an unread request body so the connection stays usable.
    ctx.req.resume();
    if (origin === 'blob') {
      const { code, message } = s3ErrorFor(status);
      s3Error(ctx, status, code, message, headers);
      return;
    }
    if (status === 500) {
      const err = internalError();
      sendJson(ctx, err.status, err.body, headers);
      return;
    }
    sendJson(ctx, status, { status: 'ERROR', message: injectedMessage(status) }, headers);
  }

  wrapBody(ctx: Ctx, body: Readable): Readable {
    if (isControlRequest(ctx)) return body;
    const effects = this.effects.get(ctx.req);
    // The hot path: no cap and no effects, the body goes out untouched.
    if (!effects && this.settings.bandwidthBytesPerSec === undefined) return body;
    if (effects) ctx.res.flushHeaders();
    const shaped = new ShapedBody({
      res: ctx.res,
      rate: () => this.settings.bandwidthBytesPerSec,
      resetAfterBytes: effects?.resetAfterBytes,
      stalls: effects?.stalls ?? [],
    });
    pipeline(body, shaped, () => {});
    return shaped;
  }

  ignoreRange(): boolean {
    return this.settings.noRange === true;
  }

  redirectDownloads(): boolean {
    return this.settings.redirect === true;
  }

  /** The request log this server keeps (the control endpoint reads it). */
  get log(): RequestLog {
    return this.requestLog;
  }
}

/** Messages of injected errors other than 500, in the standard error envelope. */
function injectedMessage(status: number): string {
  switch (status) {
    case 429:
      return 'Too many requests. Please try again later.';
    case 503:
      return 'Service Unavailable';
    default:
      return `Injected fault: HTTP ${status}`;
  }
}
