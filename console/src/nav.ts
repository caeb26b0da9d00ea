// The console's screens, in navigation order. Names are part of the browser
// test contract (docs/CONSOLE.md "Test contract"): change them only together.

/** NavItem is one entry of the main navigation. */
export interface NavItem {
  route: string;
  label: string;
}

/** NAV lists the screens. */
export const NAV: NavItem[] = [
  { route: 'playground', label: 'Playground' },
  { route: 'models', label: 'Models' },
  { route: 'logs', label: 'Logs' },
  { route: 'dashboards', label: 'Dashboards' },
  { route: 'benchmarks', label: 'Benchmarks' },
  { route: 'guardrails', label: 'Guardrails' },
  { route: 'access', label: 'Access' },
  { route: 'flows', label: 'Flows' },
  { route: 'agents', label: 'Agents' },
  { route: 'prompts', label: 'Prompts' },
  { route: 'knowledge-bases', label: 'Knowledge bases' },
  { route: 'evaluations', label: 'Evaluations' },
];

/** screenOf returns the nav route a full route belongs to ("logs/abc" → "logs"); "" is the playground. */
export function screenOf(route: string): string {
  const head = route.split('/')[0];
  return NAV.some((n) => n.route === head) ? head : head === '' ? 'playground' : '';
}
