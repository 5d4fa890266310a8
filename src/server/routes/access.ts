import type { Router } from '../http.js';

export function registerAccessRoutes(router: Router): void {
  void router; // TODO: implemented by the access work package
}
