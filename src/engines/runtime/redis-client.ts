import { BufferedSocket } from './buffered-socket';
import { RedisSettings } from './config';

/** An error reply (`-ERR ...`) from Redis. */
export class RedisReplyError extends Error {}

/** A decoded RESP2 reply. */
export type RedisReply = string | number | null | RedisReply[];

/** Encodes a command as a RESP array of bulk strings. */
export function encodeRedisCommand(args: readonly string[]): Buffer {
  const parts = [`*${args.length}\r\n`];
  for (const arg of args) parts.push(`$${Buffer.byteLength(arg)}\r\n${arg}\r\n`);
  return Buffer.from(parts.join(''), 'utf8');
}

/**
 * A Redis connection speaking RESP2 over TCP: enough for AUTH and PING (the readiness check) and
 * any other command trading logic needs. Commands are sent one at a time.
 */
export class RedisConnection {
  /** Connects and, when a password is configured, authenticates (`AUTH <password>`). */
  public static async open(settings: RedisSettings, deadline: number): Promise<RedisConnection> {
    const socket = await BufferedSocket.open(settings.host, settings.port, deadline);
    const connection = new RedisConnection(socket);
    try {
      if (settings.password !== '') await connection.command(['AUTH', settings.password], deadline);
    } catch (error) {
      socket.close();
      throw error;
    }
    return connection;
  }

  private queue: Promise<unknown> = Promise.resolve();

  private constructor(private readonly socket: BufferedSocket) {}

  /** Whether the connection is gone (open a new one). */
  public get closed(): boolean {
    return this.socket.closed;
  }

  /** Sends one command and reads its reply; error replies throw {@link RedisReplyError}. */
  public command(args: readonly string[], deadline: number): Promise<RedisReply> {
    const run = async (): Promise<RedisReply> => {
      this.socket.write(encodeRedisCommand(args));
      return this.readReply(deadline);
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** `PING`, expecting `PONG`. */
  public async ping(deadline: number): Promise<void> {
    const reply = await this.command(['PING'], deadline);
    if (reply !== 'PONG') throw new Error(`PING answered ${JSON.stringify(reply)}, expected "PONG"`);
  }

  /** Closes the connection. */
  public close(): void {
    this.socket.close();
  }

  private async readReply(deadline: number): Promise<RedisReply> {
    const line = await this.socket.readLine(deadline);
    const body = line.slice(1);
    switch (line[0]) {
      case '+':
        return body;
      case '-':
        throw new RedisReplyError(body);
      case ':':
        return Number(body);
      case '$': {
        const length = Number(body);
        if (length < 0) return null;
        const data = await this.socket.read(length + 2, deadline);
        return data.subarray(0, length).toString('utf8');
      }
      case '*': {
        const count = Number(body);
        if (count < 0) return null;
        const items: RedisReply[] = [];
        for (let i = 0; i < count; i++) items.push(await this.readReply(deadline));
        return items;
      }
      default:
        this.socket.close();
        throw new Error(`unexpected Redis reply ${JSON.stringify(line.slice(0, 40))}`);
    }
  }
}
