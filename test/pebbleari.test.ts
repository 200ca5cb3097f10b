// Renewal against Pebble's own ARI (renewalInfo, with the window set through its management API's
// /set-renewal-info/), its profiles, and its checks of "replaces" (Boulder's: 403 unauthorized for
// another account's certificate, 409 alreadyReplaced), with no proxy in between. What Pebble does
// not do (a Retry-After other than six hours, broken answers, must-staple) is in ari.test.ts.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { cpSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, labUnavailable, startLab } from '../scripts/pebble-lab.js';
import { ISSUED_SET, STATE_FILE, ecKeys, needsRootAndLab, pebbleTakesReplaces, runClient, workDir } from './helpers.js';
import { certificateCertId } from '../src/x509/certid.js';
import { certificateFields } from '../src/x509/names.js';

const skip = needsRootAndLab(labUnavailable);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('renewal against Pebble\'s own renewalInfo, profiles and checks of "replaces"', { skip }, () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab({ profiles: { shortlived: { description: 'six days', validityPeriod: 6 * 86_400 } } });
  });
  after(async () => {
    await lab?.stop();
  });

  const env = (): NodeJS.ProcessEnv => ({ SSL_CERT_FILE: lab.tlsCaFile });
  const leafOf = (certs: string): X509Certificate => new X509Certificate(readFileSync(join(certs, 'cert.pem')));
  const certIdOf = (certs: string): string => {
    const id = certificateCertId(certificateFields(leafOf(certs).raw));
    assert.ok(id !== null, 'Pebble certificates carry an AKI');
    return id;
  };
  /**
   * A work area with a certificate issued by Pebble (under the account of `acct`); one Pebble
   * could not take as "replaces" (pebbleTakesReplaces) is issued anew, at most ten times: these
   * tests are about Pebble's own answers.
   */
  const issued = async (name: string, extra: string[] = []): Promise<{ args: string[]; certs: string; priv: string; certId: string }> => {
    for (let attempt = 0; ; attempt++) {
      const w = workDir();
      const { acct, dom } = ecKeys(w);
      const args = ['--server', lab.directoryUrl, '-C', lab.challengeDir, '-c', w.certs, '-f', acct, '-k', dom, name];
      const run = await runClient([...extra, ...args], { env: env() });
      assert.equal(run.status, 0, run.stderr);
      assert.deepEqual(readdirSync(w.certs).sort(), ISSUED_SET);
      const certId = certIdOf(w.certs);
      if (pebbleTakesReplaces(certId) || attempt >= 9) return { args, certs: w.certs, priv: w.priv, certId };
    }
  };
  const windowPast = (certs: string, explanationURL?: string): Promise<void> =>
    lab.setRenewalInfo(readFileSync(join(certs, 'cert.pem'), 'utf8'), { start: new Date(Date.now() - 2 * DAY), end: new Date(Date.now() - DAY), ...(explanationURL === undefined ? {} : { explanationURL }) });
  /** Pebble's log lines "ARI: order <new> is a replacement of <order>" since `mark` characters. */
  const replacementsLogged = (mark: number): string[] => lab.requestLog().slice(mark).split('\n').filter((l) => / is a replacement of /.test(l));
  /** newOrder requests since `mark` (those refused for a bad nonce included). */
  const newOrders = (mark: number): number => lab.requestLog().slice(mark).split('\n').filter((l) => / POST \/order-plz -> calling handler\(\)$/.test(l)).length;

  // The README's migration (#27): the copied certificate was requested by another account (here the
  // old account key, left behind), and the new account's renewal names it. Would fail if createOrder
  // did not order again without "replaces" on Pebble's 403 (issue #21), or if the renewal were
  // not started by the CA's window.
  test('the README\'s migration: issued under one account, renewed under a new one (-n) once the CA\'s window has passed: exit 0, a new certificate', async () => {
    const { args, certs, priv, certId } = await issued('migrated.example.test');
    await windowPast(certs);
    const newAccount = join(priv, 'new-account.pem');
    const migrated = args.map((a, i) => (args[i - 1] === '-f' ? newAccount : a));
    const mark = lab.requestLog().length;
    const run = await runClient(['-v', '-n', ...migrated], { env: env() });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /order-plz: "replaces" \S+ refused \(another account requested it: urn:ietf:params:acme:error:unauthorized: requester account did not request the certificate being replaced by this order\); ordering without it\n/);
    assert.deepEqual(replacementsLogged(mark), [], 'Pebble took no order as a replacement');
    assert.notEqual(certIdOf(certs), certId, 'a new certificate');
    const state = JSON.parse(readFileSync(join(certs, STATE_FILE), 'utf8')) as { certId: string };
    assert.equal(state.certId, certIdOf(certs), 'the state follows the new certificate');
  });

  // Would fail if a past window did not renew, if the explanation needed -v, or if "replaces" were
  // left out (Pebble then logs no replacement).
  test('a window in the past: renewed (exit 0) with a "replaces" Pebble accepts; the CA\'s early request is explained without -v', async () => {
    const { args, certs, certId } = await issued('past.example.test');
    await windowPast(certs, 'https://ca.example/incident');
    const mark = lab.requestLog().length;
    const run = await runClient(args, { env: env() });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stderr, `acme-client: ${join(certs, 'cert.pem')}: the CA asks for early renewal: https://ca.example/incident\n`);
    assert.equal(replacementsLogged(mark).length, 1, lab.requestLog().slice(mark));
    assert.notEqual(certIdOf(certs), certId);
  });

  // A second machine with a copy of the same certificate and account (a restored backup) renews
  // after the first: Pebble answers 409 alreadyReplaced. Would fail if that refusal ended the run.
  test('"replaces" for a certificate replaced already (409 alreadyReplaced): ordered again without it, exit 0', async () => {
    const first = await issued('replaced.example.test');
    const copy = workDir();
    cpSync(first.certs, copy.certs, { recursive: true });
    cpSync(first.priv, copy.priv, { recursive: true });
    const copyArgs = first.args.map((a) => a.replace(first.certs, copy.certs).replace(first.priv, copy.priv));
    await windowPast(first.certs);
    const renewed = await runClient(first.args, { env: env() });
    assert.equal(renewed.status, 0, renewed.stderr);
    const mark = lab.requestLog().length;
    const run = await runClient(['-v', ...copyArgs], { env: env() });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /order-plz: "replaces" \S+ refused \(.*urn:ietf:params:acme:error:alreadyReplaced: [^\n]*\); ordering without it\n/);
    assert.deepEqual(replacementsLogged(mark), [], 'Pebble took no order as a replacement');
    assert.notEqual(certIdOf(copy.certs), first.certId);
  });

  // Pebble issues an order without a profile under one of its profiles picked at random, so each
  // is asked for twice: were --profile not sent, all four lifetimes would be right by chance only
  // once in sixteen. (That none is sent without --profile is ari.test.ts's, from the proxy's record.)
  test('--profile: Pebble issues under the profile named, shortlived (six days) or default (90 days)', async () => {
    const lifetimeDays = (certs: string): number => {
      const leaf = leafOf(certs);
      return Math.round((Date.parse(leaf.validTo) - Date.parse(leaf.validFrom)) / DAY);
    };
    const seen: string[] = [];
    for (const profile of ['shortlived', 'default', 'shortlived', 'default']) {
      const { certs } = await issued(`${profile}-${seen.length}.profile.example.test`, ['--profile', profile]);
      seen.push(`${profile} ${lifetimeDays(certs)}`);
    }
    assert.deepEqual(seen, ['shortlived 6', 'default 90', 'shortlived 6', 'default 90']);
  });

  // Would fail if the profile were sent anyway (Pebble would answer invalidProfile after an order).
  test('--profile Pebble does not offer: one line naming those it offers, exit 1, before any order', async () => {
    const w = workDir();
    const { acct, dom } = ecKeys(w);
    const mark = lab.requestLog().length;
    const run = await runClient(['--profile', 'tlsserver', '--server', lab.directoryUrl, '-C', lab.challengeDir, '-c', w.certs, '-f', acct, '-k', dom, 'badprofile.example.test'], { env: env() });
    assert.equal(run.status, 1);
    assert.equal(run.stderr, 'acme-client: tlsserver: profile not offered by the CA (offered: default, shortlived)\n');
    assert.equal(newOrders(mark), 0);
    assert.deepEqual(readdirSync(w.certs), []);
  });
});
