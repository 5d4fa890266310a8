// The demo installation (stub; the seed work package fills this in).
import type { RunningServer } from '../server.js';

export async function seedDemo(server: RunningServer, print: (line: string) => void): Promise<void> {
  void server;
  void print;
}
