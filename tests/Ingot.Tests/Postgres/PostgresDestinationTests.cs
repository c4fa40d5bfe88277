using System.Text;
using System.Text.Json.Nodes;
using Ingot.Config;
using Ingot.Connectors;
using Ingot.Destinations;
using Ingot.Postgres.Destination;
using Ingot.Sources;
using Ingot.Tests.Infrastructure;
using Npgsql;
using Record = Ingot.Records.Record;

namespace Ingot.Tests.Postgres;

/// <summary>The <c>postgres</c> destination against a real PostgreSQL: the table of DESIGN §5.2, its partitions, replace by unit key.</summary>
public sealed class PostgresDestinationTests(PostgresFixture pg) : IClassFixture<PostgresFixture>
{
    private static readonly DateTimeOffset IngestedAt = new(2024, 5, 6, 7, 8, 9, TimeSpan.Zero);
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Yaml(string connection, string pipeline = "drops", string extra = "") => $"""
        name: {pipeline}
        source:
          type: files
          path: /nonexistent
          stream: obs
        destinations:
          - type: postgres
            connection: "{connection}"
        {extra}
        """;

    private static PostgresDestination Destination(string connection, string pipeline = "drops", string extra = "")
    {
        var spec = TestPipelines.Parse(Yaml(connection, pipeline, extra), "/tmp/p.yaml", _ => null);
        return (PostgresDestination)new PostgresDestinationConnector().Create(spec.Destinations[0], new DestinationServices(spec, TimeProvider.System, TestPipelines.Connectors.Stores));
    }

    private static RunContext Run(Guid? id = null) => new(id ?? Guid.NewGuid(), "drops", IngestedAt);

    private static WorkUnit Unit(string key, IReadOnlyList<string>? replaces = null) =>
        new(key, "obs", "files", "files", new FileBounds($"{key}.ndjson", new string('a', 64), 10), UnitIdentity.Of(("source", "files")), LoadType.Full) { Replaces = replaces ?? [] };

    private static Record Rec(string json, DateTimeOffset? ts, long line) => Record.FromUtf8(Encoding.UTF8.GetBytes(json), ts, line);

    private static FetchedPage Page(string key, IReadOnlyList<Record> records, IReadOnlyList<RecordCheck>? checks = null) =>
        new(key, Encoding.UTF8.GetBytes("x"), $"FILE /drop/{key}", 200, IngestedAt, records) { Checks = checks };

    private static async Task<Receipt> LandAsync(PostgresDestination d, RunContext run, WorkUnit unit, params FetchedPage[] pages)
    {
        await using var w = await d.BeginAsync(run, unit, NoJournal.Instance, Ct);
        foreach (var p in pages) await w.WriteAsync(p, Ct);
        return await w.CompleteAsync(new UnitTotals(pages.Sum(p => p.Records.Count), 0, pages.Length, pages.Length), Ct);
    }

    private sealed class NoJournal : IFileJournal
    {
        public static readonly NoJournal Instance = new();
        public Task WillWriteAsync(string destination, IReadOnlyList<string> paths, CancellationToken cancellationToken) => throw new InvalidOperationException("a table journals no files");
    }

    [Fact]
    public async Task Land_RecordsOverSeveralMonths_TableColumnsPartitionsAndIndexesAsDesigned()
    {
        // Given a fresh database and the destination prepared
        var cs = await pg.CreateDatabaseAsync();
        await using var d = Destination(cs);
        var run = Run();
        await d.PrepareAsync(run, Ct);

        // When a unit with records in January and March 2024 and one without event time lands
        var records = new[]
        {
            Rec("""{"id":1,"name":"Ann","nested":{"a":[1,2.50,"x"]}}""", new DateTimeOffset(2024, 1, 31, 23, 30, 0, TimeSpan.FromHours(-2)), 1), // 2024-02-01 UTC
            Rec("""{"id":2,"name":"Bob"}""", new DateTimeOffset(2024, 3, 1, 0, 0, 0, TimeSpan.Zero), 2),
            Rec("""{"id":3}""", null, 3),
        };
        var receipt = await LandAsync(d, run, Unit("u1"), Page("u1", records));

        // Then the receipt counts the rows and the table has exactly the columns of §5.2
        receipt.Rows.ShouldBe(3);
        receipt.Files.ShouldBeEmpty();
        var columns = await PostgresFixture.QueryAsync(cs, "SELECT column_name || ' ' || data_type || ' ' || is_nullable FROM information_schema.columns WHERE table_name = 'bronze_obs' ORDER BY ordinal_position");
        columns.ShouldBe([
            "id bigint NO", "source text NO", "raw_data jsonb NO", "ingested_at timestamp with time zone NO", "source_timestamp timestamp with time zone YES",
            "raw_id text YES", "validation_status text NO", "error_message text YES", "metadata jsonb NO", "environment text NO", "pipeline_run_id uuid NO",
            "pipeline_version text YES", "_stream text NO", "_source_system text NO", "_chunk_key text NO", "_record_hash text NO", "partition_key date NO"]);
        (await PostgresFixture.QueryAsync(cs, "SELECT pg_get_partkeydef('bronze_obs'::regclass)")).ShouldBe(["RANGE (partition_key)"]);

        // And one partition per month with data, named and bounded by month (the row without event time by its ingestion)
        var partitions = await PostgresFixture.QueryAsync(cs,
            "SELECT c.relname || ' ' || pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'bronze_obs'::regclass ORDER BY 1");
        partitions.ShouldBe([
            "bronze_obs_y2024m02 FOR VALUES FROM ('2024-02-01') TO ('2024-03-01')",
            "bronze_obs_y2024m03 FOR VALUES FROM ('2024-03-01') TO ('2024-04-01')",
            "bronze_obs_y2024m05 FOR VALUES FROM ('2024-05-01') TO ('2024-06-01')"]);
        (await PostgresFixture.QueryAsync(cs, "SELECT count(*) FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid WHERE c.relname LIKE 'bronze_obs%' AND p.partdefid <> 0")).ShouldBe(["0"], "no DEFAULT partition");

        // And the indexes of §5.2 on the parent, GIN on raw_data
        var indexes = await PostgresFixture.QueryAsync(cs, "SELECT indexdef FROM pg_indexes WHERE tablename = 'bronze_obs' ORDER BY indexname");
        indexes.ShouldContain(i => i!.Contains("USING gin (raw_data)"));
        foreach (var column in new[] { "(source_timestamp)", "(validation_status)", "(pipeline_run_id)", "(_chunk_key)", "(id, partition_key)" })
            indexes.ShouldContain(i => i!.EndsWith(column, StringComparison.Ordinal), column);

        // And every record once, raw_data equal to the record as jsonb, the metadata columns filled
        (await PostgresFixture.QueryAsync(cs, "SELECT count(*) FROM bronze_obs b JOIN (VALUES " +
            "('{\"id\":1,\"name\":\"Ann\",\"nested\":{\"a\":[1,2.50,\"x\"]}}'::jsonb), ('{\"id\":2,\"name\":\"Bob\"}'), ('{\"id\":3}')) v(j) ON b.raw_data = v.j")).ShouldBe(["3"]);
        var row = await PostgresFixture.QueryAsync(cs, $"""
            SELECT concat_ws('|', source, ingested_at = '2024-05-06T07:08:09Z', source_timestamp = '2024-02-01T01:30:00Z', validation_status, coalesce(error_message, '-'),
                   environment, pipeline_run_id = '{run.RunId}', pipeline_version IS NOT NULL, _stream, _source_system, _chunk_key, length(_record_hash), partition_key,
                   metadata->>'file_path', metadata->>'file_hash' = repeat('a', 64), metadata->>'line', metadata->>'page_key')
            FROM bronze_obs WHERE raw_data->>'id' = '1'
            """);
        row.ShouldBe(["files|t|t|valid|-|development|t|t|obs|files|u1|32|2024-02-01|u1.ndjson|t|1|u1"]);
        var hash = (await PostgresFixture.QueryAsync(cs, "SELECT _record_hash FROM bronze_obs WHERE raw_data->>'id' = '2'")).Single();
        hash.ShouldBe(Ingot.Records.RecordHasher.Md5Hex(JsonNode.Parse("""{"name":"Bob","id":2}""")));
        (await PostgresFixture.QueryAsync(cs, "SELECT partition_key::text FROM bronze_obs WHERE raw_data->>'id' = '3'")).ShouldBe(["2024-05-06"]);
    }

    [Fact]
    public async Task Land_SameUnitAgainAndARetiringUnit_RowsReplacedNeverTwice()
    {
        // Given a unit landed once by run A (as after a crash between the table's commit and the state's)
        var cs = await pg.CreateDatabaseAsync();
        await using var d = Destination(cs);
        var a = Run();
        await d.PrepareAsync(a, Ct);
        await LandAsync(d, a, Unit("u1"), Page("u1", [Rec("""{"k":1}""", null, 1), Rec("""{"k":2}""", new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero), 2)]));
        await LandAsync(d, a, Unit("old"), Page("old", [Rec("""{"k":9}""", null, 1)]));

        // When run B lands the same unit again, and a unit that retires "old"
        var b = Run();
        await d.PrepareAsync(b, Ct);
        var again = await LandAsync(d, b, Unit("u1"), Page("u1", [Rec("""{"k":1}""", null, 1), Rec("""{"k":2}""", new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero), 2)]));
        await LandAsync(d, b, Unit("new", ["old"]), Page("new", [Rec("""{"k":9}""", null, 1)]));

        // Then each record is in the table once, all from run B, and the unit table holds exactly u1 and new
        again.Rows.ShouldBe(2);
        (await PostgresFixture.QueryAsync(cs, "SELECT raw_data->>'k' || ':' || _chunk_key || ':' || (pipeline_run_id = '" + b.RunId + "') FROM bronze_obs ORDER BY 1"))
            .ShouldBe(["1:u1:true", "2:u1:true", "9:new:true"]);
        var held = await d.ListCommittedAsync("drops", ["obs"], details: true, Ct).ToListAsync(Ct);
        held.Select(u => $"{u.Key}:{u.Records}:{u.RunId == b.RunId}").Order().ShouldBe(["new:1:True", "u1:2:True"]);
        held.Single(u => u.Key == "u1").Bounds.ShouldBe(Unit("u1").Bounds.ToJson());
    }

    [Fact]
    public async Task Land_WriterDisposedWithoutCompleting_TableUnchanged()
    {
        // Given a landed unit
        var cs = await pg.CreateDatabaseAsync();
        await using var d = Destination(cs);
        var a = Run();
        await d.PrepareAsync(a, Ct);
        await LandAsync(d, a, Unit("u1"), Page("u1", [Rec("""{"k":1}""", null, 1)]));

        // When a retry deletes and copies but fails before completing (the writer is disposed)
        await using (var w = await d.BeginAsync(Run(), Unit("u1"), NoJournal.Instance, Ct))
            await w.WriteAsync(Page("u1", [Rec("""{"k":1}""", null, 1), Rec("""{"k":2}""", new DateTimeOffset(2031, 7, 1, 0, 0, 0, TimeSpan.Zero), 2)]), Ct);

        // Then the first landing is there as it was, the rolled-back rows are not
        (await PostgresFixture.QueryAsync(cs, $"SELECT raw_data->>'k' || (pipeline_run_id = '{a.RunId}') FROM bronze_obs")).ShouldBe(["1true"]);
        (await d.ListCommittedAsync("drops", ["obs"], details: true, Ct).ToListAsync(Ct)).ShouldHaveSingleItem().RunId.ShouldBe(a.RunId);
    }

    [Fact]
    public async Task Land_ChecksOnThePage_StatusAndMessagesStored()
    {
        // Given records the engine marked valid, invalid and warning
        var cs = await pg.CreateDatabaseAsync();
        await using var d = Destination(cs);
        var run = Run();
        await d.PrepareAsync(run, Ct);
        var page = Page("u1", [Rec("""{"k":1}""", null, 1), Rec("""{"k":"x"}""", null, 2), Rec("""{"k":3}""", null, 3)],
            [RecordCheck.Valid, new RecordCheck(RecordStatus.Invalid, "#/k: wrong type; #: missing v"), new RecordCheck(RecordStatus.Warning, "#/k: above 2")]);

        // When the unit lands
        await LandAsync(d, run, Unit("u1"), page);

        // Then each row carries its status and reasons
        (await PostgresFixture.QueryAsync(cs, "SELECT raw_data->>'k' || '|' || validation_status || '|' || coalesce(error_message, '-') FROM bronze_obs ORDER BY metadata->>'line'"))
            .ShouldBe(["1|valid|-", "x|invalid|#/k: wrong type; #: missing v", "3|warning|#/k: above 2"]);
    }

    [Fact]
    public async Task Land_TwoPipelinesNewMonthsIntoOneTableAtOnce_BothSucceedEachRowOnce()
    {
        // Given two pipelines sharing one table, with the same unit keys
        var cs = await pg.CreateDatabaseAsync();
        await using var first = Destination(cs, "one", "");
        await using var second = Destination(cs, "two", "");
        var runs = new[] { Run(), Run() };
        await Task.WhenAll(first.PrepareAsync(runs[0], Ct), second.PrepareAsync(runs[1], Ct));

        // When both land units over the same 36 new months at the same time, four units each in parallel
        async Task LandAll(PostgresDestination d, RunContext run) => await Task.WhenAll(Enumerable.Range(0, 4).Select(async u =>
        {
            var records = Enumerable.Range(0, 36).Select(m => Rec($$"""{"u":{{u}},"m":{{m}}}""", new DateTimeOffset(2000, 1, 15, 0, 0, 0, TimeSpan.Zero).AddMonths(m), m)).ToList();
            await LandAsync(d, run, Unit($"u{u}"), Page($"u{u}", records[..18]), Page($"u{u}", records[18..]));
        }));
        await Task.WhenAll(LandAll(first, runs[0]), LandAll(second, runs[1]));

        // Then both succeeded: 36 partitions, every row once per pipeline, each pipeline's units its own
        (await PostgresFixture.QueryAsync(cs, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'bronze_obs'::regclass")).ShouldBe(["36"]);
        (await PostgresFixture.QueryAsync(cs, "SELECT count(*) || '/' || count(DISTINCT (pipeline_run_id, raw_data)) FROM bronze_obs")).ShouldBe(["288/288"]);
        (await first.ListCommittedAsync("one", ["obs"], true, Ct).ToListAsync(Ct)).Sum(u => u.Records).ShouldBe(144);
        (await second.ListCommittedAsync("two", ["obs"], true, Ct).ToListAsync(Ct)).Sum(u => u.Records).ShouldBe(144);
    }

    [Fact]
    public async Task Prepare_WrongPassword_OneLineErrorWithoutThePassword()
    {
        // Given a connection string with a wrong password
        const string secret = "not-the-pw-3141";
        var cs = new NpgsqlConnectionStringBuilder(await pg.CreateDatabaseAsync()) { Password = secret }.ConnectionString;
        await using var d = Destination(cs);

        // When the destination connects
        var e = await Should.ThrowAsync<ConfigException>(() => d.PrepareAsync(Run(), Ct));

        // Then the error says why, on one line, without the password
        e.Message.ShouldContain("password authentication failed");
        e.Message.ShouldNotContain(secret);
        e.Message.ShouldNotContain("\n");
    }

    [Fact]
    public async Task Prepare_ExistingTableOfAnotherShape_ClearErrorTableUntouched()
    {
        // Given a table of the default name with other columns, holding a row
        var cs = await pg.CreateDatabaseAsync();
        await PostgresFixture.ExecuteAsync(cs, "CREATE TABLE bronze_obs (id bigint, raw_data json NOT NULL)", "INSERT INTO bronze_obs VALUES (1, '{}')");
        await using var d = Destination(cs);

        // When the run checks the lake and prepares
        var listed = await Should.ThrowAsync<ConfigException>(async () => await d.ListCommittedAsync("drops", ["obs"], false, Ct).ToListAsync(Ct));
        var prepared = await Should.ThrowAsync<ConfigException>(() => d.PrepareAsync(Run(), Ct));

        // Then both name the table and the differences, and the table is as it was
        foreach (var e in new[] { listed, prepared })
        {
            e.Message.ShouldContain("public.bronze_obs exists with another schema");
            e.Message.ShouldContain("column raw_data is json, not jsonb");
            e.Message.ShouldContain("column source is missing");
            e.Message.ShouldContain("never alters");
        }
        (await PostgresFixture.QueryAsync(cs, "SELECT count(*) || ' ' || (SELECT count(*) FROM information_schema.columns WHERE table_name = 'bronze_obs') FROM bronze_obs")).ShouldBe(["1 2"]);
    }

    [Fact]
    public async Task Prepare_PartitionNoneWithSchemaAndEnvironment_PlainTableInThatSchema()
    {
        // Given partition: none, a schema of its own and an environment
        var cs = await pg.CreateDatabaseAsync();
        await using var d = Destination(cs, extra: "    schema: bronze\n    table: \"{pipeline}_{stream}\"\n    partition: none\n    environment: prod");
        var run = Run();

        // When a unit lands
        await d.PrepareAsync(run, Ct);
        await LandAsync(d, run, Unit("u1"), Page("u1", [Rec("""{"k":1}""", new DateTimeOffset(1999, 1, 1, 0, 0, 0, TimeSpan.Zero), 1)]));

        // Then it is a plain table in the schema, with the environment on the row
        (await PostgresFixture.QueryAsync(cs, "SELECT c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'bronze' AND c.relname = 'drops_obs'")).ShouldBe(["r"]);
        (await PostgresFixture.QueryAsync(cs, "SELECT environment || ' ' || partition_key FROM bronze.drops_obs")).ShouldBe(["prod 1999-01-01"]);
    }

    [Fact]
    public void Create_TableNameTooLongForPartitions_ConfigErrorNamingTheLimit()
    {
        // Given a stream whose default table name leaves no room for a partition suffix
        var spec = TestPipelines.Parse(Yaml("Host=localhost", "drops").Replace("stream: obs", "stream: " + new string('s', 50), StringComparison.Ordinal), "/tmp/p.yaml", _ => null);

        // When the destination is created, Then it says why and what to do
        var e = Should.Throw<ConfigException>(() => new PostgresDestinationConnector().Create(spec.Destinations[0], new DestinationServices(spec, TimeProvider.System, TestPipelines.Connectors.Stores)));
        e.Message.ShouldContain("63 bytes");
        e.Message.ShouldContain("table:");
    }

    [Fact]
    public void Parse_ValidationWithOnlyATableDestination_KeepIsTheDefaultAndQuarantineIsRefused()
    {
        // Given a schema file and pipelines whose only destination is a bronze table
        var dir = Directory.CreateTempSubdirectory("ingot-pgval-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "s.json"), "{}");
            var file = Path.Combine(dir, "p.yaml");

            // When the validation section names only a warnings schema, Then on_invalid defaults to keep
            var spec = TestPipelines.Parse(Yaml("Host=localhost", extra: "validation:\n  warnings: s.json"), file, _ => null);
            spec.Validation!.OnInvalid.ShouldBe(OnInvalid.Keep);
            spec.Validation.SchemaPath.ShouldBeNull();
            spec.Validation.WarningsPath.ShouldBe(Path.Combine(dir, "s.json"));

            // When it asks for the quarantine, Then that is an error at the key (there is no lake to hold it)
            var e = Should.Throw<ConfigException>(() => TestPipelines.Parse(Yaml("Host=localhost", extra: "validation:\n  schema: s.json\n  on_invalid: quarantine"), file, _ => null));
            e.Message.ShouldContain("p.yaml:");
            e.Message.ShouldContain("on_invalid: quarantine needs a file destination");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
