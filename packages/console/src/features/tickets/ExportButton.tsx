/** Export CSV: every ticket of the event with its code, read page by page. */
import Papa from 'papaparse';
import { useState, type ReactNode } from 'react';
import { api, errorText } from '../../api/client.ts';
import type { TicketPage } from '@entrada/core';
import type { EventDetail } from '../../api/types.ts';
import { saveFile } from '../../lib/save-file.ts';

export function ExportButton({ event }: { event: EventDetail }): ReactNode {
  const [state, setState] = useState<string | null>(null);
  async function run(): Promise<void> {
    const typeName = new Map(event.ticket_types.map((t) => [t.id, t.name]));
    const rows: string[][] = [['number', 'holder_name', 'ticket_type', 'status', 'code']];
    let after = '0';
    try {
      for (;;) {
        setState(`Exporting… ${rows.length - 1} tickets`);
        const page = await api.get<TicketPage>(`/api/v1/events/${event.id}/tickets?after=${after}&limit=5000`);
        for (const t of page.tickets)
          rows.push([t.number, t.holder_name ?? '', typeName.get(t.ticket_type_id) ?? t.tier, t.status, t.code]);
        if (page.next_after === null) break;
        after = String(page.next_after);
      }
      saveFile(
        new Blob([Papa.unparse(rows)], { type: 'text/csv' }),
        `${event.name.replace(/[^\w.-]+/g, '-')}-tickets.csv`,
      );
      setState(null);
    } catch (err) {
      setState(errorText(err));
    }
  }
  return (
    <>
      <button type="button" onClick={() => void run()}>
        Export CSV
      </button>
      {state && (
        <span className="muted" role="status">
          {state}
        </span>
      )}
    </>
  );
}
