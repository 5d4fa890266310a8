#!/usr/bin/env node
// dvfs command line: one subcommand per file in this folder.

const USAGE = `dvfs — mount a Dataverse repository as folders

Usage:
  dvfs demo [mountpoint]                                               start the built-in server with demo data and mount it
  dvfs mount <server-url> <mountpoint> [options]                        mount a Dataverse installation (foreground)
  dvfs unmount <mountpoint> [--force]                                  unmount (waits for pending uploads; --force leaves them for the next mount)
  dvfs status [mountpoint]                                             pending uploads, failures, cache usage, request counters
  dvfs sync <mountpoint>                                               upload every pending change now and wait
  dvfs publish <dataset folder> [--major|--minor]                      publish a dataset's draft and wait until it is done
  dvfs refresh <mountpoint>                                            forget cached listings of drafts and collections
  dvfs serve [--port N] [--data-dir DIR] [--seed demo] [fault flags]   run the built-in Dataverse-compatible server
  dvfs help                                                             this text

Run 'dvfs <command> --help' for the flags of a command.`;

// Each command loads only its own modules (a `dvfs status` or `dvfs sync` starts in a fraction of the time).
const commands: Record<string, () => Promise<(args: string[]) => Promise<number>>> = {
  serve: async () => (await import('./serve.js')).runServe,
  mount: async () => (await import('./mount.js')).runMount,
  unmount: async () => (await import('./unmount.js')).runUnmount,
  refresh: async () => (await import('./unmount.js')).runRefresh,
  status: async () => (await import('./status.js')).runStatus,
  sync: async () => (await import('./sync.js')).runSync,
  publish: async () => (await import('./publish.js')).runPublish,
  demo: async () => (await import('./demo.js')).runDemo,
};

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    console.log(USAGE);
    return cmd ? 0 : 2;
  }
  const load = commands[cmd];
  if (!load) {
    console.error(`dvfs: unknown command '${cmd}'\n\n${USAGE}`);
    return 2;
  }
  const run = await load();
  try {
    return await run(rest);
  } catch (e) {
    // An unknown flag or a flag without its value is a usage error, like the commands' own (exit 2).
    if ((e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS_')) {
      console.error(`dvfs ${cmd}: ${(e as Error).message} (dvfs ${cmd} --help lists the flags)`);
      return 2;
    }
    throw e;
  }
}

// Exit explicitly: the FUSE binding's thread or a pending timer must not keep
// a finished command alive (stdout and stderr are synchronous on pipes and files).
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`dvfs: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
