import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'crypto';
import { promisify } from 'util';
import { BufferedSocket } from './buffered-socket';
import { PostgresSettings } from './config';

const pbkdf2Async = promisify(pbkdf2);

/** An ErrorResponse from the server, with its SQLSTATE. */
export class PostgresServerError extends Error {
  constructor(public readonly code: string, message: string) {
    super(`${message} (SQLSTATE ${code})`);
  }
}

interface Message {
  readonly type: string;
  readonly body: Buffer;
}

function message(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, 'ascii');
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

function cString(value: string): Buffer {
  return Buffer.concat([Buffer.from(value, 'utf8'), Buffer.from([0])]);
}

function parseError(body: Buffer): PostgresServerError {
  const fields = new Map<string, string>();
  let offset = 0;
  while (offset < body.length && body[offset] !== 0) {
    const code = String.fromCharCode(body[offset]);
    const end = body.indexOf(0, offset + 1);
    fields.set(code, body.subarray(offset + 1, end).toString('utf8'));
    offset = end + 1;
  }
  return new PostgresServerError(fields.get('C') ?? '?????', fields.get('M') ?? 'unknown server error');
}

function hmac(key: Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/**
 * The client side of SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL uses it: no channel
 * binding, the user name taken from the startup message. The password is used as given, which
 * equals its SASLprep form for printable ASCII passwords.
 */
export class ScramSha256Client {
  private readonly clientNonce = randomBytes(18).toString('base64');
  private expectedServerSignature?: Buffer;

  constructor(private readonly password: string) {}

  /** The client-first message. */
  public get clientFirstMessage(): string {
    return `n,,${this.clientFirstBare}`;
  }

  /** Answers the server-first message with the client-final message (which carries the proof). */
  public async clientFinalMessage(serverFirst: string): Promise<string> {
    const attributes = new Map(serverFirst.split(',').map((part) => [part[0], part.slice(2)] as const));
    const nonce = attributes.get('r');
    const salt = attributes.get('s');
    const iterations = Number(attributes.get('i'));
    if (!nonce || !nonce.startsWith(this.clientNonce) || !salt || !Number.isInteger(iterations) || iterations < 1) {
      throw new Error('malformed SCRAM server-first message');
    }
    const saltedPassword = await pbkdf2Async(this.password, Buffer.from(salt, 'base64'), iterations, 32, 'sha256');
    const clientKey = hmac(saltedPassword, 'Client Key');
    const storedKey = createHash('sha256').update(clientKey).digest();
    const withoutProof = `c=${Buffer.from('n,,').toString('base64')},r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const signature = hmac(storedKey, authMessage);
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i] ^ signature[i];
    this.expectedServerSignature = hmac(hmac(saltedPassword, 'Server Key'), authMessage);
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** Checks the server's final message: proof that the server, too, knows the password. */
  public verifyServerFinal(serverFinal: string): void {
    const match = /(?:^|,)v=([^,]+)/.exec(serverFinal);
    const got = match ? Buffer.from(match[1], 'base64') : Buffer.alloc(0);
    if (!this.expectedServerSignature || got.length !== this.expectedServerSignature.length
      || !timingSafeEqual(got, this.expectedServerSignature)) {
      throw new Error('the server failed SCRAM verification: it does not know the password');
    }
  }

  private get clientFirstBare(): string {
    return `n=,r=${this.clientNonce}`;
  }
}

/**
 * A PostgreSQL connection (frontend/backend protocol 3.0, no TLS): the startup message,
 * authentication by SCRAM-SHA-256, MD5 or cleartext password as the server asks, then simple
 * queries. Readiness runs `SELECT 1` on it.
 */
export class PostgresConnection {
  /** Connects, authenticates and waits for ReadyForQuery. */
  public static async open(settings: PostgresSettings, applicationName: string, deadline: number): Promise<PostgresConnection> {
    const socket = await BufferedSocket.open(settings.host, settings.port, deadline);
    const connection = new PostgresConnection(socket);
    try {
      await connection.startup(settings, applicationName, deadline);
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

  /** Runs one simple query; returns its rows as text (NULL as null). */
  public query(sql: string, deadline: number): Promise<Array<Array<string | null>>> {
    const run = async () => {
      this.socket.write(message('Q', cString(sql)));
      const rows: Array<Array<string | null>> = [];
      let error: PostgresServerError | undefined;
      for (;;) {
        const reply = await this.readMessage(deadline);
        if (reply.type === 'D') rows.push(this.parseDataRow(reply.body));
        else if (reply.type === 'E') error = parseError(reply.body);
        else if (reply.type === 'Z') break;
      }
      if (error) throw error;
      return rows;
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Says goodbye (Terminate) and closes. */
  public close(): void {
    if (!this.socket.closed) this.socket.end(message('X', Buffer.alloc(0)));
  }

  private async startup(settings: PostgresSettings, applicationName: string, deadline: number): Promise<void> {
    const parameters = Buffer.concat([
      ...['user', settings.user, 'database', settings.database, 'application_name', applicationName].map(cString),
      Buffer.from([0]),
    ]);
    const header = Buffer.alloc(8);
    header.writeInt32BE(parameters.length + 8, 0);
    header.writeInt32BE(196608, 4); // protocol 3.0
    this.socket.write(Buffer.concat([header, parameters]));

    let scram: ScramSha256Client | undefined;
    for (;;) {
      const reply = await this.readMessage(deadline);
      if (reply.type === 'E') throw parseError(reply.body);
      if (reply.type === 'Z') return;
      if (reply.type !== 'R') continue; // ParameterStatus, BackendKeyData, notices
      const code = reply.body.readInt32BE(0);
      switch (code) {
        case 0: // AuthenticationOk
          break;
        case 3: // AuthenticationCleartextPassword
          this.socket.write(message('p', cString(settings.password)));
          break;
        case 5: { // AuthenticationMD5Password
          const salt = reply.body.subarray(4, 8);
          const inner = createHash('md5').update(settings.password + settings.user).digest('hex');
          const outer = createHash('md5').update(Buffer.concat([Buffer.from(inner), salt])).digest('hex');
          this.socket.write(message('p', cString(`md5${outer}`)));
          break;
        }
        case 10: { // AuthenticationSASL
          const mechanisms = reply.body.subarray(4).toString('utf8').split('\0').filter((m) => m !== '');
          if (!mechanisms.includes('SCRAM-SHA-256')) {
            throw new Error(`the server offers SASL mechanisms ${mechanisms.join(', ')}; only SCRAM-SHA-256 is supported`);
          }
          scram = new ScramSha256Client(settings.password);
          const first = Buffer.from(scram.clientFirstMessage, 'utf8');
          const length = Buffer.alloc(4);
          length.writeInt32BE(first.length, 0);
          this.socket.write(message('p', Buffer.concat([cString('SCRAM-SHA-256'), length, first])));
          break;
        }
        case 11: // AuthenticationSASLContinue
          if (!scram) throw new Error('SASLContinue before SASL');
          this.socket.write(message('p', Buffer.from(await scram.clientFinalMessage(reply.body.subarray(4).toString('utf8')), 'utf8')));
          break;
        case 12: // AuthenticationSASLFinal
          if (!scram) throw new Error('SASLFinal before SASL');
          scram.verifyServerFinal(reply.body.subarray(4).toString('utf8'));
          break;
        default:
          throw new Error(`the server asks for authentication method ${code}, which this client does not support`);
      }
    }
  }

  private async readMessage(deadline: number): Promise<Message> {
    const header = await this.socket.read(5, deadline);
    const length = header.readInt32BE(1);
    if (length < 4 || length > 64 * 1024 * 1024) throw new Error(`malformed message length ${length}`);
    const body = await this.socket.read(length - 4, deadline);
    return { type: String.fromCharCode(header[0]), body };
  }

  private parseDataRow(body: Buffer): Array<string | null> {
    const count = body.readInt16BE(0);
    const values: Array<string | null> = [];
    let offset = 2;
    for (let i = 0; i < count; i++) {
      const length = body.readInt32BE(offset);
      offset += 4;
      if (length < 0) { values.push(null); continue; }
      values.push(body.subarray(offset, offset + length).toString('utf8'));
      offset += length;
    }
    return values;
  }
}
