// `umbra signatures list|test|validate|stats` (being built: see issue 4).
import { UmbraError } from '../common/errors.js';
export async function run(_argv: string[]): Promise<number> {
  throw new UmbraError('UMBRA_E_USAGE', 'signatures is not built yet');
}
