// A small data-loading hook: runs load on mount and whenever key changes,
// exposing the value, the error text and a reload function.
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react';
import { readableError } from '../api/client';

/** Loaded is the state of one asynchronous load. */
export interface Loaded<T> {
  data: T | undefined;
  error: string;
  loading: boolean;
  reload: () => void;
}

/**
 * useAsync loads data with load(); it loads again when key changes or on
 * reload(). A load superseded before it finishes is aborted and ignored.
 */
export function useAsync<T>(load: (signal: AbortSignal) => Promise<T>, key = ''): Loaded<T> {
  const loadRef = useRef(load);
  useLayoutEffect(() => {
    loadRef.current = load;
  });
  const [tick, setTick] = useState(0);
  const [state, setState] = useState<{ done: string; data: T | undefined; error: string }>({
    done: '',
    data: undefined,
    error: '',
  });
  const want = `${tick}#${key}`;
  useEffect(() => {
    const ctl = new AbortController();
    loadRef.current(ctl.signal).then(
      (data) => {
        if (!ctl.signal.aborted) setState({ done: want, data, error: '' });
      },
      (e: unknown) => {
        if (!ctl.signal.aborted) setState((s) => ({ done: want, data: s.data, error: readableError(e) }));
      },
    );
    return () => ctl.abort();
  }, [want]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data: state.data, error: state.error, loading: state.done !== want, reload };
}
