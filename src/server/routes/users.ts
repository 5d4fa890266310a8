// /api/info/version, /api/users/*, /api/builtin-users, /api/admin/superuser
// (dataverse-api-notes.md §11, §12).
import { apiError, ok, okMessage, readJson, type Ctx, type Router } from '../http.js';
import { requireAuthenticated } from '../auth.js';
import { userJson } from '../json.js';
import { createUser, newToken, timestampString } from '../users.js';

/** The :BuiltinUsers.KEY of development installations. */
export const BUILTIN_USERS_KEY = 'burrito';

export function registerUserRoutes(router: Router): void {
  router.get(
    'info/version',
    (ctx) => {
      const [version, build] = ctx.config.version.split(/\s+build\s+/);
      ok(ctx, { version, build: build ?? null });
    },
    { auth: false },
  );
  router.get('info/server', (ctx) => okMessage(ctx, new URL(ctx.config.publicUrl).host), { auth: false });

  router.get('users/=:me', (ctx) => {
    if (!ctx.user) throw apiError(400, 'User with token null not found.');
    ok(ctx, userJson(ctx.user));
  });

  router.get('users/token', (ctx) => {
    const user = requireAuthenticated(ctx);
    const t = user.token!;
    okMessage(ctx, `Token ${t.value} expires on ${timestampString(t.expires)}`);
  });

  router.post('users/token/recreate', async (ctx) => {
    const user = requireAuthenticated(ctx);
    user.token = newToken(ctx.config);
    await ctx.store.commit();
    okMessage(ctx, `New token for @${user.username} is ${user.token.value}`);
  });

  router.delete('users/token', async (ctx) => {
    const user = requireAuthenticated(ctx);
    user.token = undefined;
    await ctx.store.commit();
    okMessage(ctx, `Token for @${user.username} deleted.`);
  });

  router.post('builtin-users', async (ctx) => {
    if (ctx.query.get('key') !== BUILTIN_USERS_KEY) {
      throw apiError(401, `Bad key: ${ctx.query.get('key') ?? 'null'}`);
    }
    const password = ctx.query.get('password');
    if (!password) throw apiError(400, 'Password is required');
    const body = await readJson<Record<string, string>>(ctx);
    const username = body.userName ?? body.username;
    if (!username || !/^[A-Za-z0-9._@-]+$/.test(username)) throw apiError(400, `Invalid username: ${username}`);
    if (ctx.store.userByName(username)) throw apiError(400, `username '${username}' already exists`);
    const user = createUser(ctx.store, ctx.config, {
      username,
      firstName: body.firstName ?? username,
      lastName: body.lastName ?? '',
      email: body.email ?? `${username}@mailinator.com`,
      affiliation: body.affiliation,
      position: body.position,
      password,
    });
    await ctx.store.commit();
    ok(ctx, {
      user: { id: user.id, firstName: user.firstName, lastName: user.lastName, userName: user.username, email: user.email },
      authenticatedUser: userJson(user),
      apiToken: user.token!.value,
    });
  }, { auth: false });

  router.get('builtin-users/:username/api-token', (ctx) => {
    const user = ctx.store.userByName(ctx.params.username);
    if (!user || !user.password || user.password !== ctx.query.get('password')) {
      throw apiError(400, `Bad username or password`);
    }
    if (!user.token) user.token = newToken(ctx.config);
    okMessage(ctx, user.token.value);
  }, { auth: false });

  // Toggle or set the superuser flag (superusers only).
  router.put('admin/superuser/:identifier', async (ctx: Ctx) => {
    const caller = requireAuthenticated(ctx);
    if (!caller.superuser) throw apiError(403, 'This API end point can be used by superusers only.');
    const name = ctx.params.identifier.replace(/^@/, '');
    const user = ctx.store.userByName(name);
    if (!user) throw apiError(404, `Can't find user ${name}`);
    const body = (await readJson<unknown>(ctx).catch(() => undefined)) as unknown;
    user.superuser = typeof body === 'boolean' ? body : !user.superuser;
    await ctx.store.commit();
    okMessage(ctx, `User ${user.username} ${user.superuser ? 'is' : 'is not'} a superuser.`);
  });
}
