using System.Globalization;
using System.Text.Json;
using Ingot.Simulators;

namespace Ingot.Tests.EndToEnd;

/// <summary>
/// The built executable against the NOAA CDO simulator: paging, pacing, quota stops, faults, validation.
/// Pacing is measured at the server, so these run alone (a machine loaded by parallel tests delays arrivals).
/// </summary>
[Collection(nameof(DuckDb.MemoryMeasurement))]
public sealed class NoaaIngestionTests
{
    private const string Token = "noaa-e2e-token-51d2";
    private static readonly string[] Stations = NoaaData.Stations.Take(3).ToArray();
    private static readonly DateTime From = new(2010, 1, 1);
    private static readonly DateTime To = new(2010, 7, 1);

    private static string Pipeline(SimulatorHost sim, string extraHttp = "", string schema = "", int pageSize = 50, string extraDestinations = "") => $"""
        name: noaa-e2e
        source:
          type: noaa-cdo
          base_url: {sim.BaseUrl.ToString().TrimEnd('/')}
          token: {Token}
          dataset: PRECIP_15
          stations: [{string.Join(", ", Stations)}]
          datatypes: [QPCP]
          start: 2010-01-01T00:00:00Z
          end: 2010-07-01T00:00:00Z
          window: P1M
          page_size: {pageSize}
        http:
          concurrency: 2
          rate_limit: 5/s
          timeout: 10s
          retries: 6
          backoff: 50ms..500ms
          circuit_breaker_failures: 50
          circuit_breaker_pause: 200ms
        {extraHttp}
        destinations:
          - type: raw
            path: ./lake
        {extraDestinations}
        {schema}
        transforms:
          - split: {"{"}field: attributes, separator: ","{"}"}
          - epoch_ms: {"{"}field: date, as: date_ms, timezone: UTC{"}"}
        """;

    private static List<NoaaRecord> Expected() =>
        NoaaData.Records(42, Stations, ["QPCP"], From, To.AddSeconds(-1)).ToList();

    /// <summary>(station, date, datatype) → count over every archived page.</summary>
    private static Dictionary<(string, string, string), int> Archived(Workspace ws)
    {
        var root = Path.Combine(ws.Lake, "noaa-e2e", "raw", "precip_15");
        var counts = new Dictionary<(string, string, string), int>();
        foreach (var file in Directory.EnumerateFiles(root, "*.json", SearchOption.AllDirectories).Where(f => !f.Contains("_manifests", StringComparison.Ordinal)))
        {
            var text = File.ReadAllText(file);
            text.TrimStart().ShouldStartWith("{", customMessage: $"{file} is JSON, not an HTML page");
            using var doc = JsonDocument.Parse(text);
            foreach (var r in doc.RootElement.GetProperty("results").EnumerateArray())
            {
                var key = (r.GetProperty("station").GetString()!, r.GetProperty("date").GetString()!, r.GetProperty("datatype").GetString()!);
                counts[key] = counts.GetValueOrDefault(key) + 1;
            }
        }
        return counts;
    }

    private static void ShouldHoldExactlyOnce(Workspace ws)
    {
        var expected = Expected();
        expected.Count.ShouldBeGreaterThan(100, "the window has enough data to page");
        var archived = Archived(ws);
        foreach (var r in expected)
            archived.GetValueOrDefault((r.Station, r.Date.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture), r.DataType)).ShouldBe(1, $"{r.Station} {r.Date:O}");
        archived.Count.ShouldBe(expected.Count);
    }

    [Fact]
    public async Task Run_WithFaultsAndPaging_LandsEveryRecordOnceAndNoHtml()
    {
        // Given NOAA failing a fifth of requests with 500s, HTML pages (status 200 and 502), resets and truncation
        await using var sim = await SimulatorHost.StartNoaaAsync(new SimulatorOptions
        {
            ApiKey = Token, FailRate = 0.2, RetryAfterSeconds = 0,
            Faults = FaultKinds.ServerError5xx | FaultKinds.HtmlPage | FaultKinds.ConnectionReset | FaultKinds.TruncatedBody,
        }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var pipeline = ws.Write("noaa.yaml", Pipeline(sim));

        // When the pipeline runs
        var result = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);

        // Then each record lands once, no HTML page is archived, and at most 2% of requests drew a 429
        result.ExitCode.ShouldBe(0, result.Stdout + result.Stderr);
        sim.Requests.ShouldContain(r => r.Fault == "HtmlPage");
        ShouldHoldExactlyOnce(ws);
        var data = sim.Requests.Where(r => r.PathAndQuery.Contains("/data?", StringComparison.Ordinal)).ToList();
        data.Count(r => r.Status == 429).ShouldBeLessThanOrEqualTo((int)Math.Ceiling(data.Count * 0.02));
        data.ShouldAllBe(r => r.PathAndQuery.Contains("offset=", StringComparison.Ordinal));
        data.ShouldNotContain(r => r.PathAndQuery.Contains("offset=0", StringComparison.Ordinal));
        var summary = result.Summary;
        summary.GetProperty("records_fetched").GetInt64().ShouldBe(Expected().Count);
        summary.GetProperty("records_landed").GetInt64().ShouldBe(Expected().Count);
    }

    [Fact]
    public async Task Run_Pacing_NeverStartsMoreThanFiveRequestsInAnyRollingSecond()
    {
        await using var sim = await SimulatorHost.StartNoaaAsync(new SimulatorOptions { ApiKey = Token }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var pipeline = ws.Write("noaa.yaml", Pipeline(sim, pageSize: 25).Replace("concurrency: 2", "concurrency: 6", StringComparison.Ordinal));

        var result = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);

        result.ExitCode.ShouldBe(0, result.Stdout + result.Stderr);
        var starts = sim.Requests.Select(r => r.At).OrderBy(t => t).ToList();
        starts.Count.ShouldBeGreaterThan(10);
        sim.Requests.Count(r => r.Status == 429).ShouldBeLessThanOrEqualTo((int)Math.Ceiling(starts.Count * 0.02), "NOAA's 5/s limit drew more than 2 % 429s");
        var crowded = Enumerable.Range(5, starts.Count - 5).Count(i => starts[i] - starts[i - 5] < TimeSpan.FromSeconds(1));
        crowded.ShouldBeLessThanOrEqualTo((int)Math.Ceiling(starts.Count * 0.02), "six arrivals inside one second");
    }

    [Fact]
    public async Task Run_QuotaSpent_Exits4AndALaterRunCompletesExactlyOnce()
    {
        // Given a daily quota that covers only part of the work
        await using var sim = await SimulatorHost.StartNoaaAsync(new SimulatorOptions { ApiKey = Token }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var small = ws.Write("noaa.yaml", Pipeline(sim, "  daily_quota: 7"));

        // When it runs
        var first = await IngotProcess.RunAsync(ws.Dir, null, "run", small);

        // Then it stops early, resumable, having spent exactly the quota
        first.ExitCode.ShouldBe(4, first.Stdout + first.Stderr);
        sim.Requests.Count.ShouldBe(7);
        first.Summary.GetProperty("status").GetString().ShouldBe("quota_exhausted");
        first.Summary.GetProperty("message").GetString()!.ShouldContain("resume after");

        // And a run the same day with the same quota makes no request at all; status shows the usage
        var again = await IngotProcess.RunAsync(ws.Dir, null, "run", small);
        again.ExitCode.ShouldBe(4);
        sim.Requests.Count.ShouldBe(7);
        var status = await IngotProcess.RunAsync(ws.Dir, null, "status", small, "--json");
        using (var doc = JsonDocument.Parse(status.Stdout))
        {
            doc.RootElement.GetProperty("quota").GetProperty("used").GetInt64().ShouldBe(7);
            doc.RootElement.GetProperty("quota").GetProperty("limit").GetInt64().ShouldBe(7);
        }

        // And with a larger quota configured later, it completes without re-fetching landed chunks
        var big = ws.Write("noaa.yaml", Pipeline(sim, "  daily_quota: 1000"));
        var done = await IngotProcess.RunAsync(ws.Dir, null, "run", big);
        done.ExitCode.ShouldBe(0, done.Stdout + done.Stderr);
        ShouldHoldExactlyOnce(ws);
    }

    [Fact]
    public async Task Run_KilledMidwayThenResumed_LandsExactlyOnce()
    {
        await using var sim = await SimulatorHost.StartNoaaAsync(new SimulatorOptions { ApiKey = Token, Latency = TimeSpan.FromMilliseconds(30) }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var pipeline = ws.Write("noaa.yaml", Pipeline(sim));
        await IngotProcess.RunAndKillAsync(ws.Dir, null, 2, "run", pipeline);

        var resumed = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);

        resumed.ExitCode.ShouldBe(0, resumed.Stdout + resumed.Stderr);
        ShouldHoldExactlyOnce(ws);
    }

    [Fact]
    public async Task Run_InvalidRecords_AreQuarantinedWithReasonsAndCountsReconcile()
    {
        // Given a schema that rejects values above 20 (so some real records are invalid)
        await using var sim = await SimulatorHost.StartNoaaAsync(new SimulatorOptions { ApiKey = Token }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        ws.Write("strict.json", """
            {"type":"object","required":["date","station","attributes","date_ms"],
             "properties":{"value":{"type":"number","maximum":20},"attributes":{"type":"array","items":{"type":"string"}},"date_ms":{"type":"integer"}}}
            """);
        var pipeline = ws.Write("noaa.yaml", Pipeline(sim, schema: "validation:\n  schema: strict.json\n  on_invalid: quarantine"));

        var result = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);

        result.ExitCode.ShouldBe(0, result.Stdout + result.Stderr);
        var expected = Expected();
        var invalid = expected.Count(r => r.Value > 20);
        invalid.ShouldBeGreaterThan(0);
        var s = result.Summary;
        s.GetProperty("records_fetched").GetInt64().ShouldBe(expected.Count);
        s.GetProperty("records_quarantined").GetInt64().ShouldBe(invalid);
        s.GetProperty("records_landed").GetInt64().ShouldBe(expected.Count - invalid);
        var lines = Directory.EnumerateFiles(Path.Combine(ws.Lake, "noaa-e2e", "_quarantine", "precip_15"), "*.jsonl")
            .SelectMany(File.ReadAllLines).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        lines.Count.ShouldBe(invalid);
        foreach (var l in lines)
        {
            l.GetProperty("errors").EnumerateArray().ShouldNotBeEmpty();
            l.GetProperty("errors")[0].GetString()!.ShouldContain("value");
            l.GetProperty("record").GetProperty("attributes").ValueKind.ShouldBe(JsonValueKind.Array, "transforms ran before validation");
            l.GetProperty("chunk_key").GetString().ShouldNotBeNullOrEmpty();
        }
        // The raw archive is untouched by transforms and validation: every record once, attributes still strings.
        ShouldHoldExactlyOnce(ws);
    }

    [Fact]
    public async Task Run_ToParquet_TransformColumnsAndMetadataAreRight()
    {
        // Given NOAA data with 99999 accumulation markers, landed raw and as Parquet
        await using var sim = await SimulatorHost.StartNoaaAsync(new SimulatorOptions { ApiKey = Token }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var pipeline = ws.Write("noaa.yaml", Pipeline(sim, extraDestinations: "  - type: parquet\n    path: ./lake\n    compression: snappy"));

        // When it runs
        var result = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);

        // Then Parquet has each record once, attributes as a list with empty parts kept, date_ms as epoch ms,
        // values as served (99999 stays 99999) and the metadata columns
        result.ExitCode.ShouldBe(0, result.Stdout + result.Stderr);
        var expected = Expected().ToDictionary(r => (r.Station, r.Date.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture)));
        expected.Values.ShouldContain(r => r.Value == NoaaData.Sentinel, "the window has accumulation markers");
        using var db = Ingot.DuckDb.DuckDbSession.Open();
        var glob = Ingot.DuckDb.DuckDbSession.Literal(Path.Combine(ws.Lake, "noaa-e2e", "precip_15", "**", "*.parquet"));
        var rows = db.Query($"""
            SELECT station, date, value, len(attributes) AS n, to_json(attributes)::VARCHAR AS attrs, typeof(attributes) AS attr_type, date_ms, typeof(date_ms) AS ms_type,
                   _source_system, _stream, _event_ts AS ev, _record_hash, event_date, attributes
            FROM read_parquet({glob}, hive_partitioning = true, union_by_name = true)
            """);
        rows.Count.ShouldBe(expected.Count);
        var seen = new HashSet<(string, string)>();
        foreach (var row in rows)
        {
            var key = ((string)row[rows.Ordinal("station")]!, (string)row[rows.Ordinal("date")]!);
            seen.Add(key).ShouldBeTrue($"{key} twice");
            var r = expected[key];
            Convert.ToDouble(row[rows.Ordinal("value")], CultureInfo.InvariantCulture).ShouldBe(r.Value);
            row[rows.Ordinal("attr_type")].ShouldBe("VARCHAR[]");
            row[rows.Ordinal("n")].ShouldBe((long)r.Attributes.Split(',').Length);
            row[rows.Ordinal("attributes")].ShouldBeOfType<List<string>>().ShouldBe(r.Attributes.Split(','));
            row[rows.Ordinal("attrs")].ShouldBe(JsonSerializer.Serialize(r.Attributes.Split(',')));
            row[rows.Ordinal("ms_type")].ShouldBe("BIGINT");
            row[rows.Ordinal("date_ms")].ShouldBe(new DateTimeOffset(DateTime.SpecifyKind(r.Date, DateTimeKind.Utc)).ToUnixTimeMilliseconds());
            row[rows.Ordinal("_source_system")].ShouldBe("noaa-cdo");
            row[rows.Ordinal("_stream")].ShouldBe("precip_15");
            row[rows.Ordinal("event_date")].ShouldBe(DateOnly.FromDateTime(r.Date));
            ((string)row[rows.Ordinal("_record_hash")]!).Length.ShouldBe(32);
        }
        rows.ShouldContain(row => ((string)row[rows.Ordinal("attrs")]!).StartsWith("[\"\",\"\",", StringComparison.Ordinal),
            "empty attribute parts are kept (\",,HI\" → [\"\",\"\",\"HI\"]), not dropped or NULL");
    }
}
