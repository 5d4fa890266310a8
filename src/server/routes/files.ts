import type { Router } from '../http.js';

export function registerFileRoutes(router: Router): void {
  void router; // TODO: implemented by the files work package
}
