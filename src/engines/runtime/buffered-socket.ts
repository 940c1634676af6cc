import { Socket, connect } from 'net';

/**
 * A TCP connection read as a byte stream with deadlines: the shared plumbing of the Redis and
 * PostgreSQL clients, whose protocols are strictly request/response. One read at a time.
 */
export class BufferedSocket {
  /** Opens a connection, failing after `deadline` (epoch milliseconds). */
  public static open(host: string, port: number, deadline: number): Promise<BufferedSocket> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connecting to ${host}:${port} timed out`));
      }, Math.max(0, deadline - Date.now()));
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(new Error(`connecting to ${host}:${port} failed: ${error.message}`));
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new BufferedSocket(socket, `${host}:${port}`));
      });
    });
  }

  private buffer: Buffer = Buffer.alloc(0);
  private failure?: Error;
  private waiter?: () => void;

  private constructor(private readonly socket: Socket, private readonly address: string) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      this.waiter?.();
    });
    socket.on('error', (error) => this.fail(new Error(`connection to ${address} failed: ${error.message}`)));
    socket.on('close', () => this.fail(new Error(`connection to ${address} closed`)));
  }

  /** Whether the connection has failed or closed; a closed socket never reopens. */
  public get closed(): boolean {
    return this.failure !== undefined;
  }

  /** Sends bytes; errors surface on the next read. */
  public write(data: Buffer): void {
    if (this.failure) throw this.failure;
    this.socket.write(data);
  }

  /** Reads exactly `length` bytes. */
  public async read(length: number, deadline: number): Promise<Buffer> {
    await this.waitFor(() => this.buffer.length >= length, deadline);
    const out = this.buffer.subarray(0, length);
    this.buffer = this.buffer.subarray(length);
    return out;
  }

  /** Reads up to and including the next CRLF; returns the line without it. */
  public async readLine(deadline: number): Promise<string> {
    await this.waitFor(() => this.buffer.indexOf('\r\n') >= 0, deadline);
    const end = this.buffer.indexOf('\r\n');
    const line = this.buffer.subarray(0, end).toString('utf8');
    this.buffer = this.buffer.subarray(end + 2);
    return line;
  }

  /** Closes the connection; pending reads fail. */
  public close(): void {
    this.fail(new Error(`connection to ${this.address} closed by us`));
    this.socket.destroy();
  }

  /** Sends `data` then closes once it is flushed (a protocol's goodbye message). */
  public end(data: Buffer): void {
    if (!this.failure) this.socket.end(data);
    this.fail(new Error(`connection to ${this.address} closed by us`));
  }

  private fail(error: Error): void {
    if (!this.failure) this.failure = error;
    this.waiter?.();
  }

  private waitFor(ready: () => boolean, deadline: number): Promise<void> {
    if (ready()) return Promise.resolve();
    if (this.failure) return Promise.reject(this.failure);
    if (this.waiter) return Promise.reject(new Error(`connection to ${this.address}: concurrent reads`));
    return new Promise((resolve, reject) => {
      const finish = (error?: Error) => {
        clearTimeout(timer);
        this.waiter = undefined;
        if (error) reject(error); else resolve();
      };
      const timer = setTimeout(() => {
        finish(new Error(`no answer from ${this.address} in time`));
      }, Math.max(0, deadline - Date.now()));
      this.waiter = () => {
        if (ready()) finish();
        else if (this.failure) finish(this.failure);
      };
    });
  }
}
