using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Threading.Channels;
using Ingot.Config;
using Ingot.Destinations;
using Ingot.Http;
using Ingot.Sources;
using Ingot.State;

namespace Ingot.Engine;

public sealed record RunOptions(
    DateTimeOffset? From = null,
    DateTimeOffset? To = null,
    bool Refresh = false,
    bool FullRefresh = false,
    int? Concurrency = null,
    string Args = "");

/// <summary>A lease is held by another live run of this pipeline (exit 3).</summary>
public sealed class LeaseHeldException(string message) : Exception(message);

/// <summary>
/// plan → skip done chunks → bounded workers → fetch → land in every destination → commit → summary.
/// A chunk is done only after every destination returned; files a chunk no longer keeps are deleted after the commit.
/// </summary>
public sealed class Runner(
    PipelineSpec spec,
    ISource source,
    IReadOnlyList<IDestination> destinations,
    IStateStore state,
    IRunObserver observer,
    TimeProvider time,
    Guid? runId = null,
    Records.RecordProcessor? processor = null)
{
    public static readonly TimeSpan LeaseTtl = TimeSpan.FromSeconds(30);

    public Guid RunId { get; } = runId ?? Guid.NewGuid();

    private RunInfo Info => new(RunId, spec.Name);

    private long _fetched, _landed, _bytes, _requests, _retries;
    private long _quarantined;
    private int _done, _failed;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> _chunkRequests = new(StringComparer.Ordinal);

    public void CountAttempt(string chunkKey)
    {
        Interlocked.Increment(ref _requests);
        _chunkRequests.AddOrUpdate(chunkKey, 1, (_, n) => n + 1);
    }

    public void CountRetry() => Interlocked.Increment(ref _retries);

    /// <summary>Resolves the time range: command line, then the pipeline, open end = now (on the hour).</summary>
    public static (DateTimeOffset From, DateTimeOffset To) Range(ISource source, RunOptions options, TimeProvider time)
    {
        var (start, end) = source.ConfiguredRange;
        var from = options.From ?? start;
        var now = time.GetUtcNow();
        var to = options.To ?? end ?? new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, 0, 0, TimeSpan.Zero);
        if (from < start) from = start;
        if (end is not null && to > end) to = end.Value;
        return (from, to);
    }

    /// <param name="stop">Ctrl+C: stop taking chunks, roll back in-flight fetches.</param>
    public async Task<RunSummary> RunAsync(RunOptions options, CancellationToken stop)
    {
        var clock = Stopwatch.StartNew();
        var lease = await state.TryAcquireLeaseAsync(spec.Name, RunId, LeaseTtl, CancellationToken.None).ConfigureAwait(false);
        if (!lease.Acquired)
        {
            var h = lease.Holder!;
            throw new LeaseHeldException($"pipeline {spec.Name} is being run by run {h.RunId} (host {h.Host}, pid {h.Pid}, lease expires {h.ExpiresAt:O})");
        }
        if (lease.TookOver) observer.Message(Info, "warn", $"took over the lease of run {lease.Holder!.RunId}, whose process is gone or whose lease expired");
        using var heartbeatStop = new CancellationTokenSource();
        var heartbeat = HeartbeatAsync(heartbeatStop.Token);
        try
        {
            return await RunLeasedAsync(options, clock, stop).ConfigureAwait(false);
        }
        finally
        {
            await heartbeatStop.CancelAsync().ConfigureAwait(false);
            try { await heartbeat.ConfigureAwait(false); } catch (OperationCanceledException) { }
            await state.ReleaseLeaseAsync(spec.Name, RunId, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private async Task HeartbeatAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            await Task.Delay(LeaseTtl / 3, time, cancellationToken).ConfigureAwait(false);
            if (!await state.RenewLeaseAsync(spec.Name, RunId, LeaseTtl, cancellationToken).ConfigureAwait(false))
                observer.Message(Info, "error", "lost the pipeline lease (another run took it over)");
        }
    }

    private async Task<RunSummary> RunLeasedAsync(RunOptions options, Stopwatch clock, CancellationToken stop)
    {
        var (from, to) = Range(source, options, time);
        var chunks = source.Plan(from, to);
        var known = await state.GetChunksAsync(spec.Name, CancellationToken.None).ConfigureAwait(false);
        var ingestedAt = time.GetUtcNow();
        // Time-windowed sources land each window as an incremental load; --full-refresh reloads everything as full.
        // (Not "full until the first success": a resumed backfill would then mix both in one load.)
        var loadType = options.FullRefresh ? LoadType.Full : LoadType.Incremental;
        var run = new RunContext(RunId, spec.Name, source.SourceSystem, ingestedAt, loadType);
        await state.StartRunAsync(new RunRecord(RunId, spec.Name, ingestedAt, null, "running", null, options.Args, null), CancellationToken.None).ConfigureAwait(false);

        // Recovery: chunks a dead run left running go back to pending; their unfinished files go away.
        await DeleteAllAsync(await state.AbandonPendingAsync(spec.Name, CancellationToken.None).ConfigureAwait(false)).ConfigureAwait(false);
        foreach (var d in destinations) await d.PrepareAsync(run, CancellationToken.None).ConfigureAwait(false);
        known = await state.GetChunksAsync(spec.Name, CancellationToken.None).ConfigureAwait(false);

        var refresh = options.Refresh || options.FullRefresh;
        var todo = chunks.Where(c => refresh || !IsDone(known.GetValueOrDefault(c.Key), c)).ToList();
        var skipped = chunks.Count - todo.Count;
        observer.RunStarted(Info, source.Scope(chunks), chunks.Count, skipped);

        var queue = Channel.CreateBounded<Chunk>(new BoundedChannelOptions(Math.Max(1, todo.Count)) { SingleWriter = true });
        foreach (var c in todo) queue.Writer.TryWrite(c);
        queue.Writer.Complete();

        using var halt = CancellationTokenSource.CreateLinkedTokenSource(stop);
        string? quotaMessage = null;
        var fetchers = Math.Min(Math.Max(1, options.Concurrency ?? spec.Http.Concurrency), Math.Max(1, todo.Count));
        // Fetching and landing are separate stages joined by a bounded channel: workers keep requests in flight
        // while fetched chunks are written and committed (fsyncs, state), and memory stays bounded.
        var fetched = Channel.CreateBounded<(Chunk Chunk, ChunkData Data, long Started)>(new BoundedChannelOptions(fetchers) { SingleReader = false, SingleWriter = false });
        Exception? engineError = null;
        async Task StopOnEngineErrorAsync(Chunk chunk, Exception e)
        {
            // The state store or a destination broke in a way the chunk's own failure path could not record:
            // stop taking chunks, say so, and end with a summary rather than hang or lose track.
            engineError ??= e;
            observer.Message(Info, "error", $"engine error on chunk {chunk.Key}: {Redact.Message(e.Message)}");
            await halt.CancelAsync().ConfigureAwait(false);
        }
        var fetchTasks = Enumerable.Range(0, fetchers).Select(_ => Task.Run(async () =>
        {
            while (!halt.IsCancellationRequested && queue.Reader.TryRead(out var chunk))
            {
                try
                {
                    var started = time.GetTimestamp();
                    if (await FetchChunkAsync(chunk, known.GetValueOrDefault(chunk.Key), halt.Token).ConfigureAwait(false) is { } data)
                        await fetched.Writer.WriteAsync((chunk, data, started), CancellationToken.None).ConfigureAwait(false);
                }
                catch (QuotaExhaustedException q)
                {
                    quotaMessage ??= q.Message;
                    await halt.CancelAsync().ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    await StopOnEngineErrorAsync(chunk, e).ConfigureAwait(false);
                }
            }
        }, CancellationToken.None)).ToList();
        // Landing is not interrupted by Ctrl+C or a quota stop: a chunk whose data is fetched finishes (atomic files, then commit).
        var landers = Enumerable.Range(0, Math.Min(fetchers, 4)).Select(_ => Task.Run(async () =>
        {
            await foreach (var (chunk, data, started) in fetched.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
            {
                try
                {
                    await LandChunkAsync(run, chunk, data, started).ConfigureAwait(false);
                }
                catch (Exception e)
                {
                    await StopOnEngineErrorAsync(chunk, e).ConfigureAwait(false);
                }
            }
        }, CancellationToken.None)).ToList();
        try
        {
            await Task.WhenAll(fetchTasks).ConfigureAwait(false);
        }
        finally
        {
            fetched.Writer.Complete();
            await Task.WhenAll(landers).ConfigureAwait(false);
        }

        await UpdateWatermarksAsync(chunks).ConfigureAwait(false);
        var pending = todo.Count - _done - _failed;
        int exit;
        string status;
        if (stop.IsCancellationRequested) (exit, status) = (ExitCodes.Cancelled, "cancelled");
        else if (quotaMessage is not null) (exit, status) = (ExitCodes.StoppedEarly, "quota_exhausted");
        else if (_failed > 0 || engineError is not null) (exit, status) = (ExitCodes.FailedChunks, engineError is null ? "failed_chunks" : "engine_error");
        else (exit, status) = (ExitCodes.Complete, "complete");
        var summary = new RunSummary(RunId, spec.Name, status, exit, chunks.Count, _done, _failed, skipped, pending,
            _fetched, _landed, _quarantined, _bytes, _requests, _retries, Math.Round(clock.Elapsed.TotalSeconds, 3),
            quotaMessage ?? (engineError is null ? null : Redact.Message(engineError.Message)),
            destinations.Select(d => $"{d.Name}: {d.Where(spec.Name)}").ToList());
        await state.FinishRunAsync(RunId, status, exit, JsonSerializer.Serialize(summary), CancellationToken.None).ConfigureAwait(false);
        observer.RunComplete(Info, summary);
        return summary;
    }

    private static bool IsDone(ChunkState? s, Chunk c) => s is { Status: ChunkStatus.Done } && (s.CoveredTo is null || s.CoveredTo >= c.To);

    /// <summary>Fetches and processes one chunk; null when it failed (recorded) or was rolled back.</summary>
    private async Task<ChunkData?> FetchChunkAsync(Chunk chunk, ChunkState? previous, CancellationToken halt)
    {
        // No state write before the fetch: the attempt is counted when the chunk commits or fails, and files of an
        // attempt that never finished are found through the journal (AbandonPendingAsync at the next start).
        try
        {
            var data = await source.FetchAsync(chunk, previous, new Progress(state, spec.Name, chunk.Key), halt).ConfigureAwait(false);
            return processor is null ? data : processor.Apply(data);
        }
        catch (OperationCanceledException) when (halt.IsCancellationRequested)
        {
            await DeleteAllAsync(await state.AbandonChunkAsync(spec.Name, chunk.Key, CancellationToken.None).ConfigureAwait(false)).ConfigureAwait(false);
            return null;
        }
        catch (QuotaExhaustedException)
        {
            await DeleteAllAsync(await state.AbandonChunkAsync(spec.Name, chunk.Key, CancellationToken.None).ConfigureAwait(false)).ConfigureAwait(false);
            throw;
        }
        catch (HttpFailure f) when (f.Kind == FailureKind.QuotaExhausted)
        {
            await DeleteAllAsync(await state.AbandonChunkAsync(spec.Name, chunk.Key, CancellationToken.None).ConfigureAwait(false)).ConfigureAwait(false);
            throw new QuotaExhaustedException($"the API says the quota is spent ({f.Message}); resume later", null);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            await FailAsync(chunk, e).ConfigureAwait(false);
            return null;
        }
    }

    private async Task LandChunkAsync(RunContext run, Chunk chunk, ChunkData data, long started)
    {
        try
        {
            var journal = new Journal(state, spec.Name, chunk.Key);
            var files = new List<LandedFile>();
            foreach (var d in destinations) files.AddRange(await d.LandAsync(run, data, journal, CancellationToken.None).ConfigureAwait(false));
            var records = data.RecordCount;
            var obsolete = await state.CommitChunkAsync(spec.Name, chunk.Key, chunk.Stream, RunId, records, chunk.To, files, CancellationToken.None).ConfigureAwait(false);
            await DeleteAllAsync(obsolete).ConfigureAwait(false);
            Interlocked.Add(ref _fetched, records + data.Quarantined);
            Interlocked.Add(ref _landed, records);
            Interlocked.Add(ref _quarantined, data.Quarantined);
            var bytes = data.Pages.Sum(p => (long)p.Body.Length);
            Interlocked.Add(ref _bytes, bytes);
            Interlocked.Increment(ref _done);
            observer.ChunkLanded(Info, chunk, new ChunkOutcome(records + data.Quarantined, records, data.Quarantined, bytes,
                _chunkRequests.TryRemove(chunk.Key, out var n) ? n : 0, files.Count, time.GetElapsedTime(started)));
        }
        catch (Exception e)
        {
            await FailAsync(chunk, e).ConfigureAwait(false);
        }
    }

    private async Task FailAsync(Chunk chunk, Exception e)
    {
        var message = Redact.Message(e is HttpFailure or FormatException or InvalidOperationException or IOException or Records.InvalidRecordsException ? e.Message : $"{e.GetType().Name}: {e.Message}");
        var obsolete = await state.FailChunkAsync(spec.Name, chunk.Key, chunk.Stream, RunId, message, CancellationToken.None).ConfigureAwait(false);
        await DeleteAllAsync(obsolete).ConfigureAwait(false);
        Interlocked.Increment(ref _failed);
        var attempts = (await state.GetChunksAsync(spec.Name, CancellationToken.None).ConfigureAwait(false)).GetValueOrDefault(chunk.Key)?.Attempts ?? 1;
        observer.ChunkFailed(Info, chunk, message, attempts);
    }

    private async Task DeleteAllAsync(IReadOnlyList<PendingDeletion> deletions)
    {
        foreach (var d in deletions)
        {
            var dest = destinations.FirstOrDefault(x => x.Name == d.Destination);
            if (dest is null) continue; // a destination removed from the pipeline: keep the row, nothing to delete with
            await dest.DeleteAsync(d.Path, CancellationToken.None).ConfigureAwait(false);
            await state.ForgetDeletionAsync(d, CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>Per stream: the end of the longest run of done chunks from the start (a checkpoints.json shape).</summary>
    private async Task UpdateWatermarksAsync(IReadOnlyList<Chunk> chunks)
    {
        var known = await state.GetChunksAsync(spec.Name, CancellationToken.None).ConfigureAwait(false);
        foreach (var stream in chunks.GroupBy(c => c.Stream))
        {
            DateTimeOffset? mark = null;
            long records = 0;
            foreach (var window in stream.GroupBy(c => c.From).OrderBy(g => g.Key))
            {
                if (!window.All(c => IsDone(known.GetValueOrDefault(c.Key), c))) break;
                mark = window.Max(c => c.To);
                records += window.Sum(c => known[c.Key].Records);
            }
            if (mark is not null)
                await state.SetWatermarkAsync(spec.Name, stream.Key, mark.Value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture), records, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private sealed class Journal(IStateStore state, string pipeline, string chunkKey) : IFileJournal
    {
        public Task WillWriteAsync(string destination, string path, CancellationToken cancellationToken) =>
            state.JournalFileAsync(pipeline, chunkKey, destination, path, cancellationToken);

        public Task WillWriteAsync(string destination, IReadOnlyList<string> paths, CancellationToken cancellationToken) =>
            state.JournalFilesAsync(pipeline, chunkKey, destination, paths, cancellationToken);
    }

    private sealed class Progress(IStateStore state, string pipeline, string chunkKey) : IChunkProgress
    {
        public Task RecordSplitAsync(string split, CancellationToken cancellationToken) => state.RecordSplitAsync(pipeline, chunkKey, split, cancellationToken);
    }
}
