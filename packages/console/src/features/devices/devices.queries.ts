/** Devices: pairing codes, status changes one by one or several at once, rename / set gate. */
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../../api/client.ts';
import { keys } from '../../api/queries.ts';
import type { DeviceView, PairingCodeResponse } from '../../api/types.ts';

export type DeviceAction = 'suspend' | 'activate' | 'revoke';

export function useCreatePairingCode() {
  return useMutation({
    mutationFn: (body: { event_id: string; gate_id?: string; name?: string }) =>
      api.post<PairingCodeResponse>('/api/v1/devices/pairing-codes', body),
  });
}

/** The same action on each selected device; the answer says which failed and why. */
export function useBulkDeviceAction() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async ({ ids, action, reason }: { ids: string[]; action: DeviceAction; reason: string }) => {
      const body = action === 'activate' ? {} : { reason };
      const results = await Promise.allSettled(
        ids.map((id) => api.post<DeviceView>(`/api/v1/devices/${encodeURIComponent(id)}/${action}`, body)),
      );
      return results.map((r, i) => ({ id: ids[i]!, error: r.status === 'rejected' ? (r.reason as unknown) : null }));
    },
    onSettled: () => qc.invalidateQueries({ queryKey: keys.devices }),
  });
}

/** Rename or set the default gate (PATCH /devices/:id). */
export function useUpdateDevice() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: ({ id, body }: { id: string; body: { name?: string; default_gate_id?: string | null } }) =>
      api.patch<DeviceView>(`/api/v1/devices/${encodeURIComponent(id)}`, body),
    onSuccess: () => qc.invalidateQueries({ queryKey: keys.devices }),
  });
}
