// Certificate chains as ACME servers deliver them (application/pem-certificate-chain, RFC 8555
// §9.1): one or more PEM certificates, leaf first. `new X509Certificate(fullchain)` quietly parses
// only the first block on Node 20, so the chain is split and each block checked here.

import { X509Certificate } from 'node:crypto';

/** A chain or certificate that cannot be used; `problem` says why. */
export class ChainError extends Error {
  constructor(readonly problem: string) {
    super(problem);
    this.name = 'ChainError';
  }
}

const BEGIN = '-----BEGIN CERTIFICATE-----';
const END = '-----END CERTIFICATE-----';
const BASE64_LINE = /^[A-Za-z0-9+/]*={0,2}$/;

/** Says what a stray piece of text looks like, without echoing a possibly large or hostile blob. */
function describeStray(text: string): string {
  const label = /-----BEGIN ([^-\n]{1,40})-----/.exec(text)?.[1];
  if (label !== undefined) return `a "${label}" PEM block`;
  if (text.includes(END)) return `an "${END}" line without its BEGIN line`;
  return `${text.trim().length} bytes of non-PEM text`;
}

/** One block of a chain, normalised, with the certificate it holds. */
export interface PemCertificate {
  pem: string;
  certificate: X509Certificate;
}

/** Decodes one block's body and checks it is exactly one X.509 certificate; returns the block and the certificate. */
function checkedBlock(body: string, number: number): PemCertificate {
  const lines = body
    .split('\n')
    .map((line) => line.trimEnd())
    .filter((line) => line !== '');
  if (lines.length === 0 || !lines.every((line) => BASE64_LINE.test(line)))
    throw new ChainError(`certificate ${number} is not valid PEM: its body is not base64`);
  const block = `${BEGIN}\n${lines.join('\n')}\n${END}\n`;
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(block);
  } catch (err) {
    throw new ChainError(`certificate ${number} does not parse: ${err instanceof Error ? err.message : String(err)}`);
  }
  // OpenSSL ignores bytes after the DER structure; a block must hold one certificate and no more.
  if (!certificate.raw.equals(Buffer.from(lines.join(''), 'base64')))
    throw new ChainError(`certificate ${number} is not valid PEM: data follows the certificate`);
  return { pem: block, certificate };
}

/** readPemCertificates' blocks, as text. */
export function splitPemCertificates(text: string): string[] {
  return readPemCertificates(text).map((block) => block.pem);
}

/**
 * Splits a PEM chain into its certificates, each normalised to '\n' line endings with a trailing
 * '\n', and returns them parsed as well: a caller that needs them parses each once. Throws
 * ChainError if there is no certificate, if anything but whitespace lies before, between or after
 * the blocks, or if a block is not exactly one well-formed X.509 certificate.
 */
export function readPemCertificates(text: string): PemCertificate[] {
  const normalised = text.replace(/\r\n/g, '\n');
  if (normalised.trim() === '') throw new ChainError('no certificate: the chain is empty');

  // A linear scan with indexOf rather than a global regex: a lazy regex retried at every stray
  // BEGIN line would make hostile input quadratic.
  const blocks: PemCertificate[] = [];
  let position = 0;
  for (;;) {
    const begin = normalised.indexOf(BEGIN, position);
    const gap = normalised.slice(position, begin < 0 ? normalised.length : begin);
    // Only whitespace may surround the blocks (RFC 7468 §5.1), and each BEGIN starts a line.
    const where = blocks.length === 0 ? 'before the first certificate' : `after certificate ${blocks.length}`;
    if (gap.trim() !== '') {
      if (begin < 0 && blocks.length === 0) throw new ChainError(`no PEM certificate found, only ${describeStray(gap)}`);
      throw new ChainError(`unexpected content ${where}: ${describeStray(gap)}`);
    }
    if (begin < 0) break;
    const number = blocks.length + 1;
    if (blocks.length > 0 && !gap.includes('\n'))
      throw new ChainError(`certificate ${number} does not start on a line of its own`);

    const beginLineEnd = normalised.indexOf('\n', begin);
    const end = beginLineEnd < 0 ? -1 : normalised.indexOf(`\n${END}`, beginLineEnd);
    if (end < 0) throw new ChainError(`certificate ${number} is not valid PEM: no "${END}" line`);
    if (normalised.slice(begin + BEGIN.length, beginLineEnd).trim() !== '')
      throw new ChainError(`certificate ${number} is not valid PEM: text after "${BEGIN}"`);

    blocks.push(checkedBlock(normalised.slice(beginLineEnd + 1, end), number));
    position = end + 1 + END.length;
  }
  return blocks;
}

/**
 * The common name of the issuer of a chain's topmost certificate (its last block), which is what
 * --preferred-chain names, as in certbot. null when the chain does not parse or that issuer has no CN.
 */
export function topIssuerCommonName(pem: string): string | null {
  let blocks: string[];
  try {
    blocks = splitPemCertificates(pem);
  } catch {
    return null;
  }
  const top = new X509Certificate(blocks[blocks.length - 1] as string);
  const commonName = top.issuer.split('\n').find((attribute) => attribute.startsWith('CN='));
  return commonName === undefined ? null : commonName.slice('CN='.length);
}
