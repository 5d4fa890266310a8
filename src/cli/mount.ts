// `dvfs mount <server-url> <mountpoint>`: mount a Dataverse installation in the foreground.
import { createHash } from 'node:crypto';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DataverseClient } from '../dataverse/client.js';
import { DataverseError } from '../dataverse/errors.js';
import { MetadataCache } from '../cache/metadata-cache.js';
import { Namespace } from '../tree/namespace.js';
import { makeOperations } from '../fs/operations.js';
import { mountFs } from '../fs/mount.js';
import { openBlockCache } from './cache-setup.js';
import { FolderReadahead } from '../cache/folder-readahead.js';
import { parseSize } from './sizes.js';
import { defaultCacheDir, processStart, runtimeFile, socketFile } from './runtime.js';
import { closeWriter, openWriter, type MountWriter } from './mount-writer.js';
import { startControlServer } from './control-server.js';
import { makeControlHandlers } from './mount-control.js';

export { defaultCacheDir, runtimeFile } from './runtime.js';

const HELP = `Usage: dvfs mount <server-url> <mountpoint> [options]

Mounts a Dataverse installation (or one collection or dataset of it) at
<mountpoint> and stays in the foreground; Ctrl-C (or 'dvfs unmount') unmounts.

The API token is read from the environment variable DATAVERSE_API_TOKEN or
from --token-file, never from the command line. Without a token you see what
a guest sees (published data).

Options:
  --root ALIAS|PID        mount this collection alias or dataset PID (default :root)
  --token-file FILE       read the API token from FILE (re-read on SIGHUP)
  --cache-dir DIR         block cache (default ~/.cache/dvfs; mode 0700)
  --cache-max-size SIZE   cap of the block cache, e.g. 500M, 20G (default 10G)
  --metadata-ttl SECONDS  how long listings of drafts and collections are trusted (default 60)
  --attr-timeout SECONDS  kernel attribute cache (default 5)
  --tabular original|archival  ingested tables as the uploaded original (default) or as .tab
  --show-variants         list the hidden <file>@<variant> entries too
  --quiet-period SECONDS  after the last close of a written file, wait this long before uploading it (default 3)
  --stream-from SIZE|off  a new file written front to back is uploaded while it is written once it has SIZE
                          bytes, and lands right after its close (default 64M; off: after the quiet period)
  --local-only GLOB       files with such names stay local, never uploaded (repeatable; added to
                          the editor and desktop junk: .~lock.*#, *.swp, .DS_Store, ._*, ~$*)
  --read-only             refuse every write, drafts included
  --allow-other           let other users see the mount (needs user_allow_other in /etc/fuse.conf)
  --debug                 log every failing operation and libfuse's own debug output`;

export interface MountSettings {
  serverUrl: string;
  mountpoint: string;
  root: string;
  token?: string;
  tokenFile?: string;
  cacheDir: string;
  /**
   * The folder of this mount's block cache and write journal. Default: one per server under
   * cacheDir, named by a hash of the server's origin. `dvfs demo` gives its own (its server's
   * port changes at every run, its data directory does not).
   */
  serverDir?: string;
  cacheMaxBytes: number;
  metadataTtlSeconds: number;
  attrTimeoutSeconds: number;
  tabular: 'original' | 'archival';
  showVariants: boolean;
  /** Quiet period after the last close before an upload starts. */
  quietSeconds: number;
  /** Size at which a new file written front to back starts uploading while it is written (Infinity: never; default 64 MiB). */
  streamFromBytes?: number;
  /** Globs of names that stay local (added to the default junk patterns). */
  localOnly: string[];
  readOnly: boolean;
  allowOther: boolean;
  debug: boolean;
}

/** --stream-from: at least 1 MiB (a stream holds a connection; small files gain nothing from it). */
function streamFrom(v: string): number {
  const n = parseSize(v, '--stream-from');
  if (n < 1 << 20) throw new Error(`--stream-from must be at least 1M (or off), got '${v}'`);
  return n;
}

export async function runMount(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      root: { type: 'string', default: ':root' },
      'token-file': { type: 'string' },
      'cache-dir': { type: 'string' },
      'cache-max-size': { type: 'string', default: '10G' },
      'metadata-ttl': { type: 'string', default: '60' },
      'attr-timeout': { type: 'string', default: '5' },
      tabular: { type: 'string', default: 'original' },
      'show-variants': { type: 'boolean', default: false },
      'quiet-period': { type: 'string', default: '3' },
      'stream-from': { type: 'string', default: '64M' },
      'local-only': { type: 'string', multiple: true, default: [] },
      'read-only': { type: 'boolean', default: false },
      'allow-other': { type: 'boolean', default: false },
      debug: { type: 'boolean', default: false },
      token: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (values.token !== undefined) {
    console.error('dvfs mount: a token on the command line would be visible to every user (ps); use DATAVERSE_API_TOKEN or --token-file');
    return 2;
  }
  if (positionals.length !== 2) {
    console.error(`dvfs mount: need <server-url> and <mountpoint>\n\n${HELP}`);
    return 2;
  }
  if (!isServerUrl(positionals[0])) {
    console.error(`dvfs mount: '${positionals[0]}' is not a server URL; give the installation's address with its scheme, like https://demo.dataverse.org`);
    return 2;
  }
  if (values.tabular !== 'original' && values.tabular !== 'archival') {
    console.error(`dvfs mount: --tabular is 'original' or 'archival', not '${values.tabular}'`);
    return 2;
  }
  const settings: MountSettings = {
    serverUrl: positionals[0],
    mountpoint: path.resolve(positionals[1]),
    root: values.root!,
    tokenFile: values['token-file'],
    cacheDir: path.resolve(values['cache-dir'] ?? defaultCacheDir()),
    cacheMaxBytes: parseSize(values['cache-max-size']!, '--cache-max-size'),
    metadataTtlSeconds: positiveNumber(values['metadata-ttl']!, '--metadata-ttl'),
    attrTimeoutSeconds: positiveNumber(values['attr-timeout']!, '--attr-timeout'),
    tabular: values.tabular,
    showVariants: values['show-variants']!,
    quietSeconds: positiveNumber(values['quiet-period']!, '--quiet-period'),
    streamFromBytes: values['stream-from'] === 'off' ? Infinity : streamFrom(values['stream-from']!),
    localOnly: values['local-only']!,
    readOnly: values['read-only']!,
    allowOther: values['allow-other']!,
    debug: values.debug!,
  };
  return mountAndWait(settings);
}

function positiveNumber(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${flag} needs a number of seconds, got '${v}'`);
  return n;
}

async function loadToken(settings: MountSettings): Promise<string | undefined> {
  if (settings.tokenFile) {
    const t = (await readFile(settings.tokenFile, 'utf8')).trim();
    if (!t) throw new Error(`the token file ${settings.tokenFile} is empty`);
    return t;
  }
  if (settings.token) return settings.token;
  const env = process.env.DATAVERSE_API_TOKEN?.trim();
  return env || undefined;
}

const log = (line: string) => console.error(`dvfs: ${line}`);

/** An http(s) URL (a bare host or a path is a mistake to name before any request). */
function isServerUrl(s: string): boolean {
  try {
    return ['http:', 'https:'].includes(new URL(s).protocol);
  } catch {
    return false;
  }
}

/** Mount, print what happened, and stay until SIGINT/SIGTERM. */
export async function mountAndWait(settings: MountSettings, onReady?: () => void): Promise<number> {
  let token = await loadToken(settings);
  const client = new DataverseClient({
    baseUrl: settings.serverUrl,
    token: () => token,
    onRetry: (r) => {
      if (settings.debug) log(`retry ${r.attempt} of ${r.request} in ${r.delayMs} ms: ${r.reason}`);
    },
  });
  try {
    const version = await client.version();
    if (token) {
      await client.me();
      const expires = await client.tokenExpiry().catch(() => undefined);
      const days = expires ? (expires.getTime() - Date.now()) / 86_400_000 : Infinity;
      if (days < 30) log(`warning: the API token expires on ${expires!.toISOString().slice(0, 10)} (${Math.max(0, Math.floor(days))} days); create a new one in the Dataverse UI`);
    }
    const meta = new MetadataCache({ ttlMs: settings.metadataTtlSeconds * 1000 });
    const ns = new Namespace(client, meta, {
      root: settings.root,
      tabular: settings.tabular,
      showVariants: settings.showVariants,
      guest: !token,
    });
    await ns.init();
    const serverDir = settings.serverDir ?? path.join(settings.cacheDir, createHash('sha256').update(client.transport.origin).digest('hex').slice(0, 12));
    await mkdir(settings.cacheDir, { recursive: true, mode: 0o700 });
    await chmod(settings.cacheDir, 0o700);
    const cache = await openBlockCache({ dir: serverDir, maxBytes: settings.cacheMaxBytes, client, log });
    const readahead = new FolderReadahead(cache);
    // Drafts are writable with a token, unless --read-only.
    let w: MountWriter | undefined;
    if (token && !settings.readOnly) {
      w = await openWriter({
        client,
        ns,
        cache,
        serverDir,
        mountpoint: settings.mountpoint,
        quietMs: settings.quietSeconds * 1000,
        streamFromBytes: settings.streamFromBytes,
        tabular: settings.tabular,
        localOnly: settings.localOnly,
        log,
      });
      ns.attachDrafts(w.writer);
      const r = w.recovered;
      if (r.entries) log(`write journal (${w.stateDir}): finishing ${r.entries} change(s) left by the last mount`);
    }
    const runtime = runtimeFile(settings.mountpoint);
    const socket = socketFile(settings.mountpoint);
    let control: { close(): Promise<void> } | undefined;
    // Set once this process registered the mount: a failed attempt must not remove another mount's file.
    let registered = false;
    try {
      const ops = makeOperations({
        ns,
        cache,
        readahead,
        writer: w?.writer,
        probeAccess: async (source) => {
          await client.readRange({ fileId: source.fileId, query: source.query, start: 0, end: 1 });
        },
        log: (line) => log(line),
      });
      const mounted = await mountFs(settings.mountpoint, ops, {
        allowOther: settings.allowOther,
        debug: settings.debug,
        attrTimeoutSeconds: settings.attrTimeoutSeconds,
        readOnly: settings.readOnly,
      });

      // Unmount: Ctrl-C, SIGTERM or `dvfs unmount`; a second request (or --force) stops waiting for uploads.
      let closing = false;
      let forced = false;
      let requestUnmount!: () => void;
      let requestForce!: () => void;
      const unmountRequested = new Promise<void>((r) => (requestUnmount = r));
      const forceRequested = new Promise<void>((r) => (requestForce = r));
      const unmount = (force: boolean) => {
        if (force) {
          forced = true;
          requestForce();
        }
        requestUnmount();
      };
      // Ctrl-C (or SIGTERM) again while unmount waits for uploads: stop waiting.
      const onSignal = () => unmount(closing);
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);

      await mkdir(path.dirname(runtime), { recursive: true, mode: 0o700 });
      control = await startControlServer(
        socket,
        makeControlHandlers({
          mountpoint: settings.mountpoint,
          server: client.transport.origin,
          client,
          ns,
          cache,
          cacheDir: serverDir,
          cacheMaxBytes: settings.cacheMaxBytes,
          writer: w?.writer,
          quietSeconds: settings.quietSeconds,
          closing: () => closing,
          unmount,
          log,
        }),
        log,
      );
      await writeFile(runtime, JSON.stringify({ pid: process.pid, started: processStart(process.pid), mountpoint: settings.mountpoint, server: client.transport.origin, socket }) + '\n', { mode: 0o600 });
      registered = true;
      const who = token ? 'with your API token' : 'as a guest (no token)';
      const mode = w ? '; drafts you may edit are writable' : settings.readOnly ? '; read-only' : '';
      console.log(`dvfs: mounted ${settings.serverUrl} (Dataverse ${version.version}) at ${settings.mountpoint} ${who}${mode}; Ctrl-C unmounts`);
      onReady?.();

      process.on('SIGHUP', () => {
        void (async () => {
          try {
            token = await loadToken(settings);
          } catch (e) {
            log(`SIGHUP: could not re-read the token: ${(e as Error).message}`);
          }
          ns.refresh();
          log('SIGHUP: listings refreshed' + (settings.tokenFile ? ' and token re-read' : ''));
          // A new token that the server rejects would show only as EACCES everywhere: say so once, here.
          if (settings.tokenFile && token) {
            await client.me().then(
              () => undefined,
              (e: unknown) => log(`SIGHUP: the server rejects the token in ${settings.tokenFile}: ${e instanceof DataverseError ? explain(e, settings) : (e as Error).message}`),
            );
          }
        })();
      });
      await unmountRequested;
      closing = true;
      log(`unmounting ${settings.mountpoint}…`);
      await mounted.unmount().catch((e: unknown) => log(`unmount: ${(e as Error).message}`));
      let code = 0;
      if (w) {
        const { result, forced: gaveUp } = await closeWriter(w.writer, { requested: () => forced, promise: forceRequested }, log);
        const left = result.pending.filter((i) => i.op !== 'local' && i.op !== 'folder');
        for (const f of result.failed) log(`FAILED ${f.path} (dataset ${f.datasetId}): ${f.error}; kept in the write journal, tried again at the next mount`);
        if (gaveUp && left.length) log(`${left.length} change(s) left in the write journal (${w.stateDir}); the next mount finishes them`);
        if (result.failed.length) code = 1;
      }
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      readahead.clear();
      await cache.close();
      console.log(`dvfs: unmounted ${settings.mountpoint}`);
      return code;
    } finally {
      if (registered) await rm(runtime, { force: true });
      await control?.close().catch(() => {});
      await w?.lock.release();
    }
  } catch (e) {
    if (e instanceof DataverseError) {
      console.error(`dvfs mount: ${explain(e, settings)}`);
      return 1;
    }
    throw e;
  } finally {
    await client.close();
  }
}

/** A clear sentence for the errors a user meets at mount time. */
function explain(e: DataverseError, settings: MountSettings): string {
  if (e.kind === 'badToken') {
    const where = settings.tokenFile ? `the token in ${settings.tokenFile}` : 'DATAVERSE_API_TOKEN';
    return `the server rejected the API token (401 Bad API key): ${where} is wrong, expired or revoked. Create a new token in the Dataverse UI (your name → API Token) and try again.`;
  }
  if (e.kind === 'network') return `cannot reach ${settings.serverUrl}: ${e.message}`;
  if (e.kind === 'notFound') return `${settings.root} was not found on ${settings.serverUrl}: ${e.message}`;
  if (e.kind === 'unauthorized' || e.kind === 'forbidden') return `${settings.root} is not visible to ${settings.tokenFile || process.env.DATAVERSE_API_TOKEN ? 'this token' : 'guests (set DATAVERSE_API_TOKEN)'}: ${e.message}`;
  return e.describe();
}
