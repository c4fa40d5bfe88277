using System.Globalization;
using System.Text.Json.Nodes;
using Ingot.DuckDb;
using Ingot.Records;
using Ingot.Simulators;
using Ingot.Sources.Knmi;
using Ingot.Tests.Infrastructure;

namespace Ingot.Tests.EndToEnd;

/// <summary>
/// KNMI backfills with destinations [raw, parquet] through the built executable, on local disk and on S3 (s3rver),
/// read back with DuckDB <c>read_parquet(..., hive_partitioning=true)</c>: every record once, metadata and partitions right.
/// </summary>
public sealed class ParquetBronzeTests(S3rverFixture s3) : IClassFixture<S3rverFixture>
{
    private const string Daily = "daily-in-situ-meteorological-observations-validated";
    private static readonly string[] Stations = ["0-20000-0-06260", "0-20000-0-06240", "0-20000-0-06275"];
    private static readonly string[] Parameters = ["TG", "TN", "TX"];
    private const string Key = "parquet-e2e-key";

    private static string PipelineFor(SimulatorHost sim, string lake, string storeSettings = "", long budget = 900, int concurrency = 4) =>
        KnmiArchive.Pipeline("knmi-pq", sim.BaseUrl, Key, Daily, Stations, Parameters, "2000-01-02T00:00:00Z", "2003-01-02T00:00:00Z", "P1D", budget,
            destinations: $"  - type: raw\n    path: {lake}\n{storeSettings}  - type: parquet\n    path: {lake}\n    partition_by: [ingestion_date, load_type, event_date]\n{storeSettings}",
            concurrency: concurrency);

    private static int ExpectedRows => Stations.Length * (int)(new DateTime(2003, 1, 2) - new DateTime(2000, 1, 2)).TotalDays;

    /// <summary>The records of the raw archive, as the engine parses them, keyed by (station, time) with their hashes.</summary>
    private static Dictionary<(string, string), string> RawRecordHashes(string rawRoot)
    {
        var map = new Dictionary<(string, string), string>();
        foreach (var file in Directory.EnumerateFiles(rawRoot, "*.json", SearchOption.AllDirectories).Where(f => !f.Contains("_manifests", StringComparison.Ordinal)))
        {
            foreach (var r in CoverageJson.Parse(File.ReadAllBytes(file), DateTimeOffset.MinValue, DateTimeOffset.MaxValue))
                map.Add(((string)r.Fields["station"]!, (string)r.Fields["time"]!), r.Hash());
        }
        return map;
    }

    private static void ShouldBeExactlyOnce(string lakeRoot, string rawRoot, string loadType = "incremental")
    {
        using var db = DuckDbSession.Open();
        var glob = Path.Combine(lakeRoot, "knmi-pq", "**", "*.parquet");
        var rows = db.Query($"""
            SELECT station, time, _record_hash, _ingestion_id, _source_system, _stream, _chunk_key, _event_ts AS ev,
                   ingestion_date, load_type, event_date, TG, _ingested_at IS NOT NULL AS has_ingested_at
            FROM read_parquet($1, hive_partitioning = true, union_by_name = true)
            """, glob);
        rows.Count.ShouldBe(ExpectedRows, "every (station, day) once");
        var raw = RawRecordHashes(rawRoot);
        raw.Count.ShouldBe(ExpectedRows);
        var seen = new HashSet<(string, string)>();
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        foreach (var row in rows)
        {
            var station = (string)row[rows.Ordinal("station")]!;
            var time = (string)row[rows.Ordinal("time")]!;
            seen.Add((station, time)).ShouldBeTrue($"{station} {time} twice");
            ((string)row[rows.Ordinal("_record_hash")]!).ShouldBe(raw[(station, time)], "the hash of the record as archived");
            row[rows.Ordinal("_source_system")].ShouldBe("knmi-edr");
            row[rows.Ordinal("_stream")].ShouldBe(Daily);
            ((string)row[rows.Ordinal("_chunk_key")]!).ShouldNotBeNullOrEmpty();
            Guid.TryParse((string)row[rows.Ordinal("_ingestion_id")]!, out _).ShouldBeTrue();
            row[rows.Ordinal("has_ingested_at")].ShouldBe(true);
            var eventTs = DateTimeOffset.Parse(time, CultureInfo.InvariantCulture);
            row[rows.Ordinal("event_date")].ShouldBe(DateOnly.FromDateTime(eventTs.UtcDateTime));
            row[rows.Ordinal("ev")].ShouldBeOfType<DateTimeOffset>().ShouldBe(eventTs);
            row[rows.Ordinal("load_type")].ShouldBe(loadType);
            row[rows.Ordinal("ingestion_date")].ShouldBeOfType<DateOnly>().ShouldBeOneOf(today, today.AddDays(-1));
            var tg = row[rows.Ordinal("TG")];
            var expected = KnmiData.Value(42, station, DateTimeOffset.Parse(time, CultureInfo.InvariantCulture), "TG");
            if (expected is null) tg.ShouldBeNull(); else Convert.ToDouble(tg, CultureInfo.InvariantCulture).ShouldBe(expected.Value);
        }
    }

    [Fact]
    public async Task Run_RawAndParquetLocal_WithFaultsKillAndRefresh_EveryRecordOnce()
    {
        // Given a faulty API and a run killed with SIGKILL midway
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions
        {
            ApiKey = Key, FailRate = 0.2, RetryAfterSeconds = 0, Latency = TimeSpan.FromMilliseconds(40),
        }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var pipeline = ws.Write("knmi.yaml", PipelineFor(sim, "./lake", budget: 300, concurrency: 3));
        await IngotProcess.RunAndKillAsync(ws.Dir, null, 4, "run", pipeline);

        // When it resumes, and then refreshes everything
        var resumed = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);
        resumed.ExitCode.ShouldBe(0, resumed.Stdout + resumed.Stderr);
        ShouldBeExactlyOnce(ws.Lake, Path.Combine(ws.Lake, "knmi-pq", "raw", Daily));
        var refreshed = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline, "--full-refresh");

        // Then DuckDB over the lake sees every record once (now in load_type=full), and nothing temporary is left
        refreshed.ExitCode.ShouldBe(0, refreshed.Stdout + refreshed.Stderr);
        ShouldBeExactlyOnce(ws.Lake, Path.Combine(ws.Lake, "knmi-pq", "raw", Daily), "full");
        ws.AllFiles(ws.Lake).ShouldNotContain(f => Path.GetFileName(f).StartsWith("_tmp_", StringComparison.Ordinal));
        (await IngotProcess.RunAsync(ws.Dir, null, "verify", pipeline)).ExitCode.ShouldBe(0);
        // And a re-run makes no request and changes nothing
        var before = sim.DataRequestCount;
        (await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline)).ExitCode.ShouldBe(0);
        sim.DataRequestCount.ShouldBe(before);
    }

    [Fact]
    public async Task Run_RawAndParquetOnS3_EveryRecordOnceAndVerifyCoversObjects()
    {
        // Given a pipeline whose lake is an S3 bucket
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key, FailRate = 0.1, RetryAfterSeconds = 0 }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var root = s3.NewRoot("lake");
        var settings = $"    endpoint: {s3.Endpoint}\n    region: us-east-1\n    path_style: true\n    access_key: {s3.AccessKey}\n    secret_key: ${{TEST_S3_SECRET}}\n";
        var pipeline = ws.Write("knmi.yaml", PipelineFor(sim, root, settings));
        var env = new Dictionary<string, string> { ["TEST_S3_SECRET"] = s3.SecretKey };

        // When it runs twice (the second makes no request)
        var run = await IngotProcess.RunAsync(ws.Dir, env, "run", pipeline);
        run.ExitCode.ShouldBe(0, run.Stdout + run.Stderr);
        var before = sim.DataRequestCount;
        (await IngotProcess.RunAsync(ws.Dir, env, "run", pipeline)).ExitCode.ShouldBe(0);
        sim.DataRequestCount.ShouldBe(before);

        // Then the objects, downloaded, hold every record once; verify re-hashes the objects
        var local = Path.Combine(ws.Dir, "download");
        using (var st = new Ingot.S3.S3BlobStore(root, s3.StoreOptions()))
        {
            await foreach (var blob in st.ListAsync("", TestContext.Current.CancellationToken))
            {
                blob.Path.ShouldNotContain("_tmp_");
                await using var stream = (await st.OpenReadAsync(blob.Path, TestContext.Current.CancellationToken))!;
                var target = Path.Combine(local, blob.Path);
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                await using var file = File.Create(target);
                await stream.CopyToAsync(file, TestContext.Current.CancellationToken);
            }
        }
        ShouldBeExactlyOnce(local, Path.Combine(local, "knmi-pq", "raw", Daily));
        var verify = await IngotProcess.RunAsync(ws.Dir, env, "verify", pipeline, "--json");
        verify.ExitCode.ShouldBe(0, verify.Stdout + verify.Stderr);
        verify.Stdout.ShouldContain("\"problems\":[]");
        run.Stdout.ShouldNotContain(s3.SecretKey + "\"");
    }
}
