/**
 * Just enough XML for vSphere's SOAP answers: elements, attributes, text, the five predefined
 * entities and numeric references. No DTDs, no processing beyond the prolog: the server is the
 * only author, and a small parser we own beats a dependency for a dozen element shapes.
 */
export interface XmlNode {
  /** Local name, namespace prefix dropped (`soapenv:Body` → `Body`). */
  name: string;
  attrs: Record<string, string>;
  children: XmlNode[];
  text: string;
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decode(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (m, e: string) => {
    if (e.startsWith('#x')) return String.fromCodePoint(parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(parseInt(e.slice(1), 10));
    return ENTITIES[e] ?? m;
  });
}

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&${Object.entries(ENTITIES).find(([, v]) => v === c)![0]};`);
}

const local = (qname: string): string => qname.slice(qname.indexOf(':') + 1);

export function parseXml(xml: string): XmlNode {
  const root: XmlNode = { name: '#document', attrs: {}, children: [], text: '' };
  const stack: XmlNode[] = [root];
  const tag =
    /<(\/?)([A-Za-z_][\w:.-]*)((?:\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>|<\?[\s\S]*?\?>|<!--[\s\S]*?-->|<!\[CDATA\[([\s\S]*?)\]\]>/g;
  let last = 0;
  for (let m = tag.exec(xml); m; m = tag.exec(xml)) {
    const top = stack[stack.length - 1]!;
    top.text += decode(xml.slice(last, m.index));
    last = tag.lastIndex;
    if (m[5] !== undefined) {
      top.text += m[5];
      continue;
    }
    if (!m[2]) continue; // prolog or comment
    if (m[1]) {
      if (stack.length === 1 || top.name !== local(m[2])) throw new Error(`malformed XML: unexpected </${m[2]}>`);
      stack.pop();
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of (m[3] ?? '').matchAll(/([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
      attrs[a[1]!] = decode(a[2] ?? a[3] ?? '');
    }
    const node: XmlNode = { name: local(m[2]), attrs, children: [], text: '' };
    top.children.push(node);
    if (!m[4]) stack.push(node);
  }
  if (stack.length !== 1) throw new Error(`malformed XML: <${stack[stack.length - 1]!.name}> not closed`);
  return root;
}

/** The first descendant (depth first) named `name`. */
export function find(node: XmlNode | undefined, name: string): XmlNode | undefined {
  if (!node) return undefined;
  for (const c of node.children) {
    if (c.name === name) return c;
    const deep = find(c, name);
    if (deep) return deep;
  }
  return undefined;
}

export function child(node: XmlNode | undefined, name: string): XmlNode | undefined {
  return node?.children.find((c) => c.name === name);
}

export function children(node: XmlNode | undefined, name: string): XmlNode[] {
  return node?.children.filter((c) => c.name === name) ?? [];
}

/** The text of the child `name` (or of `node` itself when no name is given). */
export function textOf(node: XmlNode | undefined, name?: string): string | undefined {
  const n = name === undefined ? node : child(node, name);
  return n?.text.trim();
}

/** The `xsi:type` of an element (the concrete type of a polymorphic value). */
export function xsiType(node: XmlNode | undefined): string | undefined {
  if (!node) return undefined;
  const t = node.attrs['xsi:type'] ?? Object.entries(node.attrs).find(([k]) => k.endsWith(':type'))?.[1];
  return t ? local(t) : undefined;
}

/** Request-side: `<name attrs>inner</name>`; inner is already XML. */
export function el(name: string, inner: string, attrs: Record<string, string> = {}): string {
  const a = Object.entries(attrs)
    .map(([k, v]) => ` ${k}="${escapeXml(v)}"`)
    .join('');
  return `<${name}${a}>${inner}</${name}>`;
}

export function textEl(name: string, value: string | number | boolean): string {
  return el(name, escapeXml(String(value)));
}

/** A polymorphic value: vSphere needs the concrete type named. */
export function typedEl(name: string, type: string, inner: string): string {
  return el(name, inner, { 'xsi:type': type });
}
