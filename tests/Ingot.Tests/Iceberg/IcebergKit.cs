using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;
using Ingot.Connectors;
using Ingot.Destinations;
using Ingot.Iceberg;
using Ingot.Sources;
using Ingot.Tests.Infrastructure;
using Record = Ingot.Records.Record;

namespace Ingot.Tests.Iceberg;

/// <summary>Builds the Iceberg destination from a pipeline file and stages units through its writer, as the engine does.</summary>
internal static class IcebergKit
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static IcebergDestination Create(string dir, string destination)
    {
        var spec = Spec(dir, destination);
        return (IcebergDestination)new IcebergConnector().Create(spec.Destinations[0], new DestinationServices(spec, TimeProvider.System, TestPipelines.Connectors.Stores));
    }

    /// <summary>The test pipeline (one NOAA stream, precip_15) with the given iceberg destination settings and any top-level YAML after it.</summary>
    public static Config.PipelineSpec Spec(string dir, string destination, string more = "")
    {
        var yaml = $"""
            name: ice
            source:
              type: noaa-cdo
              base_url: http://127.0.0.1:9
              token: t
              dataset: PRECIP_15
              stations: [COOP:010008]
              datatypes: [QPCP]
              start: 2010-01-01T00:00:00Z
              end: 2010-02-01T00:00:00Z
            destinations:
              - type: iceberg
                {destination}
            {more}
            """;
        return TestPipelines.Parse(yaml, Path.Combine(dir, "p.yaml"), _ => null);
    }

    public static RunContext Run() => new(Guid.NewGuid(), "ice", DateTimeOffset.UtcNow);

    public static WorkUnit Unit(string key) => new(key, "precip_15", "noaa-cdo", "noaa-cdo",
        new TimeWindowBounds(new DateTimeOffset(2010, 1, 1, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2010, 1, 2, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2010, 1, 2, 0, 0, 0, TimeSpan.Zero), []),
        UnitIdentity.Of(("test", "1")));

    public static List<Record> Records(string key, int n, Func<int, string>? extra = null) => Enumerable.Range(0, n).Select(i =>
    {
        var ts = new DateTimeOffset(2010, 1, 1 + i % 3, i % 24, 0, 0, TimeSpan.Zero);
        var json = $"{{\"id\":\"{key}-{i}\",\"value\":{i}{extra?.Invoke(i) ?? ""}}}";
        return Record.FromUtf8(Encoding.UTF8.GetBytes(json), ts);
    }).ToList();

    public class Journal : IFileJournal
    {
        public ConcurrentBag<string> Paths { get; } = [];

        public Task WillWriteAsync(string destination, IReadOnlyList<string> paths, CancellationToken cancellationToken)
        {
            foreach (var p in paths) Paths.Add(p);
            return Task.CompletedTask;
        }
    }

    public static async Task<(WorkUnit, Receipt)> StageAsync(IcebergDestination d, RunContext run, string key, List<Record> records, IFileJournal journal)
    {
        var unit = Unit(key);
        await using var writer = await d.BeginAsync(run, unit, journal, Ct);
        var body = Encoding.UTF8.GetBytes("[]");
        await writer.WriteAsync(new FetchedPage(key, body, "test://", 200, DateTimeOffset.UtcNow, records), Ct);
        return (unit, await writer.CompleteAsync(new UnitTotals(records.Count, 0, 1, body.Length), Ct));
    }
}
