// The crawlable folder listing of a dataset version, byte for byte as
// FileUtil.formatFolderListingHtml and DatasetVersion.getFileMetadatasFolderListing
// produce it (dataverse-api-notes.md §4). Nothing is escaped or URL-encoded, as there.
import type { DatasetRec, FileMetadataRec, VersionRec } from './model.js';
import type { Store } from './store.js';
import { globalId } from './store.js';
import { humanSize } from './json.js';

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

/** SimpleDateFormat("d-MMMM-yyyy HH:mm"): MMMM is the full month name; server time zone. */
export function dirindexDate(iso: string): string {
  const d = new Date(iso);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getDate()}-${MONTHS[d.getMonth()]}-${d.getFullYear()} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** Java's String.compareTo on upper-cased "dir/label" (FileMetadata.compareByFullPath). */
function fullPathKey(fm: FileMetadataRec): string {
  const folder = fm.directoryLabel ? `${fm.directoryLabel.toUpperCase()}/` : '';
  return folder + fm.label.toUpperCase();
}

function compareUtf16(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The entries of a folder: the files directly in it, plus one representative
 * file per sub-folder (the first one in the version's stored order, which is by
 * label, as JPA's @OrderBy("label") loads them), all sorted by full path.
 * Matching uses plain startsWith, so folder "data" also catches "data2/...".
 */
function folderListing(v: VersionRec, folder: string): FileMetadataRec[] {
  const stored = [...v.files].sort((a, b) => compareUtf16(a.label, b.label) || a.id - b.id);
  const out: FileMetadataRec[] = [];
  const seen = new Set<string>();
  for (const fm of stored) {
    const here = fm.directoryLabel ?? '';
    if (here === folder) out.push(fm);
    else if (here.startsWith(folder)) {
      const sub = subFolderOf(here, folder);
      if (!seen.has(sub)) {
        seen.add(sub);
        out.push(fm);
      }
    }
  }
  return out.sort((a, b) => compareUtf16(fullPathKey(a), fullPathKey(b)));
}

function subFolderOf(here: string, folder: string): string {
  let sub = folder === '' ? here : here.substring(folder.length + 1);
  const slash = sub.indexOf('/');
  if (slash > 0) sub = sub.substring(0, slash);
  return sub;
}

function row(cells: string): string {
  return `<tr>${cells}</tr>`;
}
function cellRight(s: string): string {
  return `<td align="right">${s}</td>`;
}
function link(text: string, href: string): string {
  return `<a href="${href}">${text}</a>`;
}

/** The listing HTML, or undefined when the folder has no entries (the endpoint then answers 404). */
export function folderListingHtml(
  store: Store,
  ds: DatasetRec,
  v: VersionRec,
  folder: string,
  originals: boolean,
): string | undefined {
  const entries = folderListing(v, folder);
  if (entries.length === 0) return undefined;
  const draft = v.versionState === 'DRAFT';
  const versionTag = draft ? 'Draft Version' : `v. ${v.versionNumber}.${v.minorVersionNumber}`;
  const linkVersion = draft ? ':draft' : `${v.versionNumber}.${v.minorVersionNumber}`;

  let rows =
    row('<th>Name</th><th>Last Modified</th><th>Size</th><th>Description</th>') + row('<th colspan="4"><hr></th>');
  for (const fm of entries) {
    const here = fm.directoryLabel ?? '';
    const f = store.file(fm.dataFileId);
    if (!f) continue;
    if (here === folder) {
      const id = fm.directoryLabel ? `${fm.directoryLabel}/${f.id}` : String(f.id);
      const format = f.tabular && originals ? '?format=original' : '';
      rows +=
        row(
          `<td>${link(fm.label, `/api/access/datafile/${id}${format}`)}</td>` +
            cellRight(dirindexDate(f.createDate)) +
            cellRight(humanSize(f.filesize)) +
            cellRight('&nbsp;'),
        ) + '\n';
    } else {
      const sub = subFolderOf(here, folder);
      const path = folder === '' ? sub : `${folder}/${sub}`;
      const href = `/api/datasets/${ds.id}/dirindex/?version=${linkVersion}&folder=${path}${originals ? '&original=true' : ''}`;
      rows +=
        row(`<td>${link(`${sub}/`, href)}</td>` + cellRight(' - ') + cellRight(' - ') + cellRight('&nbsp;')) + '\n';
    }
  }
  const title = `Index of folder /${folder}`;
  const body = `<h1>${title} in dataset ${globalId(ds)} (${versionTag})</h1>\n<table>${rows}</table>`;
  return (
    '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">\n' +
    `<html><head><title>${title}</title></head>\n` +
    `<body>${body}</body>\n` +
    '</html>\n'
  );
}

/** The Content-disposition file name: .index.html or .index-<folder with / as _>.html. */
export function dirindexFileName(folder: string): string {
  return folder === '' ? '.index.html' : `.index-${folder.replaceAll('/', '_')}.html`;
}
