/** Entries and exits per minute per gate, the last 120 minutes: a uPlot chart, and the same numbers as a table. */
import { useEffect, useMemo, useRef, type ReactNode } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { clock } from '../../lib/time.ts';
import type { RateBucket } from './live.ts';

// Distinguishable without colour too: entries solid, exits dashed, and each gate named in the legend.
const PALETTE = ['#1f5fbf', '#b3261e', '#1e7a3a', '#8a5300', '#6b3fa0', '#00707a', '#5b6470'];
const MINUTE = 60_000;

interface Props {
  rate: Map<string, RateBucket>;
  gates: Array<{ gate_id: string; name: string }>;
  timezone: string;
  now: number;
}

export function RateChart({ rate, gates, timezone, now }: Props): ReactNode {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  const table = useMemo(() => {
    const shown = gates.filter((g) => [...rate.values()].some((b) => b.gate_id === g.gate_id));
    // The clock ticks every 30 s; a scan in a minute that began since then still gets its row and point at once.
    let end = Math.floor(now / MINUTE) * MINUTE;
    for (const b of rate.values()) if (b.minute > end) end = b.minute;
    const minutes: number[] = [];
    for (let m = end - 119 * MINUTE; m <= end; m += MINUTE) minutes.push(m);
    const cell = (m: number, gate: string, key: 'entries' | 'exits'): number => rate.get(`${m}|${gate}`)?.[key] ?? 0;
    return { shown, minutes, cell };
  }, [rate, gates, now]);

  const data = useMemo((): uPlot.AlignedData => {
    const xs = table.minutes.map((m) => m / 1000);
    const series: number[][] = [];
    for (const g of table.shown) {
      series.push(table.minutes.map((m) => table.cell(m, g.gate_id, 'entries')));
      series.push(table.minutes.map((m) => table.cell(m, g.gate_id, 'exits')));
    }
    return [xs, ...series];
  }, [table]);

  const shape = table.shown.map((g) => g.gate_id).join(',');
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const opts: uPlot.Options = {
      width: Math.max(280, el.clientWidth),
      height: 220,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), timezone),
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(5, Math.ceil(max * 1.1))] } },
      // Ticks in the event's zone, 24-hour, as every other time in the console.
      axes: [{ values: (_u, splits) => splits.map((sec) => clock(sec * 1000, timezone)) }, { label: 'per minute' }],
      series: [
        { label: 'Time', value: (_u, sec) => (sec == null ? '--' : clock(sec * 1000, timezone)) },
        ...table.shown.flatMap((g, i) => {
          const stroke = PALETTE[i % PALETTE.length]!;
          return [
            { label: `${g.name} in`, stroke, width: 2 },
            { label: `${g.name} out`, stroke, width: 2, dash: [6, 4] },
          ];
        }),
      ],
    };
    const u = new uPlot(opts, data, el);
    plot.current = u;
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(280, el.clientWidth), height: 220 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
    // Rebuilt only when the gates shown change; new numbers go through setData below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [shape, timezone]);

  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);

  const recent = table.minutes.slice(-15).reverse();
  return (
    <figure className="rate-chart" aria-labelledby="rate-title">
      <figcaption id="rate-title">
        <h2>Entries and exits per minute, per gate</h2>
        <span className="muted">Last 120 minutes, {timezone}. Solid line: entries; dashed: exits.</span>
      </figcaption>
      {table.shown.length === 0 ? (
        <p className="empty">No admissions in the last 120 minutes.</p>
      ) : (
        <div ref={box} className="chart-box" aria-hidden="true" />
      )}
      <details>
        <summary>The last 15 minutes as a table</summary>
        <div className="scroll-x">
          <table className="simple" data-testid="rate-table">
            <caption className="sr-only">Entries and exits per minute per gate</caption>
            <thead>
              <tr>
                <th scope="col">Minute</th>
                {table.shown.map((g) => (
                  <th key={g.gate_id} scope="col">
                    {g.name} in / out
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {recent.map((m) => (
                <tr key={m}>
                  <th scope="row">{clock(m, timezone)}</th>
                  {table.shown.map((g) => (
                    <td key={g.gate_id}>
                      {table.cell(m, g.gate_id, 'entries')} / {table.cell(m, g.gate_id, 'exits')}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </figure>
  );
}
