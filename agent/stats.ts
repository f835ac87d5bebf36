// Named counters: every drop, eviction and malformed input is counted by name
// (Zeek's "weirds"), never silent. One instance per pipeline. The two counters
// bumped for every packet are plain fields (a Map update per packet shows in
// profiles); they are reported with the named ones.

export class Counters {
  /** Packets handed to the pipeline. */
  packets = 0;
  /** Their length on the wire. */
  bytes = 0;
  private readonly map = new Map<string, number>();
  inc(name: string, by = 1): void {
    this.map.set(name, (this.map.get(name) ?? 0) + by);
  }
  get(name: string): number {
    if (name === 'packets') return this.packets;
    if (name === 'bytes') return this.bytes;
    return this.map.get(name) ?? 0;
  }
  toJSON(): Record<string, number> {
    const all = new Map(this.map);
    if (this.packets) all.set('packets', this.packets);
    if (this.bytes) all.set('bytes', this.bytes);
    return Object.fromEntries([...all.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
}
