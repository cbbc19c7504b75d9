/** The scan log: pages of scans after a cursor, with the filters of the URL. */
import { infiniteQueryOptions } from '@tanstack/react-query';
import type { ScanLogPage } from '@entrada/core';
import { api } from '../../api/client.ts';

/** The filters the server takes (ScanLogFilters in core/protocol), as the URL carries them. */
export const SCAN_FILTERS = [
  'from',
  'to',
  'gate_id',
  'device_id',
  'staff_id',
  'direction',
  'verdict',
  'reason',
  'source',
  'conflicts',
] as const;
export type ScanFilters = Partial<Record<(typeof SCAN_FILTERS)[number], string>>;

export function filtersOf(params: URLSearchParams): ScanFilters {
  const f: ScanFilters = {};
  for (const k of SCAN_FILTERS) {
    const v = params.get(k);
    if (v) f[k] = v;
  }
  return f;
}

export const scanKeys = {
  all: (eventId: string) => ['events', eventId, 'scans'] as const,
  list: (eventId: string, f: ScanFilters) => ['events', eventId, 'scans', f] as const,
};

export const scansQuery = (eventId: string, f: ScanFilters) =>
  infiniteQueryOptions({
    queryKey: scanKeys.list(eventId, f),
    initialPageParam: '',
    queryFn: ({ pageParam }) => {
      const params = new URLSearchParams({ ...f, limit: '200' });
      if (pageParam) params.set('cursor', pageParam);
      return api.get<ScanLogPage>(`/api/v1/events/${eventId}/scans?${params}`);
    },
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });

/** The export's address, with the same filters (the server streams the file). */
export function exportUrl(eventId: string, f: ScanFilters): string {
  const params = new URLSearchParams(f);
  const q = params.toString();
  return `/api/v1/events/${eventId}/scans.csv${q ? `?${q}` : ''}`;
}
