// Dataset persistent identifiers: the FAKE DOI provider's shape
// doi:10.5072/FK2/XXXXXX (six upper-case alphanumerics), unique per installation.
import { randomInt } from 'node:crypto';
import type { Store } from './store.js';

export const PID_AUTHORITY = '10.5072';
export const PID_SHOULDER = 'FK2/';
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** A new identifier ("FK2/ABC123") not used by any dataset of the store. */
export function newDatasetIdentifier(store: Store): string {
  const used = new Set(store.state.datasets.map((d) => d.identifier));
  for (;;) {
    let s = '';
    for (let i = 0; i < 6; i++) s += ALPHABET[randomInt(ALPHABET.length)];
    const id = `${PID_SHOULDER}${s}`;
    if (!used.has(id)) return id;
  }
}
