// Names the server would refuse or silently alter (dataverse-api-notes.md
// §6.5), checked before any byte is written, and the editor/desktop junk
// that stays local. Paths here are relative to a draft folder: "a/b/f.txt".

/** Which rule a refused name broke, and the words for the log line. */
export interface NameProblem {
  rule: 'label-blank' | 'label-characters' | 'folder-characters' | 'folder-edges' | 'name-dot';
  message: string;
}

const LABEL_FORBIDDEN = /[\\/:*?"<>|;#]/;

/** FileMetadata.label: @NotBlank and ^[^:<>;#/"*|?\\]*$. */
export function fileNameProblem(name: string): NameProblem | undefined {
  if (name === '.' || name === '..') return { rule: 'name-dot', message: `"${name}" cannot be a file name` };
  if (name.trim() === '') return { rule: 'label-blank', message: 'the server refuses a blank file name' };
  if (LABEL_FORBIDDEN.test(name)) {
    return { rule: 'label-characters', message: 'file names cannot contain any of \\ / : * ? " < > | ; # (server rule)' };
  }
  return undefined;
}

/**
 * A folder path (directoryLabel) the server keeps exactly as written:
 * ASCII [A-Za-z0-9_ .-] and '/', and unchanged by sanitizeFileDirectory,
 * which strips leading and trailing '/', '-', '.' and space of the whole
 * path (".git" would become "git", "a/b-" would become "a/b").
 */
export function folderProblem(dir: string): NameProblem | undefined {
  if (dir === '') return undefined;
  if (!/^[A-Za-z0-9_ ./-]+$/.test(dir)) {
    return {
      rule: 'folder-characters',
      message: "folder names may only use ASCII letters, digits, '_', '-', '.' and space (server rule; the server would refuse it)",
    };
  }
  if (/^[-. ]/.test(dir) || /[-. ]$/.test(dir)) {
    return {
      rule: 'folder-edges',
      message: "a folder path cannot start or end with '.', '-' or space (the server would strip it and store the file elsewhere)",
    };
  }
  if (dir.split('/').some((s) => s === '.' || s === '..' || s === '')) {
    return { rule: 'folder-edges', message: 'a folder path cannot contain empty, "." or ".." parts' };
  }
  return undefined;
}

/** The problem with a whole file path: its folder, then its name. */
export function filePathProblem(path: string): NameProblem | undefined {
  const { dir, name } = splitPath(path);
  return folderProblem(dir) ?? fileNameProblem(name);
}

/** The junk patterns of the issue (configurable): LibreOffice locks, vim swap, macOS metadata, Office owner files. */
export const DEFAULT_JUNK: RegExp[] = [/^\.~lock\..*#$/, /\.swp$/, /^\.DS_Store$/, /^\._/, /^~\$/];

export function isJunk(path: string, patterns: RegExp[]): boolean {
  const { name } = splitPath(path);
  return patterns.some((p) => p.test(name));
}

/** "a/b/c.txt" → { dir: "a/b", name: "c.txt" }; "c.txt" → { dir: "", name: "c.txt" }. */
export function splitPath(path: string): { dir: string; name: string } {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? { dir: '', name: path } : { dir: path.slice(0, slash), name: path.slice(slash + 1) };
}

export function joinPath(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

/** A mount-relative path ("/a/b" or "a/b/") in the canonical form used here ("a/b"; "" for the draft itself). */
export function normalizePath(path: string): string {
  return path.split('/').filter((s) => s !== '').join('/');
}

/** Whether `path` is `dir` or inside it. */
export function isUnder(path: string, dir: string): boolean {
  return dir === '' || path === dir || path.startsWith(`${dir}/`);
}

/** `path` moved from under `from` to under `to` (path must be under `from`). */
export function rebase(path: string, from: string, to: string): string {
  if (path === from) return to;
  const rest = from === '' ? path : path.slice(from.length + 1);
  return joinPath(to, rest);
}
