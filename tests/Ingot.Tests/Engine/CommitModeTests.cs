using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using Ingot.Config;
using Ingot.Destinations;
using Ingot.Engine;
using Record = Ingot.Records.Record;
using Ingot.Sources;
using Ingot.State;
using Ingot.Storage;

namespace Ingot.Tests.Engine;

/// <summary>
/// The engine's three commit modes and its cursor checkpoints, proven with test doubles in the roles the next
/// connectors take: a cursor source (PostgreSQL, REST), a table that replaces a unit's rows by key in one transaction
/// (PostgreSQL bronze) and a destination that commits groups of units as one snapshot (Iceberg, Kafka). Raw files and
/// the SQLite state store are the real ones.
/// </summary>
public sealed class CommitModeTests : IDisposable
{
    private const string Stream = "items";
    private readonly string _dir = Directory.CreateTempSubdirectory("ingot-modes-").FullName;
    private readonly SqliteStateStore _state;

    public CommitModeTests() => _state = SqliteStateStore.Open(Path.Combine(_dir, "state.db"), TimeProvider.System);

    public void Dispose()
    {
        _state.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Directory.Delete(_dir, recursive: true);
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<RunSummary> RunAsync(CursorSource source, params IDestination[] extra)
    {
        var spec = new PipelineSpec("modes", null, null, true, null, [new TestSourceSpec()], HttpSpec.Default with { Concurrency = 3 }, [], null, [], Path.Combine(_dir, "p.yaml"));
        var destinations = new List<IDestination> { new RawDestination(new LocalBlobStore(Path.Combine(_dir, "lake"))) };
        destinations.AddRange(extra);
        var runner = new Runner(spec, [source], destinations, _state, NullRunObserver.Instance, TimeProvider.System);
        return await runner.RunAsync(new RunOptions(), Ct).WaitAsync(TimeSpan.FromMinutes(1), Ct);
    }

    private async Task<Watermark?> CheckpointAsync() =>
        (await _state.GetWatermarksAsync("modes", Ct)).SingleOrDefault(w => w.Stream == Stream);

    [Fact]
    public async Task Run_MiddleCursorUnitFails_CheckpointStopsBeforeItAndMovesOnWhenItLands()
    {
        // Given three keyset pages with planned upper bounds, the second failing on the first run
        var source = new CursorSource(["a", "b", "c"]) { Fail = ["b"] };

        // When the pipeline runs
        var first = await RunAsync(source);

        // Then the checkpoint is the first page's upper bound (never past a page that did not land), with its memo
        first.ExitCode.ShouldBe(ExitCodes.FailedChunks);
        (await CheckpointAsync())!.Value.ShouldBe("a-end");
        (await CheckpointAsync())!.Memo.ShouldBe("memo-a");

        // When the failure is gone and the pipeline runs again, planning from that checkpoint and memo
        source.Fail = [];
        var second = await RunAsync(source);

        // Then the failed page lands, the done ones are not fetched again, and the checkpoint reaches the last page
        second.ExitCode.ShouldBe(ExitCodes.Complete);
        second.ChunksSkipped.ShouldBe(2);
        source.SeenCheckpoints.Last().ShouldBe(("a-end", "memo-a"));
        (await CheckpointAsync())!.Value.ShouldBe("c-end");
        (await CheckpointAsync())!.RecordCount.ShouldBe(2); // the records this run landed for the stream
        source.Fetched.Count(k => k == "b").ShouldBe(2);
        source.Fetched.Count(k => k == "c").ShouldBe(1);
    }

    [Fact]
    public async Task Run_UnitWithoutPlannedCheckpoint_CheckpointIsTheLastPageCursor()
    {
        // Given one unit whose end is known only after fetching (a REST stream): its pages say how far they got
        var source = new CursorSource(["since-0"]) { Planned = false, PagesPerUnit = 3 };

        await RunAsync(source);

        // Then the checkpoint is the cursor of the unit's last page, and the lake's unit record keeps it too
        (await CheckpointAsync())!.Value.ShouldBe("since-0-p2");
        (await CheckpointAsync())!.Memo.ShouldBe("memo-since-0-p2");
        var raw = new RawDestination(new LocalBlobStore(Path.Combine(_dir, "lake")));
        var units = await raw.ListCommittedAsync("modes", [Stream], details: true, Ct).ToListAsync(Ct);
        units.Single().Checkpoint.ShouldBe("since-0-p2");
    }

    [Fact]
    public async Task Run_TableCommittedButStateNot_RetryReplacesTheUnitsRowsAndNoRowIsTwice()
    {
        // Given a table destination (replace by unit key) whose commit of one unit succeeds but whose answer is lost
        var table = new TableDestination { LoseAnswerFor = "b" };
        var source = new CursorSource(["a", "b", "c"]);

        // When the pipeline runs, and again after the fault is gone
        var first = await RunAsync(source, table);
        first.ChunksFailed.ShouldBe(1);
        table.Rows("b").Count.ShouldBe(2); // the table did commit the unit
        table.LoseAnswerFor = null;
        var second = await RunAsync(source, table);

        // Then the unit's rows were replaced, not appended: every record once, and the state holds the table's receipt
        second.ExitCode.ShouldBe(ExitCodes.Complete);
        table.AllRows.Count.ShouldBe(6);
        table.AllRows.Distinct().Count().ShouldBe(6);
        var chunks = await _state.GetChunksAsync("modes", Ct);
        chunks["b"].Receipts.ShouldContain(r => r.Destination == "table" && r.Rows == 2);
        (await CheckpointAsync())!.Value.ShouldBe("c-end");
    }

    [Fact]
    public async Task Run_GroupCommitDestination_CommitsGroupsAsSnapshotsThatNameTheirUnits()
    {
        // Given seven units and a destination that commits groups of three as one snapshot
        var snapshots = new SnapshotDestination(groupSize: 3);
        var source = new CursorSource(["u1", "u2", "u3", "u4", "u5", "u6", "u7"]);

        var summary = await RunAsync(source, snapshots);

        // Then there are three snapshots (3 + 3 + the rest when fetching ended), every unit in exactly one, all done
        summary.ExitCode.ShouldBe(ExitCodes.Complete);
        snapshots.Snapshots.Select(s => s.Units.Count).ShouldBe([3, 3, 1]);
        snapshots.Snapshots.SelectMany(s => s.Units).Order().ShouldBe(["u1", "u2", "u3", "u4", "u5", "u6", "u7"]);
        snapshots.Snapshots.Sum(s => s.Rows).ShouldBe(14);
        (await _state.GetChunksAsync("modes", Ct)).Values.ShouldAllBe(c => c.Status == ChunkStatus.Done);
        (await CheckpointAsync())!.Value.ShouldBe("u7-end");
    }

    [Fact]
    public async Task Run_GroupCommitFails_NoUnitOfTheGroupIsDoneAndTheRetryLandsEachOnce()
    {
        // Given a group destination whose first commit fails after staging
        var snapshots = new SnapshotDestination(groupSize: 10) { FailNextCommit = true };
        var source = new CursorSource(["u1", "u2", "u3"]);

        var first = await RunAsync(source, snapshots);

        // Then no snapshot, every unit of the group failed, the checkpoint did not move
        first.ChunksFailed.ShouldBe(3);
        snapshots.Snapshots.ShouldBeEmpty();
        (await CheckpointAsync()).ShouldBeNull();

        // When it runs again: one snapshot with the three units, each once
        var second = await RunAsync(source, snapshots);
        second.ExitCode.ShouldBe(ExitCodes.Complete);
        snapshots.Snapshots.Single().Units.Order().ShouldBe(["u1", "u2", "u3"]);
        (await CheckpointAsync())!.Value.ShouldBe("u3-end");
    }

    [Fact]
    public async Task StateRebuild_CursorStreamAfterLostState_RestoresTheCheckpointFromTheLake()
    {
        // Given a cursor stream landed into raw files, then the state store lost
        var source = new CursorSource(["a", "b", "c"]) { Planned = false };
        await RunAsync(source);
        var spec = new PipelineSpec("modes", null, null, true, null, [new TestSourceSpec()], HttpSpec.Default, [], null, [], Path.Combine(_dir, "p.yaml"));
        await using var fresh = SqliteStateStore.Open(Path.Combine(_dir, "fresh.db"), TimeProvider.System);

        // When the state is rebuilt from the lake
        var result = await StateRebuild.RunAsync(spec, [new RawDestination(new LocalBlobStore(Path.Combine(_dir, "lake")))], fresh, TimeProvider.System, Ct);

        // Then every unit is done again and the checkpoint is the largest one a landed unit recorded
        result.Complete.ShouldBe(3);
        var mark = (await fresh.GetWatermarksAsync("modes", Ct)).Single();
        mark.Value.ShouldBe("c-p0");
        mark.RecordCount.ShouldBe(6);
    }

    // ---- test doubles ----

    private sealed record TestSourceSpec() : SourceSpec("test-cursor")
    {
        public override IReadOnlyList<string> Streams => [Stream];
    }

    /// <summary>
    /// A cursor stream of the given units in order, two records per page; <see cref="Planned"/> units carry their upper
    /// bound as the planned checkpoint, others report it on each page. Units in <see cref="Fail"/> throw while fetching.
    /// </summary>
    private sealed class CursorSource(IReadOnlyList<string> keys) : ISource
    {
        public HashSet<string> Fail { get; set; } = [];
        public bool Planned { get; init; } = true;
        public int PagesPerUnit { get; init; } = 1;
        public ConcurrentQueue<string> Fetched { get; } = new();
        public List<(string? Value, string? Memo)> SeenCheckpoints { get; } = [];

        public string Name => "test-cursor";
        public string SourceSystem => "test-cursor";
        public IReadOnlyList<string> Streams => [Stream];

        public Task<SourcePlan> PlanAsync(PlanRequest request, CancellationToken cancellationToken)
        {
            var mark = request.Checkpoints.GetValueOrDefault(Stream);
            SeenCheckpoints.Add((mark?.Value, mark?.Memo));
            var units = keys.Select((k, i) => new WorkUnit(k, Stream, Name, SourceSystem, new CursorBounds(i == 0 ? null : $"{keys[i - 1]}-end", $"{k}-end"), UnitIdentity.Of(("table", "items")))
            {
                Checkpoint = Planned ? $"{k}-end" : null,
                CheckpointMemo = Planned ? $"memo-{k}" : null,
            }).ToList();
            return Task.FromResult(new SourcePlan(units, [new StreamPlan(Stream, Name, mark is null ? LoadType.Full : LoadType.Incremental, mark?.Value)], new Dictionary<string, object>()));
        }

        public async IAsyncEnumerable<FetchedPage> FetchAsync(WorkUnit unit, IUnitContext context, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            Fetched.Enqueue(unit.Key);
            await Task.Yield();
            if (Fail.Contains(unit.Key)) throw new IOException($"page {unit.Key} is unreadable (injected)");
            for (var p = 0; p < PagesPerUnit; p++)
            {
                var records = Enumerable.Range(0, 2).Select(i => new Record(new JsonObject { ["id"] = $"{unit.Key}-{p}-{i}", ["updated_at"] = $"{unit.Key}-p{p}" }, null)).ToList();
                var body = System.Text.Encoding.UTF8.GetBytes(string.Join('\n', records.Select(r => r.Fields.ToJsonString())));
                yield return new FetchedPage($"{unit.Key}-{p}", body, $"test://{unit.Key}/{p}", 200, DateTimeOffset.UtcNow, records)
                {
                    Cursor = $"{unit.Key}-p{p}",
                    CursorMemo = $"memo-{unit.Key}-p{p}",
                    RawExtension = "ndjson",
                };
            }
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>
    /// A table in replace-by-unit-key mode: the unit's rows are staged, then swapped in for the key's earlier rows in one
    /// "transaction" at <see cref="IUnitWriter.CompleteAsync"/>. <see cref="LoseAnswerFor"/>: the commit happens, then the
    /// call throws (the connection dropped after COMMIT) — the engine must not count on the table being untouched.
    /// </summary>
    private sealed class TableDestination : IDestination
    {
        private readonly ConcurrentDictionary<string, List<string>> _rows = new(StringComparer.Ordinal);

        public string? LoseAnswerFor { get; set; }
        public string Name => "table";
        public CommitMode Mode => CommitMode.ReplaceByUnitKey;
        public List<string> Rows(string unit) => _rows.GetValueOrDefault(unit) ?? [];
        public List<string> AllRows => _rows.Values.SelectMany(r => r).ToList();

        public Task PrepareAsync(RunContext run, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task<IUnitWriter> BeginAsync(RunContext run, WorkUnit unit, IFileJournal journal, CancellationToken cancellationToken) =>
            Task.FromResult<IUnitWriter>(new Writer(this, unit));

        public async IAsyncEnumerable<LakeUnit> ListCommittedAsync(string pipeline, IReadOnlyCollection<string> streams, bool details, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            await Task.Yield();
            foreach (var (key, rows) in _rows) yield return new LakeUnit(Name, key, Stream, null, null, null, rows.Count, []);
        }

        public Task DeleteAsync(string path, CancellationToken cancellationToken) => Task.CompletedTask;
        public Task<string?> HashAsync(string path, CancellationToken cancellationToken) => Task.FromResult<string?>(null);
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;

        private sealed class Writer(TableDestination table, WorkUnit unit) : IUnitWriter
        {
            private readonly List<string> _staged = [];

            public Task WriteAsync(FetchedPage page, CancellationToken cancellationToken)
            {
                _staged.AddRange(page.Records.Select(r => r.Fields["id"]!.GetValue<string>()));
                return Task.CompletedTask;
            }

            public Task<Receipt> CompleteAsync(UnitTotals totals, CancellationToken cancellationToken)
            {
                table._rows[unit.Key] = [.. _staged]; // DELETE … WHERE _chunk_key = key; COPY …; COMMIT
                if (table.LoseAnswerFor == unit.Key) throw new IOException("connection reset after COMMIT (injected)");
                return Task.FromResult(new Receipt(table.Name, [], _staged.Count, $"tx-{unit.Key}"));
            }

            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }

    /// <summary>A destination in group-commit mode: staged units become visible together as one snapshot naming them.</summary>
    private sealed class SnapshotDestination(int groupSize) : IGroupCommitDestination
    {
        private readonly ConcurrentDictionary<string, int> _staged = new(StringComparer.Ordinal);

        public bool FailNextCommit { get; set; }
        public List<(IReadOnlyList<string> Units, long Rows)> Snapshots { get; } = [];
        public string Name => "snapshots";
        public CommitMode Mode => CommitMode.GroupCommit;
        public int GroupSize => groupSize;

        public Task PrepareAsync(RunContext run, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task<IUnitWriter> BeginAsync(RunContext run, WorkUnit unit, IFileJournal journal, CancellationToken cancellationToken) =>
            Task.FromResult<IUnitWriter>(new Writer(this, unit));

        public Task<IReadOnlyList<Receipt>> CommitGroupAsync(RunContext run, IReadOnlyList<(WorkUnit Unit, Receipt Staged)> units, CancellationToken cancellationToken)
        {
            if (FailNextCommit)
            {
                FailNextCommit = false;
                throw new IOException("commit conflict, retries exhausted (injected)");
            }
            // A unit a snapshot already holds (repeated after a crash) is not appended twice.
            var held = Snapshots.SelectMany(s => s.Units).ToHashSet(StringComparer.Ordinal);
            var fresh = units.Where(u => !held.Contains(u.Unit.Key)).ToList();
            Snapshots.Add((fresh.Select(u => u.Unit.Key).ToList(), fresh.Sum(u => u.Staged.Rows)));
            var id = $"snap-{Snapshots.Count}";
            return Task.FromResult<IReadOnlyList<Receipt>>(units.Select(u => u.Staged with { Token = id }).ToList());
        }

        public async IAsyncEnumerable<LakeUnit> ListCommittedAsync(string pipeline, IReadOnlyCollection<string> streams, bool details, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            await Task.Yield();
            foreach (var s in Snapshots)
                foreach (var u in s.Units) yield return new LakeUnit(Name, u, Stream, null, null, null, 0, []);
        }

        public Task DeleteAsync(string path, CancellationToken cancellationToken) => Task.CompletedTask;
        public Task<string?> HashAsync(string path, CancellationToken cancellationToken) => Task.FromResult<string?>(null);
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;

        private sealed class Writer(SnapshotDestination owner, WorkUnit unit) : IUnitWriter
        {
            private long _rows;

            public Task WriteAsync(FetchedPage page, CancellationToken cancellationToken)
            {
                _rows += page.Records.Count;
                return Task.CompletedTask;
            }

            public Task<Receipt> CompleteAsync(UnitTotals totals, CancellationToken cancellationToken)
            {
                owner._staged[unit.Key] = (int)_rows;
                return Task.FromResult(new Receipt(owner.Name, [], _rows));
            }

            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }
}
