import { Worker } from 'node:worker_threads';
import webpush from 'web-push';
import { fromRoot } from '../../paths.ts';

export interface EncryptJob {
  p256dh: string;
  auth: string;
  payload: string;
}

/** aes128gcm-encrypts one payload for one browser (RFC 8291), on this thread. */
export function encryptPush(job: EncryptJob): Buffer {
  return webpush.encrypt(job.p256dh, job.auth, job.payload, 'aes128gcm').cipherText;
}

type Pending = { resolve: (bodies: Buffer[]) => void; reject: (error: Error) => void };

/**
 * Encrypts batches of pushes on worker threads: each message needs its own ECDH key pair and
 * agreement, a third of the sender's CPU, which this moves off the thread that talks to the
 * database and the push services. A batch crosses threads as one message each way; batches take
 * turns between the threads. With `threads: 0` (HERALD_ENCRYPT_THREADS=0) it encrypts in place.
 */
export class Encryptor {
  private readonly workers: (Worker | undefined)[];
  private readonly pending = new Map<number, Pending & { worker: Worker }>();
  private nextId = 0;

  constructor(threads: number) {
    this.workers = new Array<Worker | undefined>(threads).fill(undefined);
  }

  async encrypt(jobs: EncryptJob[]): Promise<Buffer[]> {
    if (jobs.length === 0) return [];
    if (this.workers.length === 0) return jobs.map(encryptPush);
    const id = this.nextId++;
    const slot = id % this.workers.length;
    const worker = this.workers[slot] ?? this.start(slot);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, worker });
      worker.postMessage({ id, jobs });
    });
  }

  close(): void {
    for (const worker of this.workers) void worker?.terminate();
    this.workers.fill(undefined);
  }

  private start(slot: number): Worker {
    // execArgv: [] — the TypeScript loader (tsx) is not needed there and costs memory.
    const worker = new Worker(fromRoot('src', 'delivery', 'web-push', 'encrypt-worker.mjs'), {
      execArgv: [],
      // It holds a batch at a time: a small heap keeps Herald's memory flat.
      resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 },
    });
    worker.unref(); // it never keeps Herald running on its own
    worker.on('message', ({ id, bodies, error }: { id: number; bodies?: Uint8Array[]; error?: string }) => {
      const pending = this.pending.get(id);
      if (!pending) return;
      this.pending.delete(id);
      if (error !== undefined) pending.reject(new Error(`encryption failed: ${error}`));
      else pending.resolve(bodies!.map((body) => Buffer.from(body.buffer, body.byteOffset, body.byteLength)));
    });
    // A thread that dies fails what it held; the next batch for its slot starts a new one.
    const fail = (error: Error) => {
      if (this.workers[slot] === worker) this.workers[slot] = undefined;
      for (const [id, pending] of this.pending) {
        if (pending.worker !== worker) continue;
        this.pending.delete(id);
        pending.reject(error);
      }
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`encryption thread exited with code ${code}`)));
    this.workers[slot] = worker;
    return worker;
  }
}
