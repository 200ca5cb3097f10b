// npm run deb: acme-client_<version>_all.deb from the built dist/, with dpkg-deb alone (no
// debhelper, no source package). Laid out as Debian's acme clients are (lacme, uacme): the code
// under /usr/lib/acme-client, the commands in /usr/bin, gzipped manuals, the documentation's
// copyright and changelog, and maintainer scripts that make the system user on configure and
// remove it on purge. `node scripts/deb.mjs [outdir]` writes the package into outdir (default:
// the project's directory) and prints its path.
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = process.argv[2] ?? root;
// The manuals are those npm installs (package.json's "man").
const { version, description, man: manuals } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const dist = join(root, 'dist');
if (!existsSync(join(dist, 'acme-client.js'))) throw new Error('deb: no dist/acme-client.js: run node scripts/build.mjs first');

const PACKAGE = 'acme-client';
const MAINTAINER = 'acme-client for Node.js maintainers <maintainers@users.noreply.h-seed-f6bf8a7d.example>';
const COMMANDS = ['acme-client', 'acme-client-dns01', 'acme-client-server'];
const UNITS = readdirSync(join(root, 'contrib/systemd'));
// The libraries the bundles hold (node-forge, yargs and what yargs needs): their licences go into
// the copyright file, as Debian asks of code shipped inside another package.
const BUNDLED_ROOTS = ['node-forge', 'yargs'];

function main() {
  const stage = mkdtempSync(join(tmpdir(), 'acme-client-deb-'));
  try {
    const lib = join(stage, 'usr/lib', PACKAGE);
    cpSync(dist, lib, { recursive: true });
    mkdirSync(join(stage, 'usr/bin'), { recursive: true });
    // Relative links, as Debian's policy asks within /usr; Node follows them to the loaders, which
    // find their bundles and the children beside themselves.
    for (const command of COMMANDS) symlinkSync(`../lib/${PACKAGE}/${command}.js`, join(stage, 'usr/bin', command));

    for (const page of manuals) {
      const dir = join(stage, 'usr/share/man', `man${page.slice(page.lastIndexOf('.') + 1)}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `${basename(page)}.gz`), gzip(readFileSync(join(root, page))));
    }

    // Under /usr, as DEP 17 has every package ship its files (trixie's debhelper does; lintian
    // calls it the canonical place): /lib is only a link to usr/lib on a merged-/usr system.
    const units = join(stage, 'usr/lib/systemd/system');
    mkdirSync(units, { recursive: true });
    for (const unit of UNITS) cpSync(join(root, 'contrib/systemd', unit), join(units, unit));

    const doc = join(stage, 'usr/share/doc', PACKAGE);
    mkdirSync(doc, { recursive: true });
    writeFileSync(join(doc, 'copyright'), copyright());
    // A native package (no Debian revision) keeps its changelog as changelog.gz.
    writeFileSync(join(doc, 'changelog.gz'), gzip(Buffer.from([
      `${PACKAGE} (${version}) unstable; urgency=medium`, '',
      `  * ${PACKAGE} ${version}, packaged by npm run deb.`, '',
      ` -- ${MAINTAINER}  ${changelogDate()}`, '',
    ].join('\n'))));

    const control = join(stage, 'DEBIAN');
    mkdirSync(control);
    writeFileSync(join(control, 'postinst'), POSTINST);
    writeFileSync(join(control, 'prerm'), PRERM);
    writeFileSync(join(control, 'postrm'), POSTRM);
    chmodSync(stage, 0o755);
    normaliseModes(stage);
    writeFileSync(join(control, 'md5sums'), md5sums(stage));
    chmodSync(join(control, 'md5sums'), 0o644);
    writeFileSync(join(control, 'control'), [
      `Package: ${PACKAGE}`,
      `Version: ${version}`,
      'Architecture: all',
      `Maintainer: ${MAINTAINER}`,
      `Installed-Size: ${installedSize(stage)}`,
      // ca-certificates: netproc trusts the system's store (--use-openssl-ca); adduser: the postinst.
      'Depends: nodejs (>= 20), adduser, ca-certificates',
      'Section: net',
      'Priority: optional',
      `Description: ${description.replace(/ \(RFC 8555\)/, '')}`,
      ' acme-client obtains and renews X.509 certificates from an ACME certificate',
      ' authority (RFC 8555) such as Let\'s Encrypt, split as OpenBSD\'s acme-client(1)',
      ' into processes that each hold one thing: the account key, the domain key, the',
      ' network, the challenge files, the certificate files. The unprivileged ones',
      ' run as the _acme-client system user in their own namespaces and chroot.',
      ' With --config it reads OpenBSD\'s acme-client.conf and renews every',
      ' certificate listed there in one run.',
      ' .',
      ' The package also holds acme-client-dns01, for wildcard certificates through',
      ' DNS, and acme-client-server, a signing service for many web servers, with',
      ' systemd units for a renewal timer per certificate and for the service.',
      '',
    ].join('\n'));
    chmodSync(join(control, 'control'), 0o644);

    const deb = join(outdir, `${PACKAGE}_${version}_all.deb`);
    execFileSync('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', stage, deb], { stdio: ['ignore', 'ignore', 'inherit'] });
    console.log(deb);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/** gzip -9n, as Debian compresses manuals and changelogs: no name or time stamp in the header. */
function gzip(data) {
  return execFileSync('gzip', ['-9n', '-c'], { input: data, maxBuffer: 64 << 20 });
}

/** The changelog's date: the last commit's (when this version's code was written), else now. */
function changelogDate() {
  try {
    return execFileSync('git', ['log', '-1', '--format=%aD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return new Date().toUTCString().replace('GMT', '+0000');
  }
}

/** Directories and executables 0755, other files 0644, whatever the umask of the build. */
function normaliseModes(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) {
      chmodSync(path, 0o755);
      normaliseModes(path);
    } else {
      const executable = ['postinst', 'prerm', 'postrm'].includes(entry.name) || COMMANDS.some((c) => entry.name === `${c}.js`);
      chmodSync(path, executable ? 0o755 : 0o644);
    }
  }
}

function filesUnder(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

function md5sums(dir) {
  return filesUnder(dir).filter((f) => !relative(dir, f).startsWith('DEBIAN/'))
    .map((f) => `${createHash('md5').update(readFileSync(f)).digest('hex')}  ${relative(dir, f)}\n`).join('');
}

/** In KiB, as dpkg counts it: each file rounded up, each directory and link one. */
function installedSize(dir) {
  let kib = 0;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.parentPath.startsWith(join(dir, 'DEBIAN'))) continue;
    kib += entry.isFile() ? Math.ceil(statSync(join(entry.parentPath, entry.name)).size / 1024) : 1;
  }
  return kib;
}

function copyright() {
  const sections = [
    `${PACKAGE} for Node.js`, '',
    'Copyright (c) the authors of acme-client for Node.js', '',
    'Permission to use, copy, modify, and distribute this software for any',
    'purpose with or without fee is hereby granted, provided that the above',
    'copyright notice and this permission notice appear in all copies.', '',
    'THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES',
    'WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF',
    'MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR',
    'ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES',
    'WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN',
    'ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF',
    'OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.', '',
    'The files under /usr/lib/acme-client also hold the following libraries,',
    'each under its own licence:', '',
  ];
  for (const name of bundledPackages()) {
    const dir = join(root, 'node_modules', name);
    const meta = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const file = readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.(md|txt))?$/i.test(f));
    sections.push(`${name} ${meta.version} (${meta.license}):`, '');
    if (file !== undefined) sections.push(indent(withoutGpl(readFileSync(join(dir, file), 'utf8'))), '');
  }
  return `${sections.join('\n').trimEnd()}\n`;
}

/** A licence file that appends the GPL's text: Debian keeps one copy of it, and points there. */
function withoutGpl(text) {
  const gpl = /^-*\s*\n\s*GNU GENERAL PUBLIC LICENSE\s*\n\s*Version 2,/m.exec(text);
  if (gpl === null) return text;
  return `${text.slice(0, gpl.index).trimEnd()}\n\nOn Debian systems, the GNU General Public License version 2 is in\n/usr/share/common-licenses/GPL-2.\n`;
}

function indent(text) {
  return text.trimEnd().split('\n').map((line) => (line.trim() === '' ? '' : `  ${line}`)).join('\n');
}

/** BUNDLED_ROOTS and their dependencies, as installed. */
function bundledPackages() {
  const seen = new Set();
  const visit = (name) => {
    if (seen.has(name)) return;
    seen.add(name);
    const meta = JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8'));
    for (const dependency of Object.keys(meta.dependencies ?? {})) visit(dependency);
  };
  for (const name of BUNDLED_ROOTS) visit(name);
  return [...seen].sort();
}

// The user the unprivileged children switch to (as lacme's postinst makes its own), and the
// directories of acme-client(1)'s defaults with the modes of the README's table. Each only when
// missing: running it again, or an upgrade, changes nothing and keeps what the administrator set.
// The directories it made are listed in CREATED, so that a purge removes those and no other.
const CREATED = '/var/lib/acme-client/created-directories';
const POSTINST = `#!/bin/sh
set -e

if [ "$1" = configure ]; then
    if ! getent passwd _acme-client >/dev/null; then
        adduser --system --group --force-badname --home /nonexistent --no-create-home \\
            --gecos "acme-client children" --quiet _acme-client
    fi
    [ -d /var/lib/acme-client ] || install -d -m 0755 /var/lib/acme-client
    for entry in 0700:/etc/acme 0755:/etc/ssl/acme 0700:/etc/ssl/acme/private \\
                 0755:/var/www 0755:/var/www/acme 0700:/etc/acme-client; do
        if [ ! -d "\${entry#*:}" ]; then
            install -d -m "\${entry%%:*}" "\${entry#*:}"
            echo "\${entry#*:}" >> ${CREATED}
        fi
    done
    if [ -d /run/systemd/system ]; then
        systemctl --system daemon-reload >/dev/null || true
    fi
fi

exit 0
`;

// Before the files go (remove, or an upgrade): the units this package runs are stopped, as
// dh_installsystemd's prerm does, so that no service keeps running from deleted files. The nightly
// instances' timers are stopped too; their enablement is the administrator's and stays.
const PRERM = `#!/bin/sh
set -e

if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
    systemctl stop acme-client-server.service 'acme-client@*.timer' 'acme-client@*.service' >/dev/null 2>&1 || true
fi

exit 0
`;

// On purge: the directories the postinst made, last first, each only if it is empty (keys and
// certificates are the administrator's and stay), then the user and its group.
const POSTRM = `#!/bin/sh
set -e

if [ "$1" = purge ]; then
    if [ -f ${CREATED} ]; then
        tac ${CREATED} | while read -r dir; do
            rmdir "$dir" 2>/dev/null || true
        done
        rm -f ${CREATED}
    fi
    rmdir /var/lib/acme-client 2>/dev/null || true
    # A process still running as the user (a run started before the purge) makes userdel refuse:
    # the purge still completes, and says what is left to do.
    if getent passwd _acme-client >/dev/null; then
        if command -v deluser >/dev/null; then
            deluser --system --quiet _acme-client || echo "acme-client: _acme-client: not removed (in use?): deluser --system _acme-client once its processes are gone" >&2
        else
            userdel _acme-client || echo "acme-client: _acme-client: not removed (in use?): userdel _acme-client once its processes are gone" >&2
        fi
    fi
    if getent group _acme-client >/dev/null; then
        if command -v delgroup >/dev/null; then
            delgroup --system --quiet _acme-client || echo "acme-client: _acme-client: group not removed: delgroup --system _acme-client once the user is gone" >&2
        else
            groupdel _acme-client || echo "acme-client: _acme-client: group not removed: groupdel _acme-client once the user is gone" >&2
        fi
    fi
fi

# The administrator's enablement of this package's units, as deb-systemd-helper purge removes it:
# links to units that are gone.
if [ "$1" = purge ]; then
    for link in /etc/systemd/system/*.wants/acme-client-server.service /etc/systemd/system/*.wants/acme-client@*.timer /etc/systemd/system/*.wants/acme-client@*.service; do
        if [ -L "$link" ]; then
            rm -f "$link"
        fi
    done
fi

if [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload >/dev/null || true
fi

exit 0
`;

main();
