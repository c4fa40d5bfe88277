using System.Text;
using Ingot.Config;
using Ingot.Destinations;
using Ingot.Postgres;
using Ingot.Postgres.Source;
using Ingot.Tests.Infrastructure;
using Npgsql;

namespace Ingot.Tests.Postgres;

/// <summary>The PostgreSQL source against a real server: plans, pages, checkpoints and values (the engine's part played by <see cref="SourceHarness"/>).</summary>
public sealed class PostgresSourceTests(PostgresFixture pg) : IClassFixture<PostgresFixture>
{
    private static string Yaml(string cs, string streams, int pageSize = 1000) => $"""
        name: shop
        source:
          type: postgres
          connection: "{cs}"
          page_size: {pageSize}
          streams:
        {streams}
        destinations:
          - type: raw
            path: ./lake
        """;

    private const string Orders = """
            - name: orders
              table: public.orders
              primary_key: [order_id]
              cursor: updated_at
              event_time: order_date
        """;

    private async Task<string> OrdersDbAsync(int rows)
    {
        var cs = await pg.CreateDatabaseAsync("src");
        await PostgresFixture.ExecuteAsync(cs,
            "CREATE TABLE orders (order_id int PRIMARY KEY, amount numeric(12,2), order_date timestamptz NOT NULL, updated_at timestamptz NOT NULL)",
            "CREATE INDEX ON orders (updated_at, order_id)",
            $"INSERT INTO orders SELECT i, i * 1.25, timestamptz '2024-01-01 00:00:00+00' + i * interval '1 minute', timestamptz '2024-02-01 00:00:00+00' + i * interval '1 second' FROM generate_series(1, {rows}) i");
        return cs;
    }

    /// <summary>Past the fence's second of margin: rows written with now() just before are certainly below the next fence.</summary>
    private static Task SettleAsync() => Task.Delay(1100, TestContext.Current.CancellationToken);

    private static List<int> Ids(IEnumerable<System.Text.Json.Nodes.JsonObject> rows) => rows.Select(r => (int)r["order_id"]!).Order().ToList();

    [Fact]
    public async Task Run_FirstThenIncremental_LandsEveryVersionOnceWithLoadTypes()
    {
        // Given 2,500 orders, read in pages of 1,000
        var cs = await OrdersDbAsync(2500);
        await using var h = new SourceHarness(Yaml(cs, Orders));

        // When the first run lands
        var first = await h.RunAsync();

        // Then every row once, as a full load in three pages
        first.Plan.Units.Count.ShouldBe(3);
        first.Plan.Units.ShouldAllBe(u => u.LoadType == LoadType.Full);
        Ids(h.AllRows("orders")).ShouldBe(Enumerable.Range(1, 2500).ToList());

        // When 10 rows change and 5 are added, and the next run lands
        await PostgresFixture.ExecuteAsync(cs,
            "UPDATE orders SET amount = amount + 1, updated_at = now() WHERE order_id <= 10",
            "INSERT INTO orders SELECT i, 1, now(), now() FROM generate_series(2501, 2505) i");
        await SettleAsync();
        var second = await h.RunAsync();

        // Then exactly the new versions land, incrementally
        second.Plan.Units.ShouldAllBe(u => u.LoadType == LoadType.Incremental);
        Ids(second.Fetched.SelectMany(u => h.Landed[u.Key].Rows)).ShouldBe([.. Enumerable.Range(1, 10), .. Enumerable.Range(2501, 5)]);
        h.AllRows("orders").Count().ShouldBe(2500 + 15);

        // And a third run without changes plans nothing
        (await h.RunAsync()).Plan.Units.ShouldBeEmpty();
    }

    [Fact]
    public async Task Run_3000RowsSharingOneCursorValue_EveryRowOnceAcrossPages()
    {
        // Given 3,000 rows with the same updated_at, and pages of 400
        var cs = await pg.CreateDatabaseAsync("src");
        await PostgresFixture.ExecuteAsync(cs,
            "CREATE TABLE orders (order_id int PRIMARY KEY, order_date timestamptz, updated_at timestamptz NOT NULL)",
            "INSERT INTO orders SELECT i, now(), timestamptz '2024-03-01 12:00:00.123456+00' FROM generate_series(1, 3000) i");
        await using var h = new SourceHarness(Yaml(cs, Orders, pageSize: 400));

        // When it runs
        var run = await h.RunAsync();

        // Then the pages split the tie by primary key and every row lands once
        run.Plan.Units.Count.ShouldBe(8);
        Ids(h.AllRows("orders")).ShouldBe(Enumerable.Range(1, 3000).ToList());
        run.Plan.Units.Select(u => u.Key).Distinct().Count().ShouldBe(8);
    }

    [Theory]
    [InlineData(20_000)] // a whole number of pages: no boundary on the last row
    [InlineData(20_517)]
    public async Task Plan_WithAndWithoutTheKeysetIndex_SamePages(int rows)
    {
        // Given orders whose cursor values tie in threes (ties straddle page boundaries), analysed, with the index on
        // (updated_at, order_id) that a table read this way has: boundaries are found by seeking page to page
        var cs = await pg.CreateDatabaseAsync("src");
        await PostgresFixture.ExecuteAsync(cs,
            "CREATE TABLE orders (order_id int PRIMARY KEY, order_date timestamptz, updated_at timestamptz NOT NULL)",
            $"INSERT INTO orders SELECT i, now(), timestamptz '2024-03-01 12:00:00+00' + (i / 3) * interval '1 second' FROM generate_series(1, {rows}) i",
            "CREATE INDEX orders_keyset ON orders (updated_at, order_id)",
            "ANALYZE orders");
        static List<string> Bounds(Ingot.Sources.SourcePlan plan) => plan.Units
            .Select(u => (Ingot.Sources.CursorBounds)u.Bounds)
            .Select(b => $"{KeysetPosition.Parse(b.After)?.Key?.Aggregate((x, y) => x + "/" + y)} .. {KeysetPosition.Parse(b.UpTo)!.Key?.Aggregate((x, y) => x + "/" + y) ?? "fence"}")
            .ToList();
        await using var indexed = new SourceHarness(Yaml(cs, Orders, pageSize: 1000));
        var seek = await indexed.PlanAsync();

        // When the index is gone (each seek would sort the table: the rows are numbered in one pass instead)
        await PostgresFixture.ExecuteAsync(cs, "DROP INDEX orders_keyset", "ANALYZE orders");
        await using var plain = new SourceHarness(Yaml(cs, Orders, pageSize: 1000));
        var numbered = await plain.PlanAsync();

        // Then both plans cut the same pages of page_size rows, and count the same rows
        Bounds(seek).ShouldBe(Bounds(numbered));
        seek.Units.Count.ShouldBe((rows + 999) / 1000);
        seek.Scope["rows"].ShouldBe((long)rows);
        numbered.Scope["rows"].ShouldBe((long)rows);
        // And every row lands once, in pages of at most page_size
        var run = await indexed.RunAsync();
        Ids(indexed.AllRows("orders")).ShouldBe(Enumerable.Range(1, rows).ToList());
        indexed.Landed.Values.ShouldAllBe(l => l.Rows.Count <= 1000);
        run.Fetched.Count.ShouldBe(seek.Units.Count);
    }

    [Fact]
    public async Task Run_TransactionOpenDuringRunCommittedAfter_LandsInNextRunOnce()
    {
        // Given a table, and a writer whose transaction started before the run and is still open
        var cs = await OrdersDbAsync(100);
        await using var writer = new NpgsqlConnection(cs);
        await writer.OpenAsync(TestContext.Current.CancellationToken);
        await using var tx = await writer.BeginTransactionAsync(TestContext.Current.CancellationToken);
        await using (var cmd = new NpgsqlCommand("INSERT INTO orders VALUES (1001, 5, now(), now())", writer, tx))
            await cmd.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
        await Task.Delay(1500, TestContext.Current.CancellationToken);
        // and rows committed by others after it started (a later updated_at than the open row's)
        await PostgresFixture.ExecuteAsync(cs, "INSERT INTO orders VALUES (1002, 5, now(), now())");
        await using var h = new SourceHarness(Yaml(cs, Orders));

        // When a run lands while the transaction is open
        var during = await h.RunAsync();
        during.Plan.Scope["fence_held_by"].ToString()!.ShouldContain("open since");
        Ids(h.AllRows("orders")).ShouldBe(Enumerable.Range(1, 100).ToList());

        // And the transaction commits, and the next run lands (past the fence's second of margin)
        await tx.CommitAsync(TestContext.Current.CancellationToken);
        await Task.Delay(1100, TestContext.Current.CancellationToken);
        await h.RunAsync();

        // Then both late rows land, once
        Ids(h.AllRows("orders")).ShouldBe([.. Enumerable.Range(1, 100), 1001, 1002]);
        (await h.RunAsync()).Plan.Units.ShouldBeEmpty();
    }

    [Fact]
    public async Task Run_InterruptedAndResumed_AsksTheSamePagesAndLandsEveryRowOnce()
    {
        // Given a first run that landed 2 of its 5 pages, while rows were added after the plan
        var cs = await OrdersDbAsync(5000);
        await using var h = new SourceHarness(Yaml(cs, Orders));
        var interrupted = await h.RunAsync(stopAfter: 2);
        await PostgresFixture.ExecuteAsync(cs, "INSERT INTO orders SELECT i, 1, now(), now() FROM generate_series(5001, 5100) i");
        await SettleAsync();

        // When the next run plans
        var resumed = await h.RunAsync();

        // Then it plans the same five pages again (keys and bounds), then the new rows, and every row lands once
        resumed.Plan.Units.Take(5).Select(u => (u.Key, u.Bounds)).ShouldBe(interrupted.Plan.Units.Select(u => (u.Key, u.Bounds)));
        resumed.Plan.Units.Take(5).ShouldAllBe(u => u.LoadType == LoadType.Full);
        resumed.Fetched.Count.ShouldBe(4);
        Ids(h.AllRows("orders")).ShouldBe(Enumerable.Range(1, 5100).ToList());
    }

    [Fact]
    public async Task Run_FailedPageThenRetried_CheckpointHeldThenMovesAndNothingTwice()
    {
        // Given a run whose second page failed while the others landed
        var cs = await OrdersDbAsync(3000);
        await using var h = new SourceHarness(Yaml(cs, Orders));
        var n = 0;
        var first = await h.RunAsync(fail: _ => ++n == 2);
        var keys = first.Plan.Units.Select(u => u.Key).ToList();
        var held = h.Checkpoints["orders"].Value;

        // When the next run retries it
        var retry = await h.RunAsync();

        // Then only the failed page is fetched, and the checkpoint moves past all three
        retry.Fetched.Select(u => u.Key).ShouldBe([keys[1]]);
        h.Checkpoints["orders"].Value.ShouldNotBe(held);
        Ids(h.AllRows("orders")).ShouldBe(Enumerable.Range(1, 3000).ToList());
    }

    [Fact]
    public async Task Run_StreamWithoutCursor_ReadInFullEveryRun()
    {
        // Given a table without cursor
        var cs = await pg.CreateDatabaseAsync("src");
        await PostgresFixture.ExecuteAsync(cs, "CREATE TABLE regions (code text PRIMARY KEY, label text)", "INSERT INTO regions SELECT 'r' || i, 'Region ' || i FROM generate_series(1, 1500) i");
        await using var h = new SourceHarness(Yaml(cs, """
                - name: regions
                  table: regions
                  primary_key: [code]
            """));

        // When it runs twice
        var first = await h.RunAsync();
        var second = await h.RunAsync();

        // Then each run lands all 1,500 rows as a full load under new keys
        first.Fetched.Sum(u => h.Landed[u.Key].Rows.Count).ShouldBe(1500);
        second.Fetched.Sum(u => h.Landed[u.Key].Rows.Count).ShouldBe(1500);
        second.Plan.Units.ShouldAllBe(u => u.LoadType == LoadType.Full);
        second.Plan.Units.Select(u => u.Key).Intersect(first.Plan.Units.Select(u => u.Key)).ShouldBeEmpty();
    }

    [Fact]
    public async Task Run_Lookback_ReReadRowsNotLandedAgainButALateOneIs()
    {
        // Given a stream with a 10-minute look-back, landed once
        var cs = await OrdersDbAsync(50);
        await PostgresFixture.ExecuteAsync(cs, "UPDATE orders SET updated_at = now() - interval '1 minute' WHERE order_id > 40");
        await using var h = new SourceHarness(Yaml(cs, Orders + "\n      lookback: 10m"));
        await h.RunAsync();

        // When a row arrives whose cursor is older than the checkpoint (an application clock behind), and the next run lands
        await PostgresFixture.ExecuteAsync(cs, "INSERT INTO orders VALUES (900, 1, now(), now() - interval '2 minutes')");
        var second = await h.RunAsync();

        // Then the look-back page lands only that row; the ten re-read rows are not landed again
        second.Fetched.SelectMany(u => h.Landed[u.Key].Rows).Select(r => (int)r["order_id"]!).ShouldBe([900]);
        Ids(h.AllRows("orders")).ShouldBe([.. Enumerable.Range(1, 50), 900]);
        (await h.RunAsync()).Fetched.ShouldBeEmpty();
    }

    [Fact]
    public async Task Run_RefreshAndFullRefresh_ReplaceOrAddASnapshot()
    {
        // Given a stream landed in two runs
        var cs = await OrdersDbAsync(1500);
        await using var h = new SourceHarness(Yaml(cs, Orders));
        await h.RunAsync();
        await PostgresFixture.ExecuteAsync(cs, "INSERT INTO orders SELECT i, 1, now(), now() FROM generate_series(1501, 1600) i");
        await SettleAsync();
        await h.RunAsync();
        var checkpoint = h.Checkpoints["orders"].Value;

        // When it is refreshed
        var refresh = await h.RunAsync(refresh: true);

        // Then every landed page is read again under its own key, replacing itself: every row still once, checkpoint kept
        refresh.Fetched.Count.ShouldBe(3);
        Ids(h.AllRows("orders")).ShouldBe(Enumerable.Range(1, 1600).ToList());
        h.Checkpoints["orders"].Value.ShouldBe(checkpoint);

        // When a full refresh runs
        var full = await h.RunAsync(fullRefresh: true);

        // Then a new full snapshot lands beside the earlier loads
        full.Plan.Units.ShouldAllBe(u => u.LoadType == LoadType.Full);
        full.Fetched.SelectMany(u => h.Landed[u.Key].Rows).Count().ShouldBe(1600);
    }

    [Theory]
    // The event time read from its record column as the row is read, and (the column left out of `columns:`) selected on its own.
    [InlineData("ts", true)]
    [InlineData("ts", false)]
    [InlineData("lts", true)]
    [InlineData("lts", false)]
    [InlineData("dt", true)]
    [InlineData("dt", false)]
    public async Task Fetch_EventTimeOfEachKind_SameInstantWhetherARecordColumnOrNot(string column, bool recorded)
    {
        // Given rows whose timestamptz, timestamp and date columns hold a value, NULL and infinity
        var cs = await pg.CreateDatabaseAsync("src");
        await PostgresFixture.ExecuteAsync(cs,
            "CREATE TABLE t (id int PRIMARY KEY, ts timestamptz, lts timestamp, dt date, updated_at timestamptz NOT NULL)",
            """
            INSERT INTO t VALUES (1, '2024-01-15 10:30:00.123456+02', '2024-01-15 10:30:00.5', '2024-01-15', now()),
              (2, NULL, NULL, NULL, now()), (3, 'infinity', '-infinity', 'infinity', now())
            """);
        await SettleAsync();
        var columns = recorded ? "" : $"columns: [id, {string.Join(", ", new[] { "ts", "lts", "dt" }.Where(c => c != column))}]";
        await using var h = new SourceHarness(Yaml(cs, $"""
                - name: t
                  table: t
                  primary_key: [id]
                  cursor: updated_at
                  event_time: {column}
                  {columns}
            """));

        // When it lands
        await h.RunAsync();
        var records = h.Landed.Values.Single().Pages.SelectMany(p => p.Records).ToList();

        // Then each row carries the instant the column holds (a timestamp without zone and a date as UTC), null for NULL
        records.Count.ShouldBe(3);
        records[0].EventTs.ShouldBe(column switch
        {
            "ts" => new DateTimeOffset(2024, 1, 15, 8, 30, 0, TimeSpan.Zero).AddTicks(1234560),
            "lts" => new DateTimeOffset(2024, 1, 15, 10, 30, 0, 500, TimeSpan.Zero),
            _ => new DateTimeOffset(2024, 1, 15, 0, 0, 0, TimeSpan.Zero),
        });
        records[1].EventTs.ShouldBeNull();
        records[2].EventTs.ShouldBe(column == "lts" ? DateTimeOffset.MinValue : DateTimeOffset.MaxValue);
        // And the record's columns are the ones asked for
        records[0].Fields.ContainsKey(column).ShouldBe(recorded);
    }

    [Theory]
    // Text read as the UTF-8 bytes the server sends, and (another client encoding) as .NET strings.
    [InlineData("")]
    [InlineData(";Client Encoding=LATIN1;Encoding=ISO-8859-1")]
    public async Task Fetch_EveryCommonType_MapsAsToJsonbWouldAndRawIsNdjson(string encoding)
    {
        // Given a row of every common type
        var cs = await pg.CreateDatabaseAsync("src");
        await PostgresFixture.ExecuteAsync(cs,
            """
            CREATE TABLE t (id bigint PRIMARY KEY, n numeric, big numeric(30,10), r real, d double precision, ts timestamptz, lts timestamp, dt date,
              b bytea, arr int[], tarr text[], j json, jb jsonb, u uuid, flag boolean, s text, nul text, updated_at timestamptz NOT NULL,
              iv interval, inf timestamptz, whole timestamptz, sm smallint, ch char(5), vc varchar(10), nn numeric, money_like numeric(5,0), pt point)
            """,
            """
            INSERT INTO t VALUES (1, 12345678901234567890.000000000000000001, 123.4560000000, 1.5, 0.1, '2024-01-15 10:30:00.123456+02', '2024-01-15 10:30:00',
              '2024-01-15', '\x00ff10', '{1,2,NULL}', '{"a b","c"}', '{"x": [1, 2.50]}', '{"y": {"z": null}}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', true,
              E'héllo "quoted"\n\ttab', NULL, now(), '1 day 02:00:03.5', 'infinity', '2024-01-15 10:30:00+00', -7, 'ab', 'x\y', 'NaN', 12345, '(1.5,2)')
            """);
        await SettleAsync();
        await using var h = new SourceHarness(Yaml(cs + encoding, """
                - name: t
                  table: t
                  primary_key: [id]
                  cursor: updated_at
                  event_time: ts
            """));

        // When it lands
        await h.RunAsync();
        var (_, rows, pages) = h.Landed.Values.Single();
        var row = rows.Single();

        // Then the values are PostgreSQL's own JSON, bytea as base64, NULL as null
        row["n"]!.ToJsonString().ShouldBe("12345678901234567890.000000000000000001");
        row["big"]!.ToJsonString().ShouldBe("123.4560000000");
        row["ts"]!.GetValue<string>().ShouldBe("2024-01-15T08:30:00.123456+00:00");
        row["lts"]!.GetValue<string>().ShouldBe("2024-01-15T10:30:00");
        row["dt"]!.GetValue<string>().ShouldBe("2024-01-15");
        row["b"]!.GetValue<string>().ShouldBe(Convert.ToBase64String(new byte[] { 0, 255, 16 }));
        row["arr"]!.ToJsonString().ShouldBe("[1,2,null]");
        row["tarr"]!.ToJsonString().ShouldBe("[\"a b\",\"c\"]");
        row["j"]!["x"]![1]!.ToJsonString().ShouldBe("2.50");
        row["jb"]!["y"]!["z"].ShouldBeNull();
        row["u"]!.GetValue<string>().ShouldBe("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
        row["flag"]!.GetValue<bool>().ShouldBeTrue();
        row["s"]!.GetValue<string>().ShouldBe("héllo \"quoted\"\n\ttab");
        // And every value but bytea is what PostgreSQL's own to_jsonb says (timestamps in UTC)
        var reference = System.Text.Json.Nodes.JsonNode.Parse((await PostgresFixture.QueryAsync(
            new NpgsqlConnectionStringBuilder(cs) { Timezone = "UTC" }.ConnectionString, "SELECT to_jsonb(t)::text FROM t")).Single()!)!.AsObject();
        foreach (var (key, value) in reference)
        {
            if (key == "b") continue;
            System.Text.Json.Nodes.JsonNode.DeepEquals(row[key], value).ShouldBeTrue($"{key}: {row[key]?.ToJsonString()} vs to_jsonb {value?.ToJsonString()}");
        }
        row.Select(p => p.Key).ShouldBe(reference.Select(p => p.Key), ignoreOrder: true);
        row.ContainsKey("nul").ShouldBeTrue();
        row["nul"].ShouldBeNull();
        // And the record carries its event time, and the raw page is NDJSON, one line per row
        pages.Single().Records.Single().EventTs.ShouldBe(new DateTimeOffset(2024, 1, 15, 8, 30, 0, TimeSpan.Zero).AddTicks(1234560));
        pages.Single().RawExtension.ShouldBe("ndjson");
        Encoding.UTF8.GetString(pages.Single().Body.Span).TrimEnd('\n').Split('\n').Length.ShouldBe(1);
    }

    [Fact]
    public async Task Fetch_QueryWithColumns_SelectsOnlyThoseColumns()
    {
        // Given a query source with a column list
        var cs = await OrdersDbAsync(20);
        await using var h = new SourceHarness(Yaml(cs, """
                - name: big_orders
                  query: SELECT o.*, o.amount * 2 AS doubled FROM orders o WHERE o.amount > 10
                  primary_key: [order_id]
                  cursor: updated_at
                  columns: [order_id, doubled]
            """));

        // When it lands
        await h.RunAsync();

        // Then only the query's rows, with only the listed columns
        var rows = h.AllRows("big_orders").ToList();
        rows.Count.ShouldBe(12);
        rows.ShouldAllBe(r => r.Count == 2 && r.ContainsKey("doubled"));
    }

    [Fact]
    public async Task Plan_UnknownCursorColumn_ConfigErrorAtTheCursorKey()
    {
        // Given a cursor column the table does not have
        var cs = await OrdersDbAsync(1);
        await using var h = new SourceHarness(Yaml(cs, Orders.Replace("cursor: updated_at", "cursor: updatd_at", StringComparison.Ordinal)));

        // When it plans
        var error = await Should.ThrowAsync<ConfigException>(() => h.PlanAsync());

        // Then the error points at the cursor key and names the columns
        error.Message.ShouldStartWith("pipeline.yaml:10:15: ");
        error.Message.ShouldContain("cursor column 'updatd_at' is not a column of public.orders (columns: order_id, amount, order_date, updated_at)");
    }

    [Fact]
    public async Task Plan_WrongPassword_OneLineErrorNamingHostAndDatabaseWithoutPassword()
    {
        // Given a connection with a wrong password
        var cs = await OrdersDbAsync(1);
        var wrong = new NpgsqlConnectionStringBuilder(cs) { Password = "not-the-pw-4711" }.ConnectionString;
        await using var h = new SourceHarness(Yaml(wrong, Orders));

        // When it plans
        var error = await Should.ThrowAsync<ConfigException>(() => h.PlanAsync());

        // Then one line, host and database named, no password
        var db = new NpgsqlConnectionStringBuilder(cs).Database;
        error.Message.ShouldBe($"source postgres: cannot connect to PostgreSQL at 127.0.0.1:{pg.Port}/{db} as postgres: password authentication failed for user \"postgres\"");
        error.Message.ShouldNotContain("not-the-pw-4711");
    }

    [Fact]
    public async Task Plan_UnreachableServer_OneLineError()
    {
        // Given a port nothing listens on
        await using var h = new SourceHarness(Yaml("postgres://u:secret-pw-1@127.0.0.1:1/shopdb", Orders));

        // When it plans
        var error = await Should.ThrowAsync<ConfigException>(() => h.PlanAsync());

        // Then one line naming host and database
        error.Message.ShouldStartWith("source postgres: cannot connect to PostgreSQL at 127.0.0.1:1/shopdb as u: ");
        error.Message.ShouldNotContain("secret-pw-1");
        error.Message.ShouldNotContain("\n");
    }

    [Fact]
    public async Task Plan_RoleThatCannotSeeOtherSessions_RefusesWithTheGrantToGive()
    {
        // Given a reader role without pg_read_all_stats, and another role's session open on the database
        var cs = await OrdersDbAsync(10);
        var db = new NpgsqlConnectionStringBuilder(cs).Database!;
        var role = $"blind_{db[^8..]}";
        await PostgresFixture.ExecuteAsync(cs, $"CREATE ROLE {role} LOGIN PASSWORD 'blind-pw-1'", $"GRANT SELECT ON orders TO {role}");
        await using var other = new NpgsqlConnection(cs);
        await other.OpenAsync(TestContext.Current.CancellationToken);
        await using var h = new SourceHarness(Yaml(new NpgsqlConnectionStringBuilder(cs) { Username = role, Password = "blind-pw-1" }.ConnectionString, Orders));

        // When it plans
        var error = await Should.ThrowAsync<ConfigException>(() => h.PlanAsync());

        // Then it refuses rather than guess which rows are committed, and says what to grant
        error.Message.ShouldContain($"GRANT pg_read_all_stats TO {role};");
    }

    [Fact]
    public async Task Plan_RowsWithNullCursor_CountedInTheScope()
    {
        // Given two rows without a cursor value
        var cs = await pg.CreateDatabaseAsync("src");
        await PostgresFixture.ExecuteAsync(cs, "CREATE TABLE orders (order_id int PRIMARY KEY, order_date timestamptz, updated_at timestamptz)",
            "INSERT INTO orders VALUES (1, now(), '2024-01-01'), (2, now(), NULL), (3, now(), NULL)");
        await using var h = new SourceHarness(Yaml(cs, Orders));

        // When it plans
        var plan = await h.PlanAsync();

        // Then the plan says they are not read
        ((IDictionary<string, long>)plan.Scope["rows_with_null_cursor_not_read"])["orders"].ShouldBe(2);
    }

    [Theory]
    [InlineData("      table: t\n      query: SELECT 1\n      primary_key: [id]", "pipeline.yaml:8:14: source.streams[0]: give either table or query, not both")]
    [InlineData("      table: t", "pipeline.yaml:6:7: source.streams[0].primary_key: required key is missing (the columns that identify a row, e.g. [id])")]
    [InlineData("      primary_key: [id]", "pipeline.yaml:6:7: source.streams[0]: give table (schema.table) or query (a SELECT)")]
    [InlineData("      table: t\n      primary_key: [id]\n      lookback: 5m", "pipeline.yaml:9:17: source.streams[0].lookback: only a stream with a cursor has a look-back (without one it is read in full every run)")]
    [InlineData("      table: t\n      primary_key: [id]\n      cursor: id", "pipeline.yaml:9:15: source.streams[0].cursor: 'id' is also in primary_key; the cursor is the column that changes when a row changes (e.g. updated_at)")]
    [InlineData("      query: DELETE FROM t\n      primary_key: [id]", "pipeline.yaml:7:14: source.streams[0].query: must be a SELECT (or WITH … SELECT) without ORDER BY or LIMIT")]
    [InlineData("      table: t\n      primary_key: [id]\n      colour: red", "pipeline.yaml:9:7: source.streams[0].colour: unknown key")]
    public void Parse_StreamMistakes_ConfigErrorWithFileLineCol(string stream, string expected)
    {
        // Given a postgres stream with a mistake
        var yaml = $"""
            name: shop
            source:
              type: postgres
              connection: Host=localhost;Database=shop;Username=u;Password=pw-123456
              streams:
                - name: orders
            {stream}
            destinations:
              - type: raw
                path: ./lake
            """;

        // When it is parsed, then the error says where
        Should.Throw<ConfigException>(() => TestPipelines.Parse(yaml, "pipeline.yaml", _ => null)).Message.ShouldBe(expected);
    }

    [Fact]
    public void Parse_BadConnectionString_ErrorWithoutThePassword()
    {
        var yaml = "name: shop\nsource:\n  type: postgres\n  connection: \"Host=x;Pasword=hunter22\"\n  streams:\n    - {name: a, table: a, primary_key: [id]}\ndestinations:\n  - {type: raw, path: ./lake}\n";
        var error = Should.Throw<ConfigException>(() => TestPipelines.Parse(yaml, "pipeline.yaml", _ => null));
        error.Message.ShouldBe("pipeline.yaml:4:15: source.connection: not a valid Npgsql connection string or postgres:// URL");
    }

    [Fact]
    public void Normalize_PostgresUrl_BecomesConnectionString()
    {
        var cs = PostgresConnection.Normalize("postgres://app%40x:p%3Ass@db.example:6543/shop?sslmode=require");
        var b = new NpgsqlConnectionStringBuilder(cs);
        (b.Host, b.Port, b.Database, b.Username, b.Password, b.SslMode).ShouldBe(("db.example", 6543, "shop", "app@x", "p:ss", SslMode.Require));
    }
}
