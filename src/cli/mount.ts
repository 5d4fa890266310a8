// `dvfs mount <server-url> <mountpoint>`: mount a Dataverse installation in the foreground.
import { createHash } from 'node:crypto';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
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
  --read-only             refuse every write (the default until drafts are writable)
  --allow-other           let other users see the mount (needs user_allow_other in /etc/fuse.conf)
  --debug                 log every failing operation and libfuse's own debug output`;

export interface MountSettings {
  serverUrl: string;
  mountpoint: string;
  root: string;
  token?: string;
  tokenFile?: string;
  cacheDir: string;
  cacheMaxBytes: number;
  metadataTtlSeconds: number;
  attrTimeoutSeconds: number;
  tabular: 'original' | 'archival';
  showVariants: boolean;
  readOnly: boolean;
  allowOther: boolean;
  debug: boolean;
}

export function defaultCacheDir(): string {
  return path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'dvfs');
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

/** The per-mount runtime file: lets `dvfs unmount/refresh/status` find the process. */
export function runtimeFile(cacheDir: string, mountpoint: string): string {
  const h = createHash('sha256').update(path.resolve(mountpoint)).digest('hex').slice(0, 16);
  return path.join(cacheDir, 'mounts', `${h}.json`);
}

const log = (line: string) => console.error(`dvfs: ${line}`);

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
    const serverDir = path.join(settings.cacheDir, createHash('sha256').update(client.transport.origin).digest('hex').slice(0, 12));
    await mkdir(settings.cacheDir, { recursive: true, mode: 0o700 });
    await chmod(settings.cacheDir, 0o700);
    const cache = await openBlockCache({ dir: serverDir, maxBytes: settings.cacheMaxBytes, client, log });
    const readahead = new FolderReadahead(cache);
    const ops = makeOperations({
      ns,
      cache,
      readahead,
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
    const runtime = runtimeFile(settings.cacheDir, settings.mountpoint);
    await mkdir(path.dirname(runtime), { recursive: true, mode: 0o700 });
    await writeFile(runtime, JSON.stringify({ pid: process.pid, mountpoint: settings.mountpoint, server: client.transport.origin }) + '\n');
    const who = token ? 'with your API token' : 'as a guest (no token)';
    console.log(`dvfs: mounted ${settings.serverUrl} (Dataverse ${version.version}) at ${settings.mountpoint} ${who}; Ctrl-C unmounts`);
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
      })();
    });
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    log(`unmounting ${settings.mountpoint}…`);
    await mounted.unmount().catch((e: unknown) => log(`unmount: ${(e as Error).message}`));
    await rm(runtime, { force: true });
    readahead.clear();
    await cache.close();
    console.log(`dvfs: unmounted ${settings.mountpoint}`);
    return 0;
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
