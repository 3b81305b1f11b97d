import { createHash } from 'node:crypto';

/**
 * RFC 6962 / RFC 9162 Merkle tree hashing over 32-byte leaves (the events' chain
 * hashes). Leaf and node hashes are domain-separated (0x00 / 0x01) so a leaf can never
 * pass for an inner node; a tree of n leaves splits at the largest power of two below
 * n. With this shape an auditor can check one event against a signed root with
 * log2(n) hashes (inclusion) and that a later root extends an earlier one
 * (consistency), the way Certificate Transparency logs are checked.
 */
export type Digest = Buffer;

export const EMPTY_ROOT: Digest = createHash('sha256').digest();

export function leafHash(data: Buffer): Digest {
  return createHash('sha256').update(Buffer.of(0)).update(data).digest();
}

export function nodeHash(left: Digest, right: Digest): Digest {
  return createHash('sha256').update(Buffer.of(1)).update(left).update(right).digest();
}

/** The leaf of one event: its chain hash (64 hex characters) as 32 bytes. */
export function eventLeaf(hashHex: string): Digest {
  if (!/^[0-9a-f]{64}$/.test(hashHex)) throw new TypeError(`not a sha256 hex digest: ${hashHex}`);
  return leafHash(Buffer.from(hashHex, 'hex'));
}

/** The leaf of a stored hash that may have been tampered into non-hex: it still gets a leaf, one that cannot match. */
export function storedEventLeaf(hash: string): Digest {
  return /^[0-9a-f]{64}$/.test(hash) ? leafHash(Buffer.from(hash, 'hex')) : leafHash(Buffer.from(hash, 'utf8'));
}

/** Largest power of two strictly below n (n ≥ 2). */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** MTH(D[lo:hi]) over already-hashed leaves, recursively (proof building and tests). */
export function rootOf(leaves: readonly Digest[], lo = 0, hi = leaves.length): Digest {
  const n = hi - lo;
  if (n === 0) return EMPTY_ROOT;
  if (n === 1) return leaves[lo]!;
  const k = split(n);
  return nodeHash(rootOf(leaves, lo, lo + k), rootOf(leaves, lo + k, hi));
}

/**
 * The compact range of a growing tree: the roots of its perfect subtrees, largest
 * first (at most log2(n) of them). Appending a leaf costs O(1) amortised hashes and the
 * root O(log n), so a sealer never re-hashes the log between seals.
 */
export class MerkleFrontier {
  private readonly nodes: Array<{ height: number; hash: Digest }> = [];
  private n = 0;

  get size(): number {
    return this.n;
  }

  append(leaf: Digest): void {
    let node = { height: 0, hash: leaf };
    for (;;) {
      const top = this.nodes[this.nodes.length - 1];
      if (!top || top.height !== node.height) break;
      this.nodes.pop();
      node = { height: node.height + 1, hash: nodeHash(top.hash, node.hash) };
    }
    this.nodes.push(node);
    this.n++;
  }

  root(): Digest {
    if (this.nodes.length === 0) return EMPTY_ROOT;
    let acc = this.nodes[this.nodes.length - 1]!.hash;
    for (let i = this.nodes.length - 2; i >= 0; i--) acc = nodeHash(this.nodes[i]!.hash, acc);
    return acc;
  }
}

/** PATH(m, D[n]) of RFC 6962 §2.1.1: the sibling hashes from leaf `index` up to the root of the first `size` leaves. */
export function inclusionProof(leaves: readonly Digest[], index: number, size = leaves.length): Digest[] {
  if (!(index >= 0 && index < size && size <= leaves.length))
    throw new RangeError(`leaf ${index} is not in a tree of ${size}`);
  const path: Digest[] = [];
  const walk = (m: number, lo: number, hi: number): void => {
    const n = hi - lo;
    if (n === 1) return;
    const k = split(n);
    if (m < k) {
      walk(m, lo, lo + k);
      path.push(rootOf(leaves, lo + k, hi));
    } else {
      walk(m - k, lo + k, hi);
      path.push(rootOf(leaves, lo, lo + k));
    }
  };
  walk(index, 0, size);
  return path;
}

/** RFC 9162 §2.1.3.2: does `leaf` sit at `index` of the tree of `size` leaves whose root is `root`? */
export function verifyInclusion(
  leaf: Digest,
  index: number,
  size: number,
  proof: readonly Digest[],
  root: Digest,
): boolean {
  if (!(index >= 0 && index < size)) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && r.equals(root);
}

/** PROOF(m, D[n]) of RFC 6962 §2.1.2: that the tree of the first `m` leaves is a prefix of the tree of `n`. */
export function consistencyProof(leaves: readonly Digest[], m: number, n = leaves.length): Digest[] {
  if (!(m > 0 && m <= n && n <= leaves.length)) throw new RangeError(`no consistency proof from ${m} to ${n}`);
  const out: Digest[] = [];
  const sub = (mm: number, lo: number, hi: number, whole: boolean): void => {
    const size = hi - lo;
    if (mm === size) {
      if (!whole) out.push(rootOf(leaves, lo, hi));
      return;
    }
    const k = split(size);
    if (mm <= k) {
      sub(mm, lo, lo + k, whole);
      out.push(rootOf(leaves, lo + k, hi));
    } else {
      sub(mm - k, lo + k, hi, false);
      out.push(rootOf(leaves, lo, lo + k));
    }
  };
  sub(m, 0, n, true);
  return out;
}

/** RFC 9162 §2.1.4.2: does the tree of `second` leaves (root `secondRoot`) extend the one of `first` (root `firstRoot`)? */
export function verifyConsistency(
  first: number,
  second: number,
  proof: readonly Digest[],
  firstRoot: Digest,
  secondRoot: Digest,
): boolean {
  if (first === second) return proof.length === 0 && firstRoot.equals(secondRoot);
  if (!(first > 0 && first < second) || proof.length === 0) return false;
  const path = (first & (first - 1)) === 0 ? [firstRoot, ...proof] : [...proof];
  let fn = first - 1;
  let sn = second - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return fr.equals(firstRoot) && sr.equals(secondRoot) && sn === 0;
}
