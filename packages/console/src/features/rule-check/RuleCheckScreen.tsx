/**
 * Rule check: a code (typed, or from a USB scanner: text + Enter), a gate, a direction and a time →
 * the verdict the rules would give and why. Decided here with core's functions; nothing is recorded
 * (the server is only read: the ticket by its code, its scans, the event's rules).
 */
import { useQuery, useQueryClient } from '@tanstack/react-query';
import type { Direction } from '@entrada/core';
import { useState, type FormEvent, type ReactNode } from 'react';
import { useParams } from 'react-router';
import { api, errorText } from '../../api/client.ts';
import { eventQuery, ticketQuery } from '../../api/queries.ts';
import type { EventDetail, TicketView } from '../../api/types.ts';
import { dateTime, fromLocalInput } from '../../lib/time.ts';
import { ErrorBox, Field } from '../../ui/kit.tsx';
import { TONE_SHAPE, TONE_WORD, reasonWords } from '../../ui/verdict.tsx';
import { checkRules, ticketOfCode, type RuleCheckOutcome } from './rule-check.ts';

export function RuleCheckScreen(): ReactNode {
  const { eventId = '' } = useParams();
  const event = useQuery(eventQuery(eventId));
  const qc = useQueryClient();
  const [code, setCode] = useState('');
  const [gateId, setGateId] = useState('');
  const [direction, setDirection] = useState<Direction>('entry');
  const [when, setWhen] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [outcome, setOutcome] = useState<(RuleCheckOutcome & { code: string }) | null>(null);
  const ev = event.data;
  const tz = ev?.timezone ?? 'UTC';
  const gate = gateId || ev?.gates[0]?.id || '';

  async function run(e: FormEvent): Promise<void> {
    e.preventDefault();
    if (!ev || !code.trim()) return;
    setBusy(true);
    setError(null);
    try {
      const at = when ? Date.parse(fromLocalInput(when, tz) ?? '') : Date.now();
      if (!Number.isFinite(at)) throw new Error('The time is not a date and time.');
      // The server's ticket search matches a whole scanned code by its digest; the ticket's scans come with it.
      const found = await api.get<{ tickets: TicketView[] }>(
        `/api/v1/events/${eventId}/tickets?${new URLSearchParams({ q: code.trim(), limit: '20' })}`,
      );
      const match = ticketOfCode(code.trim(), found.tickets);
      const ticket = match ? await qc.fetchQuery({ ...ticketQuery(match.id), staleTime: 0 }) : null;
      setOutcome({
        ...checkRules(ev, { code: code.trim(), gateId: gate || null, direction, at }, ticket),
        code: code.trim(),
      });
      setCode('');
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section>
      <div className="page-head">
        <div>
          <h1>Rule check{ev ? ` · ${ev.name}` : ''}</h1>
          <p className="muted">
            What a scanner would answer for a code at a gate and a time, and why. Nothing is recorded.
          </p>
        </div>
      </div>
      <form className="panel check-form" aria-label="Check a code" onSubmit={(e) => void run(e)}>
        <Field label="Code" hint="Type it, or scan it with a USB scanner (it types the code and Enter).">
          {(id, describedBy) => (
            <input
              id={id}
              name="code"
              value={code}
              onChange={(e) => setCode(e.target.value)}
              autoComplete="off"
              autoFocus
              aria-describedby={describedBy}
            />
          )}
        </Field>
        <Field label="Gate">
          {(id) => (
            <select id={id} value={gate} onChange={(e) => setGateId(e.target.value)}>
              {ev?.gates.map((g) => (
                <option key={g.id} value={g.id}>
                  {g.name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Direction">
          {(id) => (
            <select id={id} value={direction} onChange={(e) => setDirection(e.target.value as Direction)}>
              <option value="entry">Entry</option>
              <option value="exit">Exit</option>
            </select>
          )}
        </Field>
        <Field label={`Time (${tz})`} hint="Empty: now.">
          {(id, describedBy) => (
            <input
              id={id}
              type="datetime-local"
              value={when}
              onChange={(e) => setWhen(e.target.value)}
              aria-describedby={describedBy}
            />
          )}
        </Field>
        <div className="field">
          <button type="submit" className="primary" disabled={!ev || busy || !code.trim()}>
            Check
          </button>
        </div>
      </form>
      <ErrorBox error={error ?? (event.error ? errorText(event.error) : null)} />
      {outcome && ev && <Outcome outcome={outcome} event={ev} />}
      {!outcome && ev && when === '' && (
        <p className="muted">
          Time now: {dateTime(new Date().toISOString(), tz)} ({tz}). Set one to check a moment before or after.
        </p>
      )}
      {when !== '' && ev && (
        <p className="muted">
          Checking at {dateTime(fromLocalInput(when, tz), tz)} ({tz}).{' '}
          <button type="button" className="link" onClick={() => setWhen('')}>
            Use now
          </button>
        </p>
      )}
    </section>
  );
}

function Outcome({ outcome, event }: { outcome: RuleCheckOutcome & { code: string }; event: EventDetail }): ReactNode {
  const { verdict, tone, words, state, ticket, type } = outcome;
  const tz = event.timezone;
  const gateName = (id: string | null): string =>
    id ? (event.gates.find((g) => g.id === id)?.name ?? 'a gate') : 'no gate';
  return (
    <div aria-live="polite">
      <div
        className={`verdict-card tone-${tone}`}
        data-testid="rule-verdict"
        data-tone={tone}
        data-result={verdict.result}
        data-reason={verdict.reason}
      >
        <span className="shape" aria-hidden="true">
          <span>{TONE_SHAPE[tone]}</span>
        </span>
        <div>
          <p className="verdict-text">
            {TONE_WORD[tone]}: {words}
          </p>
          <p className="muted">
            Result <code>{verdict.result}</code>, reason <code>{verdict.reason}</code> ({reasonWords(verdict.reason)})
          </p>
        </div>
      </div>
      <h2>Why</h2>
      <dl className="facts" data-testid="rule-why">
        <dt>Ticket</dt>
        <dd>
          {ticket
            ? `${ticket.number}${ticket.holder_name ? ` · ${ticket.holder_name}` : ''}`
            : 'No ticket of this event has this code.'}
        </dd>
        {ticket && (
          <>
            <dt>Status</dt>
            <dd>
              {ticket.status}
              {ticket.status_changed_at ? ` since ${dateTime(ticket.status_changed_at, tz)}` : ''}
            </dd>
          </>
        )}
        {type && (
          <>
            <dt>Type</dt>
            <dd>
              {type.name}: {type.maxScans} entr{type.maxScans === 1 ? 'y' : 'ies'}
              {type.allowReentry ? ', re-entry after exit' : ', no re-entry'}
            </dd>
          </>
        )}
        {state && type && (
          <>
            <dt>Before this time</dt>
            <dd>
              {state.entries} of {type.maxScans} entr{type.maxScans === 1 ? 'y' : 'ies'} used
              {state.last
                ? `; last ${state.last.direction} at ${gateName(state.last.gateId)}, ${dateTime(new Date(state.last.at).toISOString(), tz)}`
                : '; never admitted'}
            </dd>
          </>
        )}
      </dl>
    </div>
  );
}
