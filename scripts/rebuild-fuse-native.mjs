// postinstall, after patch-package: rebuild fuse-native from its (patched) C
// file, so the binary that loads is built/Release/fuse.node with the fix of
// native-notes/linux.md ("fuse-native patch") instead of the unpatched prebuild.
// Needs python3, make and a C compiler (Debian: build-essential), and Node's
// headers: those next to this node when they exist, else node-gyp downloads them.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.join(root, 'node_modules', 'fuse-native');
const MARK = 'utimens_time_to_uint64';

if (!readFileSync(path.join(dir, 'fuse-native.c'), 'utf8').includes(MARK)) {
  console.error('rebuild-fuse-native: fuse-native.c is not patched (did patch-package run?)');
  process.exit(1);
}

const prefix = path.resolve(path.dirname(process.execPath), '..');

/** node-gyp as npm runs it for install scripts, else npm's own copy, else the one on PATH. */
function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    process.env.npm_execpath && path.join(path.dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    path.join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  const found = candidates.find((c) => c && existsSync(c));
  return found ? [process.execPath, found] : ['node-gyp'];
}

const args = ['rebuild', '--loglevel=warn'];
// Headers installed with this node (NodeSource, official tarballs) avoid a download from nodejs.org.
if (!process.env.npm_config_nodedir && existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
const [cmd, ...pre] = nodeGyp();
try {
  execFileSync(cmd, [...pre, ...args], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
} catch (e) {
  console.error(`rebuild-fuse-native: node-gyp failed (${e.message.split('\n')[0]}); install python3, make and g++ (Debian: apt-get install build-essential python3)`);
  process.exit(1);
}
const built = path.join(dir, 'build', 'Release', 'fuse.node');
if (!existsSync(built)) {
  console.error(`rebuild-fuse-native: ${built} was not built`);
  process.exit(1);
}
// node-gyp-build loads build/Release before the prebuilds: check that this is the one that loads.
const loads = createRequire(path.join(dir, 'index.js'))('node-gyp-build').path(dir);
if (loads !== built) {
  console.error(`rebuild-fuse-native: fuse-native would load ${loads}, not the rebuilt ${built}`);
  process.exit(1);
}
console.log('rebuild-fuse-native: fuse-native rebuilt with the dvfs patch');
