// The migrator on a private PGlite: order, one transaction per file, records, frozen files.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, migrate, readMigrations } from "./db-migrate.mjs";
import { startPglite } from "./pglite-server.mjs";

let pg: Awaited<ReturnType<typeof startPglite>>;
let dir: string;
beforeAll(async () => {
  pg = await startPglite({});
  dir = await mkdtemp(join(tmpdir(), "gw-migrations-"));
});
afterAll(async () => {
  await pg.close();
  await rm(dir, { recursive: true, force: true });
});

async function query(sql: string) {
  const { client, close } = await connect(pg.databaseUrl);
  try {
    return (await client.query(sql)).rows;
  } finally {
    await close();
  }
}

describe("migrate", () => {
  it("ships migrations whose names sort in apply order", async () => {
    const names = (await readMigrations()).map((m: { name: string }) => m.name);
    expect(names.length).toBeGreaterThanOrEqual(3);
    expect([...names].sort()).toEqual(names);
  });

  it("applies pending files in name order, once, and rolls back a failing file entirely", async () => {
    await writeFile(join(dir, "2026-01-01-0002-second.sql"), "INSERT INTO t VALUES (2);");
    await writeFile(join(dir, "2026-01-01-0001-first.sql"), "CREATE TABLE t (v int); INSERT INTO t VALUES (1);");
    expect(await migrate(pg.databaseUrl, { dir })).toEqual(["2026-01-01-0001-first.sql", "2026-01-01-0002-second.sql"]);
    expect(await migrate(pg.databaseUrl, { dir })).toEqual([]);

    await writeFile(join(dir, "2026-01-01-0003-broken.sql"), "CREATE TABLE u (v int); INSERT INTO t VALUES ('not a number');");
    await expect(migrate(pg.databaseUrl, { dir })).rejects.toThrow(/0003-broken.sql failed/);
    expect(await query("SELECT to_regclass('u') IS NULL AS gone")).toEqual([{ gone: true }]);
    expect(await query("SELECT name FROM schema_migrations ORDER BY name")).toHaveLength(2);
    await rm(join(dir, "2026-01-01-0003-broken.sql"));
    expect(await query("SELECT v FROM t ORDER BY v")).toEqual([{ v: 1 }, { v: 2 }]);
  });

  it("refuses to run when an applied file was edited, and rejects badly named files", async () => {
    const first = join(dir, "2026-01-01-0001-first.sql");
    const original = await readFile(first, "utf8");
    await writeFile(first, `${original}\n-- edited`);
    await expect(migrate(pg.databaseUrl, { dir })).rejects.toThrow(/were edited: 2026-01-01-0001-first.sql/);
    await writeFile(first, original);

    await writeFile(join(dir, "add-stuff.sql"), "SELECT 1;");
    await expect(migrate(pg.databaseUrl, { dir })).rejects.toThrow(/migration names/);
    await rm(join(dir, "add-stuff.sql"));
  });
});
