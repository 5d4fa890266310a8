// Folder names for datasets, derived reversibly from the PID so they are
// stable across remounts and never collide:
//   doi:10.5072/FK2/ABC123  →  doi-10.5072-FK2-ABC123
// The protocol is followed by '-'; in the rest '/' becomes '-', and the rare
// literal '-' and '_' are escaped as '_-' and '__' (so decoding is unambiguous).

const PROTOCOLS = ['doi', 'hdl', 'perma'];

export function datasetFolderName(pid: string): string {
  const colon = pid.indexOf(':');
  const protocol = pid.slice(0, colon);
  const rest = pid.slice(colon + 1);
  let out = '';
  for (const ch of rest) {
    if (ch === '_') out += '__';
    else if (ch === '-') out += '_-';
    else if (ch === '/') out += '-';
    else out += ch;
  }
  return `${protocol}-${out}`;
}

/** The PID a dataset folder name stands for; undefined if the name is not one. */
export function pidFromFolderName(name: string): string | undefined {
  const dash = name.indexOf('-');
  if (dash <= 0 || !PROTOCOLS.includes(name.slice(0, dash))) return undefined;
  let rest = '';
  const s = name.slice(dash + 1);
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch === '_') {
      const next = s[i + 1];
      if (next !== '_' && next !== '-') return undefined;
      rest += next;
      i++;
    } else if (ch === '-') rest += '/';
    else rest += ch;
  }
  return rest ? `${name.slice(0, dash)}:${rest}` : undefined;
}

export function isPid(s: string): boolean {
  return PROTOCOLS.some((p) => s.startsWith(`${p}:`));
}

/** "1.0" for a published version. */
export function versionFolderName(major: number, minor: number): string {
  return `${major}.${minor}`;
}

export const DRAFT = 'draft';
export const LATEST = 'latest';

/**
 * Hidden variant paths: `<file>@<variant>` is not listed but can be opened
 * (like ZFS's .zfs). A real file of that name wins.
 */
export const VARIANT_MARK = '@';
