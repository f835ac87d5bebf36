// Runs the real pipeline over capture files in-process and collects the events.
import { Counters } from '../../agent/stats.js';
import { Pipeline } from '../../agent/pipeline.js';
import { readCaptures } from '../../agent/capture/read-captures.js';
import { defaultCatalog } from '../../signatures/loader.js';
import type { UmbraEvent } from '../../agent/event.js';

export async function analyzeFiles(files: string[], opts: { all?: boolean } = {}): Promise<{ events: UmbraEvent[]; counters: Counters }> {
  const counters = new Counters();
  const events: UmbraEvent[] = [];
  const p = new Pipeline({ matcher: defaultCatalog().matcher, all: opts.all ?? true, counters, onEvent: (e) => events.push(e) });
  await readCaptures(files, (pkt) => p.onPacket(pkt), counters);
  p.finish();
  return { events, counters };
}
