import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';

/** A headless browser process, started by `startBrowserProcess`. */
export interface BrowserProcess {
  /** The last 20,000 characters it printed (stdout and stderr), for error messages. */
  output(): string;
  /** Resolves with the first group of `pattern` once printed; rejects if it exits, fails to start or times out. */
  waitForOutput(pattern: RegExp, what: string, timeoutMs: number): Promise<string>;
  running(): boolean;
  /**
   * Stops it: `graceful()` first while it runs (e.g. a protocol's close command), the whole
   * process group killed after 10 s at the latest (and after, for helpers left behind), then its
   * profile folder removed.
   */
  stop(graceful?: () => Promise<unknown>): Promise<void>;
}

/**
 * Starts `command` in a process group of its own (so stopping it ends its content, GPU and utility
 * processes too) with a fresh `profile` folder it owns. If the test process ends without `stop()`,
 * the group is killed anyway.
 */
export function startBrowserProcess(name: string, command: string, args: string[], env: Record<string, string>, profile: string): BrowserProcess {
  const child = spawn(command, args, {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_AT_BRIDGE: '1', ...env }, // NO_AT_BRIDGE: no accessibility bus to look for
  });
  let printed = '';
  const collect = (chunk: Buffer) => (printed = (printed + String(chunk)).slice(-20_000));
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const output = () => printed;

  let running = true;
  const exited = new Promise<void>((resolve) => {
    const stopped = () => {
      running = false;
      resolve();
    };
    child.once('exit', stopped);
    child.once('error', stopped); // it never started (no such binary)
  });
  const kill = () => {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  process.once('exit', kill);

  return {
    output,
    running: () => running,
    waitForOutput(pattern, what, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = pattern.exec(output())?.[1];
          if (found) done(() => resolve(found));
        };
        const fail = (why: string) => done(() => reject(new Error(`${name} ${why}; its output:\n${output()}`)));
        const done = (settle: () => void) => {
          clearTimeout(timer);
          child.stdout.off('data', check);
          child.stderr.off('data', check);
          child.off('exit', onExit);
          child.off('error', onError);
          settle();
        };
        const onExit = (code: number | null, signal: string | null) => fail(`exited (${code ?? signal}) before it printed ${what}`);
        const onError = (error: Error) => fail(`could not start: ${error.message} (is ${command} installed? see test/browser/kit/ensure-browsers.sh)`);
        const timer = setTimeout(() => fail(`printed no ${what} within ${timeoutMs} ms`), timeoutMs);
        child.stdout.on('data', check);
        child.stderr.on('data', check);
        child.on('exit', onExit);
        child.on('error', onError);
        check();
      });
    },
    async stop(graceful) {
      process.off('exit', kill);
      if (graceful && running) await graceful().catch(() => undefined);
      const timer = setTimeout(kill, 10_000);
      await exited;
      clearTimeout(timer);
      kill(); // helper processes left in the group, if any
      await rm(profile, { recursive: true, force: true, maxRetries: 3 });
    },
  };
}
