// File-level citations for the tabular bundle (DataCitation: EndNote XML, RIS,
// BibTeX). Simple but well-formed; built from the version the caller may see.
import type { ServerConfig } from '../config.js';
import type { DatasetRec, FileMetadataRec, VersionRec } from '../model.js';
import { persistentUrl, versionTitle } from '../json.js';

interface CitationFacts {
  fileLabel: string;
  title: string;
  authors: string[];
  year: string;
  date: string;
  version: string;
  publisher: string;
  doi: string;
  url: string;
  identifier: string;
}

function authorsOf(v: VersionRec): string[] {
  const f = v.fields.find((x) => x.typeName === 'author');
  if (!Array.isArray(f?.value)) return [];
  return (f.value as Record<string, { value?: unknown }>[])
    .map((a) => a.authorName?.value)
    .filter((n): n is string => typeof n === 'string');
}

function facts(config: ServerConfig, ds: DatasetRec, v: VersionRec, fm: FileMetadataRec): CitationFacts {
  const date = ds.publicationDate ?? v.createTime.slice(0, 10);
  return {
    fileLabel: fm.label,
    title: versionTitle(v),
    authors: authorsOf(v),
    year: date.slice(0, 4),
    date,
    version: v.versionState === 'DRAFT' ? 'DRAFT VERSION' : `V${v.versionNumber}${v.minorVersionNumber ? `.${v.minorVersionNumber}` : ''}`,
    publisher: config.installationName,
    doi: `${ds.authority}/${ds.identifier}`,
    url: persistentUrl(ds),
    identifier: ds.identifier,
  };
}

function xml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function endNoteXml(config: ServerConfig, ds: DatasetRec, v: VersionRec, fm: FileMetadataRec): string {
  const c = facts(config, ds, v, fm);
  return (
    `<?xml version="1.0" encoding="UTF-8"?><xml><records><record>` +
    `<ref-type name="Dataset">59</ref-type>` +
    `<contributors><authors>${c.authors.map((a) => `<author>${xml(a)}</author>`).join('')}</authors></contributors>` +
    `<titles><title>${xml(c.fileLabel)}</title><secondary-title>${xml(c.title)}</secondary-title></titles>` +
    `<section>${c.date}</section><dates><year>${c.year}</year></dates>` +
    `<edition>${xml(c.version)}</edition><publisher>${xml(c.publisher)}</publisher>` +
    `<urls><related-urls><url>${xml(c.url)}</url></related-urls></urls>` +
    `<electronic-resource-num>doi/${xml(c.doi)}</electronic-resource-num>` +
    `</record></records></xml>`
  );
}

export function risText(config: ServerConfig, ds: DatasetRec, v: VersionRec, fm: FileMetadataRec): string {
  const c = facts(config, ds, v, fm);
  const lines = [
    `Provider: ${c.publisher}`,
    'Content: text/plain; charset="utf-8"',
    'TY  - DATA',
    `T1  - ${c.fileLabel}`,
    `T2  - ${c.title}`,
    ...c.authors.map((a) => `AU  - ${a}`),
    `DO  - ${c.doi}`,
    `ET  - ${c.version}`,
    `PY  - ${c.year}`,
    `SE  - ${c.date}`,
    `UR  - ${c.url}`,
    `PB  - ${c.publisher}`,
    'ER  - ',
  ];
  return `${lines.join('\r\n')}\r\n`;
}

export function bibtexText(config: ServerConfig, ds: DatasetRec, v: VersionRec, fm: FileMetadataRec): string {
  const c = facts(config, ds, v, fm);
  const esc = (s: string) => s.replace(/[{}]/g, (m) => `\\${m}`);
  return (
    `@data{${c.identifier}_${c.year},\r\n` +
    `author = {${esc(c.authors.join(' and '))}},\r\n` +
    `publisher = {${esc(c.publisher)}},\r\n` +
    `title = {{${esc(c.fileLabel)}}},\r\n` +
    `year = {${c.year}},\r\n` +
    `version = {${esc(c.version)}},\r\n` +
    `doi = {${c.doi}},\r\n` +
    `url = {${c.url}}\r\n` +
    `}\r\n`
  );
}
