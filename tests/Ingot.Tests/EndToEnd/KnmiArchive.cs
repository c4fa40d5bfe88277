using System.Globalization;
using System.Text.Json;
using Ingot.Simulators;

namespace Ingot.Tests.EndToEnd;

/// <summary>Reads a raw KNMI archive back and checks it against the simulator's ground truth.</summary>
internal static class KnmiArchive
{
    public static string Pipeline(string name, Uri baseUrl, string key, string collection, string[] stations, string[] parameters,
        string start, string end, string step, long budget, string extraHttp = "", string destinations = "  - type: raw\n    path: ./lake\n", int concurrency = 4) => $"""
        name: {name}
        source:
          type: knmi-edr
          base_url: {baseUrl.ToString().TrimEnd('/')}
          api_key: {key}
          collection: {collection}
          stations: [{string.Join(", ", stations)}]
          parameters: [{string.Join(", ", parameters)}]
          start: {start}
          end: {end}
          step: {step}
          max_data_points: {budget}
        http:
          concurrency: {concurrency}
          timeout: 10s
          retries: 8
          backoff: 10ms..200ms
          circuit_breaker_failures: 50
          circuit_breaker_pause: 200ms
        {extraHttp}
        destinations:
        {destinations}
        """;

    public sealed record Observation(string Station, DateTimeOffset Time, string Parameter, double? Value, string File);

    public static List<Observation> Read(string rawRoot)
    {
        var list = new List<Observation>();
        foreach (var file in Directory.EnumerateFiles(rawRoot, "*.json", SearchOption.AllDirectories).Where(f => !f.Contains("/_manifests/", StringComparison.Ordinal)))
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(file));
            var coverages = doc.RootElement.GetProperty("type").GetString() == "Coverage"
                ? [doc.RootElement]
                : doc.RootElement.GetProperty("coverages").EnumerateArray().ToList();
            foreach (var c in coverages)
            {
                var station = c.GetProperty("eumetnet:locationId").GetString()!;
                var times = c.GetProperty("domain").GetProperty("axes").GetProperty("t").GetProperty("values").EnumerateArray()
                    .Select(t => DateTimeOffset.Parse(t.GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal)).ToList();
                foreach (var range in c.GetProperty("ranges").EnumerateObject())
                {
                    var values = range.Value.GetProperty("values").EnumerateArray().ToList();
                    for (var i = 0; i < times.Count; i++)
                        list.Add(new Observation(station, times[i], range.Name, values[i].ValueKind == JsonValueKind.Null ? null : values[i].GetDouble(), file));
                }
            }
        }
        return list;
    }

    /// <summary>Every (station, stamp, parameter) in [from, to) exactly once, with the simulator's value.</summary>
    public static void ShouldHoldExactlyOnce(List<Observation> observations, int seed, string[] stations, string[] parameters, DateTimeOffset from, DateTimeOffset to, TimeSpan step)
    {
        var counts = observations.GroupBy(o => (o.Station, o.Time, o.Parameter)).ToDictionary(g => g.Key, g => g.ToList());
        var expected = 0;
        for (var t = from; t < to; t += step)
        {
            foreach (var s in stations)
            {
                foreach (var p in parameters)
                {
                    expected++;
                    counts.TryGetValue((s, t, p), out var found);
                    (found?.Count ?? 0).ShouldBe(1, $"{s} {t:O} {p} should be archived exactly once");
                    found![0].Value.ShouldBe(KnmiData.Value(seed, s, t, p), $"{s} {t:O} {p}");
                }
            }
        }
        observations.Count.ShouldBe(expected, "no observation outside the range");
    }
}
