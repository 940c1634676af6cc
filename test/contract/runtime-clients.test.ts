/**
 * The runtime's data-store clients (ioredis and node-postgres, configured by
 * src/engines/runtime/clients.ts) against real servers: a command abandoned at its deadline must
 * not shift the replies of the commands after it (the failure of the hand-written client these
 * replaced: a timed-out command, then `GET k` answered the previous reply).
 */
import Redis from 'ioredis';
import { createPostgresPool, createRedisClient } from '../../src/engines/runtime/clients';
import { TestPostgres, TestRedis } from './data-stores';

jest.setTimeout(60_000);

const PASSWORD = 'clients-test-password';
let redis: TestRedis;
let postgres: TestPostgres;

beforeAll(async () => {
  [redis, postgres] = await Promise.all([TestRedis.start(PASSWORD), TestPostgres.start('clients_test', PASSWORD, ['clients'])]);
});
afterAll(async () => {
  await Promise.all([redis?.dispose(), postgres?.dispose()]);
});

function timeout(ms: number): Promise<never> {
  return new Promise((_resolve, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms));
}

test('redis: a command abandoned at a 50 ms deadline leaves the next reply in step', async () => {
  const client = createRedisClient({ host: '127.0.0.1', port: redis.port, password: PASSWORD }, 'clients-test');
  const admin = new Redis({ host: '127.0.0.1', port: redis.port, password: PASSWORD });
  try {
    // Commands fail at once while disconnected (no offline queue): wait for the connection.
    await new Promise((resolve) => client.once('ready', resolve));
    await client.set('k', 'v');
    // Pause every client for 300 ms: the next command's reply comes after its deadline.
    await admin.client('PAUSE', 300, 'ALL');
    await expect(Promise.race([client.set('other', 'late'), timeout(50)])).rejects.toThrow('timed out after 50 ms');
    expect(await client.get('k')).toBe('v');
    expect(await client.get('other')).toBe('late');
  } finally {
    client.disconnect();
    admin.disconnect();
  }
});

test('postgres: a query cut off by query_timeout leaves the next query in step', async () => {
  const pool = createPostgresPool({ host: '127.0.0.1', port: postgres.port, database: 'clients', user: 'clients_test', password: PASSWORD }, 'clients-test');
  // The server ends the connection the cut-off query was on when it stops: not a test failure.
  pool.on('error', () => undefined);
  try {
    // The pool's query_timeout is 2 s: a 3 s sleep is cut off, and the next query gets its own rows.
    await expect(pool.query('SELECT pg_sleep(3)')).rejects.toThrow(/timeout/i);
    const result = await pool.query<{ answer: number }>('SELECT 42 AS answer');
    expect(result.rows).toEqual([{ answer: 42 }]);
  } finally {
    await pool.end();
  }
});
