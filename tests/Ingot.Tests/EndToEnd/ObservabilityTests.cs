using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Ingot.Simulators;

namespace Ingot.Tests.EndToEnd;

/// <summary>What the built <c>ingot</c> tells the world: OTLP export, log formats and levels, per-stream status and checkpoints.</summary>
public sealed class ObservabilityTests
{
    private const string Daily = "daily-in-situ-meteorological-observations-validated";
    private const string Key = "obs-e2e-key";

    private static string PipelineFor(SimulatorHost sim) =>
        KnmiArchive.Pipeline("knmi-obs", sim.BaseUrl, Key, Daily, ["0-20000-0-06260", "0-20000-0-06240"], ["TG"], "2000-01-02T00:00:00Z", "2001-01-02T00:00:00Z", "P1D", 300, concurrency: 2);

    [Fact]
    public async Task Run_OtlpEndpointSet_ExportsRunUnitAndRequestSpansAndTheMetrics()
    {
        // Given an OTLP/HTTP receiver on loopback
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var pipeline = ws.Write("knmi.yaml", PipelineFor(sim));
        using var collector = new OtlpCollector();

        // When a run has OTEL_EXPORTER_OTLP_ENDPOINT set
        var run = await IngotProcess.RunAsync(ws.Dir, new Dictionary<string, string>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.Endpoint,
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
        }, "run", pipeline);

        // Then the spans and metrics reached the collector (protobuf carries names as plain UTF-8)
        run.ExitCode.ShouldBe(0, run.Stderr);
        var traces = collector.Bodies("/v1/traces");
        traces.ShouldContain("ingot.run");
        traces.ShouldContain("ingot.unit");
        traces.ShouldContain("ingot.request");
        traces.ShouldNotContain(Key);
        var metrics = collector.Bodies("/v1/metrics");
        metrics.ShouldContain("ingot.requests");
        metrics.ShouldContain("ingot.records");
        metrics.ShouldContain("ingot.unit.duration");
    }

    [Fact]
    public async Task Run_LogFormatTextWhenNotATerminal_PrintsTextLinesAndTheRunLogStaysJson()
    {
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var pipeline = ws.Write("knmi.yaml", PipelineFor(sim));

        var run = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline, "--log-format", "text");

        run.ExitCode.ShouldBe(0, run.Stderr);
        var lines = run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines.ShouldNotContain(l => l.TrimStart().StartsWith('{'));
        lines.ShouldContain(l => l.Contains(" info  Chunk landed chunk_key=", StringComparison.Ordinal));
        // Instants in ISO 8601 UTC, as the JSON lines have them (not the culture's "01/02/2000 00:00:00 +00:00")
        lines.First(l => l.Contains("Chunk landed", StringComparison.Ordinal)).ShouldMatch(@" from=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ to=\d{4}-\d\d-\d\dT");
        lines.Last().ShouldContain(" info  Run complete status=complete exit_code=0 ");
        var runLog = Directory.GetFiles(Path.Combine(ws.Home, "runs"), "*.jsonl").Single();
        var events = File.ReadAllLines(runLog).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        events.Last().GetProperty("msg").GetString().ShouldBe("Run complete");
        events.Count(e => e.GetProperty("msg").GetString() == "Chunk landed").ShouldBe(lines.Count(l => l.Contains("Chunk landed", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Run_UnknownLogLevel_IsAConfigurationErrorAndSendsNothing()
    {
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var pipeline = ws.Write("knmi.yaml", PipelineFor(sim));

        var run = await IngotProcess.RunAsync(ws.Dir, new Dictionary<string, string> { ["INGOT_LOG_LEVEL"] = "bogus" }, "run", pipeline);

        run.ExitCode.ShouldBe(2);
        run.Stderr.ShouldContain("INGOT_LOG_LEVEL: 'bogus' is not a log level (debug, info, warn, error)");
        sim.Requests.Count.ShouldBe(0);
    }

    [Fact]
    public async Task Run_LogLevelError_OnlyErrorsAndTheSummary()
    {
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var pipeline = ws.Write("knmi.yaml", PipelineFor(sim));

        var run = await IngotProcess.RunAsync(ws.Dir, new Dictionary<string, string> { ["INGOT_LOG_LEVEL"] = "error" }, "run", pipeline);

        run.ExitCode.ShouldBe(0, run.Stderr);
        run.Events.Select(e => e.GetProperty("msg").GetString()).ShouldBe(["Run complete"]);
        run.Summary.GetProperty("level").GetString().ShouldBe("info");
    }

    [Fact]
    public async Task Status_AfterARun_ShowsEachStreamAndPrintsCheckpointsJson()
    {
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var pipeline = ws.Write("knmi.yaml", PipelineFor(sim));
        var run = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);
        run.ExitCode.ShouldBe(0, run.Stderr);

        var status = await IngotProcess.RunAsync(ws.Dir, null, "status", pipeline, "--json");
        var text = await IngotProcess.RunAsync(ws.Dir, null, "status", pipeline);
        var checkpoints = await IngotProcess.RunAsync(ws.Dir, null, "status", pipeline, "--checkpoints");

        using var doc = JsonDocument.Parse(status.Stdout);
        var stream = doc.RootElement.GetProperty("streams").EnumerateArray().Single();
        stream.GetProperty("stream").GetString().ShouldBe(Daily);
        stream.GetProperty("checkpoint").GetString().ShouldBe("2001-01-02T00:00:00Z");
        stream.GetProperty("units").GetProperty("done").GetInt32().ShouldBe(run.Summary.GetProperty("chunks_done").GetInt32());
        stream.GetProperty("units").GetProperty("failed").GetInt32().ShouldBe(0);
        text.Stdout.ShouldContain($"stream {Daily}: {run.Summary.GetProperty("chunks_done").GetInt32()} done, 0 failed, 0 pending; checkpoint 2001-01-02T00:00:00Z (732 records");
        using var cp = JsonDocument.Parse(checkpoints.Stdout);
        var entry = cp.RootElement.GetProperty(Daily);
        entry.GetProperty("last_sync_timestamp").GetString().ShouldBe("2001-01-02T00:00:00Z");
        entry.GetProperty("record_count").GetInt64().ShouldBe(2 * 366);
        DateTimeOffset.Parse(entry.GetProperty("updated_at").GetString()!, System.Globalization.CultureInfo.InvariantCulture).ShouldBeGreaterThan(DateTimeOffset.UtcNow.AddMinutes(-5));
        cp.RootElement.EnumerateObject().Count().ShouldBe(1);
    }

    /// <summary>A loopback OTLP/HTTP receiver: records each POST's path and body and answers 200 with an empty protobuf.</summary>
    private sealed class OtlpCollector : IDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly ConcurrentBag<(string Path, byte[] Body)> _posts = [];
        private readonly Task _loop;

        public OtlpCollector()
        {
            using (var probe = new TcpListener(IPAddress.Loopback, 0))
            {
                probe.Start();
                Endpoint = $"http://127.0.0.1:{((IPEndPoint)probe.LocalEndpoint).Port}";
            }
            _listener.Prefixes.Add(Endpoint + "/");
            _listener.Start();
            _loop = Task.Run(LoopAsync);
        }

        public string Endpoint { get; }

        public string Bodies(string path) =>
            string.Join('\n', _posts.Where(p => p.Path == path).Select(p => Encoding.UTF8.GetString(p.Body)));

        private async Task LoopAsync()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext ctx;
                try { ctx = await _listener.GetContextAsync(); }
                catch (HttpListenerException) { return; }
                catch (ObjectDisposedException) { return; }
                using var body = new MemoryStream();
                await ctx.Request.InputStream.CopyToAsync(body);
                _posts.Add((ctx.Request.Url!.AbsolutePath, body.ToArray()));
                ctx.Response.StatusCode = 200;
                ctx.Response.ContentType = "application/x-protobuf";
                ctx.Response.Close();
            }
        }

        public void Dispose()
        {
            _listener.Stop();
            _listener.Close();
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
    }
}
