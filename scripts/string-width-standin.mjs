// What the bundles give yargs (and its help formatter, cliui) in place of string-width. yargs uses
// it only to lay out help text, which acme-client never lets yargs print (the usage text is ours).
// The real one builds Unicode-property regexes and an Intl.Segmenter when it is loaded, costing
// CPU at every start of a run, for a column count nobody sees.
const ANSI_ESCAPE = /\u001b\[[0-9;]*[A-Za-z]/g;

export default function stringWidth(text) {
  return typeof text === 'string' ? [...text.replace(ANSI_ESCAPE, '')].length : 0;
}
