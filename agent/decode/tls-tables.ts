// TLS registry values the decoders and JA4 need, as tables (id → name), not
// switch statements. Names follow the IANA "TLS ExtensionType Values" registry.

export const TLS_CONTENT_CHANGE_CIPHER_SPEC = 20;
export const TLS_CONTENT_ALERT = 21;
export const TLS_CONTENT_HANDSHAKE = 22;
export const TLS_CONTENT_APPLICATION_DATA = 23;

export const TLS_HANDSHAKE_CLIENT_HELLO = 1;

export const EXT_SERVER_NAME = 0x0000;
export const EXT_SIGNATURE_ALGORITHMS = 0x000d;
export const EXT_ALPN = 0x0010;
export const EXT_SUPPORTED_VERSIONS = 0x002b;
export const EXT_QUIC_TRANSPORT_PARAMETERS = 0x0039;
export const EXT_ENCRYPTED_CLIENT_HELLO = 0xfe0d;

/** RFC 6066 3: NameType host_name. */
export const SNI_NAME_TYPE_HOST_NAME = 0;

export const EXTENSION_NAMES: ReadonlyMap<number, string> = new Map([
  [0x0000, 'server_name'],
  [0x0001, 'max_fragment_length'],
  [0x0002, 'client_certificate_url'],
  [0x0003, 'trusted_ca_keys'],
  [0x0004, 'truncated_hmac'],
  [0x0005, 'status_request'],
  [0x0006, 'user_mapping'],
  [0x0007, 'client_authz'],
  [0x0008, 'server_authz'],
  [0x0009, 'cert_type'],
  [0x000a, 'supported_groups'],
  [0x000b, 'ec_point_formats'],
  [0x000c, 'srp'],
  [0x000d, 'signature_algorithms'],
  [0x000e, 'use_srtp'],
  [0x000f, 'heartbeat'],
  [0x0010, 'application_layer_protocol_negotiation'],
  [0x0011, 'status_request_v2'],
  [0x0012, 'signed_certificate_timestamp'],
  [0x0013, 'client_certificate_type'],
  [0x0014, 'server_certificate_type'],
  [0x0015, 'padding'],
  [0x0016, 'encrypt_then_mac'],
  [0x0017, 'extended_master_secret'],
  [0x0018, 'token_binding'],
  [0x0019, 'cached_info'],
  [0x001a, 'tls_lts'],
  [0x001b, 'compress_certificate'],
  [0x001c, 'record_size_limit'],
  [0x001d, 'pwd_protect'],
  [0x001e, 'pwd_clear'],
  [0x001f, 'password_salt'],
  [0x0020, 'ticket_pinning'],
  [0x0021, 'tls_cert_with_extern_psk'],
  [0x0022, 'delegated_credential'],
  [0x0023, 'session_ticket'],
  [0x0024, 'TLMSP'],
  [0x0025, 'TLMSP_proxying'],
  [0x0026, 'TLMSP_delegate'],
  [0x0027, 'supported_ekt_ciphers'],
  [0x0029, 'pre_shared_key'],
  [0x002a, 'early_data'],
  [0x002b, 'supported_versions'],
  [0x002c, 'cookie'],
  [0x002d, 'psk_key_exchange_modes'],
  [0x002f, 'certificate_authorities'],
  [0x0030, 'oid_filters'],
  [0x0031, 'post_handshake_auth'],
  [0x0032, 'signature_algorithms_cert'],
  [0x0033, 'key_share'],
  [0x0034, 'transparency_info'],
  [0x0035, 'connection_id_deprecated'],
  [0x0036, 'connection_id'],
  [0x0037, 'external_id_hash'],
  [0x0038, 'external_session_id'],
  [0x0039, 'quic_transport_parameters'],
  [0x003a, 'ticket_request'],
  [0x003b, 'dnssec_chain'],
  [0x003c, 'sequence_number_encryption_algorithms'],
  [0x003d, 'rrc'],
  [0x4469, 'application_settings_old'],
  [0x44cd, 'application_settings'],
  [0xfd00, 'ech_outer_extensions'],
  [0xfe0d, 'encrypted_client_hello'],
  [0xff01, 'renegotiation_info'],
]);

/** IANA name of an extension, or `unknown_0xNNNN` (GREASE values are named `grease`). */
export function extensionName(type: number): string {
  if (isGrease(type)) return 'grease';
  return EXTENSION_NAMES.get(type) ?? `unknown_0x${type.toString(16).padStart(4, '0')}`;
}

/**
 * RFC 8701 GREASE values for cipher suites, extensions, named groups, signature
 * algorithms and versions: 0x0A0A, 0x1A1A, …, 0xFAFA (both bytes equal, low nibble 0xA).
 */
export function isGrease(v: number): boolean {
  return (v & 0x0f0f) === 0x0a0a && (v >> 8) === (v & 0xff);
}

/** The 16 GREASE values of RFC 8701 section 2, in order. */
export const GREASE_VALUES: readonly number[] = Array.from({ length: 16 }, (_, i) => (i << 12) | 0x0a00 | (i << 4) | 0x0a);
