// `dvfs serve`: the built-in Dataverse-compatible server.
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startServer } from '../server/server.js';
import { FAULT_FLAG_HELP, faultConfigFromFlags, faultOptionsFromFlags, FAULT_FLAG_SPEC } from '../server/fault-flags.js';
import { seedDemo } from '../server/seed/demo.js';
import { lockDir } from './state-lock.js';

const HELP = `Usage: dvfs serve [options]

Runs a Dataverse-compatible HTTP server on 127.0.0.1 (the embedded default
for 'dvfs demo', the tests and the benchmarks). It answers /api/... and
/api/v1/... like Dataverse 6.11 and keeps everything in --data-dir.

Options:
  --port N              port to listen on (default 8080; 0 picks a free port)
  --host ADDR           address to listen on (default 127.0.0.1)
  --data-dir DIR        where state and uploaded bytes live
                        (default ~/.local/share/dvfs/serve)
  --seed demo           build the demonstration installation (once; a seeded
                        data directory is reused as it is)
  --ingest-seconds N    how long the Ingest lock of a tabular upload lasts (default 3)
  --publish-seconds N   how long the finalizePublication lock lasts (default 1)
  --version-string V    what /api/info/version reports (default 6.11)
  --max-upload-bytes N  :MaxFileUploadSizeInBytes (default: no limit)
  --zip-files-limit N   :ZipUploadFilesLimit, entries an uploaded zip may unpack to (default 1000)
  --exit-on-stdin-close stop when standard input reaches its end ('dvfs demo' starts
                        its server so: the server never outlives a killed demo)
${FAULT_FLAG_HELP}`;

export async function runServe(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string', default: '8080' },
      host: { type: 'string', default: '127.0.0.1' },
      'data-dir': { type: 'string' },
      seed: { type: 'string' },
      'ingest-seconds': { type: 'string' },
      'publish-seconds': { type: 'string' },
      'version-string': { type: 'string' },
      'max-upload-bytes': { type: 'string' },
      'zip-files-limit': { type: 'string' },
      'exit-on-stdin-close': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
      ...FAULT_FLAG_SPEC,
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (values.seed !== undefined && values.seed !== 'demo') {
    console.error(`dvfs serve: unknown seed '${values.seed}' (the only seed is 'demo')`);
    return 2;
  }
  const dataDir = path.resolve(
    values['data-dir'] ?? path.join(process.env.XDG_DATA_HOME ?? path.join(os.homedir(), '.local', 'share'), 'dvfs', 'serve'),
  );
  const num = (name: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} needs a non-negative number, got '${v}'`);
    return n;
  };
  const config: Record<string, unknown> = {};
  if (values['ingest-seconds'] !== undefined) config.ingestSeconds = num('ingest-seconds', values['ingest-seconds']);
  if (values['publish-seconds'] !== undefined) config.publishSeconds = num('publish-seconds', values['publish-seconds']);
  if (values['version-string'] !== undefined) config.version = values['version-string'];
  if (values['max-upload-bytes'] !== undefined) config.maxFileUploadSize = num('max-upload-bytes', values['max-upload-bytes']);
  if (values['zip-files-limit'] !== undefined) config.zipUploadFilesLimit = num('zip-files-limit', values['zip-files-limit']);
  Object.assign(config, faultConfigFromFlags(values as Record<string, unknown>));

  // Started before the seeding: a parent that dies while the demo data is built still stops us
  // (once the seeding is done, so that the data directory is never left half seeded).
  const parentGone = values['exit-on-stdin-close']
    ? new Promise<void>((resolve) => {
        process.stdin.once('end', resolve);
        process.stdin.once('close', resolve);
        process.stdin.once('error', () => resolve());
        process.stdin.resume();
      })
    : new Promise<void>(() => {});

  // One server per data directory: two would overwrite each other's state.json.
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const lock = await lockDir(dataDir, 'dvfs serve', 'the data directory', 'stop it first, or give this server its own --data-dir');
  try {
    const server = await startServer({
      dataDir,
      port: num('port', values.port),
      host: values.host,
      config,
      faults: faultOptionsFromFlags(values as Record<string, unknown>),
      log: (line) => console.error(`dvfs serve: ${line}`),
    });
    if (values.seed === 'demo') {
      try {
        await seedDemo(server, (line) => console.log(line));
      } catch (e) {
        await server.close();
        throw e;
      }
    }

    console.log(`dvfs serve: listening on ${server.url} (data in ${dataDir})`);
    if (server.config.blobOrigin) console.log(`dvfs serve: blob origin for redirect mode on ${server.config.blobOrigin}`);

    await Promise.race([
      parentGone,
      new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      }),
    ]);
    await server.close();
    return 0;
  } finally {
    await lock.release();
  }
}
