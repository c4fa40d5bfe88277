using System.Globalization;
using Ingot.Destinations;

namespace Ingot.Sources;

/// <summary>What the time-windowed sources (KNMI, NOAA) share: resolving the run's range and turning planned windows into units.</summary>
internal static class TimeWindows
{
    /// <summary>The time range: command line, then the pipeline; an open end is now, on the hour; never outside the configured range.</summary>
    public static (DateTimeOffset From, DateTimeOffset To) Range(DateTimeOffset start, DateTimeOffset? end, PlanRequest request)
    {
        var from = request.From ?? start;
        var now = request.Now;
        var to = request.To ?? end ?? new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, 0, 0, TimeSpan.Zero);
        if (from < start) from = start;
        if (end is not null && to > end) to = end.Value;
        return (from, to);
    }

    /// <summary>
    /// Windows become units of the stream. Time-windowed streams land each window as an incremental load; --full-refresh
    /// reloads everything as full (not "full until the first success": a resumed backfill would then mix both in one load).
    /// </summary>
    public static SourcePlan Plan(ISource source, string stream, IReadOnlyList<Chunk> chunks, DateTimeOffset from, PlanRequest request, UnitIdentity identity, IReadOnlyDictionary<string, object> scope)
    {
        var loadType = request.FullRefresh ? LoadType.Full : LoadType.Incremental;
        var units = chunks.Select(c => new WorkUnit(c.Key, stream, source.Name, source.SourceSystem, c.Bounds, identity, loadType, c.DataPoints, c.EstimatedRequests)).ToList();
        var lower = from.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        return new SourcePlan(units, [new StreamPlan(stream, source.Name, loadType, lower)], scope);
    }

    /// <summary>
    /// Tune units: one station × one calendar month each (cut to <paramref name="maxWidth"/> where the source's budget
    /// allows fewer steps, and to the configured range), walking the stations, then the months from the configured start,
    /// and starting over when the range is used up — the same small, valid requests at every level of the sweep.
    /// </summary>
    public static IReadOnlyList<WorkUnit> TuneUnits(ISource source, string stream, IReadOnlyList<string> stations, DateTimeOffset start, DateTimeOffset? end,
        DateTimeOffset now, TimeSpan maxWidth, int count, UnitIdentity identity)
    {
        var (_, to) = Range(start, end, new PlanRequest(null, null, now, false, null, new Dictionary<string, State.Watermark>(), new Dictionary<string, State.ChunkState>()));
        var units = new List<WorkUnit>(count);
        if (to <= start || stations.Count == 0 || count <= 0) return units;
        var month = 0;
        while (units.Count < count)
        {
            var from = start.AddMonths(month);
            if (from >= to)
            {
                month = 0;
                continue;
            }
            var until = from.AddMonths(1);
            if (until - from > maxWidth) until = from + maxWidth;
            if (until > to) until = to;
            for (var s = 0; s < stations.Count && units.Count < count; s++)
            {
                var chunk = new Chunk(ChunkKeys.For([stations[s]], from, until), stream, from, until, until, [stations[s]], 0, 1);
                units.Add(new WorkUnit(chunk.Key, stream, source.Name, source.SourceSystem, chunk.Bounds, identity, LoadType.Incremental, 0, 1));
            }
            month++;
        }
        return units;
    }
}
