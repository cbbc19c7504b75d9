/** Webhooks (managers and owners) and the signed-in person's email subscription (issue 13 §3). */
import type {
  AlertEmailView,
  WebhookCreateBody,
  WebhookCreated,
  WebhookDeliveryPage,
  WebhookList,
  WebhookTestQueued,
} from '@entrada/core';
import { queryOptions, useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../../api/client.ts';

export const webhookKeys = {
  all: ['webhooks'] as const,
  deliveries: (id: string) => ['webhooks', id, 'deliveries'] as const,
  alertEmail: ['users', 'me', 'alert-email'] as const,
};

export const webhooksQuery = () =>
  queryOptions({
    queryKey: webhookKeys.all,
    queryFn: async () => (await api.get<WebhookList>('/api/v1/webhooks')).webhooks,
  });

/** The latest 50 deliveries, refreshed while shown (retries happen on the server's timer). */
export const deliveriesQuery = (id: string) =>
  queryOptions({
    queryKey: webhookKeys.deliveries(id),
    queryFn: () => api.get<WebhookDeliveryPage>(`/api/v1/webhooks/${id}/deliveries?limit=50`),
    refetchInterval: 5_000,
    placeholderData: (prev) => prev,
  });

export const alertEmailQuery = () =>
  queryOptions({
    queryKey: webhookKeys.alertEmail,
    queryFn: () => api.get<AlertEmailView>('/api/v1/users/me/alert-email'),
    retry: false,
  });

export function useCreateWebhook(onCreated: (w: WebhookCreated) => void) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (body: WebhookCreateBody) => api.post<WebhookCreated>('/api/v1/webhooks', body),
    onSuccess: (w) => {
      onCreated(w);
      return qc.invalidateQueries({ queryKey: webhookKeys.all });
    },
  });
}

export function useDeleteWebhook() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (id: string) => api.delete(`/api/v1/webhooks/${id}`),
    onSuccess: () => qc.invalidateQueries({ queryKey: webhookKeys.all }),
  });
}

export function useTestWebhook() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (id: string) => api.post<WebhookTestQueued>(`/api/v1/webhooks/${id}/test`, {}),
    onSuccess: (_r, id) => qc.invalidateQueries({ queryKey: webhookKeys.deliveries(id) }),
  });
}

export function useSetAlertEmail() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (on: boolean) => api.put<AlertEmailView>('/api/v1/users/me/alert-email', { critical_alerts: on }),
    onSuccess: (v) => qc.setQueryData(webhookKeys.alertEmail, v),
  });
}
