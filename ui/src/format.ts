// Formatting shared by every view. Money and counts use a fixed en-US format
// (the browser tests compare KPI texts with the API's numbers formatted the same way).

function group(intDigits: string): string {
  return intDigits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** 10032628.85 -> "$10,032,628.85" (two decimals, exact for API numbers, which have at most two). */
export function money(n: number): string {
  if (!Number.isFinite(n)) return '—';
  const fixed = Math.abs(n).toFixed(2);
  const [i, f] = fixed.split('.');
  return (n < 0 && fixed !== '0.00' ? '-$' : '$') + group(i) + '.' + f;
}

/** Short money for chart axes: $1.2M, $340K, $950. */
export function moneyShort(n: number): string {
  const a = Math.abs(n);
  const s = n < 0 ? '-' : '';
  if (a >= 1e9) return `${s}$${trim(a / 1e9)}B`;
  if (a >= 1e6) return `${s}$${trim(a / 1e6)}M`;
  if (a >= 1e3) return `${s}$${trim(a / 1e3)}K`;
  return `${s}$${trim(a)}`;
}

function trim(x: number): string {
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1).replace(/\.0$/, '') : x.toFixed(2).replace(/\.?0+$/, '');
}

/** 2823 -> "2,823". */
export function int(n: number): string {
  if (!Number.isFinite(n)) return '—';
  const neg = n < 0;
  return (neg ? '-' : '') + group(Math.round(Math.abs(n)).toString());
}

/** Decimal with a fixed number of digits and grouping: 3.14159 -> "3.1". */
export function dec(n: number, digits = 1): string {
  if (!Number.isFinite(n)) return '—';
  const [i, f] = Math.abs(n).toFixed(digits).split('.');
  return (n < 0 ? '-' : '') + group(i) + (f ? '.' + f : '');
}

/** 453221 -> "442.6 KiB". */
export function bytes(n: number): string {
  if (!Number.isFinite(n)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}

function pad(n: number, w = 2): string {
  return n.toString().padStart(w, '0');
}

/** ISO time -> local "2026-11-27 22:48:14" (the title attribute keeps the ISO text). */
export function localTime(iso: string, withSeconds = true): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const base = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return withSeconds ? `${base}:${pad(d.getSeconds())}` : base;
}

/** Time of day only, local: "22:48:14". */
export function clock(iso: string | number): string {
  const d = typeof iso === 'number' ? new Date(iso) : new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** "3 s ago", "5 min ago", "2 h ago". */
export function ago(iso: string, now = Date.now()): string {
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return '';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** RFC 4180 CSV text (CRLF line ends, quotes only where needed). */
export function toCsv(header: string[], rows: unknown[][]): string {
  const cell = (v: unknown): string => {
    const s = v === null || v === undefined ? '' : String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [header, ...rows].map((r) => r.map(cell).join(',')).join('\r\n') + '\r\n';
}

/** Saves CSV text as a file (client-side; no request). */
export function downloadCsv(filename: string, header: string[], rows: unknown[][]): void {
  const blob = new Blob([toCsv(header, rows)], { type: 'text/csv;charset=utf-8' });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Escapes text for the HTML that chart tooltips render. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
