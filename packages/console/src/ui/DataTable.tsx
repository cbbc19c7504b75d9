/**
 * One table for every list: TanStack Table for columns and row selection,
 * TanStack Virtual so that 100,000 rows render only what is on screen.
 * `onEndReached` asks for the next server page (cursor pagination).
 */
import {
  flexRender,
  getCoreRowModel,
  useReactTable,
  type ColumnDef,
  type RowSelectionState,
  type OnChangeFn,
} from '@tanstack/react-table';
import { useVirtualizer } from '@tanstack/react-virtual';
import { useEffect, useRef, type ReactNode } from 'react';

export function DataTable<T>(props: {
  label: string;
  data: T[];
  columns: ColumnDef<T, unknown>[];
  getRowId: (row: T) => string;
  rowSelection?: RowSelectionState;
  onRowSelectionChange?: OnChangeFn<RowSelectionState>;
  onEndReached?: () => void;
  height?: number;
  rowHeight?: number;
  onRowOpen?: (row: T) => void;
}): ReactNode {
  const table = useReactTable({
    data: props.data,
    columns: props.columns,
    getRowId: props.getRowId,
    getCoreRowModel: getCoreRowModel(),
    enableRowSelection: !!props.onRowSelectionChange,
    state: { rowSelection: props.rowSelection ?? {} },
    ...(props.onRowSelectionChange ? { onRowSelectionChange: props.onRowSelectionChange } : {}),
  });
  const rows = table.getRowModel().rows;
  const scrollRef = useRef<HTMLDivElement>(null);
  const rowHeight = props.rowHeight ?? 44;
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => rowHeight,
    overscan: 12,
  });
  const items = virtualizer.getVirtualItems();
  const last = items.at(-1)?.index ?? -1;
  const { onEndReached } = props;
  useEffect(() => {
    if (onEndReached && rows.length > 0 && last >= rows.length - 10) onEndReached();
  }, [last, rows.length, onEndReached]);
  // Every column but the small ones (checkboxes) shares the width in proportion to its size, down to its minSize
  // or else 60% of its size (free-width columns, names, to 6rem). A fixed maximum (minmax(…px, …px)) let sized columns take their full
  // width first and pushed the last column out of a 768 px wide table.
  const template = props.columns
    .map((c) => {
      if (!c.size || c.size === 150) return 'minmax(6rem, 1fr)';
      return c.size <= 60
        ? `${c.size}px`
        : `minmax(${c.minSize ?? Math.round(c.size * 0.6)}px, ${(c.size / 150).toFixed(2)}fr)`;
    })
    .join(' ');
  return (
    <div className="table" role="table" aria-label={props.label} aria-rowcount={rows.length + 1}>
      <div role="rowgroup" className="thead">
        {table.getHeaderGroups().map((hg) => (
          <div role="row" key={hg.id} className="tr" style={{ gridTemplateColumns: template }}>
            {hg.headers.map((h) => (
              <div role="columnheader" key={h.id} className="th">
                {h.isPlaceholder ? null : flexRender(h.column.columnDef.header, h.getContext())}
              </div>
            ))}
          </div>
        ))}
      </div>
      <div ref={scrollRef} className="tbody" role="rowgroup" style={{ maxHeight: props.height ?? 560 }}>
        <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
          {items.map((vi) => {
            const row = rows[vi.index]!;
            return (
              <div
                role="row"
                key={row.id}
                aria-rowindex={vi.index + 2}
                data-selected={row.getIsSelected() || undefined}
                className={props.onRowOpen ? 'tr clickable' : 'tr'}
                style={{
                  gridTemplateColumns: template,
                  position: 'absolute',
                  top: 0,
                  left: 0,
                  right: 0,
                  height: rowHeight,
                  transform: `translateY(${vi.start}px)`,
                }}
                onDoubleClick={props.onRowOpen ? () => props.onRowOpen!(row.original) : undefined}
              >
                {row.getVisibleCells().map((cell) => (
                  <div role="cell" key={cell.id} className="td">
                    {flexRender(cell.column.columnDef.cell, cell.getContext())}
                  </div>
                ))}
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}

/** A checkbox column for row selection (labelled for screen readers). */
export function selectColumn<T>(name: (row: T) => string): ColumnDef<T, unknown> {
  return {
    id: 'select',
    size: 44,
    header: ({ table }) => (
      <input
        type="checkbox"
        aria-label="Select all"
        checked={table.getIsAllRowsSelected()}
        onChange={table.getToggleAllRowsSelectedHandler()}
      />
    ),
    cell: ({ row }) => (
      <input
        type="checkbox"
        aria-label={`Select ${name(row.original)}`}
        checked={row.getIsSelected()}
        onChange={row.getToggleSelectedHandler()}
      />
    ),
  };
}
