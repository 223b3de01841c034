// Building blocks shared by the views: panels with a CSV export, KPI cards, multi-selects.
import { h, fill, uid } from './dom';
import { downloadCsv } from './format';

export interface CsvData {
  header: string[];
  rows: unknown[][];
}

export interface Panel {
  root: HTMLElement;
  body: HTMLElement;
  controls: HTMLElement;
  /** Sets what "Export CSV" saves; null disables the button. */
  setCsv(data: CsvData | null): void;
}

/**
 * A titled panel. data-testid="panel-<id>"; its export button is "export-<id>" and saves
 * <id>.csv from the panel's current data, client-side.
 */
export function panel(id: string, title: string, opts: { wide?: boolean; tall?: boolean; csvName?: string } = {}): Panel {
  let csv: CsvData | null = null;
  const headingId = uid('panel-title');
  const exportButton = h(
    'button',
    {
      type: 'button',
      class: 'small-button',
      'data-testid': `export-${id}`,
      'aria-label': `Export ${title} as CSV`,
      disabled: true,
      onclick: () => {
        if (csv) downloadCsv(`${opts.csvName ?? id}.csv`, csv.header, csv.rows);
      },
    },
    'Export CSV',
  );
  const controls = h('div', { class: 'panel-controls' });
  const body = h('div', { class: 'panel-body' });
  const root = h(
    'section',
    {
      class: `panel${opts.wide ? ' panel-wide' : ''}${opts.tall ? ' panel-tall' : ''}`,
      'data-testid': `panel-${id}`,
      'aria-labelledby': headingId,
    },
    h('header', { class: 'panel-header' }, h('h2', { id: headingId }, title), controls, exportButton),
    body,
  );
  return {
    root,
    body,
    controls,
    setCsv(data) {
      csv = data;
      exportButton.disabled = !data;
    },
  };
}

export interface Kpi {
  root: HTMLElement;
  set(raw: number | null, text: string, note?: string): void;
}

/** A KPI card; the value element carries data-testid and data-value (the raw API number). */
export function kpi(testid: string, label: string): Kpi {
  const value = h('div', { class: 'kpi-value', 'data-testid': testid, 'data-value': '' }, '…');
  const note = h('div', { class: 'kpi-note' });
  const root = h('div', { class: 'kpi' }, h('div', { class: 'kpi-label' }, label), value, note);
  return {
    root,
    set(raw, text, n) {
      value.textContent = text;
      value.title = text;
      value.dataset.value = raw === null ? '' : String(raw);
      note.textContent = n ?? '';
    },
  };
}

export interface MultiSelect {
  root: HTMLDetailsElement;
  setOptions(options: string[]): void;
  setSelected(values: string[]): void;
}

const openMenus = new Set<HTMLDetailsElement>();
document.addEventListener('click', (ev) => {
  for (const d of openMenus) if (!d.contains(ev.target as Node)) d.open = false;
});

/**
 * A dropdown of checkboxes (<details>), keyboard-usable: Enter/Space opens, Tab moves
 * through the boxes, Escape closes. data-testid on the <details>; data-value holds the
 * selection joined with commas.
 */
export function multiSelect(opts: { testid: string; label: string; onChange: (values: string[]) => void }): MultiSelect {
  let options: string[] = [];
  let selected: string[] = [];
  const summaryValue = h('span', { class: 'ms-value' }, 'All');
  const summary = h('summary', { class: 'ms-summary' }, h('span', { class: 'ms-label' }, `${opts.label}: `), summaryValue);
  const list = h('div', { class: 'ms-list', role: 'group', 'aria-label': opts.label });
  const clear = h(
    'button',
    {
      type: 'button',
      class: 'small-button',
      onclick: () => {
        selected = [];
        render();
        opts.onChange([]);
      },
    },
    'Clear',
  );
  const root = h('details', { class: 'ms', 'data-testid': opts.testid, 'data-value': '' }, summary, h('div', { class: 'ms-menu', tabindex: '-1' }, list, clear));
  root.addEventListener('toggle', () => {
    if (root.open) openMenus.add(root);
    else openMenus.delete(root);
  });
  // Tabbing out of an open menu closes it.
  root.addEventListener('focusout', (ev) => {
    if (root.open && !root.contains(ev.relatedTarget as Node | null)) root.open = false;
  });
  root.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && root.open) {
      root.open = false;
      summary.focus();
    }
  });

  function render(): void {
    const all = [...options, ...selected.filter((s) => !options.includes(s))];
    fill(
      list,
      all.map((o) => {
        const box = h('input', {
          type: 'checkbox',
          value: o,
          checked: selected.includes(o),
          onchange: (ev: Event) => {
            const on = (ev.target as HTMLInputElement).checked;
            selected = on ? [...selected, o] : selected.filter((s) => s !== o);
            // Keep the API's option order so URLs are stable.
            selected.sort((a, b) => all.indexOf(a) - all.indexOf(b));
            update();
            opts.onChange([...selected]);
          },
        });
        return h('label', { class: 'ms-option' }, box, h('span', null, o));
      }),
    );
    update();
  }

  function update(): void {
    summaryValue.textContent = selected.length === 0 ? 'All' : selected.length <= 2 ? selected.join(', ') : `${selected.length} selected`;
    root.dataset.value = selected.join(',');
    summary.setAttribute('aria-label', `${opts.label}: ${selected.length ? selected.join(', ') : 'all'}`);
    clear.disabled = selected.length === 0;
  }

  render();
  return {
    root,
    setOptions(o) {
      options = o;
      render();
    },
    setSelected(v) {
      if (v.join(',') === selected.join(',')) return;
      selected = [...v];
      render();
    },
  };
}

/** A status dot + text, coloured by `state` through CSS ([data-state]). */
export function statusBadge(testid: string, state: string, text: string): HTMLElement {
  return h('span', { class: 'badge', 'data-testid': testid, 'data-state': state }, h('span', { class: 'dot', 'aria-hidden': 'true' }), text);
}
