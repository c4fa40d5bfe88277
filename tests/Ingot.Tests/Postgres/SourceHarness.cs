using System.Text.Json.Nodes;
using Ingot.Destinations;
using Ingot.Postgres.Source;
using Ingot.Sources;
using Ingot.State;

namespace Ingot.Tests.Postgres;

/// <summary>
/// Plays the engine's side of the cursor-stream contract against a real <see cref="PostgresSource"/>, in process: plan
/// from the stored units and checkpoints, fetch units in plan order (skipping done ones unless refreshing), keep each
/// unit's landed records by key (a replaced unit replaces its records), and move the checkpoint over the done prefix.
/// </summary>
internal sealed class SourceHarness : IAsyncDisposable
{
    private readonly Dictionary<string, ChunkState> _known = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Watermark> _marks = new(StringComparer.Ordinal);

    public SourceHarness(string yaml)
    {
        var spec = TestPipelines.Parse(yaml, "pipeline.yaml", _ => null);
        Spec = (PostgresSourceSpec)spec.Source;
        Source = new PostgresSource(Spec, TimeProvider.System);
    }

    public PostgresSourceSpec Spec { get; }

    public PostgresSource Source { get; }

    /// <summary>Landed records per unit key (the lake, as the engine keeps it: one version per unit).</summary>
    public Dictionary<string, (WorkUnit Unit, List<JsonObject> Rows, List<FetchedPage> Pages)> Landed { get; } = new(StringComparer.Ordinal);

    public IReadOnlyDictionary<string, Watermark> Checkpoints => _marks;

    public IEnumerable<JsonObject> AllRows(string stream) => Landed.Values.Where(l => l.Unit.Stream == stream).SelectMany(l => l.Rows);

    public Task<SourcePlan> PlanAsync(bool fullRefresh = false, bool refresh = false) =>
        Source.PlanAsync(new PlanRequest(null, null, DateTimeOffset.UtcNow, fullRefresh, null, _marks, _known) { Refresh = refresh }, TestContext.Current.CancellationToken);

    /// <summary>One run: plan, store the plan, fetch and land units (all, or the first <paramref name="stopAfter"/>), move checkpoints.</summary>
    public async Task<RunResult> RunAsync(bool fullRefresh = false, bool refresh = false, int? stopAfter = null, Func<WorkUnit, bool>? fail = null)
    {
        var plan = await PlanAsync(fullRefresh, refresh);
        foreach (var u in plan.Units)
        {
            if (!_known.ContainsKey(u.Key))
                _known[u.Key] = new ChunkState("p", u.Key, u.Stream, ChunkStatus.Pending, 0, null, null, 0, null, DateTimeOffset.UtcNow, [], null) { Bounds = u.Bounds.ToJson(), Identity = u.Identity.Text };
        }
        var fetched = new List<WorkUnit>();
        var landed = 0;
        foreach (var u in plan.Units)
        {
            if (!refresh && !fullRefresh && _known[u.Key].Status == ChunkStatus.Done) continue;
            if (stopAfter is { } n && landed >= n) break;
            if (fail?.Invoke(u) == true)
            {
                _known[u.Key] = _known[u.Key] with { Status = ChunkStatus.Failed };
                continue;
            }
            var rows = new List<JsonObject>();
            var pages = new List<FetchedPage>();
            await foreach (var page in Source.FetchAsync(u, null!, TestContext.Current.CancellationToken))
            {
                pages.Add(page);
                foreach (var r in page.Records) rows.Add((JsonObject)r.Fields.DeepClone());
            }
            Landed[u.Key] = (u, rows, pages);
            foreach (var retired in u.Replaces) Landed.Remove(retired);
            _known[u.Key] = _known[u.Key] with { Status = ChunkStatus.Done, Records = rows.Count };
            fetched.Add(u);
            landed++;
            MoveCheckpoints(plan.Units);
        }
        return new RunResult(plan, fetched);
    }

    private void MoveCheckpoints(IReadOnlyList<WorkUnit> units)
    {
        foreach (var stream in units.GroupBy(u => u.Stream))
        {
            WorkUnit? last = null;
            foreach (var u in stream)
            {
                if (_known[u.Key].Status != ChunkStatus.Done) break;
                last = u;
            }
            if (last?.Checkpoint is { } value)
                _marks[stream.Key] = new Watermark("p", stream.Key, value, 0, DateTimeOffset.UtcNow) { Memo = last.CheckpointMemo };
        }
    }

    public ValueTask DisposeAsync() => Source.DisposeAsync();

    internal sealed record RunResult(SourcePlan Plan, List<WorkUnit> Fetched);
}
