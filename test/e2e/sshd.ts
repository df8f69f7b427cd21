// A real OpenSSH server on loopback, for the tests of real connection drops: run as a plain
// foreground process of the test (never the system's service), with its own host key, its own
// authorized key and a free port, logging into the user that runs the tests. Stopped by pid.

import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { MASTER_FLAG } from '../../src/common/master-spec.js';
import { DT, childPids, isAlive, waitUntil } from './harness.js';

export const SSHD = '/usr/sbin/sshd';
export const SSH = '/usr/bin/ssh';
/**
 * Where an sshd run by root insists on its privilege separation directory (compiled in;
 * Debian's service makes it as it starts). Made when missing, empty and root's, and left:
 * another run of these tests may be using it.
 */
const PRIVSEP_DIR = '/run/sshd';
const STARTUP_TIMEOUT_MS = 5_000;

/** Why the ssh tests cannot run here, or undefined when they can. */
export function sshUnavailable(): string | undefined {
  if (!fs.existsSync(SSHD)) return `${SSHD} is not installed (.ci/run installs openssh-server)`;
  if (!fs.existsSync(SSH)) return `${SSH} is not installed (openssh-client)`;
  if (!fs.existsSync('/usr/bin/ssh-keygen')) return 'ssh-keygen is not installed (openssh-client)';
  return terminalGroupProblem();
}

function readOrEmpty(file: string): string {
  try {
    return fs.readFileSync(file, 'latin1');
  } catch {
    return '';
  }
}

/**
 * Why an sshd run by a user other than root cannot give a session a terminal here, if so. sshd
 * hands the terminal to group tty (chown), which only root may do, unless /dev/pts makes every
 * new terminal that group's already (mounted with gid=5, as distributions do; containers often
 * do not) or the user is in it. It then ends every `ssh -t` session.
 */
function terminalGroupProblem(): string | undefined {
  if (process.getuid?.() === 0) return undefined;
  const ttyGroup = /^tty:[^:]*:(\d+):/m.exec(readOrEmpty('/etc/group'))?.[1];
  const devptsOptions = /^\S+ \/dev\/pts devpts (\S+)/m.exec(readOrEmpty('/proc/mounts'))?.[1];
  if (ttyGroup === undefined || devptsOptions === undefined || devptsOptions.split(',').includes(`gid=${ttyGroup}`)) return undefined;
  if (process.getgroups?.().includes(Number(ttyGroup))) return undefined;
  return `an sshd not run as root cannot give a session a terminal here: /dev/pts is mounted without gid=${ttyGroup} (group tty); run the tests as root`;
}

/** A shell word for the remote command line: sshd hands it to the user's shell. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A free TCP port on loopback, as the kernel picks one. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** How many free ports to try: another process may take the one found before sshd binds it. */
const PORT_ATTEMPTS = 3;

export class Sshd {
  private log = '';

  private constructor(readonly dir: string, readonly port: number, private readonly process: ChildProcess) {
    process.stderr!.on('data', (chunk: Buffer) => { this.log += chunk.toString('latin1'); });
  }

  get pid(): number {
    return this.process.pid!;
  }

  /** Starts sshd in a temp dir of its own; resolves once it listens. */
  static async start(): Promise<Sshd> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dt-sshd-'));
    if (process.getuid?.() === 0) fs.mkdirSync(PRIVSEP_DIR, { mode: 0o755, recursive: true });
    for (const key of ['host_key', 'user_key']) {
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'dt test', '-f', path.join(dir, key)]);
    }
    fs.copyFileSync(path.join(dir, 'user_key.pub'), path.join(dir, 'authorized_keys'));
    for (let attempt = 1; ; attempt++) {
      const sshd = await Sshd.listen(dir, await freePort());
      if (sshd.listening) return sshd;
      await sshd.end();
      if (attempt < PORT_ATTEMPTS && sshd.log.includes('Address already in use')) continue;
      fs.rmSync(dir, { recursive: true, force: true });
      throw new Error(`sshd did not start:\n${sshd.log}`);
    }
  }

  /** sshd on `port`, once it listens or has exited. */
  private static async listen(dir: string, port: number): Promise<Sshd> {
    const config = [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${dir}/host_key`,
      `AuthorizedKeysFile ${dir}/authorized_keys`,
      `PidFile ${dir}/sshd.pid`,
      'UsePAM no',
      // The temp dir's modes are the test's, not a home's.
      'StrictModes no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin prohibit-password',
      'LogLevel VERBOSE',
    ];
    fs.writeFileSync(path.join(dir, 'sshd_config'), `${config.join('\n')}\n`);
    const child = spawn(SSHD, ['-D', '-e', '-f', path.join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
    const sshd = new Sshd(dir, port, child);
    // Neither listening nor ended in time: ended, and reported as not started.
    await waitUntil(() => sshd.listening || child.exitCode !== null || child.signalCode !== null, 'sshd to listen', STARTUP_TIMEOUT_MS)
      .catch(() => {});
    return sshd;
  }

  private get listening(): boolean {
    return this.log.includes(`Server listening on 127.0.0.1 port ${this.port}`);
  }

  /** What sshd logged so far (stderr, -e). */
  get transcript(): string {
    return this.log;
  }

  /**
   * ssh's arguments for a connection to this server running `remote`, each word quoted for the
   * remote shell: no configuration of the user's, no known-hosts file, `-t` when `tty`.
   */
  sshArgs(remote: string[], options: { tty?: boolean; extra?: string[] } = {}): string[] {
    return [
      '-F', '/dev/null', '-i', path.join(this.dir, 'user_key'), '-p', String(this.port),
      '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR',
      '-o', 'BatchMode=yes',
      ...(options.tty ? ['-t'] : ['-T']),
      ...(options.extra ?? []),
      '127.0.0.1', remote.map(shellQuote).join(' '),
    ];
  }

  /** The per-connection sshd processes: the listener's children, found by parent pid. */
  connections(): number[] {
    return childPids(this.pid);
  }

  /**
   * The dt clients running for ssh connections: processes below a per-connection sshd that run
   * bin/dt, masters left out (a master is its creating client's child until that client exits).
   */
  dtClients(): number[] {
    return this.connections().flatMap(descendantsOf).filter((pid) => {
      const argv = commandLine(pid);
      return argv.includes(DT) && !argv.includes(MASTER_FLAG);
    });
  }

  /** Ends sshd and removes its directory. */
  async stop(): Promise<void> {
    await this.end();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** Ends the listener and every connection's process, by pid (a connection outlives its listener). */
  private async end(): Promise<void> {
    const pids = [this.pid, ...this.connections()];
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // ESRCH: it ended meanwhile.
      }
    }
    await waitUntil(() => pids.every((pid) => !isAlive(pid)), `sshd processes ${pids.join(', ')} to end`, 5_000);
  }
}

/** Every process below `pid`, found by parent pid. */
function descendantsOf(pid: number): number[] {
  return childPids(pid).flatMap((child) => [child, ...descendantsOf(child)]);
}

/** A process's arguments from /proc; empty once it is gone. */
function commandLine(pid: number): string[] {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0');
  } catch {
    return [];
  }
}

/**
 * The remote command that runs bin/dt in `cwd` with the environment `env`: sshd starts a session
 * with a fresh environment, in the user's home, where nothing of a test may be written.
 */
export function remoteDt(cwd: string, env: NodeJS.ProcessEnv, args: string[]): string[] {
  const assignments = Object.entries(env).filter(([, value]) => value !== undefined).map(([name, value]) => `${name}=${value}`);
  return ['env', '-C', cwd, ...assignments, process.execPath, DT, ...args];
}
