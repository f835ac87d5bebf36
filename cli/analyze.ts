// `umbra analyze FILE...` (being built: see issue 3).
import { UmbraError } from '../common/errors.js';
export async function run(_argv: string[]): Promise<number> {
  throw new UmbraError('UMBRA_E_USAGE', 'analyze is not built yet');
}
