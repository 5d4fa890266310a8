// Assembles the Dataverse-compatible server: store, router, auth, fault
// hooks, request log. `startServer` is what `dvfs serve` and tests use.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiError, apiError, internalError, jaxrsError, Router, sendJson, type Ctx } from './http.js';
import { BAD_API_KEY, requestToken, userForToken } from './auth.js';
import { defaultConfig, type ServerConfig } from './config.js';
import { Store } from './store.js';
import { Faults, isControlRequest } from './faults.js';
import { RequestLog } from './request-log.js';
import { registerRoutes } from './routes/index.js';
import { bootstrap } from './bootstrap.js';
import { resumeIngests } from './ingest.js';
import { BlobOrigin } from './blob-origin.js';
import { isoSeconds } from './json.js';

export interface ServeOptions {
  dataDir: string;
  port?: number;
  host?: string;
  /** Partial overrides of the configuration (tests, flags). */
  config?: Partial<Omit<ServerConfig, 'shaping' | 'publicUrl'>>;
  /** Fault settings to start with (same keys as the control endpoint). */
  faults?: Record<string, unknown>;
  log?: (line: string) => void;
}

export interface RunningServer {
  url: string;
  store: Store;
  config: ServerConfig;
  faults: Faults;
  requestLog: RequestLog;
  close(): Promise<void>;
}

export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  const log = opts.log ?? (() => {});
  const store = new Store(opts.dataDir);
  await store.load();
  const requestLog = new RequestLog();
  const faults = new Faults(requestLog);
  if (opts.faults) faults.set(opts.faults);
  const config: ServerConfig = { ...defaultConfig(faults), ...opts.config, shaping: faults };
  await bootstrap(store, config);
  // Tabular ingests that were pending when the server stopped: finish or re-arm them.
  resumeIngests(store, log);

  const router = new Router();
  registerRoutes(router, { faults, requestLog, log });

  const host = opts.host ?? '127.0.0.1';
  const server = http.createServer((req, res) => {
    void handle(req, res);
  });
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 65_000;

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', config.publicUrl);
    const m = /^\/api(?:\/v1)?(?:\/(.*))?$/.exec(url.pathname);
    const ctx: Ctx = {
      req,
      res,
      url,
      apiPath: m?.[1] ?? '',
      params: {},
      query: url.searchParams,
      tokenSent: false,
      store,
      config,
    };
    const token = requestToken(ctx);
    ctx.tokenSent = token !== undefined;
    // The control endpoint is exempt from faults and from the request log it serves.
    const control = isControlRequest(ctx);
    if (!control) ctx.logEntry = requestLog.begin(ctx, 'api');
    try {
      if (!control && (await faults.beforeRequest(ctx))) return;
      if (!m) throw jaxrsError(ctx, 404);
      const found = router.match(req.method ?? 'GET', ctx.apiPath.replace(/\/$/, ''));
      if (found === undefined) throw jaxrsError(ctx, 404);
      if (found === 'methodMismatch') throw jaxrsError(ctx, 405);
      ctx.params = found.params;
      if (token !== undefined && found.route.auth !== false) {
        const user = userForToken(store, token);
        if (!user) throw apiError(401, BAD_API_KEY);
        user.lastApiUseTime = isoSeconds();
        ctx.user = user;
      }
      await found.route.handler(ctx);
    } catch (e) {
      const err = e instanceof ApiError ? e : internalError();
      if (!(e instanceof ApiError)) log(`internal error on ${req.method} ${url.pathname}: ${(e as Error).stack ?? e}`);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // Drain an unread request body so the connection stays usable.
      req.resume();
      sendJson(ctx, err.status, err.body, err.headers);
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  config.publicUrl = `http://${host}:${port}`;

  const blobOrigin = new BlobOrigin(store, config, faults, requestLog);
  config.blobOrigin = await blobOrigin.listen(host);

  return {
    url: config.publicUrl,
    store,
    config,
    faults,
    requestLog,
    async close() {
      await blobOrigin.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await store.commit();
    },
  };
}
