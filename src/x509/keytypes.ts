// The kinds of key -n and -N make (--account-key-type, --key-type): names only, so that the
// parent, which parses them, loads no crypto.

export const KEY_TYPES = ['rsa2048', 'rsa3072', 'rsa4096', 'ec256', 'ec384'] as const;
export type KeyType = (typeof KEY_TYPES)[number];
/** As certbot, lego and acme.sh: fast to make, small signatures. The 2017 default was rsa4096. */
export const DEFAULT_KEY_TYPE: KeyType = 'ec256';
