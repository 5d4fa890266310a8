// Command-line flags of `dvfs serve` that set faults and shaping (stub; the faults work package fills this in).
export const FAULT_FLAG_SPEC = {} as const;
export const FAULT_FLAG_HELP = '';
export function faultOptionsFromFlags(values: Record<string, unknown>): Record<string, unknown> {
  void values;
  return {};
}
