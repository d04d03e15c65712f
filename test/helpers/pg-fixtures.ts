// The store e2e tests' PostgreSQL dataset (azure, s3): 5000 customers and a table
// of incompressible bytes, and a fingerprint that shows whether a restore
// brought all of it back.
import postgres from "postgres";

/**
 * Fills an empty database; `blobRows` rows of 64 KiB of random bytes (40: a few
 * MB, the archive spans several blocks of a store; 200: enough for a multipart
 * upload in parts of 5 MiB).
 */
export async function fillCustomers(url: string, blobRows: number) {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  await sql`CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, email text UNIQUE)`;
  await sql`CREATE TABLE blobs (id int PRIMARY KEY, data bytea)`;
  await sql`INSERT INTO customers (name, email) SELECT 'customer ' || i, 'c' || i || '@example.com' FROM generate_series(1, 5000) i`;
  await sql`INSERT INTO blobs SELECT i, decode(string_agg(lpad(to_hex((random() * 255)::int), 2, '0'), ''), 'hex') FROM generate_series(1, ${blobRows}::int) i, generate_series(1, 65536) j GROUP BY i`;
  await sql.end();
}

/** What fillCustomers wrote, summed up: equal fingerprints, equal data. */
export async function customersFingerprint(url: string) {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [c] = await sql`SELECT count(*)::int AS n, md5(string_agg(name || email, ',' ORDER BY id)) AS h FROM customers`;
    const [b] = await sql`SELECT count(*)::int AS n, md5(string_agg(md5(data), ',' ORDER BY id)) AS h FROM blobs`;
    return { customers: c, blobs: b };
  } finally {
    await sql.end();
  }
}
