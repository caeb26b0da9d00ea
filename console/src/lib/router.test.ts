import { describe, expect, it } from 'vitest';
import { NAV, screenOf } from '../nav';
import { hrefOf, routeOf } from './router';

describe('routes', () => {
  it('maps paths under /console/ to routes and back', () => {
    expect(routeOf('/console/')).toBe('');
    expect(routeOf('/console/logs/abc/')).toBe('logs/abc');
    expect(routeOf('/elsewhere')).toBe('');
    expect(hrefOf('logs/abc')).toBe('/console/logs/abc');
    expect(hrefOf('/flows')).toBe('/console/flows');
  });

  it('finds the screen of a route', () => {
    expect(screenOf('')).toBe('playground');
    expect(screenOf('logs/abc')).toBe('logs');
    expect(screenOf('knowledge-bases/kb1')).toBe('knowledge-bases');
    expect(screenOf('nope')).toBe('');
  });

  it('keeps the navigation names of the browser test contract', () => {
    expect(NAV.map((n) => n.label)).toEqual([
      'Playground', 'Models', 'Logs', 'Dashboards', 'Benchmarks', 'Guardrails', 'Access', 'Flows', 'Agents', 'Prompts', 'Knowledge bases', 'Evaluations',
    ]);
  });
});
