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
}
