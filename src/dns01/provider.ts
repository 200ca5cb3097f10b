// What every DNS provider does for acme-client-dns01: publish one TXT value, and later remove
// exactly that value.

export interface TxtRecord {
  /** The name being validated, without "*.": the key of per-domain credentials (acme-dns). */
  domain: string;
  /** Where the TXT record goes: _acme-challenge.<domain>, or where its CNAMEs lead. No trailing dot. */
  name: string;
  /** base64url(SHA-256(key authorization)): 43 characters. */
  value: string;
}

export interface Provider {
  present(record: TxtRecord): Promise<void>;
  /** Called for every record present() was called for, whether or not it succeeded. */
  cleanUp(record: TxtRecord): Promise<void>;
}
