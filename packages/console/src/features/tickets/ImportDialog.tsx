/**
 * Import tickets from a CSV: choose the file, map its columns, see the first rows and
 * every row's error before anything is written, then a progress bar. However large the
 * file, it goes in as one all-or-nothing import: chunks of 5,000 rows are uploaded to an
 * import session (the bar), then one commit writes them all or none.
 */
import { useQueryClient } from '@tanstack/react-query';
import { useMemo, useState, type ReactNode } from 'react';
import { errorText } from '../../api/client.ts';
import type { EventDetail } from '../../api/types.ts';
import { ErrorBox, Field, Modal } from '../../ui/kit.tsx';
import type { ParsedCsv } from './csv.worker.ts';
import { guessMapping, prepareRows, type Mapping } from './import-rows.ts';
import { importTickets, type ImportPhase } from './tickets.queries.ts';

function parseInWorker(file: File): Promise<ParsedCsv> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./csv.worker.ts', import.meta.url), { type: 'module' });
    worker.onmessage = (e: MessageEvent<ParsedCsv>) => {
      worker.terminate();
      resolve(e.data);
    };
    worker.onerror = (e) => {
      worker.terminate();
      reject(new Error(e.message || 'The file could not be read.'));
    };
    worker.postMessage(file);
  });
}

const FIELDS: Array<[keyof Mapping, string]> = [
  ['number', 'Ticket number'],
  ['holder_name', 'Holder name'],
  ['code', 'Code (from your ticket system)'],
  ['type', 'Ticket type'],
];

export function ImportDialog({ event, onClose }: { event: EventDetail; onClose: () => void }): ReactNode {
  const [csv, setCsv] = useState<ParsedCsv | null>(null);
  const [fileName, setFileName] = useState('');
  const [mapping, setMapping] = useState<Mapping>({ number: null, holder_name: null, code: null, type: null });
  const [defaultType, setDefaultType] = useState(event.ticket_types[0]?.id ?? '');
  const [progress, setProgress] = useState<{ done: number; total: number; phase: ImportPhase } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [written, setWritten] = useState<number | null>(null);
  const qc = useQueryClient();
  const types = useMemo(() => new Map(event.ticket_types.map((t) => [t.name, t.id])), [event.ticket_types]);
  const prepared = useMemo(
    () => (csv ? prepareRows(csv.rows, mapping, types, mapping.type === null ? defaultType || null : null) : null),
    [csv, mapping, types, defaultType],
  );

  async function choose(file: File | undefined): Promise<void> {
    if (!file) return;
    setError(null);
    setWritten(null);
    setProgress(null);
    try {
      const parsed = await parseInWorker(file);
      setFileName(file.name);
      setCsv(parsed);
      setMapping(guessMapping(parsed.headers));
    } catch (err) {
      setError(errorText(err));
    }
  }

  async function write(): Promise<void> {
    if (!prepared || prepared.errors.length) return;
    setError(null);
    try {
      setWritten(
        await importTickets(event.id, prepared.tickets, (done, total, phase) => setProgress({ done, total, phase })),
      );
    } catch (err) {
      setError(`${errorText(err)} Nothing was written.`);
      setProgress(null);
    } finally {
      await qc.invalidateQueries({ queryKey: ['events', event.id, 'tickets'] });
    }
  }

  const headers = csv?.headers ?? [];
  const preview = csv?.rows.slice(0, 5) ?? [];
  return (
    <Modal
      title="Import tickets from CSV"
      open
      onOpenChange={(o) => {
        if (!o) onClose();
      }}
      wide
    >
      {written !== null ? (
        <>
          <p role="status" className="success">
            {written.toLocaleString('en')} tickets imported from {fileName}.
          </p>
          <div className="actions">
            <button type="button" className="primary" onClick={onClose}>
              Done
            </button>
          </div>
        </>
      ) : (
        <>
          <Field label="CSV file" hint="The first row names the columns. Nothing is written until you press Import.">
            {(id, describedBy) => (
              <input
                id={id}
                name="csv-file"
                type="file"
                accept=".csv,text/csv"
                aria-describedby={describedBy}
                onChange={(e) => void choose(e.target.files?.[0])}
              />
            )}
          </Field>
          {csv && (
            <>
              <fieldset className="mapping">
                <legend>Which column holds what</legend>
                {FIELDS.map(([key, label]) => (
                  <Field key={key} label={label}>
                    {(id) => (
                      <select
                        id={id}
                        name={`map-${key}`}
                        value={mapping[key] ?? ''}
                        onChange={(e) =>
                          setMapping({ ...mapping, [key]: e.target.value === '' ? null : Number(e.target.value) })
                        }
                      >
                        <option value="">
                          {key === 'number' || key === 'code'
                            ? 'None: Entrada makes one'
                            : key === 'type'
                              ? 'None: one type for all rows'
                              : 'None'}
                        </option>
                        {headers.map((h, i) => (
                          <option key={i} value={i}>
                            {h || `Column ${i + 1}`}
                          </option>
                        ))}
                      </select>
                    )}
                  </Field>
                ))}
                {mapping.type === null && (
                  <Field label="Ticket type for every row">
                    {(id) => (
                      <select
                        id={id}
                        name="default-type"
                        value={defaultType}
                        onChange={(e) => setDefaultType(e.target.value)}
                      >
                        {event.ticket_types.map((t) => (
                          <option key={t.id} value={t.id}>
                            {t.name}
                          </option>
                        ))}
                      </select>
                    )}
                  </Field>
                )}
              </fieldset>
              <h3>First rows of {fileName}</h3>
              <div className="scroll-x">
                <table className="simple preview">
                  <thead>
                    <tr>
                      <th scope="col">Line</th>
                      {headers.map((h, i) => (
                        <th scope="col" key={i}>
                          {h}
                        </th>
                      ))}
                    </tr>
                  </thead>
                  <tbody>
                    {preview.map((r, i) => (
                      <tr key={i}>
                        <td>{i + 2}</td>
                        {headers.map((_h, j) => (
                          <td key={j}>{r[j] ?? ''}</td>
                        ))}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              {prepared && (
                <p role="status" data-testid="import-summary" className={prepared.errors.length ? 'warn' : 'success'}>
                  {csv.rows.length.toLocaleString('en')} rows: {prepared.tickets.length.toLocaleString('en')} ready,{' '}
                  {prepared.errors.length === 0
                    ? 'no errors.'
                    : `${prepared.errors.length.toLocaleString('en')} with errors. Fix them in the file and choose it again; nothing is written while any row has an error.`}
                </p>
              )}
              {prepared && prepared.errors.length > 0 && (
                <ul className="row-errors" aria-label="Rows with errors" data-testid="row-errors">
                  {prepared.errors.slice(0, 500).map((e) => (
                    <li key={e.line}>
                      Line {e.line}: {e.message}
                    </li>
                  ))}
                  {prepared.errors.length > 500 && <li>…and {prepared.errors.length - 500} more.</li>}
                </ul>
              )}
              {csv.errors.length > 0 && (
                <ErrorBox
                  error={`The file could not be read everywhere: line ${csv.errors[0]!.row + 1}: ${csv.errors[0]!.message}`}
                />
              )}
            </>
          )}
          {progress && (
            <div className="import-progress">
              <progress max={progress.total} value={progress.done} aria-label="Importing tickets" />
              <p role="status" data-testid="import-progress" className="muted">
                {progress.phase === 'upload'
                  ? `Checking and uploading: ${progress.done.toLocaleString('en')} of ${progress.total.toLocaleString('en')} rows.`
                  : `Writing all ${progress.total.toLocaleString('en')} tickets at once…`}
              </p>
            </div>
          )}
          <ErrorBox error={error} />
          <div className="actions">
            <button type="button" onClick={onClose}>
              Cancel
            </button>
            <button
              type="button"
              className="primary"
              disabled={!prepared || prepared.errors.length > 0 || prepared.tickets.length === 0 || progress !== null}
              onClick={() => void write()}
            >
              Import {csv ? csv.rows.length.toLocaleString('en') : ''} tickets
            </button>
          </div>
        </>
      )}
    </Modal>
  );
}
