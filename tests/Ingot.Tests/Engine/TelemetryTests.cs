using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Ingot.Config;
using Ingot.Destinations;
using Ingot.Engine;
using Ingot.Http;
using Ingot.Observability;
using Ingot.Simulators;
using Ingot.Sources;
using Ingot.Sources.Knmi;
using Ingot.State;
using Ingot.Storage;

namespace Ingot.Tests.Engine;

/// <summary>The run's metrics and spans, read by the runtime's own listeners (what the OpenTelemetry SDK subscribes to).</summary>
public sealed class TelemetryTests : IDisposable
{
    private const string Key = "telemetry-key";
    private readonly string _dir = Directory.CreateTempSubdirectory("ingot-telemetry-").FullName;
    private readonly string _pipeline = $"telemetry-{Guid.NewGuid():N}"[..20];

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Run_WithListeners_CountsRequestsRecordsAndUnitDurationsAndTracesRunUnitsAndRequests()
    {
        // Given a metrics and a span listener on Ingot's meter and activity source
        var measurements = new ConcurrentBag<(string Instrument, double Value, Dictionary<string, object?> Tags)>();
        using var meters = new MeterListener();
        meters.InstrumentPublished = (instrument, l) => { if (instrument.Meter.Name == IngotTelemetry.Name) l.EnableMeasurementEvents(instrument); };
        meters.SetMeasurementEventCallback<long>((i, v, tags, _) => measurements.Add((i.Name, v, ToDictionary(tags))));
        meters.SetMeasurementEventCallback<double>((i, v, tags, _) => measurements.Add((i.Name, v, ToDictionary(tags))));
        meters.Start();
        var spans = new ConcurrentBag<Activity>();
        using var activities = new ActivityListener
        {
            ShouldListenTo = s => s.Name == IngotTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Add,
        };
        ActivitySource.AddActivityListener(activities);

        // When a KNMI pipeline runs against the simulator
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key }, TestContext.Current.CancellationToken);
        var summary = await RunAsync(sim);

        // Then the counters add up to the summary, for this pipeline
        var mine = measurements.Where(m => Equals(m.Tags.GetValueOrDefault(IngotTelemetry.PipelineTag), _pipeline)).ToList();
        mine.Where(m => m.Instrument == "ingot.requests").Sum(m => m.Value).ShouldBe(summary.Requests);
        mine.Where(m => m.Instrument == "ingot.records" && Equals(m.Tags[IngotTelemetry.OutcomeTag], "landed")).Sum(m => m.Value).ShouldBe(summary.RecordsLanded);
        var durations = mine.Where(m => m.Instrument == "ingot.unit.duration").ToList();
        durations.Count.ShouldBe(summary.ChunksDone);
        durations.ShouldAllBe(d => d.Value > 0 && Equals(d.Tags[IngotTelemetry.OutcomeTag], "done"));
        summary.ChunksDone.ShouldBeGreaterThan(1);

        // And there is one run span, a unit span per unit under it, and each request span under its unit
        var run = spans.Single(s => s.OperationName == "ingot.run" && Equals(s.GetTagItem(IngotTelemetry.PipelineTag), _pipeline));
        run.GetTagItem(IngotTelemetry.RunTag).ShouldBe(summary.RunId.ToString());
        var units = spans.Where(s => s.OperationName == "ingot.unit" && s.ParentSpanId == run.SpanId).ToList();
        units.Count.ShouldBe(summary.ChunksDone);
        var requests = spans.Where(s => s.OperationName == "ingot.request" && units.Any(u => u.SpanId == s.ParentSpanId)).ToList();
        requests.Count.ShouldBe((int)summary.Requests);
        requests.ShouldAllBe(r => Equals(r.GetTagItem("http.response.status_code"), 200));
        requests.ShouldAllBe(r => !((string)r.GetTagItem("url.full")!).Contains(Key, StringComparison.Ordinal));
    }

    private static Dictionary<string, object?> ToDictionary(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var d = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (k, v) in tags) d[k] = v;
        return d;
    }

    private async Task<RunSummary> RunAsync(SimulatorHost sim)
    {
        var time = TimeProvider.System;
        var source = new KnmiSourceSpec(sim.BaseUrl.ToString().TrimEnd('/'), Key, "daily-in-situ-meteorological-observations-validated",
            ["0-20000-0-06260", "0-20000-0-06240"], ["TG"], new DateTimeOffset(2000, 1, 2, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2001, 1, 2, 0, 0, 0, TimeSpan.Zero),
            TimeSpan.FromDays(1), 200);
        var http = HttpSpec.Default with { Concurrency = 3 };
        var spec = new PipelineSpec(_pipeline, null, null, true, null, [source], http, [], null, [], Path.Combine(_dir, "p.yaml"));
        await using var state = SqliteStateStore.Open(Path.Combine(_dir, "state.db"), time);
        Runner? runner = null;
        using var client = new HttpClient();
        await using var knmi = new KnmiSource(source, new ResilientHttp(client, http, time, new Counting(() => runner), null) { }, time);
        runner = new Runner(spec, [knmi], [new RawDestination(new LocalBlobStore(Path.Combine(_dir, "lake")))], state, NullRunObserver.Instance, time);
        return await runner.RunAsync(new RunOptions(), TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken);
    }

    /// <summary>Feeds request attempts to the runner, as the pipeline runner's HTTP events do.</summary>
    private sealed class Counting(Func<Runner?> runner) : IHttpObserver
    {
        public void OnAttempt(string chunkKey, int attempt) => runner()?.CountAttempt(chunkKey);
        public void OnRetry(string chunkKey, int attempt, int? status, string reason, TimeSpan wait) => runner()?.CountRetry();
        public void OnCircuitOpen(TimeSpan pause, string reason) { }
    }
}
