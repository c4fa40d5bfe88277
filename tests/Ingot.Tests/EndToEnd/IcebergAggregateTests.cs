using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Ingot.DuckDb;
using Ingot.Tests.Infrastructure;

namespace Ingot.Tests.EndToEnd;

/// <summary>
/// The built <c>ingot</c> keeping system B's missing-% per station over NOAA's simulator landed into Iceberg: after
/// incremental runs, a refresh's overwrite, an expired watermark and <c>--full</c>, the result table (read back by DuckDB
/// over its live files and by icebird) equals DuckDB's full recomputation over every live bronze file.
/// </summary>
[Collection(nameof(DuckDb.MemoryMeasurement))]
public sealed partial class IcebergAggregateTests
{
    private const string Result = "agg_precip_missing_by_station";
    private const string Bronze = "agg_precip_15";

    private static string Pipeline(string aggregates = DefaultAggregates, string destinations = DefaultDestinations) => $"""
        name: agg
        source:
          type: noaa-cdo
          base_url: simulator
          token: agg-token-51c2
          dataset: PRECIP_15
          stations: [COOP:010008, COOP:010160, COOP:012813]   # the simulator's Alabama stations
          datatypes: [QPCP]
          start: 2010-01-01T00:00:00Z
          end: 2010-07-01T00:00:00Z
          window: P1M
          page_size: 200
        {destinations}
        transforms:
          - split: {"{"}field: attributes, separator: ","{"}"}
        {aggregates}
        """;

    private const string DefaultDestinations = """
        destinations:
          - type: iceberg
            warehouse: ./warehouse
            partition_by: [month(_event_ts)]
        """;

    private const string DefaultAggregates = """
        aggregates:
          - name: precip_missing_by_station
            group_by: [station]
            measures: {records: "count(*)", missing: "count(*) FILTER (WHERE value = 99999)"}
            derived: {missing_pct: "100.0 * missing / records"}
        """;

    private sealed record Row(long Records, long Missing, double? MissingPct);

    private static Task<IngotProcess.Result> Ingot(Workspace ws, params string[] args) => IngotProcess.RunAsync(ws.Dir, null, args);

    private static (string Location, JsonObject Metadata) Table(Workspace ws, string table)
    {
        var location = IcebergReaders.CatalogLocation(Path.Combine(ws.Dir, "warehouse", "catalog.db"), table);
        location.ShouldNotBeNull($"the catalog registers {table}");
        return (location, IcebergReaders.Metadata(location));
    }

    private static string Files(JsonObject metadata) =>
        "[" + string.Join(", ", IcebergReaders.LiveFiles(metadata).Select(f => DuckDbSession.Literal(f.Path))) + "]";

    /// <summary>DuckDB over every live data file of the bronze table's current snapshot: the aggregate computed at once.</summary>
    private static Dictionary<string, Row> FullRecomputation(Workspace ws)
    {
        var (_, metadata) = Table(ws, Bronze);
        using var db = DuckDbSession.Open();
        var rows = db.Query($"SELECT station, count(*), count(*) FILTER (WHERE value = 99999) FROM read_parquet({Files(metadata)}, union_by_name = true) GROUP BY station");
        return rows.ToDictionary(r => (string)r[0]!, r => new Row(Convert.ToInt64(r[1], CultureInfo.InvariantCulture), Convert.ToInt64(r[2], CultureInfo.InvariantCulture), null));
    }

    private static Dictionary<string, Row> ResultWithDuckDb(Workspace ws)
    {
        var (_, metadata) = Table(ws, Result);
        using var db = DuckDbSession.Open();
        var rows = db.Query($"SELECT station, records, missing, missing_pct FROM read_parquet({Files(metadata)})");
        return rows.ToDictionary(r => (string)r[0]!, r => new Row(Convert.ToInt64(r[1], CultureInfo.InvariantCulture), Convert.ToInt64(r[2], CultureInfo.InvariantCulture), Convert.ToDouble(r[3], CultureInfo.InvariantCulture)));
    }

    private static async Task<Dictionary<string, Row>> ResultWithIcebirdAsync(Workspace ws)
    {
        var (location, _) = Table(ws, Result);
        var rows = await IcebergReaders.IcebirdAsync(Path.Combine(ws.Dir, "warehouse"), $"bronze/{Result}", location);
        static long Long(JsonElement e) => e.ValueKind == JsonValueKind.String ? long.Parse(e.GetString()!, CultureInfo.InvariantCulture) : e.GetInt64();
        return rows.ToDictionary(r => r.GetProperty("station").GetString()!,
            r => new Row(Long(r.GetProperty("records")), Long(r.GetProperty("missing")), r.GetProperty("missing_pct").GetDouble()));
    }

    /// <summary>Both readers of the result table see exactly the full recomputation, with missing_pct = 100 · missing / records.</summary>
    private static async Task ShouldEqualFullRecomputationAsync(Workspace ws, string when)
    {
        var expected = FullRecomputation(ws);
        expected.Count.ShouldBe(3, $"{when}: three stations landed");
        expected.Values.Sum(r => r.Missing).ShouldBeGreaterThan(0, $"{when}: the simulator marks some values 99999, so the filter is exercised");
        foreach (var (reader, actual) in new[] { ("duckdb", ResultWithDuckDb(ws)), ("icebird", await ResultWithIcebirdAsync(ws)) })
        {
            actual.Keys.Order().ShouldBe(expected.Keys.Order(), $"{when}, {reader}: the groups");
            foreach (var (station, e) in expected)
            {
                var a = actual[station];
                a.Records.ShouldBe(e.Records, $"{when}, {reader}: records of {station}");
                a.Missing.ShouldBe(e.Missing, $"{when}, {reader}: missing of {station}");
                a.MissingPct!.Value.ShouldBe(100.0 * e.Missing / e.Records, 1e-9, $"{when}, {reader}: missing_pct of {station}");
            }
        }
    }

    private static string Watermark(Workspace ws)
    {
        var (_, metadata) = Table(ws, Result);
        var current = metadata["current-snapshot-id"]!.GetValue<long>();
        var snapshot = metadata["snapshots"]!.AsArray().First(s => s!["snapshot-id"]!.GetValue<long>() == current)!;
        return snapshot["summary"]!["ingot.aggregate.source-snapshot-id"]!.GetValue<string>();
    }

    private static long CurrentSnapshot(Workspace ws, string table) => Table(ws, table).Metadata["current-snapshot-id"]!.GetValue<long>();

    [Fact]
    public async Task Aggregate_AfterIncrementalRunsRefreshAndFull_EqualsFullRecomputationAndNeverDoubleCounts()
    {
        // Given a pipeline whose aggregate runs after every run, and an ingest-only twin (same name, tables and state)
        using var ws = new Workspace();
        var pipeline = ws.Write("agg.yaml", Pipeline());
        var ingest = ws.Write("ingest.yaml", Pipeline(aggregates: ""));

        // When a first window lands: the result table does not exist yet, so the aggregate is computed in full
        var first = await Ingot(ws, "run", pipeline, "--from", "2010-01-01T00:00:00Z", "--to", "2010-03-01T00:00:00Z", "--log-format", "text");
        first.ExitCode.ShouldBe(0, first.Stdout + first.Stderr);
        first.Stdout.ShouldContain("full recompute (the result table bronze.agg_precip_missing_by_station does not exist yet)");
        await ShouldEqualFullRecomputationAsync(ws, "after the first window");
        Watermark(ws).ShouldBe(CurrentSnapshot(ws, Bronze).ToString(CultureInfo.InvariantCulture), "the watermark is the bronze snapshot the result was computed at");

        // When two more windows land without the aggregate, then it runs: only the new files are read
        (await Ingot(ws, "run", ingest, "--from", "2010-03-01T00:00:00Z", "--to", "2010-05-01T00:00:00Z")).ExitCode.ShouldBe(0);
        (await Ingot(ws, "run", ingest, "--from", "2010-05-01T00:00:00Z", "--to", "2010-07-01T00:00:00Z")).ExitCode.ShouldBe(0);
        var incremental = await Ingot(ws, "aggregate", pipeline);
        incremental.ExitCode.ShouldBe(0, incremental.Stdout + incremental.Stderr);
        incremental.Stdout.ShouldContain("precip_missing_by_station: +4 / -0 data file(s) since the watermark: 3 group(s)");
        await ShouldEqualFullRecomputationAsync(ws, "after incremental windows");

        // When it runs again at once: the delta is empty and the result table does not move
        var before = Table(ws, Result).Location;
        var again = await Ingot(ws, "aggregate", pipeline);
        again.ExitCode.ShouldBe(0, again.Stderr);
        again.Stdout.ShouldContain("is up to date");
        Table(ws, Result).Location.ShouldBe(before, "a second aggregate in a row commits nothing");
        await ShouldEqualFullRecomputationAsync(ws, "after a repeated aggregate");

        // When a window is refreshed (an overwrite of its files) and the run aggregates: its old files come out, its new ones go in
        var refresh = await Ingot(ws, "run", pipeline, "--from", "2010-02-01T00:00:00Z", "--to", "2010-03-01T00:00:00Z", "--refresh", "--log-format", "text");
        refresh.ExitCode.ShouldBe(0, refresh.Stdout + refresh.Stderr);
        refresh.Stdout.ShouldContain("+1 / -1 data file(s) since the watermark");
        await ShouldEqualFullRecomputationAsync(ws, "after a refresh");

        // When --full recomputes from the whole table: the same result
        var full = await Ingot(ws, "aggregate", pipeline, "--full");
        full.ExitCode.ShouldBe(0, full.Stderr);
        full.Stdout.ShouldContain("full recompute (--full)");
        await ShouldEqualFullRecomputationAsync(ws, "after --full");

        // And the result table's snapshots are overwrites that each carry their watermark
        var (_, result) = Table(ws, Result);
        var summaries = result["snapshots"]!.AsArray().Select(s => s!["summary"]!.AsObject()).ToList();
        summaries.Count.ShouldBe(4, "one commit per aggregate that had something to do");
        summaries.Skip(1).ShouldAllBe(s => s["operation"]!.GetValue<string>() == "overwrite");
        summaries.ShouldAllBe(s => s.ContainsKey("ingot.aggregate.source-snapshot-id"));
        IcebergReaders.LiveFiles(result).Count.ShouldBe(1, "the small result is one data file");
    }

    [Fact]
    public async Task Aggregate_WatermarkSnapshotExpired_RecomputesInFullAndEqualsFullRecomputation()
    {
        // Given an aggregate computed at a bronze snapshot, then more data landed and that snapshot expired
        using var ws = new Workspace();
        var pipeline = ws.Write("agg.yaml", Pipeline());
        var ingest = ws.Write("ingest.yaml", Pipeline(aggregates: ""));
        (await Ingot(ws, "run", pipeline, "--from", "2010-01-01T00:00:00Z", "--to", "2010-03-01T00:00:00Z")).ExitCode.ShouldBe(0);
        var watermark = Watermark(ws);
        (await Ingot(ws, "run", ingest, "--from", "2010-03-01T00:00:00Z", "--to", "2010-05-01T00:00:00Z")).ExitCode.ShouldBe(0);
        await Task.Delay(20, TestContext.Current.CancellationToken);
        var expire = await Ingot(ws, "iceberg", ingest, "expire-snapshots", "--retain-last", "1", "--older-than", "1ms");
        expire.ExitCode.ShouldBe(0, expire.Stdout + expire.Stderr);
        Table(ws, Bronze).Metadata["snapshots"]!.AsArray().ShouldNotContain(s => s!["snapshot-id"]!.GetValue<long>().ToString(CultureInfo.InvariantCulture) == watermark);

        // When the aggregate runs
        var run = await Ingot(ws, "aggregate", pipeline);

        // Then it says why it recomputes in full, and the result equals the full recomputation
        run.ExitCode.ShouldBe(0, run.Stdout + run.Stderr);
        run.Stdout.ShouldContain($"full recompute (the watermark snapshot {watermark} of the bronze table has expired)");
        await ShouldEqualFullRecomputationAsync(ws, "after the watermark expired");
        Watermark(ws).ShouldBe(CurrentSnapshot(ws, Bronze).ToString(CultureInfo.InvariantCulture));

        // And maintenance of the pipeline with the aggregate expires the result table's old snapshots too, keeping its watermark
        await Task.Delay(20, TestContext.Current.CancellationToken);
        var maintain = await Ingot(ws, "iceberg", pipeline, "expire-snapshots", "--retain-last", "1", "--older-than", "1ms");
        maintain.ExitCode.ShouldBe(0, maintain.Stdout + maintain.Stderr);
        maintain.Stdout.ShouldContain($"{Result}: expire-snapshots removed 1 snapshot(s)");
        Table(ws, Result).Metadata["snapshots"]!.AsArray().Count.ShouldBe(1);
        await ShouldEqualFullRecomputationAsync(ws, "after the result table's maintenance");
        (await Ingot(ws, "aggregate", pipeline)).Stdout.ShouldContain("is up to date");
    }

    [GeneratedRegex(@"^error: .*\.yaml:\d+:\d+: ")]
    private static partial Regex ConfigLine();

    [Theory]
    [InlineData("""
        aggregates:
          - name: a
            group_by: [station]
            measures: {records: "count(*)", top: "max(value)"}
        """, "aggregates[0].measures.top: max(…) is not additive", 4, "max(value)")]
    [InlineData("""
        aggregates:
          - name: a
            group_by: [station]
            measures: {records: "count(*)"}
            derived: {pct: "100.0 * missing / records"}
        """, "aggregates[0].derived.pct: 'missing' is not a measure or group column", 5, "missing")]
    [InlineData("""
        aggregates:
          - name: a
            measures: {average: "avg(value)"}
        """, "an average is a derived value", 3, "avg(value)")]
    public async Task Aggregate_BadDefinition_OneFileLineColumnErrorAndExit2(string aggregates, string message, int line, string at)
    {
        // Given a pipeline whose aggregate is not additive or names an unknown measure
        using var ws = new Workspace();
        var yaml = Pipeline(aggregates);
        var pipeline = ws.Write("bad.yaml", yaml);
        var lines0 = yaml.Split('\n');
        var offset = lines0.TakeWhile(l => !l.StartsWith("aggregates:", StringComparison.Ordinal)).Count();
        var column = lines0[offset + line - 1].IndexOf(at, StringComparison.Ordinal) + 1;

        // When the aggregate command (or validate) reads it
        var result = await Ingot(ws, "aggregate", pipeline);

        // Then one file:line:col line, exit 2, nothing landed
        result.ExitCode.ShouldBe(2, result.Stdout + result.Stderr);
        var lines = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines.Length.ShouldBe(1, result.Stderr);
        ConfigLine().IsMatch(lines[0]).ShouldBeTrue(lines[0]);
        lines[0].ShouldContain(message);
        lines[0].ShouldContain($"bad.yaml:{offset + line}:{column}:");
        Directory.Exists(Path.Combine(ws.Dir, "warehouse")).ShouldBeFalse();
    }

    [Fact]
    public async Task Aggregate_PipelineWithoutIcebergDestination_OneFileLineColumnErrorAndExit2()
    {
        // Given aggregates in a pipeline that lands Parquet only
        using var ws = new Workspace();
        var pipeline = ws.Write("bad.yaml", Pipeline(destinations: """
            destinations:
              - type: parquet
                path: ./lake
            """));

        // When it is validated and aggregated
        foreach (var command in new[] { "validate", "aggregate" })
        {
            var result = await Ingot(ws, command, pipeline);

            // Then one file:line:col line naming what is missing, exit 2
            result.ExitCode.ShouldBe(2, result.Stdout + result.Stderr);
            var lines = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            lines.Length.ShouldBe(1, result.Stderr);
            ConfigLine().IsMatch(lines[0]).ShouldBeTrue(lines[0]);
            lines[0].ShouldContain("an aggregate needs an iceberg destination");
        }
    }

    [Fact]
    public async Task Run_AggregateFails_Exit1WithTheReasonAndTheBronzeTableAndStateIntact()
    {
        // Given an aggregate grouping by a column the bronze table does not have
        using var ws = new Workspace();
        var pipeline = ws.Write("agg.yaml", Pipeline(DefaultAggregates.Replace("[station]", "[stationn]", StringComparison.Ordinal)));

        // When the pipeline runs
        var run = await Ingot(ws, "run", pipeline, "--from", "2010-01-01T00:00:00Z", "--to", "2010-03-01T00:00:00Z", "--log-format", "text");

        // Then the run lands its data but exits 1, saying which aggregate failed and why
        run.ExitCode.ShouldBe(1, run.Stdout + run.Stderr);
        run.Stderr.ShouldContain("error: aggregate precip_missing_by_station:");
        run.Stderr.ShouldContain("'stationn' is not a column of table bronze.agg_precip_15");
        run.Stderr.ShouldContain("did you mean station?");
        IcebergReaders.LiveFiles(Table(ws, Bronze).Metadata).Count.ShouldBe(2, "the bronze table holds both windows");
        IcebergReaders.CatalogLocation(Path.Combine(ws.Dir, "warehouse", "catalog.db"), "agg_stationn").ShouldBeNull();

        // And the state holds the units: the next run skips them
        var second = await Ingot(ws, "run", pipeline, "--from", "2010-01-01T00:00:00Z", "--to", "2010-03-01T00:00:00Z", "--log-format", "text");
        second.ExitCode.ShouldBe(1, second.Stderr);
        second.Stdout.ShouldContain("chunks_skipped=2");
    }
}
