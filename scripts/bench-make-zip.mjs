// Writes a zip of N small text files (for the listing benchmark's dataset):
//   node scripts/bench-make-zip.mjs OUT.zip COUNT PREFIX
import { createWriteStream } from 'node:fs';
import yazl from 'yazl';

const [out, countText, prefix] = process.argv.slice(2);
const count = Number(countText);
if (!out || !Number.isInteger(count) || count <= 0 || !prefix) {
  console.error('usage: node scripts/bench-make-zip.mjs OUT.zip COUNT PREFIX');
  process.exit(2);
}
const zip = new yazl.ZipFile();
for (let i = 0; i < count; i++) {
  const name = `${prefix}-${String(i).padStart(5, '0')}.txt`;
  // Folders of 100 files each, so the listing carries directoryLabels too.
  zip.addBuffer(Buffer.from(`file ${name}\n${'x'.repeat(i % 200)}\n`), `dir${Math.floor(i / 100)}/${name}`);
}
zip.end();
zip.outputStream.pipe(createWriteStream(out)).on('close', () => process.exit(0));
