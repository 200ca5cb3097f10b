// How each child is confined, decided by the parent before it spawns anything. Four layers, each
// applied where this machine allows it; what is missing is said on every run as root, and with -v
// (and by --isolation-report) otherwise, where a kernel without user namespaces is how it is:
//
//   user      run as root, children that need no root drop to an unprivileged uid in-process,
//             after taking what they need (the kernel then makes them non-dumpable: a same-uid
//             sibling cannot read their memory through /proc/<pid>/mem). Run as another user, there
//             is no uid to change to: each child gets a user namespace of its own instead (its
//             root there is the invoking user outside, without any capability once it runs), and
//             the kernel refuses a process in one user namespace the memory of a process in another;
//   files     Node's permission model, with an allow-list of exactly what the role needs;
//   network   a fresh network namespace (no usable interface) for every child but netproc;
//   jail      the two children that write a directory (chngproc, fileproc) run chrooted in a private
//             mount namespace that holds only /usr (read-only), their own code (read-only) and
//             their one directory, so a planted symlink leads nowhere. Not root, network namespace
//             and jail both come with the child's user namespace, and not without it.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AnyRole } from './ipc/roles.js';
import { Failure, debug, warn } from './log.js';

export interface Account {
  name: string;
  uid: number;
  gid: number;
}

/** The dedicated system user, if the administrator made one; else nobody. */
export const DEFAULT_USERS = ['_acme-client', 'nobody'];

function lookupPasswd(name: string): Account | null {
  let passwd: string;
  try {
    passwd = readFileSync('/etc/passwd', 'utf8');
  } catch {
    return null;
  }
  for (const line of passwd.split('\n')) {
    const [user, , uid, gid] = line.split(':');
    if (user === name && uid !== undefined && gid !== undefined && /^\d+$/.test(uid) && /^\d+$/.test(gid)) {
      return { name, uid: Number(uid), gid: Number(gid) };
    }
  }
  return null;
}

/**
 * Whom the children that need no root drop to: as root, resolveUser(--user); not root, no one, as
 * there is no uid to change to (each child runs as the invoking user).
 */
export function childUser(requested: string | undefined, caps: Capabilities): Account | null {
  if (caps.root) return resolveUser(requested);
  if (requested !== undefined) throw new Failure(requested, '--user needs root: not root, the children run as the invoking user');
  return null;
}

/** --user NAME (or a numeric uid[:gid]); without it, the first of DEFAULT_USERS that exists. */
export function resolveUser(requested: string | undefined): Account {
  if (requested !== undefined) {
    const numeric = /^(\d+)(?::(\d+))?$/.exec(requested);
    const account = numeric ? { name: requested, uid: Number(numeric[1]), gid: Number(numeric[2] ?? numeric[1]) } : lookupPasswd(requested);
    if (account === null) throw new Failure(requested, 'no such user');
    if (account.uid === 0 || account.gid === 0) throw new Failure(requested, 'children must not run as root');
    return account;
  }
  for (const name of DEFAULT_USERS) {
    const account = lookupPasswd(name);
    if (account !== null && account.uid !== 0) return account;
  }
  throw new Failure(DEFAULT_USERS.join(', '), 'no unprivileged user to run the children as (use --user)');
}

export interface Capabilities {
  /** The parent runs as root: children drop to an unprivileged user. Else they run as the invoking user. */
  root: boolean;
  /** Not root: unshare(1) can give each child a user namespace of its own here. */
  userns: boolean;
  /** --permission (Node 22+) or --experimental-permission (Node 20), or null. */
  permissionFlag: string | null;
  /** unshare(1) can make network namespaces here (not root: in the child's user namespace). */
  netns: boolean;
  /** unshare(1) can make mount namespaces and chroot(8) exists: the jail works. */
  jail: boolean;
  /** setpriv(1) exists: a child gets SIGTERM from the kernel the moment the parent dies. */
  parentDeathSignal: boolean;
  /** Why a layer is missing, one line each. */
  missing: string[];
}

const UNSHARE = '/usr/bin/unshare';
const CHROOT = '/usr/sbin/chroot';
const SETPRIV = '/usr/bin/setpriv';
/**
 * Not root, inside the child's user namespace: SIGTERM when the parent dies (set here, as the move
 * into a user namespace clears it), no capability left in that namespace (its root could otherwise
 * chroot out of the jail, or mount), and none to gain by executing a setuid program.
 */
const DROP_ALL = ['--pdeathsig', 'TERM', '--bounding-set', '-all', '--inh-caps', '-all', '--no-new-privs'];

/**
 * The permission model's flag on this Node: --experimental-permission from 20.0, --permission once
 * it became stable (22.13 and 23.5). Read from the version, not from
 * process.allowedNodeEnvironmentFlags, which builds a set of every flag Node has and costs the
 * start of every run more than anything else the parent does before its first child.
 */
export function permissionFlagOf(version: string): string | null {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  if (major > 23 || (major === 23 && minor >= 5) || (major === 22 && minor >= 13)) return '--permission';
  return major >= 20 ? '--experimental-permission' : null;
}

/** Whether a command ran and succeeded; it never fails otherwise. */
function succeeds(file: string, args: string[]): Promise<boolean> {
  return new Promise((resolve) => {
    try {
      const child = spawn(file, args, { stdio: 'ignore' });
      child.once('error', () => resolve(false));
      child.once('exit', (code) => resolve(code === 0));
    } catch {
      // Some failures to start throw rather than emit 'error'.
      resolve(false);
    }
  });
}

/**
 * What confinement this machine allows. The probe is a short child process: the parent starts it
 * before it parses the command line, and awaits it only before the first child is planned.
 */
export async function probeCapabilities(root = process.getuid?.() === 0): Promise<Capabilities> {
  const missing: string[] = [];
  const permissionFlag = permissionFlagOf(process.versions.node);
  if (permissionFlag === null) missing.push(`Node ${process.version} has no permission model: children's file access is not limited`);
  if (process.platform !== 'linux') {
    missing.push(`${process.platform} has no network or mount namespaces: children can reach the network and all files`);
    return { root, userns: false, permissionFlag, netns: false, jail: false, parentDeathSignal: false, missing };
  }
  return root ? probeAsRoot(permissionFlag, missing) : probeAsUser(permissionFlag, missing);
}

async function probeAsRoot(permissionFlag: string | null, missing: string[]): Promise<Capabilities> {
  const hasSetpriv = existsSync(SETPRIV);
  const hasUnshare = existsSync(UNSHARE);
  // One cheap probe answers all three on a current system, as a child is started: setpriv with
  // --pdeathsig (util-linux 2.33, 2019; an older one refuses it, and a child started through it
  // would not start at all), then a network and a mount namespace. Only a failure asks apart.
  const all = hasSetpriv && hasUnshare && (await succeeds(SETPRIV, ['--pdeathsig', 'TERM', '--', UNSHARE, '--net', '--mount', '--', '/bin/true']));
  const parentDeathSignal = all || (hasSetpriv && (await succeeds(SETPRIV, ['--pdeathsig', 'TERM', '--', '/bin/true'])));
  let netns = false;
  let jail = false;
  if (!hasUnshare) {
    missing.push(`${UNSHARE} not found: children other than netproc can reach the network; chngproc and fileproc are not jailed`);
  } else {
    const both = all || (await succeeds(UNSHARE, ['--net', '--mount', '--', '/bin/true']));
    netns = both || (await succeeds(UNSHARE, ['--net', '--', '/bin/true']));
    jail = both && existsSync(CHROOT);
    if (!netns) missing.push('cannot create network namespaces here: children other than netproc can reach the network');
    if (!jail) missing.push(`cannot create mount namespaces here${existsSync(CHROOT) ? '' : ` (or no ${CHROOT})`}: chngproc and fileproc are not jailed`);
  }
  if (!parentDeathSignal) {
    missing.push(`${hasSetpriv ? `${SETPRIV} has no --pdeathsig` : `${SETPRIV} not found`}: a child outlives a killed parent until Node has started and sees its lifeline close`);
  }
  return { root: true, userns: false, permissionFlag, netns, jail, parentDeathSignal, missing };
}

/**
 * Not root: one probe starts what a jailed child is started through (a user, network and mount
 * namespace, then setpriv dropping every capability). Where the kernel refuses an unprivileged
 * user namespace (user.max_user_namespaces=0, kernel.unprivileged_userns_clone=0, an LSM), there
 * are no namespaces at all: the permission model is then the children's only confinement.
 */
async function probeAsUser(permissionFlag: string | null, missing: string[]): Promise<Capabilities> {
  const hasSetpriv = existsSync(SETPRIV);
  const hasUnshare = existsSync(UNSHARE);
  const userns = hasSetpriv && hasUnshare && existsSync(CHROOT)
    && (await succeeds(UNSHARE, ['--user', '--map-root-user', '--net', '--mount', '--', SETPRIV, ...DROP_ALL, '--', '/bin/true']));
  const parentDeathSignal = userns || (hasSetpriv && (await succeeds(SETPRIV, ['--pdeathsig', 'TERM', '--no-new-privs', '--', '/bin/true'])));
  if (!userns) {
    const why = !hasUnshare ? `${UNSHARE} not found` : !hasSetpriv ? `${SETPRIV} not found` : !existsSync(CHROOT) ? `${CHROOT} not found` : 'the kernel refuses this user a user namespace';
    missing.push(`${why}: children run in the invoking user's own namespaces, so each can read the others' memory, all but netproc can reach the network, and chngproc and fileproc are not jailed`);
  }
  if (!parentDeathSignal) {
    missing.push(`${hasSetpriv ? `${SETPRIV} has no --pdeathsig` : `${SETPRIV} not found`}: a child outlives a killed parent until Node has started and sees its lifeline close`);
  }
  return { root: false, userns, permissionFlag, netns: userns, jail: userns, parentDeathSignal, missing };
}

/**
 * What the probe found missing. As root, always said: root's confinement is the design. Not root,
 * said with -v (and by --isolation-report): a kernel without user namespaces is how that machine
 * is, and a crontab line must stay silent on a night with nothing to do.
 */
export function sayMissing(caps: Capabilities): void {
  for (const missing of caps.missing) (caps.root ? warn : debug)('isolation', missing);
}

export interface ChildPlan {
  role: AnyRole;
  /** Drop to this user in-process once the role holds what it needs; null: stays as started. */
  drop: Account | null;
  /** Not root: the invoking user's uid, and whether the child has a user namespace of its own. */
  invoker: { uid: number; userns: boolean } | null;
  network: 'host' | 'none';
  /** Directory that is the child's whole view of the file system besides /usr and its code. */
  jail: string | null;
  reads: string[];
  writes: string[];
  /** Layers this child lacks on this machine. */
  missing: string[];
}

export interface RoleNeeds {
  reads: string[];
  writes: string[];
  /** Must stay root (when run as root): writes into directories that root owns. */
  root: boolean;
  /** The directory it is confined to when it writes one. */
  jailDir: string | null;
}

/** `user` is whom children that need no root drop to; null when the parent is not root. */
export function planChild(role: AnyRole, needs: RoleNeeds, user: Account | null, caps: Capabilities): ChildPlan {
  const missing: string[] = [];
  if (caps.permissionFlag === null) missing.push('file allow-list');
  if (!caps.root && !caps.userns) missing.push('user namespace');
  const network = role === 'netproc' || !caps.netns ? 'host' : 'none';
  if (role !== 'netproc' && !caps.netns) missing.push('network namespace');
  let jail: string | null = null;
  if (needs.root && needs.jailDir !== null) {
    if (caps.jail) {
      // Refused while planning, before any child has started, not half-way through a run.
      jailedNode();
      jail = needs.jailDir;
    } else {
      missing.push('mount namespace jail');
    }
  }
  const invoker = caps.root ? null : { uid: process.getuid?.() ?? -1, userns: caps.userns };
  return { role, drop: needs.root || !caps.root ? null : user, invoker, network, jail, reads: needs.reads, writes: needs.writes, missing };
}

/** A child's code: its loader, and the bundle and code cache beside it (scripts/build.mjs). */
function codeFiles(script: string): string[] {
  const base = script.replace(/\.js$/, '');
  return [script, `${base}.bundle.js`, `${base}.bundle.cache`];
}

/**
 * The command line that starts a child under its plan. Every child starts through setpriv, which
 * asks the kernel for SIGTERM when the parent dies (PR_SET_PDEATHSIG): SIGTERM, not SIGKILL, so
 * that chngproc still removes its challenge files. The setting survives the exec of unshare, the
 * jail's shell, chroot and Node, and covers a child from its first instruction to the moment it
 * drops to its unprivileged user, when the kernel clears it; from then on the child's lifeline
 * tells it (src/ipc/child.ts), which it watches before it drops.
 */
export function childCommand(plan: ChildPlan, nodeFlags: string[], script: string, args: string[], caps: Capabilities, jailRoot: string | null): { file: string; args: string[] } {
  const node: string[] = [...nodeFlags];
  if (caps.permissionFlag !== null) {
    node.push(caps.permissionFlag, ...codeFiles(script).map((file) => `--allow-fs-read=${file}`));
    if (caps.permissionFlag === '--experimental-permission') node.push('--disable-warning=ExperimentalWarning');
    for (const path of plan.reads) node.push(`--allow-fs-read=${path}`);
    for (const path of plan.writes) node.push(`--allow-fs-write=${path}`);
  }
  let command = [process.execPath, ...node, script, ...args];
  const userns = plan.invoker?.userns === true;
  // Not root: setpriv comes last, inside the namespaces (in a jail, after chroot), where it drops
  // the capabilities that the child's user namespace gave it.
  // With a user namespace the drop is unconditional (the probe ran setpriv with DROP_ALL to grant it).
  if (userns) command = [SETPRIV, ...DROP_ALL, '--', ...command];
  else if (plan.invoker !== null && caps.parentDeathSignal) command = [SETPRIV, '--pdeathsig', 'TERM', '--no-new-privs', '--', ...command];
  const newUser = userns ? ['--user', '--map-root-user'] : [];
  if (plan.jail !== null && jailRoot !== null) {
    const code = dirname(script);
    const nodeFiles = jailedNode();
    command = [UNSHARE, ...newUser, '--net', '--mount', '--propagation', 'private', '--', '/bin/sh', '-ec', JAIL_SCRIPT, 'acme-client-jail', String(process.pid), jailRoot, plan.jail, code, nodeFiles,
      jailMounts(plan.jail, code, nodeFiles), ...command];
  } else if (plan.network === 'none' || userns) {
    command = [UNSHARE, ...newUser, ...(plan.network === 'none' ? ['--net'] : []), '--', ...command];
  }
  if (plan.invoker === null && caps.parentDeathSignal) command = [SETPRIV, '--pdeathsig', 'TERM', '--', ...command];
  return { file: command[0] as string, args: command.slice(1) };
}

/**
 * A path as a field of fstab(5): every control character, space, backslash and '#' in octal,
 * which libmount decodes in every version; older ones split fields at any whitespace (\v, \f and
 * \r too), and a newline would start a line of its own.
 */
function fstabField(path: string): string {
  return path.replace(/[\x00-\x20\x7f\\#]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
}

/**
 * The jail's bind mounts as an fstab(5) table for one mount(8): /usr and Node's binary (nodeInJail) read-only,
 * the two devices, the code read-only, the one directory read-write. Each target is relative to
 * the jail (mounted with --no-canonicalize, from the shell's working directory: see JAIL_SCRIPT).
 */
function jailMounts(dir: string, code: string, nodeFiles: string): string {
  const binds: [string, string, string][] = [['/usr', 'usr', 'rbind,ro']];
  if (nodeFiles !== '/usr') binds.push([nodeFiles, `.${nodeFiles}`, 'bind,ro']);
  binds.push(['/dev/null', 'dev/null', 'bind'], ['/dev/urandom', 'dev/urandom', 'bind'], [code, `.${code}`, 'bind,ro'], [dir, `.${dir}`, 'bind']);
  return binds.map(([source, target, options]) => `${fstabField(source)} ${fstabField(target)} none ${options} 0 0\n`).join('');
}

/** Top-level names a jail makes itself (JAIL_SCRIPT: bin, lib and lib64 are its links into usr) or the kernel fills. */
const JAIL_OWN = ['bin', 'lib', 'lib64', 'dev', 'proc', 'sys'];

/**
 * What of Node's installation (its binary at its real path) is bound read-only into a jail: /usr,
 * or, for a binary elsewhere (a release tarball, nvm, Volta), the binary alone. Node's releases
 * carry V8, ICU and OpenSSL inside it and need only the C libraries of /usr beside it; the
 * directories around it (a home directory, a PREFIX with npm's configuration and its tokens) hold
 * files of the host that the jail must not bring back. A binary under a place the jail makes
 * itself (a /bin or /lib that is not /usr's, where the jail has its links; /dev) is refused, with
 * one line.
 */
export function nodeInJail(real: string): string {
  if (real.startsWith('/usr/')) return '/usr';
  const top = real.split('/')[1] ?? '';
  if (JAIL_OWN.includes(top)) {
    throw new Failure(real, `Node's binary cannot be taken into a jail from /${top}: install Node under /usr, or in a directory of its own such as /opt/node`);
  }
  return real;
}

let jailedNodeFiles: string | null = null;

/** nodeInJail for this Node's binary: its real path, asked once a run. */
function jailedNode(): string {
  jailedNodeFiles ??= nodeInJail(realpathSync(process.execPath));
  return jailedNodeFiles;
}

// Runs as root (not root: as root of the child's own user namespace) inside fresh mount and network
// namespaces: a tmpfs root holding /usr and Node's installation (nodeInJail: /usr, or the binary
// alone) read-only, /dev/null and /dev/urandom,
// the child's code read-only and its one directory read-write, each at its usual path; the tmpfs
// itself is then made read-only, so its one writable place is that directory; then chroot into it.
// Nothing else exists there. Once the tmpfs is mounted every path is relative to it (the shell's
// working directory): when a signal ends this shell mid-way, the parent removes the jail directory
// on the host while the command the shell ran may still be running; the tmpfs is then detached
// here, and that command goes on inside it, never in the host's directory. A parent that died
// before setpriv asked for its death signal sends none: the shell's parent is then no longer the
// acme-client that started it, and it stops before mounting anything. A signal ends the shell once
// the helper it is running has finished (the trap), not under it: a helper left running would go on
// after the parent has removed the jail directory, and say so on stderr. Each command is a process
// to start, on the critical path of the run: hence one ln for the three links, the shell's own
// redirection for the files bound on (the two devices, Node's binary outside /usr), and one mount
// for every bind mount (jailMounts' table, which the shell writes under usr, where the first of
// them hides it: mount has read the whole table by
// then), each made read-only by mount itself (util-linux 2.27 and later) rather than by a second
// remount; a mount each cost some 0.7 ms of CPU on the run's start-up. mount -a may skip a line
// (one it cannot parse, or takes for mounted) and still succeed: the shell's own tests then check
// that each mount is in place. The tmpfs is made read-only as a mount (bind), not as a file
// system: in a user namespace the kernel refuses the latter.
const JAIL_SCRIPT = `trap 'exit 143' TERM INT HUP; [ "$PPID" = "$1" ] || exit 1; J=$2; W=$3; B=$4; N=$5; T=$6; shift 6
mount -t tmpfs -o size=1m,mode=0755 acme-client-jail "$J"
cd "$J"
mkdir -p usr dev ".\${N%/*}" ".$B" ".$W"
ln -s usr/lib usr/lib64 usr/bin .
: > dev/null; : > dev/urandom; [ -d "$N" ] || : > ".$N"; printf '%s' "$T" > usr/fstab
mount --all --no-canonicalize --fstab usr/fstab
[ usr -ef /usr ] && [ ".$N" -ef "$N" ] && [ -c dev/null ] && [ -c dev/urandom ] && [ ".$B" -ef "$B" ] && [ ".$W" -ef "$W" ] || { echo "acme-client: $W: cannot build the jail: mount left out a bind mount" >&2; exit 1; }
mount -o remount,bind,ro .
exec ${CHROOT} . "$@"`;

export function describePlan(plan: ChildPlan): string {
  const user = plan.invoker !== null
    ? `the invoking user (uid ${plan.invoker.uid}), ${plan.invoker.userns ? 'own user namespace, no capabilities' : 'no user namespace'}`
    : plan.drop === null ? 'root (uid 0)' : `${plan.drop.name} (uid ${plan.drop.uid}, gid ${plan.drop.gid}, no groups)`;
  const files = plan.reads.length + plan.writes.length === 0 ? 'its code only' : [...plan.reads.map((p) => `r ${p}`), ...plan.writes.map((p) => `w ${p}`)].join(', ');
  const parts = [`user ${user}`, `network ${plan.network === 'host' ? 'host' : 'none (own namespace)'}`, `files ${files}`];
  if (plan.jail !== null) parts.push(`jailed to ${plan.jail}`);
  if (plan.missing.length > 0) parts.push(`lacking ${plan.missing.join(', ')}`);
  return parts.join('; ');
}
