// The write path (design.md "Writes"): what the FUSE adapter and the namespace use.
export { DraftWriter } from './writer.js';
export type { DraftWriterOptions, OpenOptions, PendingItem, RecoverReport, SyncResult, WriterStatus } from './writer.js';
export { mergeDraft, listView } from './view.js';
export type { DraftOverlay, DraftView, LocalFileView, MovedFileView, ViewFile } from './view.js';
export { DEFAULT_JUNK, fileNameProblem, filePathProblem, folderProblem, isJunk } from './names.js';
export type { FileMeta, BaseFile, TabularView } from './model.js';
export type { Counters } from './executor.js';
