// node-forge's ASN.1 module on its own (what src/x509/csr.ts uses): the package's index would
// bring every cipher, TLS and PKI module forge has into keyproc's bundle. It exports forge.asn1.
declare module 'node-forge/lib/asn1.js' {
  import type forge from 'node-forge';
  const asn1: typeof forge.asn1;
  export default asn1;
}
