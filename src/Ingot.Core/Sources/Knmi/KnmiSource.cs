using System.Globalization;
using System.Text.Json;
using Ingot.Config;
using Ingot.Destinations;
using Ingot.Http;
using Ingot.Records;
using Ingot.State;

namespace Ingot.Sources.Knmi;

/// <summary>
/// KNMI EDR (<c>type: knmi-edr</c>): station-group × time-window chunks under a data-point budget; a 413 splits
/// the part in halves (time first, then stations) down to one station × one step, and the split is recorded.
/// </summary>
public sealed class KnmiSource(KnmiSourceSpec spec, ResilientHttp http, TimeProvider time) : ISource
{
    public string Name => spec.Name;

    public string SourceSystem => "knmi-edr";

    public IReadOnlyList<string> Streams => spec.Streams;

    /// <summary>What decides the records of a unit beside its window and stations: a change lands every record again in the new shape.</summary>
    internal UnitIdentity Identity { get; } = UnitIdentity.Of(
        ("source", "knmi-edr"), ("collection", spec.Collection), ("parameters", string.Join(',', spec.Parameters)), ("step", spec.Step.ToString()));

    /// <summary>Each record: the station, its time and position, and one field per parameter (CoverageJson's rows).</summary>
    public ValueTask<IReadOnlySet<string>?> FieldsAsync(string stream, CancellationToken cancellationToken) =>
        ValueTask.FromResult<IReadOnlySet<string>?>(new HashSet<string>(["station", "time", "lat", "lon", .. spec.Parameters], StringComparer.Ordinal));

    public Task<SourcePlan> PlanAsync(PlanRequest request, CancellationToken cancellationToken)
    {
        if (!request.Wants(spec.Collection)) return Task.FromResult(new SourcePlan([], [], new Dictionary<string, object>()));
        var (from, to) = TimeWindows.Range(spec.Start, spec.End, request);
        IReadOnlyList<Chunk> chunks = from >= to ? [] : KnmiPlanner.Plan(spec.Collection, spec.Stations, spec.Parameters.Count, spec.Step, spec.MaxDataPoints, spec.Start, spec.End, from, to);
        return Task.FromResult(TimeWindows.Plan(this, spec.Collection, chunks, from, request, Identity, Scope(chunks)));
    }

    /// <summary>One station × one month each, or as many steps of one station as the data-point budget allows.</summary>
    public IReadOnlyList<WorkUnit>? TuneUnits(int count, DateTimeOffset now)
    {
        var steps = Math.Max(1, spec.MaxDataPoints / Math.Max(1, spec.Parameters.Count));
        return TimeWindows.TuneUnits(this, spec.Collection, spec.Stations, spec.Start, spec.End, now, TimeSpan.FromTicks(spec.Step.Ticks * Math.Min(steps, 1L << 20)), count, Identity);
    }

    private Dictionary<string, object> Scope(IReadOnlyList<Chunk> chunks) => new()
    {
        ["collection"] = spec.Collection,
        ["stations"] = chunks.SelectMany(c => c.Stations).Distinct().Count(),
        ["parameters"] = spec.Parameters.Count,
        ["years"] = chunks.Count == 0 ? "" : $"{chunks.Min(c => c.From).Year}-{chunks.Max(c => c.To).AddTicks(-1).Year}",
        ["chunks"] = chunks.Count,
        ["data_points"] = chunks.Sum(c => c.DataPoints),
    };

    internal sealed record Part(IReadOnlyList<string> Stations, DateTimeOffset From, DateTimeOffset To);

    public async IAsyncEnumerable<FetchedPage> FetchAsync(WorkUnit unit, IUnitContext context, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var window = unit.Window ?? throw new ArgumentException($"unit {unit.Key} is not a time window", nameof(unit));
        var whole = new Part(window.Stations, window.From, window.To);
        var queue = new LinkedList<Part>(RecordedSplit(context.Previous?.Split, whole) ?? [whole]);
        var done = new List<Part>();
        while (queue.First is { } node)
        {
            var part = node.Value;
            queue.RemoveFirst();
            FetchedPage? page;
            try
            {
                page = await FetchPartAsync(unit.Key, part, part == whole ? unit.Key : ChunkKeys.For(part.Stations, part.From, part.To), cancellationToken).ConfigureAwait(false);
                done.Add(part);
            }
            catch (HttpFailure f) when (f.Kind == FailureKind.TooLarge)
            {
                var halves = Halve(part) ?? throw new HttpFailure(FailureKind.Permanent, f.Status,
                    $"{f.Message} even for one station and one time step ({part.Stations[0]} at {part.From:O})");
                queue.AddFirst(halves.Second);
                queue.AddFirst(halves.First);
                var leaves = done.Concat(queue).Select(p => new SplitPart([.. p.Stations], p.From, p.To)).ToList();
                await context.RecordSplitAsync(JsonSerializer.Serialize(new SplitRecord(whole.From, whole.To, leaves)), cancellationToken).ConfigureAwait(false);
                continue;
            }
            if (page is not null) yield return page;
        }
    }

    private async Task<FetchedPage?> FetchPartAsync(string unitKey, Part part, string key, CancellationToken cancellationToken)
    {
        var url = Url(part);
        var count = -1;
        var noData = false;
        var reply = await http.GetAsync(url, Headers, (status, body, contentType) =>
        {
            if (status == 404 && ResilientHttp.ApiMessage(body, contentType) is { } m && m.Contains("No data", StringComparison.OrdinalIgnoreCase))
            {
                noData = true;
                return null;
            }
            if (status is < 200 or >= 300) return null;
            try
            {
                count = CoverageJson.Scan(body, part.From, part.To);
                return null;
            }
            catch (FormatException e)
            {
                // Truncated or HTML bodies are failed attempts: retried, never landed.
                return new HttpFailure(FailureKind.Transient, status, $"unparsable body: {e.Message}");
            }
        }, unitKey, cancellationToken).ConfigureAwait(false);
        if (noData || count < 0) return null;
        var body = reply.Body;
        var records = new LazyRecords(count, () => CoverageJson.Parse(body, part.From, part.To));
        return new FetchedPage(key, body, $"GET {Redact.Url(url)}", reply.Status, time.GetUtcNow(), records);
    }

    private Dictionary<string, string> Headers => new() { ["Authorization"] = spec.ApiKey, ["Accept"] = "application/prs.coverage+json, application/json" };

    internal Uri Url(Part part)
    {
        // EDR intervals are closed: [from, to) is asked as from/to−1s.
        var datetime = $"{Stamp(part.From)}/{Stamp(part.To.AddSeconds(-1))}";
        var ids = string.Join(',', part.Stations.Select(Uri.EscapeDataString));
        var parameters = string.Join(',', spec.Parameters.Select(Uri.EscapeDataString));
        return new Uri($"{spec.BaseUrl}/collections/{Uri.EscapeDataString(spec.Collection)}/locations/{ids}?datetime={datetime}&parameter-name={parameters}");
    }

    private static string Stamp(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>Time first (on the step grid), then stations; null at one station × one step.</summary>
    private (Part First, Part Second)? Halve(Part part)
    {
        var steps = KnmiPlanner.Steps(part.From, part.To, spec.Step);
        if (steps > 1)
        {
            var mid = part.From + TimeSpan.FromTicks(spec.Step.Ticks * (steps / 2));
            return (part with { To = mid }, part with { From = mid });
        }
        if (part.Stations.Count > 1)
        {
            var half = part.Stations.Count / 2;
            return (part with { Stations = part.Stations.Take(half).ToList() }, part with { Stations = part.Stations.Skip(half).ToList() });
        }
        return null;
    }

    internal sealed record SplitPart(string[] Stations, DateTimeOffset From, DateTimeOffset To);
    internal sealed record SplitRecord(DateTimeOffset From, DateTimeOffset To, List<SplitPart> Parts);

    private static List<Part>? RecordedSplit(string? json, Part whole)
    {
        if (string.IsNullOrEmpty(json)) return null;
        var split = JsonSerializer.Deserialize<SplitRecord>(json);
        // A split recorded for another window (the range grew) does not apply.
        if (split is null || split.From != whole.From || split.To != whole.To) return null;
        return split.Parts.Select(p => new Part(p.Stations, p.From, p.To)).ToList();
    }

    public ValueTask DisposeAsync()
    {
        http.Dispose();
        return ValueTask.CompletedTask;
    }
}
