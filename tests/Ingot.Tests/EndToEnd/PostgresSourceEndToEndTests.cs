using System.Text;
using Ingot.DuckDb;
using Ingot.Tests.Infrastructure;
using Npgsql;

namespace Ingot.Tests.EndToEnd;

/// <summary>
/// <c>type: postgres</c> through the built <c>ingot</c>: a real PostgreSQL (a reader role with its own password) landed into
/// raw NDJSON and Hive-partitioned Parquet, locally and on s3rver, read back with DuckDB.
/// </summary>
public sealed class PostgresSourceEndToEndTests(PostgresFixture pg, S3rverFixture s3) : IClassFixture<PostgresFixture>, IClassFixture<S3rverFixture>
{
    private const string ReaderPassword = "Rd-9f3a-Pw-leak-check";

    /// <summary>A database with <c>orders</c> (cursor) and <c>regions</c> (no cursor), readable by a role that can see other sessions.</summary>
    private async Task<(string Admin, string Reader)> DatabaseAsync(int orders)
    {
        var admin = await pg.CreateDatabaseAsync("e2e");
        var db = new NpgsqlConnectionStringBuilder(admin).Database!;
        var role = $"reader_{db[^8..]}";
        await PostgresFixture.ExecuteAsync(admin,
            "CREATE TABLE orders (order_id int PRIMARY KEY, customer text, amount numeric(12,2), order_date timestamptz NOT NULL, updated_at timestamptz NOT NULL)",
            "CREATE INDEX ON orders (updated_at, order_id)",
            $"INSERT INTO orders SELECT i, 'c' || (i % 97), i * 0.5, timestamptz '2024-05-01 00:00:00+00' + i * interval '7 minutes', timestamptz '2024-06-01 00:00:00+00' + (i / 3) * interval '1 second' FROM generate_series(1, {orders}) i",
            "CREATE TABLE regions (code text PRIMARY KEY, label text)",
            "INSERT INTO regions SELECT 'r' || i, 'Region ' || i FROM generate_series(1, 40) i",
            $"CREATE ROLE {role} LOGIN PASSWORD '{ReaderPassword}'",
            $"GRANT pg_read_all_stats TO {role}",
            $"GRANT SELECT ON orders, regions TO {role}");
        var reader = new NpgsqlConnectionStringBuilder(admin) { Username = role, Password = ReaderPassword }.ConnectionString;
        return (admin, reader);
    }

    private static string Pipeline(string lake, int pageSize, string store = "") => $$"""
        name: shop
        sources:
          - name: rds
            type: postgres
            connection: ${SHOP_PG}
            page_size: {{pageSize}}
            streams:
              - name: orders
                table: public.orders
                primary_key: [order_id]
                cursor: updated_at
                event_time: order_date
              - name: regions
                table: regions
                primary_key: [code]
        destinations:
          - type: raw
            path: {{lake}}
        {{store}}  - type: parquet
            path: {{lake}}
            partition_by: [ingestion_date, load_type, event_date]
        {{store}}
        """;

    private static Dictionary<string, string> Env(string cs) => new() { ["SHOP_PG"] = cs };

    private static QueryRows Orders(string lake)
    {
        using var db = DuckDbSession.Open();
        var glob = Path.Combine(lake, "shop", "orders", "**", "*.parquet");
        return db.Query("""
            SELECT order_id, updated_at, load_type, _source_system, _event_ts AS ev, event_date, amount
            FROM read_parquet($1, hive_partitioning = true, union_by_name = true) ORDER BY order_id, updated_at
            """, glob);
    }

    private static void EveryVersionOnce(QueryRows rows)
    {
        var versions = rows.Select(r => ($"{r[0]}", $"{r[1]}")).ToList();
        versions.Distinct().Count().ShouldBe(versions.Count, "a (primary key, cursor) version landed twice");
    }

    [Fact]
    public async Task Run_FullIncrementalAndLateCommit_ParquetHoldsEveryVersionOnceAndNoPassword()
    {
        // Given 3,000 orders (three share each updated_at) read by a role with its own password, and a stream without cursor
        var (admin, reader) = await DatabaseAsync(3000);
        using var ws = new Workspace();
        var pipeline = ws.Write("shop.yaml", Pipeline("./lake", 700));

        // When the first run lands
        var first = await IngotProcess.RunAsync(ws.Dir, Env(reader), "run", pipeline);

        // Then every order once, as a full load, with its event time; regions in full
        first.ExitCode.ShouldBe(0, first.Stdout + first.Stderr);
        var rows = Orders(ws.Lake);
        rows.Count.ShouldBe(3000);
        EveryVersionOnce(rows);
        rows.ShouldAllBe(r => (string)r[2]! == "full" && (string)r[3]! == "postgres");
        rows[0][4].ShouldBeOfType<DateTimeOffset>().ShouldBe(new DateTimeOffset(2024, 5, 1, 0, 7, 0, TimeSpan.Zero));
        rows[0][5].ShouldBe(new DateOnly(2024, 5, 1));

        // When 20 orders change and 10 are added, a writer holds a transaction open across the next run, and it commits after
        await PostgresFixture.ExecuteAsync(admin,
            "UPDATE orders SET amount = amount + 1, updated_at = now() WHERE order_id <= 20",
            "INSERT INTO orders SELECT i, 'new', 1, now(), now() FROM generate_series(3001, 3010) i");
        await using (var writer = new NpgsqlConnection(admin))
        {
            await writer.OpenAsync(TestContext.Current.CancellationToken);
            await using var tx = await writer.BeginTransactionAsync(TestContext.Current.CancellationToken);
            await using (var cmd = new NpgsqlCommand("INSERT INTO orders VALUES (5000, 'late', 9, now(), now()); UPDATE orders SET updated_at = now(), amount = 0 WHERE order_id = 100", writer, tx))
                await cmd.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
            await Task.Delay(1200, TestContext.Current.CancellationToken);
            var during = await IngotProcess.RunAsync(ws.Dir, Env(reader), "run", pipeline);
            during.ExitCode.ShouldBe(0, during.Stdout + during.Stderr);
            await tx.CommitAsync(TestContext.Current.CancellationToken);
        }
        await Task.Delay(1200, TestContext.Current.CancellationToken);
        var after = await IngotProcess.RunAsync(ws.Dir, Env(reader), "run", pipeline);
        after.ExitCode.ShouldBe(0, after.Stdout + after.Stderr);

        // Then the lake holds every version once: the 3,000 first versions, 20 updates, 10 inserts, and both late rows
        rows = Orders(ws.Lake);
        EveryVersionOnce(rows);
        rows.Count.ShouldBe(3000 + 20 + 10 + 2);
        rows.Where(r => (string)r[2]! == "incremental").Select(r => Convert.ToInt32(r[0], System.Globalization.CultureInfo.InvariantCulture)).Order()
            .ShouldBe([.. Enumerable.Range(1, 20), 100, .. Enumerable.Range(3001, 10), 5000]);
        // And the stream without cursor was read in full by every run
        using (var db = DuckDbSession.Open())
        {
            var glob = DuckDbSession.Literal(Path.Combine(ws.Lake, "shop", "regions", "**", "*.parquet"));
            db.Scalar($"SELECT count(*) FROM read_parquet({glob}, hive_partitioning = true) WHERE load_type = 'full'").ShouldBe(120L);
        }
        // And the raw archive holds NDJSON pages
        var raw = ws.AllFiles(Path.Combine(ws.Lake, "shop", "raw", "orders")).Where(f => f.EndsWith(".ndjson", StringComparison.Ordinal)).ToList();
        raw.Sum(f => File.ReadAllLines(f).Length).ShouldBe(3000 + 20 + 10 + 2);
        // And the password is nowhere: not in output, run logs, state or lake
        foreach (var r in new[] { first, after }) (r.Stdout + r.Stderr).ShouldNotContain(ReaderPassword);
        foreach (var file in ws.AllFiles(ws.Dir)) Encoding.Latin1.GetString(await File.ReadAllBytesAsync(file, TestContext.Current.CancellationToken)).ShouldNotContain(ReaderPassword, customMessage: file);
        var status = await IngotProcess.RunAsync(ws.Dir, Env(reader), "status", pipeline, "--json");
        status.ExitCode.ShouldBe(0, status.Stderr);
        status.Stdout.ShouldContain("\"orders\"");
        status.Stdout.ShouldNotContain(ReaderPassword);
    }

    [Fact]
    public async Task Run_KilledMidRunThenResumed_EveryRowOnce()
    {
        // Given 60,000 orders in pages of 2,000, and a run killed (SIGKILL) after 5 pages landed
        var (_, reader) = await DatabaseAsync(60_000);
        using var ws = new Workspace();
        var pipeline = ws.Write("shop.yaml", Pipeline("./lake", 2000));
        await IngotProcess.RunAndKillAsync(ws.Dir, Env(reader), 5, "run", pipeline);

        // When it runs again
        var resumed = await IngotProcess.RunAsync(ws.Dir, Env(reader), "run", pipeline);

        // Then every order is in the lake exactly once, and a further run lands nothing new
        resumed.ExitCode.ShouldBe(0, resumed.Stdout + resumed.Stderr);
        var rows = Orders(ws.Lake);
        rows.Count.ShouldBe(60_000);
        EveryVersionOnce(rows);
        (await IngotProcess.RunAsync(ws.Dir, Env(reader), "verify", pipeline)).ExitCode.ShouldBe(0);
        var again = await IngotProcess.RunAsync(ws.Dir, Env(reader), "run", pipeline);
        again.ExitCode.ShouldBe(0);
        Orders(ws.Lake).Count.ShouldBe(60_000);
    }

    [Fact]
    public async Task Run_RefreshThenFullRefresh_ReplacesThenAddsASnapshot()
    {
        // Given orders landed by a full and an incremental run
        var (admin, reader) = await DatabaseAsync(4000);
        using var ws = new Workspace();
        var pipeline = ws.Write("shop.yaml", Pipeline("./lake", 1500));
        (await IngotProcess.RunAsync(ws.Dir, Env(reader), "run", pipeline)).ExitCode.ShouldBe(0);
        await PostgresFixture.ExecuteAsync(admin, "UPDATE orders SET amount = amount + 1, updated_at = now() WHERE order_id <= 30");
        await Task.Delay(1200, TestContext.Current.CancellationToken);
        (await IngotProcess.RunAsync(ws.Dir, Env(reader), "run", pipeline)).ExitCode.ShouldBe(0);
        Orders(ws.Lake).Count.ShouldBe(4030);

        // When it is refreshed
        var refresh = await IngotProcess.RunAsync(ws.Dir, Env(reader), "run", pipeline, "--refresh");

        // Then every landed page was read again and replaced itself: the lake holds each current row once (the 30 old
        // versions were replaced by their pages' re-read, which no longer hold them)
        refresh.ExitCode.ShouldBe(0, refresh.Stdout + refresh.Stderr);
        var rows = Orders(ws.Lake);
        EveryVersionOnce(rows);
        rows.Select(r => Convert.ToInt32(r[0], System.Globalization.CultureInfo.InvariantCulture)).Distinct().Count().ShouldBe(4000);
        rows.Count.ShouldBe(4000);
        (await IngotProcess.RunAsync(ws.Dir, Env(reader), "verify", pipeline)).ExitCode.ShouldBe(0);

        // When a full refresh runs
        var full = await IngotProcess.RunAsync(ws.Dir, Env(reader), "run", pipeline, "--full-refresh");

        // Then a new full snapshot of the 4,000 rows lands beside them
        full.ExitCode.ShouldBe(0, full.Stdout + full.Stderr);
        Orders(ws.Lake).Count.ShouldBe(8000);
        (await IngotProcess.RunAsync(ws.Dir, Env(reader), "run", pipeline)).ExitCode.ShouldBe(0);
        Orders(ws.Lake).Count.ShouldBe(8000);
    }

    [Fact]
    public async Task Run_ParquetOnS3_EveryRowOnce()
    {
        // Given a lake on s3rver
        var (_, reader) = await DatabaseAsync(5000);
        using var ws = new Workspace();
        var root = s3.NewRoot("pg");
        var store = $"    endpoint: {s3.Endpoint}\n    region: us-east-1\n    path_style: true\n    access_key: {s3.AccessKey}\n    secret_key: {s3.SecretKey}\n";
        var pipeline = ws.Write("shop.yaml", Pipeline(root, 1500, store));

        // When it runs
        var run = await IngotProcess.RunAsync(ws.Dir, Env(reader), "run", pipeline);

        // Then the downloaded objects hold every order once
        run.ExitCode.ShouldBe(0, run.Stdout + run.Stderr);
        var local = Path.Combine(ws.Dir, "download");
        using (var st = new Ingot.S3.S3BlobStore(root, s3.StoreOptions()))
        {
            await foreach (var blob in st.ListAsync("", TestContext.Current.CancellationToken))
            {
                await using var stream = (await st.OpenReadAsync(blob.Path, TestContext.Current.CancellationToken))!;
                var target = Path.Combine(local, blob.Path);
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                await using var file = File.Create(target);
                await stream.CopyToAsync(file, TestContext.Current.CancellationToken);
            }
        }
        var rows = Orders(local);
        rows.Count.ShouldBe(5000);
        EveryVersionOnce(rows);
    }

    [Fact]
    public async Task Run_WrongPasswordOrNoServer_OneLineErrorExit2()
    {
        // Given a wrong password, and a port nothing listens on
        var (_, reader) = await DatabaseAsync(10);
        using var ws = new Workspace();
        var pipeline = ws.Write("shop.yaml", Pipeline("./lake", 100));
        var wrong = new NpgsqlConnectionStringBuilder(reader) { Password = "Wrong-Pw-77aa" }.ConnectionString;

        // When it runs
        var bad = await IngotProcess.RunAsync(ws.Dir, Env(wrong), "run", pipeline);
        var down = await IngotProcess.RunAsync(ws.Dir, Env("postgres://shop:Down-Pw-55bb@127.0.0.1:1/shopdb"), "run", pipeline);

        // Then exit 2 with one line naming host and database, no stack trace, no password
        var db = new NpgsqlConnectionStringBuilder(reader).Database;
        bad.ExitCode.ShouldBe(2);
        bad.Stderr.Trim().ShouldStartWith($"error: source rds: cannot connect to PostgreSQL at 127.0.0.1:{pg.Port}/{db} as ");
        bad.Stderr.ShouldContain("password authentication failed");
        down.ExitCode.ShouldBe(2);
        down.Stderr.Trim().ShouldStartWith("error: source rds: cannot connect to PostgreSQL at 127.0.0.1:1/shopdb as shop: ");
        foreach (var r in new[] { bad, down })
        {
            r.Stderr.Trim().Split('\n').Length.ShouldBe(1, r.Stderr);
            (r.Stdout + r.Stderr).ShouldNotContain("   at ");
            (r.Stdout + r.Stderr).ShouldNotContain("Wrong-Pw-77aa");
            (r.Stdout + r.Stderr).ShouldNotContain("Down-Pw-55bb");
        }
    }

    [Theory]
    [InlineData("table: public.orders\n        query: SELECT * FROM orders", "shop.yaml:8:16: sources[0].streams[0]: give either table or query, not both")]
    [InlineData("table: public.orders", "shop.yaml:6:9: sources[0].streams[0].primary_key: required key is missing")]
    [InlineData("table: public.orders\n        primary_key: [order_id]\n        cursor: updatd_at", "shop.yaml:9:17: stream orders: cursor column 'updatd_at' is not a column of public.orders")]
    public async Task Run_ConfigErrors_FileLineColExit2(string stream, string expected)
    {
        // Given a stream section with a mistake
        var (_, reader) = await DatabaseAsync(1);
        using var ws = new Workspace();
        var pipeline = ws.Write("shop.yaml", $"""
            name: shop
            sources:
              - type: postgres
                connection: ${"{"}SHOP_PG{"}"}
                streams:
                  - name: orders
                    {stream}
            destinations:
              - type: raw
                path: ./lake
            """);

        // When it runs
        var run = await IngotProcess.RunAsync(ws.Dir, Env(reader), "run", pipeline);

        // Then exit 2 with file:line:col
        run.ExitCode.ShouldBe(2, run.Stdout + run.Stderr);
        run.Stderr.ShouldStartWith($"error: {pipeline[..^"shop.yaml".Length]}{expected}");
        run.Stderr.Trim().Split('\n').Length.ShouldBe(1, run.Stderr);
    }
}
