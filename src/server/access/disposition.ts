// The two naming headers of a streamed download (dataverse-api-notes.md §5.2):
// URLEncoder-encoded name (space as %20) in both, no filename*=.
import { javaUrlEncode } from '../json.js';

export function downloadNameHeaders(name: string, mime: string): Record<string, string> {
  const encoded = javaUrlEncode(name);
  // JAX-RS appends the charset to text types (DownloadFilesIT: `text/markdown; name="…";charset=UTF-8`).
  const charset = mime.startsWith('text/') ? ';charset=UTF-8' : '';
  return {
    'Content-disposition': `attachment; filename="${encoded}"`,
    'Content-Type': `${mime}; name="${encoded}"${charset}`,
  };
}

/** FileUtil.replaceExtension: swap the last extension, or append one. */
export function replaceExtension(name: string, ext: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? `${name.slice(0, dot)}.${ext}` : `${name}.${ext}`;
}
