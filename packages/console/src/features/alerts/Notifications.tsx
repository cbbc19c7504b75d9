/**
 * Delivery of alerts outside the console (issue 13 §3), on the Alerts screen: the organisation's webhooks (managers
 * and owners only: list, add with the signing secret shown once, delete, send a test, each one's delivery log) and
 * the signed-in person's own email subscription to critical alerts (any role).
 */
import {
  WEBHOOK_EVENT_TYPES,
  WebhookCreateBody,
  type WebhookCreated,
  type WebhookEventType,
  type WebhookView,
} from '@entrada/core';
import { useQuery } from '@tanstack/react-query';
import { useState, type FormEvent, type ReactNode } from 'react';
import { ApiError, errorText } from '../../api/client.ts';
import { IfRole } from '../../auth/session.tsx';
import { dateTime } from '../../lib/time.ts';
import { validate, type FieldErrors } from '../../lib/validate.ts';
import { Empty, ErrorBox, Modal, TextField } from '../../ui/kit.tsx';
import {
  alertEmailQuery,
  deliveriesQuery,
  useCreateWebhook,
  useDeleteWebhook,
  useSetAlertEmail,
  useTestWebhook,
  webhooksQuery,
} from './webhooks.queries.ts';

const TYPE_WORDS: Record<WebhookEventType, string> = {
  'alert.raised': 'Alert raised',
  'alert.cleared': 'Alert cleared',
  'conflict.opened': 'Conflict opened',
  'conflict.resolved': 'Conflict resolved',
  'device.revoked': 'Device revoked',
  'device.suspended': 'Device suspended',
};

export function Notifications({ eventId, tz }: { eventId: string; tz: string }): ReactNode {
  return (
    <>
      <EmailSubscription />
      <IfRole role="manager">
        <Webhooks eventId={eventId} tz={tz} />
      </IfRole>
    </>
  );
}

function EmailSubscription(): ReactNode {
  const mine = useQuery(alertEmailQuery());
  const set = useSetAlertEmail();
  const forbidden = mine.error instanceof ApiError && mine.error.code === 'FORBIDDEN';
  return (
    <section className="panel" aria-labelledby="alert-email-h">
      <h2 id="alert-email-h">Email</h2>
      {forbidden && (
        <p className="muted">
          Email subscriptions belong to a person: sign in with your email and password to subscribe.
        </p>
      )}
      {!forbidden && <ErrorBox error={mine.error ? errorText(mine.error) : null} />}
      {mine.data && (
        <>
          <label className="check">
            <input
              type="checkbox"
              checked={mine.data.critical_alerts}
              disabled={set.isPending || (!mine.data.email_enabled && !mine.data.critical_alerts)}
              onChange={(e) => set.mutate(e.target.checked)}
            />{' '}
            Email me critical alerts at <strong>{mine.data.email}</strong>
          </label>
          <p className="muted small">
            {mine.data.email_enabled
              ? "One mail per critical alert raised, at any of the organisation's events. Managers and owners are also mailed about conflicts left open for 24 hours."
              : 'This server sends no mail yet (its administrator sets SMTP_URL).'}
          </p>
          <ErrorBox error={set.error ? errorText(set.error) : null} />
        </>
      )}
    </section>
  );
}

function Webhooks({ eventId, tz }: { eventId: string; tz: string }): ReactNode {
  const hooks = useQuery(webhooksQuery());
  const [shown, setShown] = useState<WebhookCreated | null>(null);
  const [copied, setCopied] = useState(false);
  const [log, setLog] = useState<WebhookView | null>(null);
  const remove = useDeleteWebhook();
  const test = useTestWebhook();
  const scope = (w: WebhookView): string =>
    w.event_id === null ? 'Every event' : w.event_id === eventId ? 'This event' : 'Another event';
  async function copy(secret: string): Promise<void> {
    await navigator.clipboard.writeText(secret).then(
      () => setCopied(true),
      () => setCopied(false),
    );
  }
  return (
    <section className="panel" aria-labelledby="webhooks-h">
      <h2 id="webhooks-h">Webhooks</h2>
      <p className="muted">
        Each notification is POSTed as JSON with the Standard Webhooks headers (webhook-id, webhook-timestamp,
        webhook-signature), signed with the webhook&apos;s secret; failures are retried for 24 hours. Times in {tz}.
      </p>
      <ErrorBox error={hooks.error ? errorText(hooks.error) : null} />
      {shown && (
        <div className="once" role="status">
          <p>Signing secret of {shown.url}: copy it into the receiver now, it will not be shown again.</p>
          <code data-testid="webhook-secret">{shown.secret}</code>
          <button type="button" onClick={() => void copy(shown.secret)}>
            {copied ? 'Copied' : 'Copy secret'}
          </button>{' '}
          <button
            type="button"
            onClick={() => {
              setShown(null);
              setCopied(false);
            }}
          >
            I have copied it
          </button>
        </div>
      )}
      {hooks.data && hooks.data.length === 0 && <Empty>No webhook yet.</Empty>}
      {hooks.data && hooks.data.length > 0 && (
        <div className="scroll-x">
          <table className="simple" aria-label="Webhooks">
            <thead>
              <tr>
                <th scope="col">URL</th>
                <th scope="col">Notifications</th>
                <th scope="col">Events</th>
                <th scope="col">Made</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {hooks.data.map((w) => (
                <tr key={w.id} data-webhook={w.id}>
                  <td className="break">{w.url}</td>
                  <td>{w.events.map((t) => TYPE_WORDS[t] ?? t).join(', ')}</td>
                  <td>{scope(w)}</td>
                  <td>{dateTime(w.created_at, tz)}</td>
                  <td className="row-actions">
                    <button type="button" onClick={() => setLog(w)} aria-label={`Deliveries of ${w.url}`}>
                      Deliveries
                    </button>{' '}
                    <button
                      type="button"
                      onClick={() => test.mutate(w.id)}
                      disabled={test.isPending}
                      aria-label={`Send test to ${w.url}`}
                    >
                      Send test
                    </button>{' '}
                    <button
                      type="button"
                      className="danger-link"
                      onClick={() => remove.mutate(w.id)}
                      disabled={remove.isPending}
                      aria-label={`Delete webhook ${w.url}`}
                    >
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <ErrorBox error={remove.error ? errorText(remove.error) : test.error ? errorText(test.error) : null} />
      <AddWebhook
        eventId={eventId}
        onCreated={(w) => {
          setShown(w);
          setCopied(false);
        }}
      />
      <Modal
        title={log ? `Deliveries · ${log.url}` : 'Deliveries'}
        open={log !== null}
        onOpenChange={(o) => {
          if (!o) setLog(null);
        }}
        wide
      >
        {log && <DeliveryLog webhook={log} tz={tz} />}
      </Modal>
    </section>
  );
}

function AddWebhook({ eventId, onCreated }: { eventId: string; onCreated: (w: WebhookCreated) => void }): ReactNode {
  const [url, setUrl] = useState('');
  const [types, setTypes] = useState<Set<WebhookEventType>>(new Set(['alert.raised', 'alert.cleared']));
  const [onlyThis, setOnlyThis] = useState(true);
  const [errors, setErrors] = useState<FieldErrors>({});
  const create = useCreateWebhook((w) => {
    onCreated(w);
    setUrl('');
  });
  function submit(e: FormEvent): void {
    e.preventDefault();
    const body = {
      url: url.trim(),
      events: WEBHOOK_EVENT_TYPES.filter((t) => types.has(t)),
      ...(onlyThis ? { event_id: eventId } : {}),
    };
    const errs = validate(WebhookCreateBody, body, { url: 'URL', events: 'Notifications' });
    if (body.events.length === 0) errs.events = 'Choose at least one notification';
    setErrors(errs);
    if (!Object.keys(errs).length) create.mutate(body);
  }
  const toggle = (t: WebhookEventType, on: boolean): void => {
    const next = new Set(types);
    if (on) next.add(t);
    else next.delete(t);
    setTypes(next);
  };
  return (
    <form className="webhook-form" onSubmit={submit} noValidate aria-label="Add a webhook">
      <h3>Add a webhook</h3>
      <TextField
        label="URL"
        name="webhook-url"
        value={url}
        onChange={setUrl}
        error={errors.url}
        hint="https://… of your receiver (no user:password in it)"
      />
      <fieldset>
        <legend>Notifications</legend>
        {WEBHOOK_EVENT_TYPES.map((t) => (
          <label key={t} className="check">
            <input type="checkbox" checked={types.has(t)} onChange={(e) => toggle(t, e.target.checked)} />{' '}
            {TYPE_WORDS[t]}
          </label>
        ))}
        {errors.events && (
          <span className="field-error" role="alert">
            {errors.events}
          </span>
        )}
      </fieldset>
      <label className="check">
        <input type="checkbox" checked={onlyThis} onChange={(e) => setOnlyThis(e.target.checked)} /> Only this event
        (device changes concern every event: leave unticked for them)
      </label>
      <button type="submit" disabled={create.isPending}>
        Add webhook
      </button>
      <ErrorBox error={create.error ? errorText(create.error) : null} />
    </form>
  );
}

const STATE_WORDS: Record<string, string> = { pending: '… retrying', delivered: '✓ delivered', failed: '✕ failed' };

function DeliveryLog({ webhook, tz }: { webhook: WebhookView; tz: string }): ReactNode {
  const page = useQuery(deliveriesQuery(webhook.id));
  return (
    <>
      <ErrorBox error={page.error ? errorText(page.error) : null} />
      {page.data && page.data.deliveries.length === 0 && <Empty>Nothing sent to this webhook yet.</Empty>}
      {page.data && page.data.deliveries.length > 0 && (
        <div className="scroll-x">
          <table className="simple" aria-label="Delivery log">
            <thead>
              <tr>
                <th scope="col">Queued</th>
                <th scope="col">Notification</th>
                <th scope="col">State</th>
                <th scope="col">Attempts</th>
              </tr>
            </thead>
            <tbody>
              {page.data.deliveries.map((d) => (
                <tr key={d.id} data-delivery={d.id}>
                  <td>{dateTime(d.created_at, tz)}</td>
                  <td>
                    {TYPE_WORDS[d.type as WebhookEventType] ?? d.type}
                    <div className="muted small">{d.id}</div>
                  </td>
                  <td>
                    {STATE_WORDS[d.state] ?? d.state}
                    {d.next_attempt_at && <div className="muted small">next {dateTime(d.next_attempt_at, tz)}</div>}
                  </td>
                  <td>
                    <ol className="attempts">
                      {d.log.map((a) => (
                        <li key={a.attempt}>
                          {dateTime(a.at, tz)}: {a.status === null ? 'no answer' : `HTTP ${a.status}`} in{' '}
                          {a.duration_ms} ms{a.error && a.status === null ? ` (${a.error})` : ''}
                        </li>
                      ))}
                    </ol>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {page.data?.next_cursor && (
        <p className="muted small">
          The latest 50 are shown; <code>entrada webhooks deliveries {webhook.id}</code> pages through the rest.
        </p>
      )}
    </>
  );
}
