namespace Ingot.Sources.Knmi;

/// <summary>
/// Chunks of (station group × time window) whose data points (stations × steps × parameters) fit the budget,
/// with as few requests as possible. The shape comes from the configured range (not from --from/--to), so the
/// same pipeline file always gives the same keys; an open-ended range uses a shape that does not depend on it.
/// </summary>
public static class KnmiPlanner
{
    /// <param name="totalSteps">Steps in the configured range, or null for an open end.</param>
    public static (int GroupSize, long StepsPerWindow) Shape(int stations, int parameters, long budget, long? totalSteps)
    {
        var best = (Group: 1, Steps: Math.Max(1, budget / parameters), Cost: double.MaxValue);
        for (var g = 1; g <= stations; g++)
        {
            var steps = budget / ((long)g * parameters);
            if (steps < 1) break;
            var groups = Math.Ceiling(stations / (double)g);
            // Known range: total requests. Open range: requests per step of time (range-independent).
            var cost = totalSteps is { } t ? groups * Math.Ceiling(t / (double)steps) : groups / steps;
            // Ties go to the larger group: fewer, wider windows.
            if (cost <= best.Cost + 1e-12) best = (g, steps, cost);
        }
        if (totalSteps is { } total && total > 0)
        {
            // Balance the windows so the last one is not a sliver: same request count, even sizes.
            var windows = (long)Math.Ceiling(total / (double)best.Steps);
            best.Steps = (long)Math.Ceiling(total / (double)windows);
        }
        return (best.Group, best.Steps);
    }

    public static IReadOnlyList<Chunk> Plan(string stream, IReadOnlyList<string> stations, int parameters, TimeSpan step, long budget,
        DateTimeOffset gridStart, DateTimeOffset? configuredEnd, DateTimeOffset from, DateTimeOffset to)
    {
        var (groupSize, stepsPerWindow) = Shape(stations.Count, parameters, budget, configuredEnd is { } end ? Steps(gridStart, end, step) : null);
        var width = TimeSpan.FromTicks(step.Ticks * stepsPerWindow);
        var chunks = new List<Chunk>();
        if (to <= from) return chunks;
        // Windows lie on a grid anchored at the configured start, so --from/--to pick whole grid windows (cut at the edges).
        var index = (long)Math.Floor((from - gridStart).Ticks / (double)width.Ticks);
        for (var windowStart = gridStart + TimeSpan.FromTicks(width.Ticks * index); windowStart < to; windowStart += width)
        {
            var gridEnd = windowStart + width;
            var wFrom = windowStart < from ? from : windowStart;
            var wTo = gridEnd > to ? to : gridEnd;
            var steps = Steps(wFrom, wTo, step);
            for (var g = 0; g < stations.Count; g += groupSize)
            {
                var group = stations.Skip(g).Take(groupSize).ToList();
                // The key names the grid window, so a window first cut short by the range end keeps its key when the range grows.
                var key = ChunkKeys.For(group, windowStart, gridEnd);
                chunks.Add(new Chunk(key, stream, wFrom, wTo, gridEnd, group, steps * group.Count * parameters, 1));
            }
        }
        return chunks;
    }

    /// <summary>Time steps stamped in [from, to) on a grid of <paramref name="step"/>.</summary>
    public static long Steps(DateTimeOffset from, DateTimeOffset to, TimeSpan step) =>
        to <= from ? 0 : (long)Math.Ceiling((to - from).Ticks / (double)step.Ticks);
}
