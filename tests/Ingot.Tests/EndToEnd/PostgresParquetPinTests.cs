using Ingot.DuckDb;
using Ingot.Tests.Infrastructure;

namespace Ingot.Tests.EndToEnd;

/// <summary>
/// What a PostgreSQL row becomes in bronze Parquet, pinned byte for byte: each column's Parquet type and value, and the
/// row's <c>_record_hash</c>. The hash is change detection across runs (DESIGN §5), so a row hashed by an earlier build
/// must hash the same now: the literals below were taken from the build before the typed fast path and must never move.
/// </summary>
public sealed class PostgresParquetPinTests(PostgresFixture pg) : IClassFixture<PostgresFixture>
{
    [Fact]
    public async Task Run_RowsOfEveryCommonType_SameTypesValuesAndHashesAsBefore()
    {
        // Given rows of every common type with fixed values: NULLs, escapes and non-ASCII text, numerics with their
        // digits, NaN, infinities, JSON, arrays, bytea
        var cs = await pg.CreateDatabaseAsync("pin");
        await PostgresFixture.ExecuteAsync(cs,
            """
            CREATE TABLE t (id bigint PRIMARY KEY, n numeric, big numeric(30,10), r real, d double precision, ts timestamptz, lts timestamp, dt date,
              b bytea, arr int[], tarr text[], j json, jb jsonb, u uuid, flag boolean, s text, nul text, updated_at timestamptz NOT NULL,
              iv interval, inf timestamptz, sm smallint, i4 int, ch char(5), vc varchar(10), nn numeric, pt point)
            """,
            "CREATE INDEX ON t (updated_at, id)",
            """
            INSERT INTO t VALUES
             (1, 12345678901234567890.000000000000000001, 123.4560000000, 1.5, 0.1, '2024-01-15 10:30:00.123456+02', '2024-01-15 10:30:00',
              '2024-01-15', '\x00ff10', '{1,2,NULL}', '{"a b","c"}', '{"x": [1, 2.50]}', '{"y": {"z": null}, "a": 1}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', true,
              E'héllo "quoted"\n\ttab', NULL, '2024-03-01 00:00:00+00', '1 day 02:00:03.5', 'infinity', -7, 2147483647, 'ab', 'x\y', 'NaN', '(1.5,2)'),
             (2, -0.5, 0, -1e-7, 1e300, '2024-02-29 23:59:59.999999+00', '1999-12-31 23:59:59.5', '-infinity', '', '{}', '{}', 'null', '[]', NULL, false,
              'Zürich 😀 ☃ <&> \u2028', 'x', '2024-03-01 00:00:01+00', NULL, '-infinity', NULL, -2147483648, 'abcde', '', 1, NULL),
             (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '', NULL, '2024-03-01 00:00:01+00',
              NULL, NULL, 32767, NULL, NULL, NULL, NULL, NULL)
            """);
        using var ws = new Workspace();
        var pipeline = ws.Write("pin.yaml", """
            name: pin
            source:
              type: postgres
              connection: ${PIN_PG}
              page_size: 2
              streams:
                - name: t
                  table: t
                  primary_key: [id]
                  cursor: updated_at
                  event_time: ts
            destinations:
              - type: parquet
                path: ./lake
                partition_by: [ingestion_date, load_type, event_date]
            """);

        // When it lands
        var run = await IngotProcess.RunAsync(ws.Dir, new Dictionary<string, string> { ["PIN_PG"] = cs }, "run", pipeline);

        // Then the columns have the types they had
        run.ExitCode.ShouldBe(0, run.Stdout + run.Stderr);
        using var db = DuckDbSession.Open();
        var glob = DuckDbSession.Literal(Path.Combine(ws.Lake, "pin", "t", "**", "*.parquet"));
        var types = db.Query($"SELECT column_name || ' ' || column_type FROM (DESCRIBE SELECT * EXCLUDE (_ingestion_id, _ingested_at, _chunk_key, ingestion_date, load_type, event_date) FROM read_parquet({glob}, hive_partitioning = true))")
            .Select(r => (string)r[0]!).ToList();
        types.ShouldBe([
            "id BIGINT", "n DOUBLE", "big DOUBLE", "r DOUBLE", "d DOUBLE", "ts VARCHAR", "lts VARCHAR", "dt VARCHAR", "b VARCHAR", "arr DOUBLE[]", "tarr VARCHAR[]",
            "j VARCHAR", "jb VARCHAR", "u VARCHAR", "flag BOOLEAN", "s VARCHAR", "nul VARCHAR", "updated_at VARCHAR", "iv VARCHAR", "inf VARCHAR", "sm BIGINT",
            "i4 BIGINT", "ch VARCHAR", "vc VARCHAR", "nn VARCHAR", "pt VARCHAR", "_source_system VARCHAR", "_stream VARCHAR", "_record_hash VARCHAR", "_event_ts TIMESTAMP WITH TIME ZONE"]);
        // And the values and hashes are the ones the earlier build landed
        var rows = db.Query($"""
            SELECT id, concat_ws(' | ', n, big, r, d, ts, lts, dt, b, arr::VARCHAR, tarr::VARCHAR, j, jb, u, flag, s, nul, updated_at, iv, inf, sm, i4, ch, vc, nn, pt,
              _source_system, _stream, _event_ts), _record_hash
            FROM read_parquet({glob}, hive_partitioning = true) ORDER BY id
            """).Select(r => $"{r[0]}: {r[1]} # {r[2]}").ToList();
        rows.ShouldBe([
            "1: 1.2345678901234567e+19 | 123.456 | 1.5 | 0.1 | 2024-01-15T08:30:00.123456+00:00 | 2024-01-15T10:30:00 | 2024-01-15 | AP8Q | [1.0, 2.0, NULL] | [a b, c] | {\"x\":[1,2.50]} | {\"a\":1,\"y\":{\"z\":null}} | a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11 | true | héllo \"quoted\"\n\ttab | 2024-03-01T00:00:00+00:00 | 1 day 02:00:03.5 | infinity | -7 | 2147483647 | ab    | x\\y | NaN | (1.5,2) | postgres | t | 2024-01-15 08:30:00.123456+00 # 61706151c6b7d6912d19c538ac51ae63",
            "2: -0.5 | 0.0 | -1e-07 | 1e+300 | 2024-02-29T23:59:59.999999+00:00 | 1999-12-31T23:59:59.5 | -infinity |  | [] | [] | [] | false | Zürich 😀 ☃ <&> \\u2028 | x | 2024-03-01T00:00:01+00:00 | -infinity | -2147483648 | abcde |  | 1 | postgres | t | 2024-02-29 23:59:59.999999+00 # 946c152fb9f41edebe1d583755448b1c",
            "3:  | 2024-03-01T00:00:01+00:00 | 32767 | postgres | t # 007da7cd9d787685b2aaae32453aff6c",
        ]);
    }
}
