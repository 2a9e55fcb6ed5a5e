import { readFile } from 'node:fs/promises';
import path from 'node:path';

/** What keeps PostgreSQL from starting for now, and how to get past it. */
export interface Blocker {
  /** Said in the log while Herald waits, e.g. "the previous PostgreSQL (PID 812) to be reaped". */
  waitingFor: string;
  /** The port is taken: start again on another free one rather than wait. */
  newPort?: boolean;
}

/**
 * Reads a failed start's own log lines for what a killed cluster leaves behind, all of which pass
 * with time: its postmaster's PID still alive in `postmaster.pid` (a zombie until reaped, or an
 * orphan whose Herald died alone), its backends still attached to the shared memory, its port
 * still bound. Anything else (a broken data folder, a permission) is no reason to wait: undefined.
 */
export async function whatBlocks(lines: string[], databaseDir: string, portIsOurs: boolean): Promise<Blocker | undefined> {
  const text = lines.join('\n');
  if (/lock file "postmaster\.pid" already exists/.test(text)) {
    const pid = Number(/another postmaster \(PID (\d+)\)/.exec(text)?.[1]);
    if (!pid) return { waitingFor: 'the previous PostgreSQL to release postmaster.pid' };
    const previous = await postmaster(pid, databaseDir);
    if (previous === 'zombie') return { waitingFor: `the previous PostgreSQL (PID ${pid}) to be reaped: it was killed and has exited` };
    if (previous === 'orphan') {
      // Herald was killed alone (the OOM killer picks the biggest process): its cluster lives on with
      // nobody to stop it. A fast shutdown, as Herald's own stop() does, frees the folder in a moment.
      process.kill(pid, 'SIGINT');
      return { waitingFor: `the previous PostgreSQL (PID ${pid}), left running by a Herald that died, to shut down` };
    }
    if (previous === 'owned') return { waitingFor: `PostgreSQL PID ${pid}, which another running Herald started on this data folder, to stop` };
    if (previous === 'gone') return { waitingFor: `the previous PostgreSQL (PID ${pid}) to exit` };
    return undefined; // the PID belongs to some other program now: PostgreSQL cannot tell, and Herald won't guess
  }
  if (/pre-existing shared memory block .* is still in use/.test(text)) {
    return { waitingFor: 'the previous PostgreSQL processes to release its shared memory' };
  }
  if (/could not bind .*Address already in use|could not create any TCP\/IP sockets/.test(text)) {
    return portIsOurs ? { waitingFor: 'a free port (the one picked was taken meanwhile)', newPort: true } : { waitingFor: 'the port to be released' };
  }
  return undefined;
}

type Postmaster = 'gone' | 'zombie' | 'orphan' | 'owned' | 'other';

/** What PID `pid` is now, as seen in /proc (Linux); 'other' where that cannot be read. */
async function postmaster(pid: number, databaseDir: string): Promise<Postmaster> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (stat === undefined) return 'gone';
  // "pid (comm) state ppid …": comm may hold spaces and parentheses, so read after the last ')'.
  const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (state === 'Z' || state === 'X') return 'zombie';
  const args = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
  const dataDir = args[args.indexOf('-D') + 1];
  if (!args.includes('-D') || !dataDir || path.resolve(dataDir) !== path.resolve(databaseDir)) return 'other';
  // The cluster's parent is the Herald (node) that started it; once that died, a reaper adopted it.
  const parent = await readFile(`/proc/${ppid}/comm`, 'utf8').catch(() => undefined);
  if (parent === undefined) return 'other';
  return parent.startsWith('node') ? 'owned' : 'orphan';
}
