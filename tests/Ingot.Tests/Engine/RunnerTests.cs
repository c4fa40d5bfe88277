using Ingot.Config;
using Ingot.Destinations;
using Ingot.Engine;
using Ingot.Http;
using Ingot.Simulators;
using Ingot.Sources;
using Ingot.Sources.Knmi;
using Ingot.State;
using Ingot.Storage;

namespace Ingot.Tests.Engine;

/// <summary>The runner in-process against the KNMI simulator, with faults injected into a destination and the state store.</summary>
public sealed class RunnerTests : IDisposable
{
    private const string Key = "runner-key";
    private readonly string _dir = Directory.CreateTempSubdirectory("ingot-runner-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static KnmiSourceSpec Source(SimulatorHost sim) => new(sim.BaseUrl.ToString().TrimEnd('/'), Key, "daily-in-situ-meteorological-observations-validated",
        ["0-20000-0-06260", "0-20000-0-06240"], ["TG"], new DateTimeOffset(2000, 1, 2, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2001, 1, 2, 0, 0, 0, TimeSpan.Zero),
        TimeSpan.FromDays(1), 100);

    private async Task<(RunSummary Summary, IReadOnlyDictionary<string, ChunkState> Chunks)> RunAsync(SimulatorHost sim, Func<IDestination, IDestination> wrap, Func<IStateStore, IStateStore>? wrapState = null)
    {
        var time = TimeProvider.System;
        var source = Source(sim);
        var http = HttpSpec.Default with { Concurrency = 3, Retries = 1, BackoffMin = TimeSpan.FromMilliseconds(1), BackoffMax = TimeSpan.FromMilliseconds(2) };
        var spec = new PipelineSpec("runner", null, null, true, null, [source], http, [], null, [], Path.Combine(_dir, "p.yaml"));
        await using var sqlite = SqliteStateStore.Open(Path.Combine(_dir, "state.db"), time);
        var state = wrapState?.Invoke(sqlite) ?? sqlite;
        using var client = new HttpClient();
        await using var knmi = new KnmiSource(source, new ResilientHttp(client, http, time, new NoEvents(), null), time);
        var raw = wrap(new RawDestination(new LocalBlobStore(Path.Combine(_dir, "lake"))));
        var runner = new Runner(spec, [knmi], [raw], state, new Recorder(), time);
        var summary = await runner.RunAsync(new RunOptions(), TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken);
        return (summary, await sqlite.GetChunksAsync("runner", TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task RunAsync_DestinationFailsForOneChunk_OnlyThatChunkFailsAndItsFilesAreGone()
    {
        // Given a raw destination that breaks after writing the pages of one chunk
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key }, TestContext.Current.CancellationToken);
        string? broken = null;

        // When the pipeline runs
        var (summary, chunks) = await RunAsync(sim, inner => new Faulty(inner, chunk => Interlocked.CompareExchange(ref broken, chunk, null) is null));

        // Then that chunk is failed with the destination's message, the others are done, and nothing of it is on disk
        summary.ExitCode.ShouldBe(ExitCodes.FailedChunks);
        summary.ChunksFailed.ShouldBe(1);
        summary.ChunksDone.ShouldBe(summary.ChunksTotal - 1);
        chunks[broken!].Status.ShouldBe(ChunkStatus.Failed);
        chunks[broken!].LastError!.ShouldContain("disk full (injected)");
        Directory.EnumerateFiles(Path.Combine(_dir, "lake"), "*", SearchOption.AllDirectories).ShouldNotContain(f => f.Contains(broken!, StringComparison.Ordinal));
    }

    [Fact]
    public async Task RunAsync_StateStoreBreaksOnCommit_EndsWithAnEngineErrorSummaryInsteadOfHanging()
    {
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key }, TestContext.Current.CancellationToken);

        var (summary, _) = await RunAsync(sim, d => d, s => new BrokenCommits(s));

        summary.ExitCode.ShouldBe(ExitCodes.FailedChunks);
        summary.Status.ShouldBe("engine_error");
        summary.Message!.ShouldContain("database is gone (injected)");
        summary.ChunksDone.ShouldBe(0);
    }

    private sealed class Faulty(IDestination inner, Func<string, bool> breakChunk) : IDestination
    {
        public string Name => inner.Name;
        public CommitMode Mode => inner.Mode;
        public Task PrepareAsync(RunContext run, CancellationToken cancellationToken) => inner.PrepareAsync(run, cancellationToken);
        public async Task<IUnitWriter> BeginAsync(RunContext run, WorkUnit unit, IFileJournal journal, CancellationToken cancellationToken) =>
            new Breaking(await inner.BeginAsync(run, unit, journal, cancellationToken), breakChunk(unit.Key));
        public IAsyncEnumerable<LakeUnit> ListCommittedAsync(string pipeline, IReadOnlyCollection<string> streams, bool details, CancellationToken cancellationToken) =>
            inner.ListCommittedAsync(pipeline, streams, details, cancellationToken);
        public Task DeleteAsync(string path, CancellationToken cancellationToken) => inner.DeleteAsync(path, cancellationToken);
        public Task<string?> HashAsync(string path, CancellationToken cancellationToken) => inner.HashAsync(path, cancellationToken);
        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }

    private sealed class Breaking(IUnitWriter inner, bool broken) : IUnitWriter
    {
        public Task WriteAsync(FetchedPage page, CancellationToken cancellationToken) => inner.WriteAsync(page, cancellationToken);
        public async Task<Receipt> CompleteAsync(UnitTotals totals, CancellationToken cancellationToken)
        {
            var receipt = await inner.CompleteAsync(totals, cancellationToken);
            if (broken) throw new IOException("disk full (injected)");
            return receipt;
        }
        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }

    /// <summary>Every member passes through except chunk commits and failures, which throw.</summary>
    private sealed class BrokenCommits(IStateStore inner) : IStateStore
    {
        public string Describe => inner.Describe;
        public Task<LeaseResult> TryAcquireLeaseAsync(string pipeline, Guid runId, TimeSpan ttl, CancellationToken cancellationToken) => inner.TryAcquireLeaseAsync(pipeline, runId, ttl, cancellationToken);
        public Task<bool> RenewLeaseAsync(string pipeline, Guid runId, TimeSpan ttl, CancellationToken cancellationToken) => inner.RenewLeaseAsync(pipeline, runId, ttl, cancellationToken);
        public Task ReleaseLeaseAsync(string pipeline, Guid runId, CancellationToken cancellationToken) => inner.ReleaseLeaseAsync(pipeline, runId, cancellationToken);
        public Task StartRunAsync(RunRecord run, CancellationToken cancellationToken) => inner.StartRunAsync(run, cancellationToken);
        public Task FinishRunAsync(Guid runId, string status, int exitCode, string summaryJson, CancellationToken cancellationToken) => inner.FinishRunAsync(runId, status, exitCode, summaryJson, cancellationToken);
        public Task<bool> CloseAbandonedRunAsync(Guid runId, string status, string reason, CancellationToken cancellationToken) => inner.CloseAbandonedRunAsync(runId, status, reason, cancellationToken);
        public Task<IReadOnlyList<RunRecord>> ListRunsAsync(string? pipeline, int limit, CancellationToken cancellationToken) => inner.ListRunsAsync(pipeline, limit, cancellationToken);
        public Task<IReadOnlyDictionary<string, ChunkState>> GetChunksAsync(string pipeline, CancellationToken cancellationToken) => inner.GetChunksAsync(pipeline, cancellationToken);
        public Task RecordSplitAsync(string pipeline, string key, string split, CancellationToken cancellationToken) => inner.RecordSplitAsync(pipeline, key, split, cancellationToken);
        public Task JournalFileAsync(string pipeline, string key, string destination, string path, CancellationToken cancellationToken) => inner.JournalFileAsync(pipeline, key, destination, path, cancellationToken);
        public Task JournalFilesAsync(string pipeline, string key, string destination, IReadOnlyList<string> paths, CancellationToken cancellationToken) => inner.JournalFilesAsync(pipeline, key, destination, paths, cancellationToken);
        public Task<IReadOnlySet<string>> KnownKeysAsync(string pipeline, CancellationToken cancellationToken) => inner.KnownKeysAsync(pipeline, cancellationToken);
        public Task StorePlanAsync(string pipeline, IReadOnlyList<WorkUnit> units, CancellationToken cancellationToken) => inner.StorePlanAsync(pipeline, units, cancellationToken);
        public Task AdoptAsync(string pipeline, IReadOnlyList<RunRecord> runs, IReadOnlyList<AdoptedUnit> units, CancellationToken cancellationToken) => inner.AdoptAsync(pipeline, runs, units, cancellationToken);
        public Task<IReadOnlyList<PendingDeletion>> CommitChunkAsync(string pipeline, string key, string stream, Guid runId, long records, DateTimeOffset coveredTo, IReadOnlyList<LandedFile> files, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("database is gone (injected)");
        public Task<IReadOnlyList<PendingDeletion>> CommitUnitsAsync(string pipeline, IReadOnlyList<UnitCommit> commits, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("database is gone (injected)");
        public Task<IReadOnlyList<PendingDeletion>> FailChunkAsync(string pipeline, string key, string stream, Guid runId, string error, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("database is gone (injected)");
        public Task<IReadOnlyList<PendingDeletion>> AbandonChunkAsync(string pipeline, string key, CancellationToken cancellationToken) => inner.AbandonChunkAsync(pipeline, key, cancellationToken);
        public Task<IReadOnlyList<PendingDeletion>> AbandonPendingAsync(string pipeline, CancellationToken cancellationToken) => inner.AbandonPendingAsync(pipeline, cancellationToken);
        public Task ForgetDeletionAsync(PendingDeletion deletion, CancellationToken cancellationToken) => inner.ForgetDeletionAsync(deletion, cancellationToken);
        public Task SetWatermarkAsync(string pipeline, string stream, string value, long recordCount, CancellationToken cancellationToken) => inner.SetWatermarkAsync(pipeline, stream, value, recordCount, cancellationToken);
        public Task<IReadOnlyList<Watermark>> GetWatermarksAsync(string pipeline, CancellationToken cancellationToken) => inner.GetWatermarksAsync(pipeline, cancellationToken);
        public Task<long> GetQuotaUsageAsync(string scope, DateOnly day, CancellationToken cancellationToken) => inner.GetQuotaUsageAsync(scope, day, cancellationToken);
        public Task<bool> TryReserveQuotaAsync(string scope, DateOnly day, long quota, CancellationToken cancellationToken) => inner.TryReserveQuotaAsync(scope, day, quota, cancellationToken);
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    private sealed class NoEvents : IHttpObserver
    {
        public void OnAttempt(string chunkKey, int attempt) { }
        public void OnRetry(string chunkKey, int attempt, int? status, string reason, TimeSpan wait) { }
        public void OnCircuitOpen(TimeSpan pause, string reason) { }
    }

    private sealed class Recorder : IRunObserver
    {
        public void RunStarted(RunInfo run, IReadOnlyDictionary<string, object> scope, int chunksTotal, int chunksSkipped) { }
        public void ChunkLanded(RunInfo run, WorkUnit chunk, ChunkOutcome outcome) { }
        public void ChunkFailed(RunInfo run, WorkUnit chunk, string error, int attempts) { }
        public void Retry(RunInfo run, string chunkKey, int attempt, int? status, string reason, TimeSpan wait) { }
        public void CircuitOpen(RunInfo run, TimeSpan pause, string reason) { }
        public void Message(RunInfo run, string level, string message, IReadOnlyDictionary<string, object?>? fields = null) { }
        public void RunComplete(RunInfo run, RunSummary summary) { }
    }
}
