using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ingot.Config;
using Ingot.Destinations;
using Ingot.Http;
using Ingot.Records;
using Ingot.State;

namespace Ingot.Sources.Noaa;

/// <summary>
/// NOAA CDO v2 <c>/data</c> (<c>type: noaa-cdo</c>): chunks are time windows (under a year) × station groups;
/// each chunk is paged with 1-based offsets until <c>offset &gt; metadata.resultset.count</c>; a bare <c>{}</c>
/// means no data. Anything that is not the expected JSON is a failed attempt, never data.
/// </summary>
public sealed class NoaaSource(NoaaSourceSpec spec, ResilientHttp http, TimeProvider time) : ISource
{
    public string Name => spec.Name;

    public string SourceSystem => "noaa-cdo";

    /// <summary>The stream: the dataset id lowercased (<c>precip_15</c>).</summary>
    public string Stream => spec.Streams[0];

    public IReadOnlyList<string> Streams => spec.Streams;

    /// <summary>What decides the records of a unit beside its window and stations.</summary>
    internal UnitIdentity Identity { get; } = UnitIdentity.Of(
        ("source", "noaa-cdo"), ("dataset", spec.Dataset), ("datatypes", string.Join(',', spec.Datatypes)), ("units", spec.Units ?? ""));

    /// <summary>Each record is one of CDO's results as the API sends it.</summary>
    public ValueTask<IReadOnlySet<string>?> FieldsAsync(string stream, CancellationToken cancellationToken) =>
        ValueTask.FromResult<IReadOnlySet<string>?>(new HashSet<string>(["date", "datatype", "station", "attributes", "value"], StringComparer.Ordinal));

    public Task<SourcePlan> PlanAsync(PlanRequest request, CancellationToken cancellationToken)
    {
        if (!request.Wants(Stream)) return Task.FromResult(new SourcePlan([], [], new Dictionary<string, object>()));
        var (from, to) = TimeWindows.Range(spec.Start, spec.End, request);
        var chunks = Plan(from, to);
        return Task.FromResult(TimeWindows.Plan(this, Stream, chunks, from, request, Identity, Scope(chunks)));
    }

    internal List<Chunk> Plan(DateTimeOffset from, DateTimeOffset to)
    {
        var chunks = new List<Chunk>();
        // Windows lie on a grid from the configured start: start + k·window (months added from the start, no drift).
        for (var k = 0; ; k++)
        {
            var wStart = Add(spec.Start, k);
            if (wStart >= to) break;
            var wEnd = Add(spec.Start, k + 1);
            if (wEnd <= from) continue;
            var cFrom = wStart < from ? from : wStart;
            var cTo = wEnd > to ? to : wEnd;
            for (var g = 0; g < spec.Stations.Count; g += spec.StationsPerRequest)
            {
                var group = spec.Stations.Skip(g).Take(spec.StationsPerRequest).ToList();
                chunks.Add(new Chunk(ChunkKeys.For(group, wStart, wEnd), Stream, cFrom, cTo, wEnd, group, 0, 1));
            }
        }
        return chunks;
    }

    /// <summary>One station × one month each (never wider than the pipeline's window: NOAA refuses a year or more).</summary>
    public IReadOnlyList<WorkUnit>? TuneUnits(int count, DateTimeOffset now) =>
        TimeWindows.TuneUnits(this, Stream, spec.Stations, spec.Start, spec.End, now, Add(spec.Start, 1) - spec.Start, count, Identity);

    private DateTimeOffset Add(DateTimeOffset start, int k) => start.AddMonths(spec.Window.Months * k).Add(spec.Window.Duration * k);

    private Dictionary<string, object> Scope(IReadOnlyList<Chunk> chunks) => new()
    {
        ["dataset"] = spec.Dataset,
        ["stations"] = chunks.SelectMany(c => c.Stations).Distinct().Count(),
        ["datatypes"] = spec.Datatypes,
        ["years"] = chunks.Count == 0 ? "" : $"{chunks.Min(c => c.From).Year}-{chunks.Max(c => c.To).AddTicks(-1).Year}",
        ["chunks"] = chunks.Count,
    };

    public async IAsyncEnumerable<FetchedPage> FetchAsync(WorkUnit unit, IUnitContext context, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var chunk = unit.Window ?? throw new ArgumentException($"unit {unit.Key} is not a time window", nameof(unit));
        long? count = null;
        // Every loop spends a request; it ends when the offset passes the count the API reported (or on {}).
        for (var offset = 1; count is null || offset <= count; offset += spec.PageSize)
        {
            var url = Url(chunk, offset);
            Page? page = null;
            var reply = await http.GetAsync(url, Headers, (status, body, contentType) =>
            {
                if (status is < 200 or >= 300) return null;
                try
                {
                    page = ParsePage(body, contentType, chunk);
                    return null;
                }
                catch (FormatException e)
                {
                    // HTML maintenance pages (even with status 200), truncated JSON: retried, never archived.
                    return new HttpFailure(FailureKind.Transient, status, $"not NOAA data: {e.Message}");
                }
            }, unit.Key, cancellationToken).ConfigureAwait(false);
            if (page is null || page.Empty) break;
            count = page.Count;
            yield return new FetchedPage($"{unit.Key}_o{offset:D6}", reply.Body, $"GET {Redact.Url(url)}", reply.Status, time.GetUtcNow(), page.Records);
            if (page.Records.Count == 0) break;
        }
    }

    private sealed record Page(bool Empty, long Count, List<Record> Records);

    /// <summary>
    /// A page's results as records that are the UTF-8 text of each result exactly as NOAA served it (slices of the page
    /// body, which the page keeps anyway for the raw archive): no object per record or per field.
    /// </summary>
    private static Page ParsePage(byte[] body, string? contentType, TimeWindowBounds chunk)
    {
        if (contentType is not null && !contentType.Contains("json", StringComparison.OrdinalIgnoreCase))
            throw new FormatException($"content type {contentType}");
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body.AsMemory());
        }
        catch (JsonException e)
        {
            var head = Encoding.UTF8.GetString(body, 0, Math.Min(body.Length, 60)).Trim();
            throw new FormatException(head.StartsWith('<') ? "an HTML/XML page instead of JSON" : $"invalid JSON ({e.Message})", e);
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new FormatException("body is not a JSON object");
            if (!root.EnumerateObject().Any()) return new Page(true, 0, []);
            if (!root.TryGetProperty("results", out var results) || results.ValueKind != JsonValueKind.Array) throw new FormatException("body has no results array");
            if (!root.TryGetProperty("metadata", out var metadata) || metadata.ValueKind != JsonValueKind.Object
                || !metadata.TryGetProperty("resultset", out var resultset) || resultset.ValueKind != JsonValueKind.Object
                || !resultset.TryGetProperty("count", out var countElement) || !countElement.TryGetInt64(out var count))
                throw new FormatException("body has no metadata.resultset.count");
            var records = new List<Record>(results.GetArrayLength());
            foreach (var result in results.EnumerateArray())
            {
                if (result.ValueKind != JsonValueKind.Object) throw new FormatException("a result is not an object");
                var date = result.TryGetProperty("date", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString() : null;
                if (date is null) throw new FormatException("a result has no date");
                if (!DateTime.TryParseExact(date, ["yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd"], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t))
                    throw new FormatException($"a result has an unreadable date '{date}'");
                var ts = new DateTimeOffset(DateTime.SpecifyKind(t, DateTimeKind.Utc));
                // [from, to): a record stamped at the window end belongs to the next window.
                if (ts < chunk.From || ts >= chunk.To) continue;
                var raw = System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(result);
                var text = body.AsSpan().Overlaps(raw, out var offset) ? body.AsMemory(offset, raw.Length) : raw.ToArray();
                records.Add(Record.FromUtf8(text, ts));
            }
            return new Page(false, count, records);
        }
    }

    private Dictionary<string, string> Headers => new() { ["token"] = spec.Token, ["Accept"] = "application/json" };

    internal Uri Url(TimeWindowBounds chunk, int offset)
    {
        var q = new StringBuilder();
        q.Append("datasetid=").Append(Uri.EscapeDataString(spec.Dataset));
        foreach (var s in chunk.Stations) q.Append("&stationid=").Append(Uri.EscapeDataString(s));
        foreach (var d in spec.Datatypes) q.Append("&datatypeid=").Append(Uri.EscapeDataString(d));
        if (spec.Units is not null) q.Append("&units=").Append(spec.Units);
        // NOAA's enddate is inclusive and takes no zone or fractions: [from, to) is asked as from .. to−1s.
        q.Append("&startdate=").Append(Stamp(chunk.From)).Append("&enddate=").Append(Stamp(chunk.To.AddSeconds(-1)));
        q.Append("&limit=").Append(spec.PageSize.ToString(CultureInfo.InvariantCulture));
        q.Append("&offset=").Append(offset.ToString(CultureInfo.InvariantCulture));
        q.Append("&includemetadata=true");
        return new Uri($"{spec.BaseUrl}/data?{q}");
    }

    private static string Stamp(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture);

    public ValueTask DisposeAsync()
    {
        http.Dispose();
        return ValueTask.CompletedTask;
    }
}
