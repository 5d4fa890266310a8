// `dvfs publish <dataset folder in a mount> [--minor|--major]`: upload what
// is pending for the dataset, publish its draft, wait until the server has
// finished (no locks), and let the mount show the new version.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { callMount, mountOf } from './control-client.js';
import type { PublishReport } from './control-server.js';

const HELP = `Usage: dvfs publish <path of a dataset in the mount> [--major|--minor]

Publishes the dataset's draft: first uploads the changes still pending for
it, then asks the server to publish (--major, the default: 1.0, 2.0, …;
--minor: 1.1, 1.2, … when only metadata changed — the server refuses a minor
version when files changed), and waits until publication is finished. The
dataset folder then shows the new version, and 'latest' points at it.`;

export async function runPublish(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      major: { type: 'boolean', default: false },
      minor: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || positionals.length !== 1 || (values.major && values.minor)) {
    // --help is asked for (stdout); a usage mistake is an error (stderr).
    (values.help ? console.log : console.error)(HELP);
    return values.help ? 0 : 2;
  }
  const target = path.resolve(positionals[0]);
  const found = await mountOf(target);
  if (!found) {
    console.error(`dvfs publish: ${target} is not inside a running dvfs mount`);
    return 1;
  }
  const type = values.minor ? 'minor' : 'major';
  try {
    const r = await callMount<PublishReport>(found.runtime, 'POST', '/publish', { path: found.inside, type });
    console.log(`dvfs: published ${r.pid} as version ${r.version}`);
    return 0;
  } catch (e) {
    console.error(`dvfs publish: ${(e as Error).message}`);
    return 1;
  }
}
