// node-forge's ASN.1 module on its own (what src/x509/ uses): the package's index would bring
// every cipher, TLS and PKI module forge has into a child's bundle. It exports forge.asn1, whose
// fromDer also takes an options object that @types/node-forge does not describe.
declare module 'node-forge/lib/asn1.js' {
  import type forge from 'node-forge';
  interface FromDerOptions {
    strict?: boolean;
    parseAllBytes?: boolean;
    decodeBitStrings?: boolean;
  }
  const asn1: Omit<typeof forge.asn1, 'fromDer'> & {
    fromDer(bytes: string | forge.util.ByteBuffer, options?: boolean | FromDerOptions): forge.asn1.Asn1;
  };
  export default asn1;
}
