// ECharts, tree-shaken: only the canvas renderer, line/bar/pie, grid and tooltip
// (legend and data zoom cost ~15 KB gzip for little: pie labels name their slices).
// The canvas renderer needs no eval and no inline script, so it runs under the strict CSP.
import * as echarts from 'echarts/core';
import { BarChart, LineChart, PieChart } from 'echarts/charts';
import { GridComponent, TooltipComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';
import type { EChartsCoreOption } from 'echarts/core';

echarts.use([BarChart, LineChart, PieChart, GridComponent, TooltipComponent, CanvasRenderer]);

export type Option = EChartsCoreOption;

const live = new Set<Chart>();

export function currentTheme(): 'light' | 'dark' {
  const t = document.documentElement.dataset.theme;
  if (t === 'light' || t === 'dark') return t;
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

export function reducedMotion(): boolean {
  return matchMedia('(prefers-reduced-motion: reduce)').matches;
}

/** Re-creates every chart with the current theme (after the theme toggle). */
export function rethemeAll(): void {
  for (const c of live) c.retheme();
}

/**
 * One chart in a container. The container is role="img" with an aria-label that
 * names the chart and summarises its data; the panel's CSV export has the full data.
 */
export class Chart {
  private inst: echarts.ECharts | null = null;
  private option: Option | null = null;
  private readonly resize: ResizeObserver;
  private readonly empty: HTMLElement;
  private readonly handlers: [string, (params: any) => void][] = [];

  constructor(
    readonly el: HTMLElement,
    private readonly label: string,
  ) {
    el.classList.add('chart');
    el.setAttribute('role', 'img');
    el.setAttribute('aria-label', label);
    this.empty = document.createElement('div');
    this.empty.className = 'chart-empty';
    this.empty.textContent = 'No data for these filters';
    this.empty.hidden = true;
    el.append(this.empty);
    this.resize = new ResizeObserver(() => this.inst?.resize());
    this.resize.observe(el);
    live.add(this);
  }

  private ensure(): echarts.ECharts {
    if (!this.inst) {
      this.inst = echarts.init(this.el, currentTheme() === 'dark' ? 'dark' : undefined, { renderer: 'canvas' });
      for (const [ev, fn] of this.handlers) this.inst.on(ev, fn);
    }
    return this.inst;
  }

  /** Replaces the chart's option; `summary` is appended to the aria-label. */
  set(option: Option, opts: { summary?: string; empty?: boolean; merge?: boolean } = {}): void {
    const full: Option = { backgroundColor: 'transparent', animation: !reducedMotion(), ...option };
    this.option = full;
    this.ensure().setOption(full, { notMerge: !opts.merge, lazyUpdate: true });
    this.empty.hidden = !opts.empty;
    this.el.setAttribute('aria-label', opts.summary ? `${this.label}. ${opts.summary}` : this.label);
  }

  on(event: string, handler: (params: any) => void): void {
    this.handlers.push([event, handler]);
    this.inst?.on(event, handler);
  }

  retheme(): void {
    if (!this.inst) return;
    this.inst.dispose();
    this.inst = null;
    if (this.option) this.ensure().setOption(this.option, { notMerge: true });
  }

  dispose(): void {
    this.resize.disconnect();
    this.inst?.dispose();
    this.inst = null;
    live.delete(this);
  }
}

/** Top n entries of a list as "a $1.2M, b $900K" for aria-labels. */
export function summarize<T>(items: T[], label: (t: T) => string, n = 5): string {
  const head = items.slice(0, n).map(label).join(', ');
  return items.length > n ? `${head}, and ${items.length - n} more` : head;
}
