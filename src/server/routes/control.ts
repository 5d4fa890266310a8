// The control endpoint of the test server (not part of Dataverse): set faults
// and read the request log at run time. Loopback clients only, no token, and
// exempt from faults and from the request log itself (server.ts skips both).
//
//   GET    /api/control/faults             current settings, rules with remaining counts
//   POST   /api/control/faults             merge settings (JSON; `rules` replaces, null removes a key)
//   DELETE /api/control/faults             back to no faults
//   GET    /api/control/requests?since=N   {"last":N,"entries":[…]} (entries with seq > N)
//   DELETE /api/control/requests           empty the log
//   POST   /api/control/locks/{datasetId}?type=EditInProgress&seconds=N[&user=U][&message=M]
import { apiError, ok, okMessage, readBody, type Ctx, type Router } from '../http.js';
import type { RouteDeps } from './index.js';
import { SettingsError } from '../faults.js';
import { addLock } from '../locks.js';
import { lockJson } from '../json.js';
import { LOCK_TYPES, type LockType } from '../model.js';

/** Whether a socket's remote address is the loopback interface (127.0.0.0/8, ::1, or v4-mapped 127.x). */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4)) return true;
  return address === '::1' || address === '0:0:0:0:0:0:0:1';
}

function loopbackOnly(ctx: Ctx): void {
  if (!isLoopbackAddress(ctx.req.socket.remoteAddress)) {
    throw apiError(403, 'The control endpoint answers loopback clients only.');
  }
}

export function registerControlRoutes(router: Router, deps: RouteDeps): void {
  const { faults, requestLog } = deps;
  const route = (method: 'get' | 'post' | 'delete', pattern: string, handler: (ctx: Ctx) => Promise<void> | void) =>
    router[method](
      pattern,
      async (ctx) => {
        loopbackOnly(ctx);
        await handler(ctx);
      },
      { auth: false },
    );

  route('get', 'control/faults', (ctx) => ok(ctx, faults.view()));

  route('post', 'control/faults', async (ctx) => {
    const text = (await readBody(ctx)).toString('utf8');
    let input: unknown;
    try {
      input = text.trim() === '' ? {} : JSON.parse(text);
    } catch {
      throw apiError(400, 'Error parsing Json: invalid JSON');
    }
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      throw apiError(400, 'fault settings must be a JSON object');
    }
    try {
      faults.set(input as Record<string, unknown>);
    } catch (e) {
      if (e instanceof SettingsError) throw apiError(400, e.message);
      throw e;
    }
    deps.log(`faults set: ${JSON.stringify(faults.view())}`);
    ok(ctx, faults.view());
  });

  route('delete', 'control/faults', (ctx) => {
    faults.reset();
    ok(ctx, faults.view());
  });

  route('get', 'control/requests', (ctx) => {
    const sinceText = ctx.query.get('since') ?? '0';
    if (!/^\d+$/.test(sinceText)) throw apiError(400, `Bad 'since' value: ${sinceText}`);
    ok(ctx, { last: requestLog.lastSeq(), entries: requestLog.list(Number(sinceText)) });
  });

  route('delete', 'control/requests', (ctx) => {
    requestLog.clear();
    okMessage(ctx, 'Request log cleared.');
  });

  route('post', 'control/locks/:id', async (ctx) => {
    const id = ctx.params.id;
    if (!/^\d+$/.test(id)) throw apiError(400, `Bad dataset ID number: ${id}.`);
    const ds = ctx.store.dataset(Number(id));
    if (!ds) throw apiError(404, `Dataset with ID ${id} not found.`);
    const type = ctx.query.get('type') ?? 'EditInProgress';
    if (!LOCK_TYPES.includes(type as LockType)) throw apiError(400, `Invalid lock type value: ${type}`);
    const secondsText = ctx.query.get('seconds');
    let seconds: number | undefined;
    if (secondsText !== null) {
      seconds = Number(secondsText);
      if (!Number.isFinite(seconds) || seconds <= 0) throw apiError(400, `Bad 'seconds' value: ${secondsText}`);
    }
    const user = ctx.query.get('user') ?? 'dataverseAdmin';
    const lock = addLock(ds, type as LockType, user, ctx.query.get('message') ?? undefined, seconds);
    await ctx.store.commit();
    ok(ctx, lockJson(ds, lock));
  });
}
