// OpenBSD's acme-client.conf(5), as its parse.y (v1.47, 2025) reads it: macros, include, line
// continuation, authority and domain blocks. Written here rather than taken from a library: the
// grammar is small, and its quirks (keywords reserved everywhere, macros expanded by re-reading
// their text, a block closed on the line of its last option) are OpenBSD's, which no general
// parser has. Every problem is reported as FILE:LINE, all of them before giving up, as yacc does.

import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { errnoText } from '../log.js';
import { caUrlProblem } from '../acme/caurl.js';

/** OpenBSD's two key types, and what it makes for each when the file is missing: RSA 4096 bits, ECDSA P-384. */
export type ConfKeyType = 'rsa' | 'ecdsa';

/** Where something was said: messages name it as FILE:LINE. */
export interface Place {
  file: string;
  line: number;
}

export interface Authority {
  name: string;
  apiUrl: string;
  accountKey: string;
  accountKeyType: ConfKeyType;
  contact: string | null;
  place: Place;
}

export interface Domain {
  /** The block's name, by which the command line picks it. */
  handle: string;
  /** `domain name`, else the handle: the certificate's first name. */
  name: string;
  altNames: string[];
  domainKey: string;
  domainKeyType: ConfKeyType;
  /** Absolute paths; at least one of certificate and full chain is there. */
  certificate: string | null;
  chainCertificate: string | null;
  fullChainCertificate: string | null;
  /** The authority's name: `sign with`, else the first authority. */
  signWith: string;
  challengeDir: string | null;
  profile: string | null;
  place: Place;
}

export interface Config {
  authorities: Authority[];
  domains: Domain[];
  /** Macros defined but never used (-v warns of them, as OpenBSD does). */
  unusedMacros: string[];
}

/** One problem of a configuration file, at its place. */
export class ConfigError extends Error {
  constructor(readonly problems: { place: Place; problem: string }[]) {
    super(problems.map(({ place, problem }) => `${place.file}:${place.line}: ${problem}`).join('\n'));
  }
}

const KEYWORDS = new Set([
  'account', 'alternative', 'api', 'authority', 'certificate', 'chain', 'challengedir', 'contact', 'domain', 'ecdsa', 'full',
  'include', 'insecure', 'key', 'name', 'names', 'profile', 'rsa', 'sign', 'url', 'with',
]);

type Token =
  | { kind: 'string'; text: string; place: Place }
  | { kind: 'keyword'; text: string; place: Place }
  | { kind: 'punct'; text: '{' | '}' | ',' | '=' | '\n' | string; place: Place }
  | { kind: 'eof'; place: Place };

/** A macro's text is read again in place of `$name`; these mark where it starts and ends. */
const START_EXPAND = '\u0001';
const DONE_EXPAND = '\u0002';
/** As OpenBSD's buffer: a longer word is an error, not a memory problem. */
const MAX_WORD = 8096;
/** An include that includes itself would recurse forever. */
const MAX_INCLUDE_DEPTH = 16;

const isAlnum = (c: string): boolean => /^[A-Za-z0-9]$/.test(c);
const isPunct = (c: string): boolean => /^[!-/:-@[-`{-~]$/.test(c);
/** Within an unquoted word: letters, digits and punctuation but these, which end it. */
const inWord = (c: string): boolean => isAlnum(c) || (isPunct(c) && !'(){}!=#,'.includes(c));

/** The characters of one file, with what the lexer pushed back. */
class Source {
  private pos = 0;
  private readonly pushed: string[] = [];
  line = 1;
  private eofSeen = false;

  constructor(readonly name: string, private readonly text: string) {}

  private raw(): string | null {
    if (this.pushed.length > 0) return this.pushed.pop() as string;
    return this.pos < this.text.length ? (this.text[this.pos++] as string) : null;
  }

  expanding = false;

  /** The next character, macro markers consumed. */
  private next(): string | null {
    for (;;) {
      const c = this.raw();
      if (c === START_EXPAND) this.expanding = true;
      else if (c === DONE_EXPAND) this.expanding = false;
      else return c;
    }
  }

  /** Outside quotes: backslash-newline joins lines; the end of the file reads once as a newline. */
  get(): string | null {
    let c = this.next();
    while (c === '\\') {
      const after = this.next();
      if (after !== '\n') {
        c = after;
        break;
      }
      this.line++;
      c = this.next();
    }
    if (c === null && !this.eofSeen) {
      this.eofSeen = true;
      return '\n';
    }
    return c;
  }

  /** Inside quotes: every character as it is. */
  getQuoted(): string | null {
    return this.next();
  }

  unget(c: string | null): void {
    if (c !== null) this.pushed.push(c);
  }
}

class Lexer {
  constructor(private readonly src: Source, private readonly macros: Map<string, { value: string; used: boolean }>, private readonly error: (place: Place, problem: string) => void) {}

  private place(): Place {
    return { file: this.src.name, line: this.src.line };
  }

  /** Skips to the end of the line after an error in a word, as OpenBSD's findeol. */
  private skipLine(): void {
    for (;;) {
      const c = this.src.get();
      if (c === null) return;
      if (c === '\n') {
        this.src.unget('\n');
        return;
      }
    }
  }

  next(): Token {
    for (;;) {
      let c = this.src.get();
      while (c === ' ' || c === '\t') c = this.src.get();
      const place = this.place();
      if (c === '#') {
        while (c !== null && c !== '\n') c = this.src.get();
      }
      if (c === null) return { kind: 'eof', place };
      if (c === '$' && !this.src.expanding) {
        let name = '';
        for (;;) {
          const d = this.src.get();
          if (d !== null && (isAlnum(d) || d === '_')) {
            name += d;
            continue;
          }
          this.src.unget(d);
          break;
        }
        const macro = this.macros.get(name);
        if (macro === undefined) {
          this.error(place, `macro '${name}' not defined`);
          this.skipLine();
          continue;
        }
        macro.used = true;
        this.src.unget(DONE_EXPAND);
        for (const ch of [...macro.value].reverse()) this.src.unget(ch);
        this.src.unget(START_EXPAND);
        continue;
      }
      if (c === '"' || c === "'") {
        const word = this.quoted(c, place);
        if (word === null) continue;
        return { kind: 'string', text: word, place };
      }
      if (isAlnum(c) || c === ':' || c === '_' || c === '/') {
        let word = '';
        while (c !== null && inWord(c)) {
          word += c;
          c = this.src.get();
        }
        this.src.unget(c);
        if (word.length >= MAX_WORD) {
          this.error(place, 'string too long');
          continue;
        }
        return KEYWORDS.has(word) ? { kind: 'keyword', text: word, place } : { kind: 'string', text: word, place };
      }
      if (c === '\n') {
        this.src.line++;
        return { kind: 'punct', text: '\n', place };
      }
      return { kind: 'punct', text: c, place };
    }
  }

  /** A quoted word: \ before the quote, a space or a tab escapes it; \ at the end of a line joins lines. */
  private quoted(quote: string, place: Place): string | null {
    let word = '';
    for (;;) {
      let c = this.src.getQuoted();
      if (c === null) {
        this.error(place, 'reached end of file while parsing quoted string');
        this.src.unget('\n');
        return null;
      }
      if (c === '\n') {
        this.src.line++;
        continue;
      }
      if (c === '\\') {
        const after = this.src.getQuoted();
        if (after === quote || after === ' ' || after === '\t') c = after;
        else if (after === '\n') {
          this.src.line++;
          continue;
        } else this.src.unget(after);
      } else if (c === quote) {
        return word;
      } else if (c === '\0') {
        this.error(place, 'syntax error');
        this.skipLine();
        return null;
      }
      word += c;
      if (word.length >= MAX_WORD) {
        this.error(place, 'string too long');
        this.skipLine();
        return null;
      }
    }
  }
}

/** A statement that cannot go on: the parser skips to the end of its line. */
class StatementError extends Error {
  constructor(readonly place: Place, readonly problem: string) {
    super(problem);
  }
}

/** OpenBSD's domain_valid: letters, digits, dot, hyphen and underscore. */
const DOMAIN_CHARS = /^[A-Za-z0-9._-]+$/;
const URI = /^[A-Za-z][A-Za-z0-9+.-]*:\S+$/;

interface DomainDraft {
  handle: string;
  name: { value: string; place: Place } | null;
  altNames: string[];
  key: { file: string; type: ConfKeyType; place: Place } | null;
  certificate: { file: string; place: Place } | null;
  chain: { file: string; place: Place } | null;
  fullChain: { file: string; place: Place } | null;
  signWith: string | null;
  challengeDir: string | null;
  profile: string | null;
  place: Place;
}

/** Reads `file` (and what it includes) into a configuration; throws ConfigError with every problem found. */
export function parseConfig(file: string): Config {
  const parser = new Parser();
  parser.parseFile(file, null, 0);
  return parser.finish();
}

class Parser {
  private readonly problems: { place: Place; problem: string }[] = [];
  private readonly macros = new Map<string, { value: string; used: boolean }>();
  private readonly authorities: Authority[] = [];
  /** Every authority block's name, those with problems too: a domain naming one is not a second problem. */
  private readonly declared: string[] = [];
  private readonly domains: Domain[] = [];
  /** Key, certificate and chain files: one file serves one purpose of one domain, as in OpenBSD. */
  private readonly usedFiles = new Set<string>();
  /** Every certificate file a block writes, resolved. */
  private readonly writtenFiles = new Set<string>();
  private lexer!: Lexer;
  private ahead: Token | null = null;

  private error(place: Place, problem: string): void {
    this.problems.push({ place, problem });
  }

  /** A problem that does not stop the reading: said, and the statement's rest is read as usual. */
  private complain(place: Place, problem: string): null {
    this.error(place, problem);
    return null;
  }

  finish(): Config {
    if (this.problems.length > 0) throw new ConfigError(this.problems);
    return { authorities: this.authorities, domains: this.domains, unusedMacros: [...this.macros].filter(([, m]) => !m.used).map(([name]) => name) };
  }

  parseFile(file: string, from: Place | null, depth: number): void {
    let text: string;
    try {
      text = readFileSync(file, 'latin1');
    } catch (err) {
      const why = errnoText(err);
      if (from === null) this.error({ file, line: 0 }, why);
      else this.error(from, `failed to include file ${file}: ${why}`);
      return;
    }
    const outer = { lexer: this.lexer, ahead: this.ahead };
    this.lexer = new Lexer(new Source(file, text), this.macros, (place, problem) => this.error(place, problem));
    this.ahead = null;
    try {
      this.statements(depth);
    } finally {
      this.lexer = outer.lexer;
      this.ahead = outer.ahead;
    }
  }

  private peek(): Token {
    this.ahead ??= this.lexer.next();
    return this.ahead;
  }

  private take(): Token {
    const token = this.peek();
    this.ahead = null;
    return token;
  }

  private is(token: Token, kind: Token['kind'], text?: string): boolean {
    return token.kind === kind && (text === undefined || ('text' in token && token.text === text));
  }

  private expect(kind: Token['kind'], text?: string): Token {
    const token = this.take();
    if (!this.is(token, kind, text)) this.unexpected(token);
    return token;
  }

  /** A syntax error at `token`; a newline stays to be read, so that recovery skips this line alone. */
  private unexpected(token: Token): never {
    if (token.kind === 'eof' || this.is(token, 'punct', '\n')) this.ahead = token;
    throw new StatementError(token.place, 'syntax error');
  }

  private keyword(text: string): void {
    this.expect('keyword', text);
  }

  private string(): { text: string; place: Place } {
    const token = this.take();
    if (token.kind !== 'string') this.unexpected(token);
    return token;
  }

  private newline(): void {
    this.expect('punct', '\n');
  }

  private optionalNewlines(): void {
    while (this.is(this.peek(), 'punct', '\n')) this.take();
  }

  /** After an error: on to the start of the next line, as yacc's `error '\n'`. */
  private recover(): void {
    for (;;) {
      const token = this.take();
      if (token.kind === 'eof' || this.is(token, 'punct', '\n')) return;
    }
  }

  private statements(depth: number): void {
    for (;;) {
      const token = this.peek();
      if (token.kind === 'eof') return;
      try {
        if (this.is(token, 'punct', '\n')) this.take();
        else if (this.is(token, 'keyword', 'include')) this.include(depth);
        else if (this.is(token, 'keyword', 'authority')) this.authority();
        else if (this.is(token, 'keyword', 'domain')) this.domain();
        else if (token.kind === 'string') this.macro();
        else this.unexpected(this.take());
      } catch (err) {
        if (!(err instanceof StatementError)) throw err;
        this.error(err.place, err.problem);
        this.recover();
      }
    }
  }

  private include(depth: number): void {
    const at = this.take().place;
    const name = this.string();
    this.newline();
    if (depth + 1 >= MAX_INCLUDE_DEPTH) return void this.complain(at, `failed to include file ${name.text}: includes nested more than ${MAX_INCLUDE_DEPTH} deep`);
    this.parseFile(name.text, at, depth + 1);
  }

  /** name = value [value...]: the values joined by one space. */
  private macro(): void {
    const name = this.string();
    this.expect('punct', '=');
    const values = [this.string().text];
    while (this.peek().kind === 'string') values.push(this.string().text);
    this.newline();
    if (!/^[A-Za-z0-9_]+$/.test(name.text)) return void this.complain(name.place, 'macro name can contain only letters, digits and underscores');
    this.macros.set(name.text, { value: values.join(' '), used: false });
  }

  /** `{` options, one a line, `}`: the last option may share the closing brace's line. */
  private block(option: () => void): void {
    this.expect('punct', '{');
    this.optionalNewlines();
    let first = true;
    for (;;) {
      if (!first && this.is(this.peek(), 'punct', '}')) break;
      try {
        option();
        if (this.is(this.peek(), 'punct', '}')) break;
        this.newline();
        this.optionalNewlines();
      } catch (err) {
        if (!(err instanceof StatementError)) throw err;
        this.error(err.place, err.problem);
        this.recover();
        this.optionalNewlines();
        if (this.peek().kind === 'eof') throw new StatementError(this.peek().place, 'syntax error: block not closed');
      }
      first = false;
    }
    this.expect('punct', '}');
    this.newline();
  }

  private keyType(): ConfKeyType {
    const token = this.peek();
    if (this.is(token, 'keyword', 'rsa') || this.is(token, 'keyword', 'ecdsa')) {
      this.take();
      return (token as { text: ConfKeyType }).text;
    }
    return 'rsa';
  }

  private authority(): void {
    const at = this.take().place;
    const name = this.string();
    const duplicate = this.declared.includes(name.text);
    if (duplicate) this.complain(name.place, 'authority already defined');
    else this.declared.push(name.text);
    let apiUrl: string | null = null;
    let account: { file: string; type: ConfKeyType } | null = null;
    let contact: string | null = null;
    this.block(() => {
      const token = this.take();
      if (this.is(token, 'keyword', 'api')) {
        this.keyword('url');
        const url = this.string();
        if (apiUrl !== null) return this.complain(url.place, 'duplicate api');
        let problem: string | null;
        try {
          problem = caUrlProblem(new URL(url.text));
        } catch {
          problem = 'not a URL';
        }
        // As for --server: https, or plain http to a test CA on the loopback.
        if (problem !== null) return this.complain(url.place, `api url: ${problem}: ${url.text}`);
        apiUrl = url.text;
      } else if (this.is(token, 'keyword', 'account')) {
        this.keyword('key');
        const file = this.string();
        const type = this.keyType();
        if (account !== null) return this.complain(file.place, 'duplicate account');
        account = { file: resolve(file.text), type };
      } else if (this.is(token, 'keyword', 'contact')) {
        const uri = this.string();
        if (contact !== null) return this.complain(uri.place, 'duplicate contact');
        if (!URI.test(uri.text)) return this.complain(uri.place, `contact: not a URI: ${uri.text} (as in mailto:admin@example.org)`);
        contact = uri.text;
      } else if (this.is(token, 'keyword', 'insecure')) {
        // OpenBSD's switch that stops checking the CA's TLS certificate. Not taken: trust a
        // private CA's root instead (NODE_EXTRA_CA_CERTS, or the system store).
        this.complain(token.place, 'insecure: not supported: the CA\'s TLS certificate is always checked; add its root to the system\'s trust store or NODE_EXTRA_CA_CERTS');
      } else {
        this.unexpected(token);
      }
    });
    const acct = account as { file: string; type: ConfKeyType } | null;
    if (apiUrl === null) return void this.complain(at, `authority ${name.text}: no api URL specified`);
    if (acct === null) return void this.complain(at, `authority ${name.text}: no account key file specified`);
    if (!duplicate) this.authorities.push({ name: name.text, apiUrl, accountKey: acct.file, accountKeyType: acct.type, contact, place: at });
  }

  /** False, said, when another option has the file already. */
  private fileOnce(file: string, place: Place, what: string): boolean {
    if (this.usedFiles.has(file)) return this.complain(place, `${what} file already used`) ?? false;
    this.usedFiles.add(file);
    return true;
  }

  private domain(): void {
    const at = this.take().place;
    const handle = this.string();
    const problem = !DOMAIN_CHARS.test(handle.text) ? `${handle.text}: bad domain syntax`
      : this.domains.some((d) => d.handle === handle.text) ? 'domain already defined' : null;
    if (problem !== null) this.complain(handle.place, problem);
    const d: DomainDraft = {
      handle: handle.text, name: null, altNames: [], key: null, certificate: null, chain: null, fullChain: null,
      signWith: null, challengeDir: null, profile: null, place: at,
    };
    this.block(() => this.domainOption(d));
    const domain = this.finishDomain(d);
    if (problem === null && domain !== null) this.domains.push(domain);
  }

  private domainOption(d: DomainDraft): void {
    const token = this.take();
    if (this.is(token, 'keyword', 'alternative')) {
      this.keyword('names');
      this.expect('punct', '{');
      this.optionalNewlines();
      for (;;) {
        const name = this.string();
        if (!DOMAIN_CHARS.test(name.text)) this.complain(name.place, `${name.text}: bad domain syntax`);
        else d.altNames.push(name.text);
        if (this.is(this.peek(), 'punct', ',')) this.take();
        this.optionalNewlines();
        if (this.is(this.peek(), 'punct', '}')) break;
      }
      this.take();
    } else if (this.is(token, 'keyword', 'domain')) {
      const what = this.take();
      if (this.is(what, 'keyword', 'name')) {
        const name = this.string();
        if (d.name !== null) return void this.complain(name.place, 'duplicate domain name');
        if (!DOMAIN_CHARS.test(name.text)) return void this.complain(name.place, `${name.text}: bad domain syntax`);
        d.name = { value: name.text, place: name.place };
      } else if (this.is(what, 'keyword', 'key')) {
        const file = this.string();
        const type = this.keyType();
        if (d.key !== null) return void this.complain(file.place, 'duplicate key');
        if (!this.checkKeyFile(file.text, file.place)) return;
        if (!this.fileOnce(file.text, file.place, 'domain key')) return;
        d.key = { file: file.text, type, place: file.place };
      } else if (this.is(what, 'keyword', 'certificate')) {
        const file = this.string();
        if (d.certificate !== null) return void this.complain(file.place, 'duplicate cert');
        if (!isAbsolute(file.text)) return void this.complain(file.place, `${file.text}: not an absolute path`);
        if (!this.fileOnce(file.text, file.place, 'domain cert')) return;
        d.certificate = { file: file.text, place: file.place };
      } else if (this.is(what, 'keyword', 'chain')) {
        this.keyword('certificate');
        const file = this.string();
        if (d.chain !== null) return void this.complain(file.place, 'duplicate chain');
        if (!this.fileOnce(file.text, file.place, 'domain chain')) return;
        d.chain = { file: file.text, place: file.place };
      } else if (this.is(what, 'keyword', 'full')) {
        this.keyword('chain');
        this.keyword('certificate');
        const file = this.string();
        if (d.fullChain !== null) return void this.complain(file.place, 'duplicate full chain');
        if (!this.fileOnce(file.text, file.place, 'domain full chain')) return;
        d.fullChain = { file: file.text, place: file.place };
      } else {
        this.unexpected(what);
      }
    } else if (this.is(token, 'keyword', 'sign')) {
      this.keyword('with');
      const name = this.string();
      if (d.signWith !== null) return void this.complain(name.place, 'duplicate sign with');
      if (!this.declared.includes(name.text)) return void this.complain(name.place, 'sign with: unknown authority');
      d.signWith = name.text;
    } else if (this.is(token, 'keyword', 'challengedir')) {
      const dir = this.string();
      if (d.challengeDir !== null) return void this.complain(dir.place, 'duplicate challengedir');
      d.challengeDir = resolve(dir.text);
    } else if (this.is(token, 'keyword', 'profile')) {
      const profile = this.string();
      if (d.profile !== null) return void this.complain(profile.place, 'duplicate profile');
      d.profile = profile.text;
    } else {
      this.unexpected(token);
    }
  }

  /** OpenBSD's conf_check_file: absolute, and when it exists, not open to group or others. */
  private checkKeyFile(file: string, place: Place): boolean {
    const problem = ((): string | null => {
      if (!isAbsolute(file)) return `${file}: not an absolute path`;
      try {
        return (statSync(file).mode & 0o077) === 0 ? null : `${file}: group read/writable or world read/writable`;
      } catch (err) {
        return (err as NodeJS.ErrnoException).code === 'ENOENT' ? null : `cannot stat ${file}: ${errnoText(err)}`;
      }
    })();
    if (problem !== null) this.complain(place, problem);
    return problem === null;
  }

  /**
   * The block's required options, and where its certificate files go: fileproc writes in one
   * directory, that of the certificate (else of the full chain), so a chain or full chain
   * elsewhere is refused. A relative one is taken in that directory, as OpenBSD does.
   */
  private finishDomain(d: DomainDraft): Domain | null {
    const name = d.name?.value ?? d.handle;
    if (d.key === null) return this.complain(d.place, `no domain key file specified for domain ${name}`);
    const anchor = d.certificate ?? d.fullChain;
    if (anchor === null) return this.complain(d.place, `at least certificate file or full certificate chain file must be specified for domain ${name}`);
    if (!isAbsolute(anchor.file)) return this.complain(anchor.place, `${anchor.file}: not an absolute path`);
    const certDir = dirname(anchor.file);
    let placed = true;
    const inCertDir = (entry: { file: string; place: Place } | null, what: string): string | null => {
      if (entry === null) return null;
      const path = resolve(certDir, entry.file);
      if (dirname(path) !== certDir) {
        this.complain(entry.place, `${what} ${entry.file}: not in ${certDir}, the directory of the certificate, where its files are written`);
        placed = false;
      }
      return path;
    };
    const fullChain = d.certificate === null ? resolve(anchor.file) : inCertDir(d.fullChain, 'domain full chain certificate');
    const chain = inCertDir(d.chain, 'domain chain certificate');
    const signWith = d.signWith ?? this.declared[0];
    if (signWith === undefined) return this.complain(d.place, `domain ${d.handle}: no authority to sign with`);
    if (!placed) return null;
    // The same file under two spellings (absolute, and relative to the certificate's directory)
    // would have one written over the other, and the set judged wrong, and renewed, every night.
    const written = [d.certificate === null ? null : resolve(d.certificate.file), chain, fullChain].filter((f): f is string => f !== null);
    for (const [i, file] of written.entries()) {
      if (written.indexOf(file) !== i || this.writtenFiles.has(file)) return this.complain(d.place, `domain ${name}: ${file} named twice`);
    }
    for (const file of written) this.writtenFiles.add(file);
    return {
      handle: d.handle, name, altNames: d.altNames, domainKey: d.key.file, domainKeyType: d.key.type,
      certificate: d.certificate === null ? null : resolve(d.certificate.file), chainCertificate: chain, fullChainCertificate: fullChain,
      signWith, challengeDir: d.challengeDir, profile: d.profile, place: d.place,
    };
  }
}

/** The configuration as -n prints it: OpenBSD's print_config, every path quoted. */
export function printConfig(config: Config): string {
  const q = (s: string): string => `"${s}"`;
  let out = '';
  for (const a of config.authorities) {
    out += `authority ${a.name} {\n\tapi url ${q(a.apiUrl)}\n\taccount key ${q(a.accountKey)} ${a.accountKeyType}\n`;
    if (a.contact !== null) out += `\tcontact ${q(a.contact)}\n`;
    out += '}\n\n';
  }
  for (const d of config.domains) {
    out += `domain ${d.handle} {\n`;
    if (d.name !== d.handle) out += `\tdomain name ${q(d.name)}\n`;
    if (d.altNames.length > 0) out += `\talternative names { ${d.altNames.join(', ')} }\n`;
    out += `\tdomain key ${q(d.domainKey)} ${d.domainKeyType}\n`;
    if (d.certificate !== null) out += `\tdomain certificate ${q(d.certificate)}\n`;
    if (d.chainCertificate !== null) out += `\tdomain chain certificate ${q(d.chainCertificate)}\n`;
    if (d.fullChainCertificate !== null) out += `\tdomain full chain certificate ${q(d.fullChainCertificate)}\n`;
    if (d.profile !== null) out += `\tprofile ${q(d.profile)}\n`;
    out += `\tsign with ${q(d.signWith)}\n`;
    if (d.challengeDir !== null) out += `\tchallengedir ${q(d.challengeDir)}\n`;
    out += '}\n\n';
  }
  return out;
}

/** The directory a domain's certificate files are written in. */
export function certDirOf(d: Domain): string {
  return dirname(d.certificate ?? (d.fullChainCertificate as string));
}
