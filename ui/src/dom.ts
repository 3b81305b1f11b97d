/**
 * A tiny element builder. Text always goes through text nodes (never innerHTML), so
 * names and messages from the API cannot inject markup.
 */
export type Child = Node | string | number | null | undefined | false;
export type Attrs = Record<string, string | number | boolean | EventListener | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') el.addEventListener(name.replace(/^on/, ''), value);
    else if (value === true) el.setAttribute(name, '');
    else el.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Replaces a container's content. */
export function mount(parent: Element, ...children: (Child | Child[])[]): void {
  parent.replaceChildren(
    ...children
      .flat()
      .filter((c): c is Node | string => c !== null && c !== undefined && c !== false)
      .map((c) => (c instanceof Node ? c : String(c))),
  );
}

/** A state label styled by its value. */
export function stateTag(state: string): HTMLElement {
  return h('span', { class: `state state-${state}`, 'data-state': state }, state);
}

/** A usage bar: `used` of `total`, with the numbers beside it. */
export function bar(used: number, total: number, unit: string): HTMLElement {
  const pct = total > 0 ? Math.min(100, Math.round((used / total) * 100)) : 0;
  const fill = h('span');
  fill.style.width = `${pct}%`;
  return h(
    'span',
    { class: 'capacity', title: `${pct}%` },
    h(
      'span',
      {
        class: pct >= 90 ? 'bar high' : 'bar',
        role: 'meter',
        'aria-valuenow': pct,
        'aria-valuemin': 0,
        'aria-valuemax': 100,
      },
      fill,
    ),
    ` ${used} / ${total} ${unit}`,
  );
}

export function errorLine(err: unknown): HTMLElement {
  return h('p', { class: 'error', role: 'alert' }, err instanceof Error ? err.message : String(err));
}
