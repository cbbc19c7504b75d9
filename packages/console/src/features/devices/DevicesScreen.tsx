/** Devices: pair, list (name, events, gate, status, last seen), rename / set gate, suspend / activate / revoke several at once. */
import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import type { ColumnDef, RowSelectionState } from '@tanstack/react-table';
import { useCallback, useMemo, useState, useSyncExternalStore, type FormEvent, type ReactNode } from 'react';
import { useParams } from 'react-router';
import { errorText } from '../../api/client.ts';
import { eventDevicesQuery, eventQuery, eventsQuery } from '../../api/queries.ts';
import type { DeviceView, EventDetail } from '../../api/types.ts';
import { IfRole, useCan } from '../../auth/session.tsx';
import { ago } from '../../lib/time.ts';
import { DataTable, selectColumn } from '../../ui/DataTable.tsx';
import { Empty, ErrorBox, Field, Modal, StatusBadge, TextField } from '../../ui/kit.tsx';
import { useBulkDeviceAction, useUpdateDevice, type DeviceAction } from './devices.queries.ts';
import { PairDialog } from './PairDialog.tsx';
import { FleetSection } from '../fleet/FleetSection.tsx';

const NARROW = '(max-width: 900px)';
/** A tablet-wide screen: the devices of this event are listed without their Events column (the page is the event's). */
function useNarrow(): boolean {
  return useSyncExternalStore(
    (notify) => {
      const m = window.matchMedia(NARROW);
      m.addEventListener('change', notify);
      return () => m.removeEventListener('change', notify);
    },
    () => window.matchMedia(NARROW).matches,
  );
}

export function DevicesScreen(): ReactNode {
  const { eventId = '' } = useParams();
  const event = useQuery(eventQuery(eventId));
  const events = useQuery(eventsQuery());
  const [pairing, setPairing] = useState(false);
  // Server pages of this event's devices (cursor), rendered virtualised; refreshed often while pairing so the new one shows.
  const devices = useInfiniteQuery({ ...eventDevicesQuery(eventId), refetchInterval: pairing ? 3000 : 30_000 });
  const { hasNextPage, isFetchingNextPage, fetchNextPage } = devices;
  const more = useCallback(() => {
    if (hasNextPage && !isFetchingNextPage) void fetchNextPage();
  }, [hasNextPage, isFetchingNextPage, fetchNextPage]);
  const [selection, setSelection] = useState<RowSelectionState>({});
  const [action, setAction] = useState<DeviceAction | null>(null);
  const [editing, setEditing] = useState<DeviceView | null>(null);
  const canManage = useCan('manager');
  const narrow = useNarrow();
  const canSupervise = useCan('supervisor');
  const eventName = useMemo(() => new Map(events.data?.map((e) => [e.id, e.name])), [events.data]);
  const gateName = useMemo(() => new Map(event.data?.gates.map((g) => [g.id, g.name])), [event.data]);
  const rows = useMemo(() => devices.data?.pages.flatMap((p) => p.devices) ?? [], [devices.data]);
  const selected = rows.filter((d) => selection[d.device_id]);
  const now = Date.now();

  const columns = useMemo<ColumnDef<DeviceView, unknown>[]>(
    () => [
      ...(canSupervise ? [selectColumn<DeviceView>((d) => d.name)] : []),
      { header: 'Name', accessorKey: 'name' },
      ...(narrow
        ? []
        : [
            {
              header: 'Events',
              id: 'events',
              cell: (c) =>
                c.row.original.event_ids === null
                  ? 'All events'
                  : c.row.original.event_ids.map((id) => eventName.get(id) ?? '?').join(', '),
            } satisfies ColumnDef<DeviceView, unknown>,
          ]),
      {
        header: 'Gate',
        id: 'gate',
        size: 140,
        cell: (c) =>
          c.row.original.default_gate_id ? (gateName.get(c.row.original.default_gate_id) ?? '?') : 'chosen on device',
      },
      {
        header: 'Status',
        accessorKey: 'status',
        size: 120,
        minSize: 100,
        cell: (c) => <StatusBadge status={c.row.original.status} />,
      },
      { header: 'Last seen', id: 'seen', size: 130, cell: (c) => ago(c.row.original.last_seen_at, now) },
      ...(canManage
        ? [
            {
              // The button's own width, padding included: never cut.
              id: 'edit',
              size: 90,
              minSize: 84,
              header: () => <span className="sr-only">Edit</span>,
              cell: (c) => (
                <button
                  type="button"
                  onClick={() => setEditing(c.row.original)}
                  aria-label={`Edit ${c.row.original.name}`}
                >
                  Edit
                </button>
              ),
            } satisfies ColumnDef<DeviceView, unknown>,
          ]
        : []),
    ],
    [canSupervise, canManage, eventName, gateName, now, narrow],
  );

  return (
    <section>
      <div className="page-head">
        <h1>Devices{event.data ? ` · ${event.data.name}` : ''}</h1>
        <IfRole role="supervisor">
          <button type="button" className="primary" onClick={() => setPairing(true)} disabled={!event.data}>
            Pair a scanner
          </button>
        </IfRole>
      </div>
      {event.data && <FleetSection eventId={eventId} timezone={event.data.timezone} />}
      <h2>Manage devices</h2>
      <ErrorBox error={devices.error ? errorText(devices.error) : null} />
      <IfRole role="supervisor">
        <div className="bulkbar" aria-label="Selected devices" role="toolbar">
          <span>{selected.length} selected</span>
          <button type="button" disabled={!selected.length} onClick={() => setAction('suspend')}>
            Suspend
          </button>
          <button type="button" disabled={!selected.length} onClick={() => setAction('activate')}>
            Activate
          </button>
          <button type="button" className="danger" disabled={!selected.length} onClick={() => setAction('revoke')}>
            Revoke
          </button>
        </div>
      </IfRole>
      {devices.data && rows.length === 0 && <Empty>No scanners for this event yet. Pair one: it takes a minute.</Empty>}
      {rows.length > 0 && (
        <DataTable
          label="Devices"
          data={rows}
          columns={columns}
          getRowId={(d) => d.device_id}
          rowSelection={selection}
          onRowSelectionChange={canSupervise ? setSelection : undefined}
          onEndReached={more}
          height={520}
        />
      )}
      {pairing && event.data && <PairDialog event={event.data} onClose={() => setPairing(false)} />}
      {action && (
        <BulkDialog
          action={action}
          devices={selected}
          onClose={(ok) => {
            setAction(null);
            if (ok) setSelection({});
          }}
        />
      )}
      {editing && event.data && (
        <EditDeviceDialog device={editing} event={event.data} onClose={() => setEditing(null)} />
      )}
    </section>
  );
}

const WORDS: Record<DeviceAction, { title: string; button: string; explain: string }> = {
  suspend: { title: 'Suspend devices', button: 'Suspend', explain: 'They stop scanning until activated again.' },
  activate: { title: 'Activate devices', button: 'Activate', explain: 'They may scan again.' },
  revoke: {
    title: 'Revoke devices',
    button: 'Revoke for good',
    explain: 'For lost or stolen devices: they can never scan again and must be paired anew.',
  },
};

function BulkDialog({
  action,
  devices,
  onClose,
}: {
  action: DeviceAction;
  devices: DeviceView[];
  onClose: (ok: boolean) => void;
}): ReactNode {
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string | null>(null);
  const bulk = useBulkDeviceAction();
  const w = WORDS[action];
  function submit(e: FormEvent): void {
    e.preventDefault();
    if (action === 'revoke' && !reason.trim())
      return setError('Reason is needed to revoke: say why, e.g. lost or stolen.');
    setError(null);
    bulk.mutate(
      { ids: devices.map((d) => d.device_id), action, reason: reason.trim() },
      {
        onSuccess: (results) => {
          const failed = results.filter((r) => r.error);
          if (!failed.length) return onClose(true);
          setError(
            failed
              .map((f) => `${devices.find((d) => d.device_id === f.id)?.name ?? f.id}: ${errorText(f.error)}`)
              .join(' '),
          );
        },
      },
    );
  }
  return (
    <Modal
      title={w.title}
      open
      onOpenChange={(o) => {
        if (!o) onClose(false);
      }}
    >
      <form onSubmit={submit} noValidate>
        <p>{w.explain}</p>
        <ul>
          {devices.map((d) => (
            <li key={d.device_id}>{d.name}</li>
          ))}
        </ul>
        {action !== 'activate' && (
          <TextField
            label="Reason"
            name="device-reason"
            value={reason}
            onChange={setReason}
            error={error && !reason.trim() ? error : undefined}
          />
        )}
        <ErrorBox error={error && reason.trim() ? error : null} />
        <div className="actions">
          <button type="button" onClick={() => onClose(false)}>
            Cancel
          </button>
          <button type="submit" className={action === 'revoke' ? 'danger' : 'primary'} disabled={bulk.isPending}>
            {w.button} {devices.length} device{devices.length === 1 ? '' : 's'}
          </button>
        </div>
      </form>
    </Modal>
  );
}

function EditDeviceDialog({
  device,
  event,
  onClose,
}: {
  device: DeviceView;
  event: EventDetail;
  onClose: () => void;
}): ReactNode {
  const [name, setName] = useState(device.name);
  const [gate, setGate] = useState(device.default_gate_id ?? '');
  const [error, setError] = useState<string | null>(null);
  const update = useUpdateDevice();
  function submit(e: FormEvent): void {
    e.preventDefault();
    if (!name.trim()) return setError('Name cannot be empty.');
    setError(null);
    update.mutate(
      { id: device.device_id, body: { name: name.trim(), default_gate_id: gate || null } },
      { onSuccess: onClose },
    );
  }
  return (
    <Modal
      title={`Edit ${device.name}`}
      open
      onOpenChange={(o) => {
        if (!o) onClose();
      }}
    >
      <form onSubmit={submit} noValidate>
        <TextField label="Device name" name="device-name" value={name} onChange={setName} error={error ?? undefined} />
        <Field label="Gate">
          {(id) => (
            <select id={id} value={gate} onChange={(e) => setGate(e.target.value)}>
              <option value="">Chosen on the device</option>
              {event.gates.map((g) => (
                <option key={g.id} value={g.id}>
                  {g.name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <ErrorBox error={update.error ? errorText(update.error) : null} />
        <div className="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary">
            Save device
          </button>
        </div>
      </form>
    </Modal>
  );
}
