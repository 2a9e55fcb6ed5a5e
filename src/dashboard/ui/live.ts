import { useEffect, useRef } from 'react';
import { useSubscription } from 'urql';
import { graphql } from '../generated/index.ts';

const WorkspaceDeliveries = graphql(`
  subscription LiveDeliveries {
    deliveryEvents { type campaignId messageId at }
  }
`);

/**
 * Calls `onChange` (at most once per `everyMs`) while messages move anywhere in the workspace: a
 * page showing figures that the API has no subscription for refreshes them on it.
 */
export function useDeliveryActivity(onChange: () => void, everyMs = 1000): void {
  const callback = useRef(onChange);
  callback.current = onChange;
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined);
  const [{ data }] = useSubscription({ query: WorkspaceDeliveries });
  useEffect(() => {
    if (!data || timer.current) return;
    timer.current = setTimeout(() => {
      timer.current = undefined;
      callback.current();
    }, everyMs);
  }, [data, everyMs]);
  useEffect(() => () => clearTimeout(timer.current), []);
}
