using System.Globalization;
using Ingot.Config;
using Ingot.Destinations;
using Ingot.Sources;
using Ingot.State;

namespace Ingot.Engine;

/// <summary>What <c>ingot state rebuild</c> restored.</summary>
public sealed record RebuildResult(int Units, int Complete, int Incomplete, int AlreadyKnown, int Runs);

/// <summary>
/// <c>ingot state rebuild</c>: restores a pipeline's state from the lake's own records (raw manifests, Parquet unit
/// records, …). A unit every destination holds, landed by one run, is adopted as done with its files; a unit only some
/// destinations hold (a crash between them) is adopted as pending with its files journaled, so the next run removes
/// them and lands the unit again — never twice. Units the store already knows as done are left as they are.
/// </summary>
public static class StateRebuild
{
    public static async Task<RebuildResult> RunAsync(PipelineSpec spec, IReadOnlyList<IDestination> destinations, IStateStore state, TimeProvider time, CancellationToken cancellationToken)
    {
        var streams = spec.Streams.ToList();
        var found = new Dictionary<string, List<LakeUnit>>(StringComparer.Ordinal);
        foreach (var d in destinations)
        {
            await foreach (var unit in d.ListCommittedAsync(spec.Name, streams, details: true, cancellationToken).ConfigureAwait(false))
            {
                if (!found.TryGetValue(unit.Key, out var list)) found[unit.Key] = list = [];
                list.Add(unit);
            }
        }
        var every = destinations.Where(d => d.HoldsEveryUnit).Select(d => d.Name).ToHashSet(StringComparer.Ordinal);
        var known = await state.GetChunksAsync(spec.Name, cancellationToken).ConfigureAwait(false);
        var adopted = new List<AdoptedUnit>();
        var runs = new HashSet<Guid>();
        var alreadyKnown = 0;
        foreach (var (key, held) in found)
        {
            if (known.GetValueOrDefault(key) is { Status: ChunkStatus.Done })
            {
                alreadyKnown++;
                continue;
            }
            var runIds = held.Where(u => u.RunId is not null).Select(u => u.RunId!.Value).Distinct().ToList();
            var complete = every.All(name => held.Any(u => u.Destination == name)) && runIds.Count == 1;
            var main = held.FirstOrDefault(u => every.Contains(u.Destination)) ?? held[0];
            var bounds = held.Select(u => u.Bounds).FirstOrDefault(b => b is not null);
            var coveredTo = UnitBounds.FromJson(bounds) is TimeWindowBounds w ? w.To : (DateTimeOffset?)null;
            adopted.Add(new AdoptedUnit(key, main.Stream, complete, runIds.Count == 1 ? runIds[0] : null, main.Records, coveredTo,
                held.Select(u => u.Identity).FirstOrDefault(i => i is not null), bounds, held.SelectMany(u => u.Files).ToList()));
            if (complete) runs.Add(runIds[0]);
        }
        var now = time.GetUtcNow();
        var runRecords = runs.Select(r => new RunRecord(r, spec.Name, now, now, "adopted", null, "state rebuild (landed by this run, restored from the lake)", null)).ToList();
        await state.AdoptAsync(spec.Name, runRecords, adopted, cancellationToken).ConfigureAwait(false);
        await RestoreCheckpointsAsync(spec.Name, state, cancellationToken).ConfigureAwait(false);
        await RestoreCursorCheckpointsAsync(spec.Name, found, adopted, state, cancellationToken).ConfigureAwait(false);
        return new RebuildResult(adopted.Count, adopted.Count(a => a.Done), adopted.Count(a => !a.Done), alreadyKnown, runRecords.Count);
    }

    /// <summary>
    /// Cursor streams: the largest checkpoint a complete unit recorded (the sources' cursor text sorts ordinally), but
    /// never at or past the lower bound of a unit only some destinations hold — that unit lands again, and so must every
    /// record after it. The memo (a snapshot fence, look-back keys) is not in the lake: the source plans without it,
    /// re-reading its look-back, and duplicates inside it stay excluded by the unit keys.
    /// </summary>
    private static async Task RestoreCursorCheckpointsAsync(string pipeline, Dictionary<string, List<LakeUnit>> found, List<AdoptedUnit> adopted, IStateStore state, CancellationToken cancellationToken)
    {
        var marks = (await state.GetWatermarksAsync(pipeline, cancellationToken).ConfigureAwait(false)).Select(m => m.Stream).ToHashSet(StringComparer.Ordinal);
        foreach (var stream in adopted.Where(a => UnitBounds.FromJson(a.Bounds) is CursorBounds).GroupBy(a => a.Stream, StringComparer.Ordinal))
        {
            if (marks.Contains(stream.Key)) continue; // the store kept its own checkpoint
            var cap = stream.Where(a => !a.Done).Select(a => ((CursorBounds)UnitBounds.FromJson(a.Bounds)!).After ?? "").DefaultIfEmpty(null).Min(StringComparer.Ordinal);
            string? mark = null;
            long records = 0;
            foreach (var unit in stream.Where(a => a.Done))
            {
                var value = found[unit.Key].Select(l => l.Checkpoint).FirstOrDefault(c => c is not null);
                if (value is null || (cap is not null && string.CompareOrdinal(value, cap) >= 0)) continue;
                if (mark is null || string.CompareOrdinal(value, mark) > 0) mark = value;
                records += unit.Records;
            }
            if (mark is not null) await state.SetWatermarkAsync(pipeline, stream.Key, mark, records, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Time-windowed streams: the end of the done windows contiguous from the earliest one.</summary>
    private static async Task RestoreCheckpointsAsync(string pipeline, IStateStore state, CancellationToken cancellationToken)
    {
        var chunks = await state.GetChunksAsync(pipeline, cancellationToken).ConfigureAwait(false);
        foreach (var stream in chunks.Values.GroupBy(c => c.Stream))
        {
            var windows = stream.Select(c => (State: c, Window: UnitBounds.FromJson(c.Bounds) as TimeWindowBounds)).Where(x => x.Window is not null).ToList();
            if (windows.Count == 0) continue;
            DateTimeOffset? mark = null;
            long records = 0;
            foreach (var group in windows.GroupBy(x => x.Window!.From).OrderBy(g => g.Key))
            {
                if (mark is not null && group.Key > mark) break;
                if (!group.All(x => x.State.Status == ChunkStatus.Done)) break;
                mark = group.Max(x => x.Window!.To);
                records += group.Sum(x => x.State.Records);
            }
            if (mark is not null)
                await state.SetWatermarkAsync(pipeline, stream.Key, mark.Value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture), records, cancellationToken).ConfigureAwait(false);
        }
    }
}
