using Ingot.Destinations;
using Ingot.Sources;
using Ingot.State;

namespace Ingot.Engine;

/// <summary>The lake holds committed units that this state store has no record of (exit 2).</summary>
public sealed class LakeStateMismatchException(string message) : Exception(message);

/// <summary>The configuration changed what landed units fetch, or the plan overlaps landed units (exit 2).</summary>
public sealed class PlanConflictException(string message) : Exception(message);

/// <summary>A run's plan: every source's units and streams, ready to be stored before fetching.</summary>
public sealed record RunPlan(IReadOnlyList<WorkUnit> Units, IReadOnlyList<StreamPlan> Streams, IReadOnlyDictionary<string, object> Scope);

/// <summary>
/// Plans a run from the stored state: asks every source for its units (they see the checkpoints), then checks the plan
/// against what already landed — the lake's own records (a lost or foreign state store) and the stored units' identity
/// and bounds (a configuration change) — so that no record is ever landed twice.
/// </summary>
public static class Planner
{
    public static async Task<RunPlan> PlanAsync(IReadOnlyList<ISource> sources, PlanRequest request, CancellationToken cancellationToken)
    {
        var units = new List<WorkUnit>();
        var streams = new List<StreamPlan>();
        var scope = new Dictionary<string, object>(StringComparer.Ordinal);
        foreach (var source in sources)
        {
            var plan = await source.PlanAsync(request, cancellationToken).ConfigureAwait(false);
            units.AddRange(plan.Units);
            streams.AddRange(plan.Streams);
            // One source: its scope as it is (the run-start event's shape for KNMI and NOAA); several: one entry each.
            if (sources.Count == 1) foreach (var (k, v) in plan.Scope) scope[k] = v;
            else if (plan.Units.Count > 0 || plan.Streams.Count > 0) scope[source.Name] = plan.Scope;
        }
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var u in units)
        {
            if (!keys.Add(u.Key)) throw new InvalidOperationException($"the plan has two units with the key {u.Key}");
        }
        return new RunPlan(units, streams, scope);
    }

    /// <summary>
    /// Refuses to run when a destination holds committed units the state store does not know: landing them again would
    /// put every one of their records in the lake twice. <c>ingot state rebuild</c> restores the state from the lake.
    /// </summary>
    public static async Task CheckLakeAsync(string pipeline, string pipelineFile, IReadOnlyList<IDestination> destinations, IReadOnlyCollection<string> streams,
        IReadOnlySet<string> knownKeys, string stateDescription, CancellationToken cancellationToken)
    {
        foreach (var d in destinations)
        {
            var unknown = new List<string>();
            await foreach (var unit in d.ListCommittedAsync(pipeline, streams, details: false, cancellationToken).ConfigureAwait(false))
            {
                if (!knownKeys.Contains(unit.Key)) unknown.Add(unit.Key);
            }
            if (unknown.Count == 0) continue;
            throw new LakeStateMismatchException(
                $"{d.Name} at {d.Where(pipeline)} holds {unknown.Count} committed unit(s) of pipeline {pipeline} that the state store ({stateDescription}) " +
                $"has no record of (e.g. {unknown[0]}): the state was lost or replaced, or this is another state store. Landing them again would duplicate " +
                $"their records. Run `ingot state rebuild {pipelineFile}` to restore the state from the lake, then run again.");
        }
    }

    /// <summary>
    /// Units landed with another configuration (same key, other identity) or overlapping the plan (other keys over the
    /// same records: stations regrouped, windows re-cut). Without <paramref name="refresh"/> the run is refused, naming the
    /// change; with it, the planned units re-fetch and replace them: each overlapped unit is retired by the commit of the
    /// first planned unit that covers it.
    /// </summary>
    public static IReadOnlyList<WorkUnit> Reconcile(string pipeline, IReadOnlyList<WorkUnit> planned, IReadOnlyDictionary<string, ChunkState> known, bool refresh, bool fullRefresh)
    {
        var changed = new List<(WorkUnit Unit, UnitIdentity Before)>();
        foreach (var u in planned)
        {
            if (known.GetValueOrDefault(u.Key) is { Status: ChunkStatus.Done, Identity: { } was } && was != u.Identity.Text && UnitIdentity.Parse(was) is { } before)
                changed.Add((u, before));
        }
        var planKeys = planned.Select(u => u.Key).ToHashSet(StringComparer.Ordinal);
        var byStream = planned.GroupBy(u => u.Stream).ToDictionary(g => g.Key, g => g.Where(u => u.Bounds is TimeWindowBounds).OrderBy(u => u.Window!.From).ToList(), StringComparer.Ordinal);
        var retire = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var overlapped = new List<(ChunkState Old, WorkUnit By)>();
        foreach (var old in known.Values)
        {
            if (old.Status != ChunkStatus.Done || planKeys.Contains(old.Key) || !byStream.TryGetValue(old.Stream, out var candidates) || candidates.Count == 0) continue;
            if (UnitBounds.FromJson(old.Bounds) is not TimeWindowBounds ob) continue;
            foreach (var u in candidates)
            {
                if (u.Window!.From >= ob.To) break;
                if (!u.Bounds.Overlaps(ob)) continue;
                overlapped.Add((old, u));
                if (UnitIdentity.Parse(old.Identity) is { } before && before.Text != u.Identity.Text) changed.Add((u, before));
                if (!retire.TryGetValue(u.Key, out var list)) retire[u.Key] = list = [];
                list.Add(old.Key);
                break;
            }
        }
        if (changed.Count == 0 && overlapped.Count == 0) return planned;
        if (!refresh && !fullRefresh)
        {
            var parts = new List<string>();
            if (changed.Count > 0)
            {
                var (unit, before) = changed[0];
                parts.Add($"the configuration changed what {changed.Count} landed unit(s) fetch ({string.Join("; ", unit.Identity.DiffFrom(before))}; e.g. {unit.Key})");
            }
            if (overlapped.Count > 0)
            {
                var (old, by) = overlapped[0];
                parts.Add($"{overlapped.Count} landed unit(s) cover records the new plan fetches again under other keys (stations or windows were regrouped; e.g. {old.Key} overlaps {by.Key})");
            }
            throw new PlanConflictException(
                $"pipeline {pipeline}: {string.Join(", and ", parts)}. Landing as planned would mix shapes or land records twice. " +
                "Run with --refresh to re-fetch and replace them (every record once, in the new shape), or restore the configuration.");
        }
        return planned.Select(u => retire.TryGetValue(u.Key, out var keys) ? u with { Replaces = keys } : u).ToList();
    }
}
