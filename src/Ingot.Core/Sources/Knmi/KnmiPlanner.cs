namespace Ingot.Sources.Knmi;

/// <summary>
/// Chunks of (station group × time window) whose data points (stations × steps × parameters) fit the budget.
/// The shape is chosen from the budget alone — not from the range — so a longer range keeps the same keys.
/// </summary>
public static class KnmiPlanner
{
    public static (int GroupSize, long StepsPerWindow) Shape(int stations, int parameters, long budget)
    {
        var best = (Group: 1, Steps: Math.Max(1, budget / parameters), Cost: double.MaxValue);
        for (var g = 1; g <= stations; g++)
        {
            var steps = budget / ((long)g * parameters);
            if (steps < 1) break;
            // Requests per unit of time: ceil(n/g) groups, each window covers `steps` steps.
            var cost = Math.Ceiling(stations / (double)g) / steps;
            if (cost < best.Cost - 1e-15) best = (g, steps, cost);
        }
        return (best.Group, best.Steps);
    }

    public static IReadOnlyList<Chunk> Plan(string stream, IReadOnlyList<string> stations, int parameters, TimeSpan step, long budget,
        DateTimeOffset gridStart, DateTimeOffset from, DateTimeOffset to)
    {
        var (groupSize, stepsPerWindow) = Shape(stations.Count, parameters, budget);
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
