// Response shapes of docs/api.md (only the fields the UI reads).

export interface Group {
  key: string;
  sales: number;
  rows: number;
  orders: number;
}

export interface SalesSummary {
  rows: number;
  orders: number;
  customers: number;
  quantity: number;
  total_sales: number;
  avg_sales_per_row: number;
  avg_sales_per_order: number;
  by_productline: Group[];
  by_status: Group[];
  by_dealsize: Group[];
  by_country: Group[];
  by_territory: Group[];
  by_year: Group[];
  by_month: Group[];
  top_customers: Group[];
  dataset?: SalesDataset;
  elapsed_ms?: number;
  cached?: boolean;
}

/** /api/v1/live/days: the days before today, from the archive's daily view. */
export interface LiveDays {
  days: { day: string; events: number; revenue: number; by_status: LiveGroup[]; by_productline: LiveGroup[] }[];
  view: { dir: string; engine: string; built_at: string; events: number } | null;
  note?: string;
}

/** Where the Sales tab's numbers came from: the rows, or the sales view (docs/views.md). */
export interface SalesDataset {
  path: string;
  version: number;
  rows: number;
  records: number;
  files: number;
  from: 'rows' | 'views';
  view?: { dir: string; engine: string; built_at: string; current: boolean; stale?: string };
  why_rows?: string;
}

export interface SalesOptions {
  productline: string[];
  country: string[];
  status: string[];
  dealsize: string[];
  territory: string[];
  min_date: string;
  max_date: string;
}

export interface TimePoint extends Group {
  start: string;
}

export interface Timeseries {
  bucket: string;
  points: TimePoint[];
}

export interface SalesRow {
  ordernumber: number;
  orderlinenumber: number;
  orderdate: string;
  customer: string;
  productline: string;
  productcode: string;
  quantity: number;
  priceeach: number;
  sales: number;
  status: string;
  dealsize: string;
  country: string;
  territory: string;
}

export interface SalesRows {
  total: number;
  offset: number;
  limit: number;
  rows: SalesRow[];
}

export interface LiveEvent {
  event_id: string;
  ts: string;
  order_number: number;
  customer: string;
  country: string;
  product_line: string;
  quantity: number;
  amount: number;
  status: string;
  deal_size: string;
}

export interface LiveGroup {
  key: string;
  events: number;
  revenue: number;
}

export interface PerSecond {
  t: number;
  events: number;
  revenue: number;
}

export interface Latency {
  p50: number;
  p99: number;
}

export interface LiveSnapshot {
  window_s: number;
  events: number;
  revenue: number;
  per_second: PerSecond[];
  by_status: LiveGroup[];
  by_productline: LiveGroup[];
  latest: LiveEvent[];
  malformed: number;
  latency_ms: Latency;
  today_revenue: number;
  today_events: number;
}

export interface LiveTick extends PerSecond {
  /** The newest events of the second (at most 50). */
  new: LiveEvent[];
  /** Exact counts of the second, whatever its rate. */
  by_status?: LiveGroup[];
  by_productline?: LiveGroup[];
  today_revenue: number;
  today_events: number;
  malformed: number;
  latency_ms: Latency;
}

export interface LogLine {
  ts: string;
  level: string;
  message: string;
  file: string;
}

export interface LogSearch {
  lines: LogLine[];
  files_scanned: number;
  files_skipped: number;
  truncated: boolean;
}

export interface LakeEntry {
  name: string;
  type: string;
  size: number;
  mtime: string;
}

export interface LakeListing {
  path: string;
  entries: LakeEntry[];
}

export interface LakeHead {
  path: string;
  lines: string[];
  truncated: boolean;
}

export interface Component {
  name: string;
  status: string;
  detail: string;
  checked_at: string;
}

export interface Health {
  status: string;
  checked_at: string;
  components: Component[];
}

export interface QualityRule {
  number: number;
  name: string;
  check: string;
  column: string;
  action: string;
  describe: string;
  failed: number;
}

export interface QualityRun {
  run: string;
  time: string;
  dataset: string;
  writer: string;
  outcome: string;
  rows_in: number;
  rows_out: number;
  rejected: number;
  warned: number;
  failure: string;
  rules: QualityRule[];
  rejects_dir: string;
}

export interface QualityDataset {
  dataset: string;
  runs: QualityRun[];
  skipped_lines: number;
  error?: string;
}

export interface Quality {
  datasets: QualityDataset[];
}

export interface QualityRejects {
  dataset: string;
  run: string;
  columns: string[];
  total: number;
  offset: number;
  rows: (string | null)[][];
}
