using System.Text.Json;
using Ingot.Simulators;
using Ingot.Tests.Infrastructure;
using Npgsql;

namespace Ingot.Tests.EndToEnd;

/// <summary>
/// The <c>postgres</c> destination end to end through the built <c>ingot</c>: files with validation into a bronze table
/// (a bad file fails alone, a changed file lands as a new version), state loss refused then rebuilt from the table's own
/// unit record, <c>kill -9</c> and resume exact, and a wrong password as a clear error.
/// </summary>
public sealed class PostgresBronzeTests(PostgresFixture pg) : IClassFixture<PostgresFixture>
{
    private const string Daily = "daily-in-situ-meteorological-observations-validated";
    private static readonly string[] Stations = ["0-20000-0-06260", "0-20000-0-06240"];
    private const string Key = "pg-e2e-key";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Dictionary<string, string> Env(string cs) => new() { ["PG_URL"] = cs };

    private static Task<List<string?>> Query(string cs, string sql) => PostgresFixture.QueryAsync(cs, sql);

    [Fact]
    public async Task Run_FilesWithSchemaAndWarnings_StatusesPerRecord_BadFileFailsAlone_ChangedFileIsANewVersion_StateRebuiltFromTheTable()
    {
        // Given a drop folder (a CSV, a JSON array with an invalid and a warning record, an NDJSON file with a broken line)
        var cs = await pg.CreateDatabaseAsync();
        using var ws = new Workspace();
        Directory.CreateDirectory(Path.Combine(ws.Dir, "drop"));
        ws.Write("drop/people.csv", "id,name\n1,Ann\n2,Bob\n");
        ws.Write("drop/items.json", """[{"id":1,"name":"x"},{"name":"no id","tags":[1,{"a":null}]},{"id":3}]""");
        ws.Write("drop/events.ndjson", "{\"id\":1,\"name\":\"e\"}\nnot json\n");
        ws.Write("record.json", """{"type":"object","required":["id"]}""");
        ws.Write("named.json", """{"type":"object","required":["name"]}""");
        var pipeline = ws.Write("drops.yaml", """
            name: drops
            source:
              type: files
              path: ./drop
              stream: drops
            destinations:
              - type: postgres
                connection: ${PG_URL}
                environment: test
            validation:
              schema: record.json
              warnings: named.json
            """);

        // When it runs
        var first = await IngotProcess.RunAsync(ws.Dir, Env(cs), "run", pipeline);

        // Then the malformed file fails its unit (exit 1) and the rest lands, every record once, invalid rows kept
        first.ExitCode.ShouldBe(1, first.Stdout + first.Stderr);
        first.Events.Single(e => e.GetProperty("msg").GetString() == "Chunk failed").GetProperty("error").GetString()!.ShouldContain("events.ndjson:2:");
        first.Summary.GetProperty("records_landed").GetInt64().ShouldBe(5);
        first.Summary.GetProperty("records_quarantined").GetInt64().ShouldBe(0);
        (await Query(cs, """
            SELECT metadata->>'file_path' || ':' || (metadata->>'line') || ' ' || validation_status || ' ' || coalesce(error_message, '-')
            FROM bronze_drops ORDER BY 1
            """)).ShouldBe([
                "items.json:1 invalid #: Required properties [\"id\"] are not present", "items.json:1 valid -", "items.json:1 warning #: Required properties [\"name\"] are not present",
                "people.csv:2 valid -", "people.csv:3 valid -"], "JSON arrays on one line share it");
        (await Query(cs, """SELECT count(*) FROM bronze_drops WHERE raw_data = '{"name":"no id","tags":[1,{"a":null}]}'::jsonb AND environment = 'test' AND source = 'files'""")).ShouldBe(["1"]);

        // When the bad file is fixed and items.json changes
        ws.Write("drop/events.ndjson", "{\"id\":1,\"name\":\"e\"}\n{\"id\":2,\"name\":\"f\"}\n");
        ws.Write("drop/items.json", """[{"id":1,"name":"x"},{"id":2,"name":"y"}]""");
        var second = await IngotProcess.RunAsync(ws.Dir, Env(cs), "run", pipeline);

        // Then both land; the changed file is a new version (a new unit) and the old version's rows stay, told apart by file_hash
        second.ExitCode.ShouldBe(0, second.Stdout + second.Stderr);
        second.Summary.GetProperty("chunks_done").GetInt32().ShouldBe(2);
        (await Query(cs, "SELECT metadata->>'file_path' || ' ' || count(DISTINCT metadata->>'file_hash') || ' ' || count(*) FROM bronze_drops GROUP BY metadata->>'file_path' ORDER BY 1"))
            .ShouldBe(["events.ndjson 1 2", "items.json 2 5", "people.csv 1 2"]);
        var verify = await IngotProcess.RunAsync(ws.Dir, Env(cs), "verify", pipeline, "--json");
        verify.ExitCode.ShouldBe(0, verify.Stdout);
        using (var doc = JsonDocument.Parse(verify.Stdout)) doc.RootElement.GetProperty("units_counted").GetInt32().ShouldBe(4);

        // When the state store is lost
        Directory.Delete(ws.Home, recursive: true);
        var refused = await IngotProcess.RunAsync(ws.Dir, Env(cs), "run", pipeline);

        // Then the run is refused (the table remembers its units), state rebuild restores them, and nothing lands twice
        refused.ExitCode.ShouldBe(2, refused.Stdout + refused.Stderr);
        refused.Stderr.ShouldContain("ingot state rebuild");
        var rebuild = await IngotProcess.RunAsync(ws.Dir, Env(cs), "state", "rebuild", pipeline);
        rebuild.ExitCode.ShouldBe(0, rebuild.Stderr);
        rebuild.Stdout.ShouldContain("4 unit(s) restored as done");
        var third = await IngotProcess.RunAsync(ws.Dir, Env(cs), "run", pipeline);
        third.ExitCode.ShouldBe(0, third.Stderr);
        third.Summary.GetProperty("chunks_done").GetInt32().ShouldBe(0);
        (await Query(cs, "SELECT count(*) FROM bronze_drops")).ShouldBe(["9"]);
        (await IngotProcess.RunAsync(ws.Dir, Env(cs), "verify", pipeline)).ExitCode.ShouldBe(0);

        // And a row deleted behind Ingot's back is reported by verify
        await PostgresFixture.ExecuteAsync(cs, "DELETE FROM bronze_drops WHERE metadata->>'file_path' = 'people.csv' AND metadata->>'line' = '3'");
        var broken = await IngotProcess.RunAsync(ws.Dir, Env(cs), "verify", pipeline);
        broken.ExitCode.ShouldBe(1);
        broken.Stdout.ShouldContain("count: postgres people.csv-");
        broken.Stdout.ShouldContain("1 rows, the state says 2");
    }

    [Fact]
    public async Task Run_KilledMidRunThenResumed_EveryObservationOnce()
    {
        // Given a KNMI backfill of many units into a monthly-partitioned bronze table
        var cs = await pg.CreateDatabaseAsync();
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key, Latency = TimeSpan.FromMilliseconds(30) }, Ct);
        using var ws = new Workspace();
        var yaml = KnmiArchive.Pipeline("knmi-pg", sim.BaseUrl, Key, Daily, Stations, ["TG"], "2000-01-01T00:00:00Z", "2001-01-01T00:00:00Z", "P1D", 60,
            destinations: "  - type: postgres\n    connection: ${PG_URL}\n    table: knmi_daily\n", concurrency: 2);
        var pipeline = ws.Write("knmi.yaml", yaml);

        // When the run is killed (SIGKILL) after a few units landed, then run again
        await IngotProcess.RunAndKillAsync(ws.Dir, Env(cs), 5, "run", pipeline);
        var landedBefore = long.Parse((await Query(cs, "SELECT count(*) FROM knmi_daily")).Single()!, System.Globalization.CultureInfo.InvariantCulture);
        var resumed = await IngotProcess.RunAsync(ws.Dir, Env(cs), "run", pipeline);

        // Then every (station, day) is in the table exactly once, in its month's partition
        resumed.ExitCode.ShouldBe(0, resumed.Stdout + resumed.Stderr);
        landedBefore.ShouldBeGreaterThan(0);
        (await Query(cs, "SELECT count(*) || '/' || count(DISTINCT (raw_data->>'station', source_timestamp)) FROM knmi_daily")).ShouldBe(["732/732"]);
        (await Query(cs, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'knmi_daily'::regclass")).ShouldBe(["12"]);
        (await Query(cs, "SELECT count(*) FROM knmi_daily WHERE date_trunc('month', source_timestamp AT TIME ZONE 'UTC')::date <> date_trunc('month', partition_key)::date")).ShouldBe(["0"]);
        (await IngotProcess.RunAsync(ws.Dir, Env(cs), "verify", pipeline)).ExitCode.ShouldBe(0);
        (await IngotProcess.RunAsync(ws.Dir, Env(cs), "run", pipeline)).Summary.GetProperty("requests").GetInt64().ShouldBe(0);
    }

    [Fact]
    public async Task Run_WrongDatabasePassword_ClearOneLineErrorWithoutThePassword()
    {
        // Given a pipeline whose connection (from the environment, as a postgres:// URL) has a wrong password
        const string secret = "Wr0ng-pa55word-xyz";
        var good = new NpgsqlConnectionStringBuilder(await pg.CreateDatabaseAsync());
        var url = $"postgres://{good.Username}:{secret}@{good.Host}:{good.Port}/{good.Database}";
        using var ws = new Workspace();
        Directory.CreateDirectory(Path.Combine(ws.Dir, "drop"));
        ws.Write("drop/a.csv", "id\n1\n");
        var pipeline = ws.Write("p.yaml", """
            name: pw
            source:
              type: files
              path: ./drop
            destinations:
              - type: postgres
                connection: ${PG_URL}
            """);

        // When it runs
        var run = await IngotProcess.RunAsync(ws.Dir, Env(url), "run", pipeline);

        // Then it stops before fetching with one line naming the cause, and the password is nowhere
        run.ExitCode.ShouldBe(2, run.Stdout + run.Stderr);
        var error = run.Stderr.Trim();
        error.ShouldNotContain("\n");
        error.ShouldContain("password authentication failed for user \"postgres\"");
        (run.Stdout + run.Stderr).ShouldNotContain(secret);
        foreach (var f in ws.AllFiles(ws.Home)) (await File.ReadAllTextAsync(f, Ct)).ShouldNotContain(secret);
    }

    [Fact]
    public async Task Run_RoleMayNotCreateTables_RefusedBeforeAnyFileIsReadWithTheWayForward()
    {
        // Given a role that may connect but not create anything in the database's public schema (PostgreSQL 15's default)
        var admin = await pg.CreateDatabaseAsync();
        var database = new NpgsqlConnectionStringBuilder(admin).Database!;
        var role = $"ro_{Guid.NewGuid():N}"[..12];
        await PostgresFixture.ExecuteAsync(admin, $"CREATE ROLE {role} LOGIN PASSWORD 'ro-pass-1'", $"GRANT CONNECT ON DATABASE \"{database}\" TO {role}");
        using var ws = new Workspace();
        Directory.CreateDirectory(Path.Combine(ws.Dir, "drop"));
        ws.Write("drop/a.csv", "id\n1\n");
        var pipeline = ws.Write("p.yaml", """
            name: ro
            source:
              type: files
              path: ./drop
            destinations:
              - type: postgres
                connection: ${PG_URL}
            """);

        // When it runs
        var run = await IngotProcess.RunAsync(ws.Dir, Env(pg.ConnectionString(database, role, "ro-pass-1")), "run", pipeline);

        // Then the preflight refuses it with the reason and what to grant, and no table or unit record exists
        run.ExitCode.ShouldBe(2, run.Stdout + run.Stderr);
        run.Stderr.ShouldContain("may not create tables in schema public");
        run.Stderr.ShouldContain("grant CREATE");
        (await PostgresFixture.QueryAsync(admin, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")).ShouldBe(["0"]);
    }
}
