// Lake: browse directories (#/lake?path=/user/sqoop/sales) and preview a file's first
// 50 lines (#/lake?path=/user/sqoop/sales&file=part-m-00000).
import { h, fill } from '../dom';
import { api } from '../api';
import { navigate, type Params } from '../router';
import { bytes, localTime } from '../format';
import { showError, clearError, isAbort } from '../notify';
import { panel } from '../widgets';
import { setState, type View } from '../view';
import type { LakeHead, LakeListing } from '../types';

const PREVIEW_LINES = 50;

function isDir(type: string): boolean {
  return type === 'dir' || type === 'directory';
}

function join(dir: string, name: string): string {
  return `${dir.replace(/\/+$/, '')}/${name}`;
}

export class LakeView implements View {
  readonly root = h('div', { class: 'view', 'data-testid': 'view-lake', 'data-state': 'loading' });
  private params: Params = {};
  private listed = '';
  private previewed = '';
  private abortLs: AbortController | null = null;
  private abortHead: AbortController | null = null;
  private readonly crumbs = h('nav', { class: 'crumbs', 'aria-label': 'Lake path', 'data-testid': 'lake-breadcrumbs' });
  private readonly table = h('table', { class: 'data-table', 'data-testid': 'lake-entries' });
  private readonly preview = h('pre', { class: 'preview', 'data-testid': 'lake-preview', tabindex: '0' });
  private readonly previewNote = h('p', { class: 'dataset-note', 'data-testid': 'lake-preview-note' });
  private readonly pList = panel('lake-list', 'Directory', { wide: true, csvName: 'lake-listing' });
  private readonly pPreview = panel('lake-preview', 'Preview', { wide: true, csvName: 'lake-preview' });

  constructor() {
    this.pList.body.append(this.crumbs, h('div', { class: 'table-scroll' }, this.table));
    this.pPreview.body.append(this.previewNote, this.preview);
    this.pPreview.root.hidden = true;
    this.root.append(h('div', { class: 'grid' }, this.pList.root, this.pPreview.root));
  }

  enter(params: Params): void {
    this.listed = '';
    this.previewed = '';
    this.update(params);
  }

  update(params: Params): void {
    this.params = params;
    const path = params.path || '/';
    const file = params.file ? join(path, params.file) : '';
    if (path !== this.listed) this.list(path);
    if (file !== this.previewed) this.head(file);
  }

  leave(): void {
    this.abortLs?.abort();
    this.abortHead?.abort();
  }

  private async list(path: string): Promise<void> {
    this.listed = path;
    this.abortLs?.abort();
    const ac = new AbortController();
    this.abortLs = ac;
    setState(this.root, 'loading');
    this.renderCrumbs(path);
    try {
      const res = await api<LakeListing>('/api/v1/lake/ls', { path }, ac.signal);
      clearError('lake');
      this.renderList(res);
      setState(this.root, 'ready');
    } catch (e) {
      if (isAbort(e)) return;
      showError('lake', e);
      fill(this.table, h('tbody', null, h('tr', null, h('td', { class: 'empty' }, 'Cannot list this directory.'))));
      setState(this.root, 'error');
    }
  }

  private renderCrumbs(path: string): void {
    const parts = path.split('/').filter(Boolean);
    const items: HTMLElement[] = [];
    const link = (label: string, target: string, current: boolean) =>
      current
        ? h('span', { 'aria-current': 'page', class: 'crumb-current' }, label)
        : h('a', { href: `#/lake?path=${encodeURIComponent(target).replace(/%2F/g, '/')}` }, label);
    items.push(link('lake root', '/', parts.length === 0));
    parts.forEach((p, i) => {
      items.push(h('span', { class: 'crumb-sep', 'aria-hidden': 'true' }, '/'));
      items.push(link(p, '/' + parts.slice(0, i + 1).join('/'), i === parts.length - 1));
    });
    fill(this.crumbs, items);
  }

  private renderList(res: LakeListing): void {
    const entries = [...(res.entries ?? [])].sort((a, b) => Number(isDir(b.type)) - Number(isDir(a.type)) || a.name.localeCompare(b.name));
    const dir = res.path || this.listed;
    const up = dir !== '/' && dir !== '' ? dir.replace(/\/[^/]*\/?$/, '') || '/' : null;
    fill(
      this.table,
      h('caption', { class: 'visually-hidden' }, `Contents of ${dir}`),
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col', class: 'num' }, 'Size'), h('th', { scope: 'col' }, 'Modified'))),
      h(
        'tbody',
        null,
        up !== null && h('tr', null, h('td', null, h('button', { type: 'button', class: 'link-button', 'data-testid': 'lake-up', onclick: () => navigate('lake', { path: up }) }, '↰ ..')), h('td'), h('td')),
        entries.map((e) => {
          const d = isDir(e.type);
          const selected = !d && this.params.file === e.name;
          return h(
            'tr',
            { 'data-testid': 'lake-entry', 'data-type': d ? 'dir' : 'file', 'data-name': e.name, class: selected ? 'selected' : '' },
            h(
              'td',
              null,
              h(
                'button',
                {
                  type: 'button',
                  class: 'link-button',
                  'aria-label': d ? `Open directory ${e.name}` : `Preview file ${e.name}`,
                  'aria-current': selected ? 'true' : false,
                  onclick: () => navigate('lake', d ? { path: join(dir, e.name) } : { path: dir, file: e.name }),
                },
                h('span', { class: d ? 'icon icon-dir' : 'icon icon-file', 'aria-hidden': 'true' }),
                e.name,
                d ? '/' : '',
              ),
            ),
            h('td', { class: 'num', title: d ? '' : `${e.size} bytes` }, d ? '—' : bytes(e.size)),
            h('td', { title: e.mtime }, e.mtime ? localTime(e.mtime, false) : ''),
          );
        }),
        entries.length === 0 && h('tr', null, h('td', { colspan: 3, class: 'empty' }, 'Empty directory.')),
      ),
    );
    this.pList.setCsv({ header: ['name', 'type', 'size', 'mtime'], rows: entries.map((e) => [e.name, e.type, e.size, e.mtime]) });
  }

  private async head(file: string): Promise<void> {
    this.previewed = file;
    this.abortHead?.abort();
    if (!file) {
      this.pPreview.root.hidden = true;
      return;
    }
    const ac = new AbortController();
    this.abortHead = ac;
    this.pPreview.root.hidden = false;
    this.previewNote.textContent = `Loading ${file}…`;
    try {
      const res = await api<LakeHead>('/api/v1/lake/head', { path: file, lines: PREVIEW_LINES }, ac.signal);
      clearError('lake-head');
      this.previewNote.textContent = `${res.path}: first ${res.lines.length} line${res.lines.length === 1 ? '' : 's'}${res.truncated ? ' (the file has more)' : ''}`;
      this.preview.textContent = res.lines.join('\n');
      this.preview.setAttribute('aria-label', `First lines of ${res.path}`);
      this.pPreview.setCsv({ header: ['line'], rows: res.lines.map((l) => [l]) });
      // Mark the selected row without re-listing.
      for (const tr of this.table.querySelectorAll<HTMLElement>('tr[data-name]')) tr.classList.toggle('selected', tr.dataset.name === this.params.file);
    } catch (e) {
      if (isAbort(e)) return;
      showError('lake-head', e);
      this.previewNote.textContent = `Cannot preview ${file}.`;
      this.preview.textContent = '';
      this.pPreview.setCsv(null);
    }
  }
}
