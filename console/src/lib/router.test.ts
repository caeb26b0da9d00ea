import { describe, expect, it } from 'vitest';
import { NAV, screenOf } from '../nav';
import { afterSignIn, hrefOf, routeOf } from './router';

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

describe('afterSignIn', () => {
  it('honours next under /console/ only', () => {
    expect(afterSignIn('signin', '?next=%2Fconsole%2Flogs%2Fabc')).toBe('logs/abc');
    expect(afterSignIn('signin', '?next=/console/access?x=1')).toBe('access');
    expect(afterSignIn('signin', '?next=https://evil.example/console/')).toBe('playground');
    expect(afterSignIn('signin', '?next=//evil.example/console/')).toBe('playground');
    expect(afterSignIn('signin', '?next=/console/signin')).toBe('playground');
    expect(afterSignIn('signin', '?next=/console/../admin')).toBe('playground');
    expect(afterSignIn('signin', '')).toBe('playground');
    expect(afterSignIn('guardrails/x', '')).toBe('guardrails/x');
    expect(afterSignIn('', '')).toBe('playground');
  });
});
