// The catalog's data model: what a YAML file under signatures/data/ holds once
// loaded and validated (schema in signatures/schema.ts).

export const CATEGORIES = [
  'chat-assistant', 'coding-assistant', 'image-generation', 'audio-video', 'model-api', 'model-hub',
  'search-assistant', 'writing-assistant', 'agent-platform', 'other-ai',
  // not AI: coverage/bypass indicators
  'dns-resolver',
] as const;
export type Category = (typeof CATEGORIES)[number];
/** Categories that are not AI services (reported as bypass indicators). */
export const NON_AI_CATEGORIES: ReadonlySet<Category> = new Set(['dns-resolver']);

export const ENDPOINT_KINDS = ['web', 'api', 'telemetry', 'static', 'resolver'] as const;
export type EndpointKind = (typeof ENDPOINT_KINDS)[number];

export type OrgStatus = 'sanctioned' | 'monitored' | 'unsanctioned';

/** A risk attribute: the value and the public source it comes from ('unknown' needs no source). */
export interface Sourced<T> {
  value: T | 'unknown';
  source?: string;
  note?: string;
}

export interface RiskAttributes {
  trains_on_user_data: Sourced<'yes' | 'no' | 'opt-out' | 'opt-in'>;
  retention: Sourced<string>;
  headquarters: Sourced<string>; // ISO 3166-1 alpha-2
  processing_jurisdiction: Sourced<string[]>;
  enterprise_tier: Sourced<'yes' | 'no'>;
  certifications: Sourced<string[]>;
}

export interface Service {
  id: string;
  name: string;
  vendor: string;
  category: Category;
  /** Patterns by endpoint kind. */
  endpoints: Partial<Record<EndpointKind, string[]>>;
  risk: RiskAttributes;
  /** Where the domain facts come from (repositories, vendor docs). */
  sources: string[];
  notes?: string;
  /** File it was loaded from. */
  file: string;
  /** Organisation status (config), 'unsanctioned' by default. */
  status: OrgStatus;
}

export interface MatchResult {
  service: Service;
  /** The pattern as written in the catalog, e.g. `*.openai.azure.com`. */
  rule: string;
  kind: EndpointKind;
}
