export const VERSION = '0.1.0';
export const USER_AGENT = `acme-client-node/${VERSION} (Node.js ${process.version}; ${process.platform})`;
