using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Avro.Generic;
using Ingot.Simulators;
using Ingot.Tests.Infrastructure;

namespace Ingot.Tests.EndToEnd;

/// <summary>
/// The built <c>ingot</c> landing NOAA's simulator into an Iceberg v2 table, read back by independent readers: icebird
/// over HTTP, DuckDB over exactly the live data files, Apache.Avro over the manifests; then SIGKILL during a commit, and
/// two runs committing to one table at once.
/// </summary>
[Collection(nameof(DuckDb.MemoryMeasurement))]
public sealed class IcebergTableTests
{
    private const string Token = "noaa-ice-token-7a1c";
    private static readonly string[] Stations = NoaaData.Stations.Take(3).ToArray();
    private static readonly DateTime From = new(2010, 1, 1);
    private static readonly DateTime To = new(2010, 7, 1);

    private static string Pipeline(SimulatorHost sim, string name = "noaa-ice", string[]? stations = null, string table = "", string partition = "[month(_event_ts)]", string rate = "5/s") => $"""
        name: {name}
        source:
          type: noaa-cdo
          base_url: {sim.BaseUrl.ToString().TrimEnd('/')}
          token: {Token}
          dataset: PRECIP_15
          stations: [{string.Join(", ", stations ?? Stations)}]
          datatypes: [QPCP]
          start: 2010-01-01T00:00:00Z
          end: 2010-07-01T00:00:00Z
          window: P1M
          page_size: 50
        http:
          concurrency: 2
          rate_limit: {rate}
          timeout: 10s
          retries: 6
          backoff: 50ms..500ms
        destinations:
          - type: iceberg
            warehouse: ./warehouse
            partition_by: {partition}
        {table}
        transforms:
          - split: {"{"}field: attributes, separator: ","{"}"}
          - epoch_ms: {"{"}field: date, as: date_ms, timezone: UTC{"}"}
        """;

    private static List<NoaaRecord> Expected(string[]? stations = null) => NoaaData.Records(42, stations ?? Stations, ["QPCP"], From, To.AddSeconds(-1)).ToList();

    private static string Key(string station, string date) => $"{station}|{date}";

    private static (string Location, JsonObject Metadata) Table(Workspace ws, string table = "noaa-ice_precip_15")
    {
        var location = IcebergReaders.CatalogLocation(Path.Combine(ws.Dir, "warehouse", "catalog.db"), table);
        location.ShouldNotBeNull($"the catalog registers {table}");
        return (location, IcebergReaders.Metadata(location));
    }

    /// <summary>DuckDB over exactly the live data files: (station, date) → count.</summary>
    private static Dictionary<string, int> ReadLiveWithDuckDb(JsonObject metadata)
    {
        var files = IcebergReaders.LiveFiles(metadata).Select(f => f.Path).ToList();
        files.ShouldNotBeEmpty();
        using var db = Ingot.DuckDb.DuckDbSession.Open();
        var list = string.Join(", ", files.Select(Ingot.DuckDb.DuckDbSession.Literal));
        var rows = db.Query($"SELECT station, date FROM read_parquet([{list}], union_by_name = true)");
        var counts = new Dictionary<string, int>();
        foreach (var r in rows) counts[Key((string)r[0]!, (string)r[1]!)] = counts.GetValueOrDefault(Key((string)r[0]!, (string)r[1]!)) + 1;
        return counts;
    }

    private static void ShouldHoldEachOnce(Dictionary<string, int> counts, List<NoaaRecord> expected, string reader)
    {
        foreach (var r in expected)
            counts.GetValueOrDefault(Key(r.Station, r.Date.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture))).ShouldBe(1, $"{reader}: {r.Station} {r.Date:O}");
        counts.Values.Sum().ShouldBe(expected.Count, reader);
    }

    private static async Task<Dictionary<string, int>> ReadWithIcebirdAsync(Workspace ws, string location, string table = "noaa-ice_precip_15")
    {
        var rows = await IcebergReaders.IcebirdAsync(Path.Combine(ws.Dir, "warehouse"), $"bronze/{table}", location);
        var counts = new Dictionary<string, int>();
        foreach (var r in rows)
        {
            var k = Key(r.GetProperty("station").GetString()!, r.GetProperty("date").GetString()!);
            counts[k] = counts.GetValueOrDefault(k) + 1;
        }
        return counts;
    }

    [Fact]
    public async Task Run_NoaaToIceberg_IcebirdAndDuckDbReadEveryRecordOnceFromASpecShapedTable()
    {
        // Given NOAA's simulator and a pipeline landing into an Iceberg table partitioned by month
        await using var sim = await SimulatorHost.StartNoaaAsync(new SimulatorOptions { ApiKey = Token }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var pipeline = ws.Write("noaa.yaml", Pipeline(sim));

        // When it runs
        var result = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);

        // Then icebird (over HTTP) and DuckDB (over the live data files) read every record exactly once
        result.ExitCode.ShouldBe(0, result.Stdout + result.Stderr);
        var expected = Expected();
        var (location, metadata) = Table(ws);
        ShouldHoldEachOnce(await ReadWithIcebirdAsync(ws, location), expected, "icebird");
        ShouldHoldEachOnce(ReadLiveWithDuckDb(metadata), expected, "duckdb");

        // And the metadata has the v2 fields the spec requires, one snapshot per group commit naming the run and its units
        foreach (var field in new[] { "format-version", "table-uuid", "location", "last-sequence-number", "last-updated-ms", "last-column-id", "schemas",
                     "current-schema-id", "partition-specs", "default-spec-id", "last-partition-id", "sort-orders", "default-sort-order-id", "current-snapshot-id" })
            metadata.ContainsKey(field).ShouldBeTrue(field);
        metadata["format-version"]!.GetValue<int>().ShouldBe(2);
        var snapshots = metadata["snapshots"]!.AsArray();
        snapshots.Count.ShouldBe(1, "six units, one group: one snapshot, never one per record or per unit");
        var summary = snapshots[0]!["summary"]!.AsObject();
        summary["operation"]!.GetValue<string>().ShouldBe("append");
        summary["ingot.run-id"]!.GetValue<string>().ShouldBe(result.Summary.GetProperty("run_id").GetString());
        JsonNode.Parse(summary["ingot.units"]!.GetValue<string>())!.AsArray().Count.ShouldBe(6);
        summary["total-records"]!.GetValue<string>().ShouldBe(expected.Count.ToString(CultureInfo.InvariantCulture));
        metadata["refs"]!["main"]!["snapshot-id"]!.GetValue<long>().ShouldBe(metadata["current-snapshot-id"]!.GetValue<long>());
        metadata["partition-specs"]![0]!["fields"]![0]!["transform"]!.GetValue<string>().ShouldBe("month");

        // And the manifest list and manifests are Avro with the spec's names, field ids, codec and key-value metadata
        var list = IcebergReaders.Avro(snapshots[0]!["manifest-list"]!.GetValue<string>());
        list.Schema["name"]!.GetValue<string>().ShouldBe("manifest_file");
        list.Meta["avro.codec"].ShouldBe("deflate");
        list.Meta["format-version"].ShouldBe("2");
        list.Schema["fields"]!.AsArray().ShouldAllBe(f => f!["field-id"] != null);
        ((long)list.Records[0]["sequence_number"]).ShouldBe(1);
        var manifest = IcebergReaders.Avro((string)list.Records[0]["manifest_path"]);
        manifest.Schema["name"]!.GetValue<string>().ShouldBe("manifest_entry");
        foreach (var key in new[] { "schema", "schema-id", "partition-spec", "partition-spec-id", "format-version", "content" }) manifest.Meta.ShouldContainKey(key);
        manifest.Meta["content"].ShouldBe("data");
        foreach (var e in manifest.Records)
        {
            var file = (GenericRecord)e["data_file"];
            ((int)file["content"]).ShouldBe(0);
            ((long)file["record_count"]).ShouldBeGreaterThan(0);
            ((long)file["file_size_in_bytes"]).ShouldBe(new FileInfo(IcebergReaders.LocalPath((string)file["file_path"])).Length);
            foreach (var stat in new[] { "column_sizes", "value_counts", "null_value_counts", "lower_bounds", "upper_bounds" })
                ((object[])file[stat]).ShouldNotBeEmpty(stat);
            ((GenericRecord)file["partition"])["_event_ts_month"].ShouldBeOfType<int>();
        }

        // And every data file carries the Iceberg field ids of the table's schema
        var ids = metadata["schemas"]!.AsArray().Last()!["fields"]!.AsArray().ToDictionary(f => f!["name"]!.GetValue<string>(), f => f!["id"]!.GetValue<int>());
        using var db = Ingot.DuckDb.DuckDbSession.Open();
        foreach (var (path, _) in IcebergReaders.LiveFiles(metadata))
        {
            var schema = db.Query($"SELECT name, field_id FROM parquet_schema({Ingot.DuckDb.DuckDbSession.Literal(path)}) WHERE name IN ({string.Join(", ", ids.Keys.Select(Ingot.DuckDb.DuckDbSession.Literal))})");
            schema.Count.ShouldBe(ids.Count, path);
            foreach (var r in schema) r[1].ShouldBe(ids[(string)r[0]!], $"{path}: {r[0]}");
        }

        // And ingot verify checks the live files and the units against the snapshot summaries
        var verify = await IngotProcess.RunAsync(ws.Dir, null, "verify", pipeline, "--json");
        verify.ExitCode.ShouldBe(0, verify.Stdout + verify.Stderr);
        using var doc = JsonDocument.Parse(verify.Stdout);
        doc.RootElement.GetProperty("problems").GetArrayLength().ShouldBe(0);
    }

    [Fact]
    public async Task Run_KilledDuringACommitThenResumed_OneConsistentTableWithEveryRecordOnce()
    {
        // Given a run that is SIGKILLed the moment its commit writes the table's next metadata file
        await using var sim = await SimulatorHost.StartNoaaAsync(new SimulatorOptions { ApiKey = Token }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var pipeline = ws.Write("noaa.yaml", Pipeline(sim));
        var metadataDir = Path.Combine(ws.Dir, "warehouse", "bronze", "noaa-ice_precip_15", "metadata");
        Directory.CreateDirectory(metadataDir);
        using (var p = Process.Start(IngotProcess.StartInfo(ws.Dir, null, "run", pipeline))!)
        {
            _ = p.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
            _ = p.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
            var deadline = Stopwatch.StartNew();
            while (!p.HasExited && deadline.Elapsed < TimeSpan.FromMinutes(2) && !Directory.EnumerateFiles(metadataDir, "*.metadata.json").Any()) await Task.Delay(1, TestContext.Current.CancellationToken);
            p.Kill(entireProcessTree: true);
            await p.WaitForExitAsync(TestContext.Current.CancellationToken);
        }

        // When it runs again
        var resumed = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);

        // Then the table the catalog points at holds every record exactly once, for DuckDB and icebird alike, and verifies
        resumed.ExitCode.ShouldBe(0, resumed.Stdout + resumed.Stderr);
        var expected = Expected();
        var (location, metadata) = Table(ws);
        ShouldHoldEachOnce(ReadLiveWithDuckDb(metadata), expected, "duckdb");
        ShouldHoldEachOnce(await ReadWithIcebirdAsync(ws, location), expected, "icebird");
        var verify = await IngotProcess.RunAsync(ws.Dir, null, "verify", pipeline);
        verify.ExitCode.ShouldBe(0, verify.Stdout + verify.Stderr);
    }

    [Fact]
    public async Task Run_TwoRunsCommitToOneTableAtOnce_BothLandEveryRecordOnce()
    {
        // Given two pipelines (their own state, their own lease) landing different stations into one shared table
        await using var sim = await SimulatorHost.StartNoaaAsync(new SimulatorOptions { ApiKey = Token }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var a = NoaaData.Stations.Take(3).ToArray();
        var b = NoaaData.Stations.Skip(3).Take(3).ToArray();
        var shared = "    table: shared_precip";
        // (one NOAA token for both: each run takes half of its 5 requests per second)
        var pa = ws.Write("a.yaml", Pipeline(sim, "noaa-a", a, shared, rate: "2/s"));
        var pb = ws.Write("b.yaml", Pipeline(sim, "noaa-b", b, shared, rate: "2/s"));

        // When both run at the same time
        var runs = await Task.WhenAll(IngotProcess.RunAsync(ws.Dir, null, "run", pa), IngotProcess.RunAsync(ws.Dir, null, "run", pb));

        // Then both complete, and the shared table holds both runs' records exactly once, in two snapshots
        foreach (var r in runs) r.ExitCode.ShouldBe(0, r.Stdout + r.Stderr);
        var (location, metadata) = Table(ws, "shared_precip");
        ShouldHoldEachOnce(ReadLiveWithDuckDb(metadata), [.. Expected(a), .. Expected(b)], "duckdb");
        ShouldHoldEachOnce(await ReadWithIcebirdAsync(ws, location, "shared_precip"), [.. Expected(a), .. Expected(b)], "icebird");
        metadata["snapshots"]!.AsArray().Select(s => s!["summary"]!["ingot.run-id"]!.GetValue<string>()).Distinct().Count().ShouldBe(2);
    }

    [Fact]
    public async Task Run_RefreshThenLostState_RefreshIsAnOverwriteAndTheLakeRemembersItsUnits()
    {
        // Given a landed table
        await using var sim = await SimulatorHost.StartNoaaAsync(new SimulatorOptions { ApiKey = Token }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var pipeline = ws.Write("noaa.yaml", Pipeline(sim));
        (await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline)).ExitCode.ShouldBe(0);

        // When it is refreshed
        var refresh = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline, "--refresh");

        // Then the refresh is one overwrite snapshot replacing the units' files: every record still once
        refresh.ExitCode.ShouldBe(0, refresh.Stdout + refresh.Stderr);
        var (_, metadata) = Table(ws);
        var snapshots = metadata["snapshots"]!.AsArray();
        snapshots.Count.ShouldBe(2);
        snapshots[1]!["summary"]!["operation"]!.GetValue<string>().ShouldBe("overwrite");
        ShouldHoldEachOnce(ReadLiveWithDuckDb(metadata), Expected(), "duckdb");
        ShouldHoldEachOnce(await ReadWithIcebirdAsync(ws, Table(ws).Location), Expected(), "icebird (DELETED entries skipped, EXISTING ones with their sequence numbers)");

        // When the state store is lost, the next run is refused (the table holds units the state does not know)
        Directory.Delete(ws.Home, recursive: true);
        var refused = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);
        refused.ExitCode.ShouldBe(2, refused.Stdout + refused.Stderr);
        (refused.Stdout + refused.Stderr).ShouldContain("state rebuild");

        // And state rebuild restores it from the snapshot summaries: the next run fetches nothing and lands nothing twice
        var rebuild = await IngotProcess.RunAsync(ws.Dir, null, "state", "rebuild", pipeline);
        rebuild.ExitCode.ShouldBe(0, rebuild.Stdout + rebuild.Stderr);
        var requests = sim.Requests.Count;
        var again = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);
        again.ExitCode.ShouldBe(0, again.Stdout + again.Stderr);
        sim.Requests.Count.ShouldBe(requests);
        again.Summary.GetProperty("chunks_skipped").GetInt32().ShouldBe(6);
        Table(ws).Metadata["snapshots"]!.AsArray().Count.ShouldBe(2);
        var verify = await IngotProcess.RunAsync(ws.Dir, null, "verify", pipeline);
        verify.ExitCode.ShouldBe(0, verify.Stdout + verify.Stderr);

        // And maintenance expires the refreshed-over snapshot with the files only it read; the table still reads each record once
        var expire = await IngotProcess.RunAsync(ws.Dir, null, "iceberg", pipeline, "expire-snapshots", "--older-than", "1ms", "--retain-last", "1");
        expire.ExitCode.ShouldBe(0, expire.Stdout + expire.Stderr);
        expire.Stdout.ShouldContain("expire-snapshots removed 1 snapshot(s)");
        var (after, expired) = Table(ws);
        expired["snapshots"]!.AsArray().Count.ShouldBe(1);
        ShouldHoldEachOnce(ReadLiveWithDuckDb(expired), Expected(), "duckdb after expire-snapshots");
        ShouldHoldEachOnce(await ReadWithIcebirdAsync(ws, after), Expected(), "icebird after expire-snapshots");
        (await IngotProcess.RunAsync(ws.Dir, null, "verify", pipeline)).ExitCode.ShouldBe(0);
    }

    [Fact]
    public async Task Compact_AfterARun_ThenRefreshOfOneUnitVerifyAndStateRebuild_EveryRecordOnce()
    {
        // Given a landed table partitioned by year: six monthly units, six small files in one partition
        await using var sim = await SimulatorHost.StartNoaaAsync(new SimulatorOptions { ApiKey = Token }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var pipeline = ws.Write("noaa.yaml", Pipeline(sim, partition: "[year(_event_ts)]"));
        var first = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);
        first.ExitCode.ShouldBe(0, first.Stdout + first.Stderr);
        var expected = Expected();
        var (location, metadata) = Table(ws);
        IcebergReaders.LiveFiles(metadata).Count.ShouldBe(6);

        // When a dry run of compact, then compact, run
        var dry = await IngotProcess.RunAsync(ws.Dir, null, "iceberg", pipeline, "compact", "--dry-run");
        dry.ExitCode.ShouldBe(0, dry.Stdout + dry.Stderr);
        Table(ws).Location.ShouldBe(location, "a dry run writes nothing");
        var compact = await IngotProcess.RunAsync(ws.Dir, null, "iceberg", pipeline, "compact");

        // Then it reported the merge per table, and the one file read by icebird and DuckDB holds every record once
        dry.Stdout.ShouldContain("noaa-ice_precip_15: compact would merge 6 small file(s) into 1 in 1 partition(s): files 6 → 1");
        compact.ExitCode.ShouldBe(0, compact.Stdout + compact.Stderr);
        compact.Stdout.ShouldContain("noaa-ice_precip_15: compact merged 6 small file(s) into 1 in 1 partition(s): files 6 → 1, bytes ");
        compact.Stdout.ShouldContain("_event_ts_year=2010: 6 file(s)");
        var (compactedLocation, compacted) = Table(ws);
        IcebergReaders.LiveFiles(compacted).Count.ShouldBe(1);
        compacted["snapshots"]!.AsArray()[^1]!["summary"]!["operation"]!.GetValue<string>().ShouldBe("replace");
        ShouldHoldEachOnce(ReadLiveWithDuckDb(compacted), expected, "duckdb after compact");
        ShouldHoldEachOnce(await ReadWithIcebirdAsync(ws, compactedLocation), expected, "icebird after compact");
        var verify = await IngotProcess.RunAsync(ws.Dir, null, "verify", pipeline);
        verify.ExitCode.ShouldBe(0, verify.Stdout + verify.Stderr);

        // When one unit (March) is refreshed
        var refresh = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline, "--refresh", "--from", "2010-03-01T00:00:00Z", "--to", "2010-04-01T00:00:00Z");

        // Then exactly March's rows are the refresh run's (rewritten out of the compacted file), the other months keep the
        // first run's, every record is still there once, and verify passes
        refresh.ExitCode.ShouldBe(0, refresh.Stdout + refresh.Stderr);
        var (refreshedLocation, refreshed) = Table(ws);
        refreshed["snapshots"]!.AsArray()[^1]!["summary"]!["operation"]!.GetValue<string>().ShouldBe("overwrite");
        ShouldHoldEachOnce(ReadLiveWithDuckDb(refreshed), expected, "duckdb after the refresh");
        ShouldHoldEachOnce(await ReadWithIcebirdAsync(ws, refreshedLocation), expected, "icebird after the refresh");
        var files = IcebergReaders.LiveFiles(refreshed).Select(f => f.Path).ToList();
        using (var db = Ingot.DuckDb.DuckDbSession.Open())
        {
            var byRun = db.Query($"SELECT _ingestion_id, month(_event_ts) AS m, count(*) FROM read_parquet([{string.Join(", ", files.Select(Ingot.DuckDb.DuckDbSession.Literal))}], union_by_name = true) GROUP BY ALL ORDER BY m")
                .Select(r => ((string)r[0]!, Convert.ToInt32(r[1], CultureInfo.InvariantCulture))).ToList();
            var firstRun = first.Summary.GetProperty("run_id").GetString();
            var refreshRun = refresh.Summary.GetProperty("run_id").GetString();
            byRun.Where(r => r.Item2 == 3).Select(r => r.Item1).ShouldBe([refreshRun]);
            byRun.Where(r => r.Item2 != 3).Select(r => r.Item1).Distinct().ShouldBe([firstRun]);
        }
        (await IngotProcess.RunAsync(ws.Dir, null, "verify", pipeline)).ExitCode.ShouldBe(0);

        // When the state is lost and rebuilt from the lake, the next run fetches nothing; maintain (expire, compact, orphans) keeps every record
        Directory.Delete(ws.Home, recursive: true);
        var rebuild = await IngotProcess.RunAsync(ws.Dir, null, "state", "rebuild", pipeline);
        rebuild.ExitCode.ShouldBe(0, rebuild.Stdout + rebuild.Stderr);
        rebuild.Stdout.ShouldContain("6 unit(s) restored as done");
        var requests = sim.Requests.Count;
        var again = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);
        again.ExitCode.ShouldBe(0, again.Stdout + again.Stderr);
        sim.Requests.Count.ShouldBe(requests);
        var maintain = await IngotProcess.RunAsync(ws.Dir, null, "iceberg", pipeline, "maintain", "--older-than", "1ms");
        maintain.ExitCode.ShouldBe(0, maintain.Stdout + maintain.Stderr);
        maintain.Stdout.ShouldContain("expire-snapshots removed");
        maintain.Stdout.ShouldContain("compact merged 2 small file(s) into 1");
        maintain.Stdout.ShouldContain("remove-orphans removed");
        var (finalLocation, final) = Table(ws);
        IcebergReaders.LiveFiles(final).Count.ShouldBe(1);
        ShouldHoldEachOnce(ReadLiveWithDuckDb(final), expected, "duckdb after maintain");
        ShouldHoldEachOnce(await ReadWithIcebirdAsync(ws, finalLocation), expected, "icebird after maintain");
        (await IngotProcess.RunAsync(ws.Dir, null, "verify", pipeline)).ExitCode.ShouldBe(0);
    }
}
