// Over ~400 lines on purpose: the run's whole concurrency story (fetch workers, per-unit page channels, landers, group
// commit, failure dispositions) is one state machine; split across files it is harder to check that every unit ends in
// exactly one of done, failed or rolled back.
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Threading.Channels;
using Ingot.Config;
using Ingot.Destinations;
using Ingot.Http;
using Ingot.Observability;
using Ingot.Sources;
using Ingot.State;

namespace Ingot.Engine;

public sealed record RunOptions(
    DateTimeOffset? From = null,
    DateTimeOffset? To = null,
    bool Refresh = false,
    bool FullRefresh = false,
    int? Concurrency = null,
    string Args = "",
    IReadOnlySet<string>? Streams = null);

/// <summary>A lease is held by another live run of this pipeline (exit 3).</summary>
public sealed class LeaseHeldException(string message) : Exception(message);

/// <summary>
/// plan (from state) → check against the lake and landed units → store the plan → bounded fetch workers stream each
/// unit's pages → landers process and stage them in every destination → one state commit per unit (or per group) →
/// summary per stream. A unit is done only after every destination returned its receipt; files a unit no longer keeps
/// are deleted after the commit.
/// </summary>
public sealed class Runner(
    PipelineSpec spec,
    IReadOnlyList<ISource> sources,
    IReadOnlyList<IDestination> destinations,
    IStateStore state,
    IRunObserver observer,
    TimeProvider time,
    Guid? runId = null,
    Records.RecordProcessor? processor = null)
{
    public static readonly TimeSpan LeaseTtl = TimeSpan.FromSeconds(30);

    /// <summary>Pages a unit may have read ahead of its landing before its fetch waits.</summary>
    private const int PagesAhead = 4;

    public Guid RunId { get; } = runId ?? Guid.NewGuid();

    private RunInfo Info => new(RunId, spec.Name);

    private long _fetched, _landed, _bytes, _requests, _retries;
    private long _quarantined;
    private int _done, _failed;

    private readonly ConcurrentDictionary<string, int> _unitRequests = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, StreamTally> _tally = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ISource> _sourceByName = sources.ToDictionary(s => s.Name, StringComparer.Ordinal);

    public void CountAttempt(string chunkKey)
    {
        Interlocked.Increment(ref _requests);
        IngotTelemetry.Requests.Add(1, new KeyValuePair<string, object?>(IngotTelemetry.PipelineTag, spec.Name));
        _unitRequests.AddOrUpdate(chunkKey, 1, (_, n) => n + 1);
    }

    public void CountRetry()
    {
        Interlocked.Increment(ref _retries);
        IngotTelemetry.Retries.Add(1, new KeyValuePair<string, object?>(IngotTelemetry.PipelineTag, spec.Name));
    }

    /// <summary>Plans without running: what <c>ingot plan</c> shows (no lease, no state written).</summary>
    public async Task<RunPlan> PlanAsync(RunOptions options, CancellationToken cancellationToken)
    {
        var request = await RequestAsync(options, cancellationToken).ConfigureAwait(false);
        return await Planner.PlanAsync(sources, request, cancellationToken).ConfigureAwait(false);
    }

    private async Task<PlanRequest> RequestAsync(RunOptions options, CancellationToken cancellationToken)
    {
        if (options.Streams is { } wanted)
        {
            var unknown = wanted.Where(s => !spec.Streams.Contains(s, StringComparer.Ordinal)).ToList();
            if (unknown.Count > 0) throw new ConfigException($"--streams: {string.Join(", ", unknown)} is not a stream of pipeline {spec.Name} (streams: {string.Join(", ", spec.Streams)})");
        }
        var marks = await state.GetWatermarksAsync(spec.Name, cancellationToken).ConfigureAwait(false);
        var known = await state.GetChunksAsync(spec.Name, cancellationToken).ConfigureAwait(false);
        return new PlanRequest(options.From, options.To, time.GetUtcNow(), options.FullRefresh, options.Streams,
            marks.ToDictionary(m => m.Stream, StringComparer.Ordinal), known) { Refresh = options.Refresh };
    }

    /// <param name="stop">Ctrl+C: stop taking units, roll back in-flight fetches.</param>
    public async Task<RunSummary> RunAsync(RunOptions options, CancellationToken stop)
    {
        var clock = Stopwatch.StartNew();
        var lease = await state.TryAcquireLeaseAsync(spec.Name, RunId, LeaseTtl, CancellationToken.None).ConfigureAwait(false);
        if (!lease.Acquired)
        {
            var h = lease.Holder!;
            throw new LeaseHeldException($"pipeline {spec.Name} is being run by run {h.RunId} (host {h.Host}, pid {h.Pid}, lease expires {h.ExpiresAt:O})");
        }
        if (lease.TookOver)
        {
            var dead = lease.Holder!.RunId;
            observer.Message(Info, "warn", $"took over the lease of run {dead}, whose process is gone or whose lease expired");
            // Its process cannot close its own record any more: say what became of it instead of 'running' forever.
            await state.CloseAbandonedRunAsync(dead, "crashed",
                $"its process ended without finishing the run (killed, or the machine stopped); run {RunId} took over the lease", CancellationToken.None).ConfigureAwait(false);
        }
        using var heartbeatStop = new CancellationTokenSource();
        var heartbeat = HeartbeatAsync(heartbeatStop.Token);
        using var activity = IngotTelemetry.Source.StartActivity("ingot.run", ActivityKind.Internal);
        activity?.SetTag(IngotTelemetry.PipelineTag, spec.Name);
        activity?.SetTag(IngotTelemetry.RunTag, RunId.ToString());
        try
        {
            var summary = await RunLeasedAsync(options, clock, stop).ConfigureAwait(false);
            activity?.SetTag("ingot.run.status", summary.Status);
            if (summary.ExitCode != ExitCodes.Complete) activity?.SetStatus(ActivityStatusCode.Error, summary.Status);
            return summary;
        }
        catch (Exception e) when (_runRecorded && !_runClosed)
        {
            await CloseFailedRunAsync(e, clock).ConfigureAwait(false);
            throw;
        }
        finally
        {
            await heartbeatStop.CancelAsync().ConfigureAwait(false);
            try { await heartbeat.ConfigureAwait(false); } catch (Exception) { /* a heartbeat that failed already said so; the lease is released below */ }
            try
            {
                await state.ReleaseLeaseAsync(spec.Name, RunId, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception) when (_runFailure is not null)
            {
                // The state store is what broke: the run's own failure is the one to report; the lease expires by itself.
            }
        }
    }

    private bool _runRecorded, _runClosed;
    private Exception? _runFailure;

    /// <summary>
    /// An exception escaped the run after its record was written: the record is closed as <c>failed</c> (the run refused
    /// to start: preflight, configuration) or <c>crashed</c> (anything else), with the reason, and the summary still goes out.
    /// </summary>
    private async Task CloseFailedRunAsync(Exception e, Stopwatch clock)
    {
        _runFailure = e;
        var failure = Failures.Describe(e);
        var status = e is ConfigException or DestinationUnwritableException ? "failed" : "crashed";
        var summary = Summarize(status, failure.ExitCode, failure.Message, clock, 0, 0);
        try
        {
            await state.FinishRunAsync(RunId, status, failure.ExitCode, JsonSerializer.Serialize(summary), CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The state store itself failed (full disk, damaged file): the user still gets the message and the exit code.
        }
        _runClosed = true;
        observer.RunComplete(Info, summary);
    }

    private RunSummary Summarize(string status, int exit, string? message, Stopwatch clock, int total, int skipped) =>
        new(RunId, spec.Name, status, exit, total, _done, _failed, skipped, Math.Max(0, total - skipped - _done - _failed),
            _fetched, _landed, _quarantined, _bytes, _requests, _retries, Math.Round(clock.Elapsed.TotalSeconds, 3), message,
            destinations.Select(d => $"{d.Name}: {d.Where(spec.Name)}").ToList())
        {
            Streams = _tally.Values.OrderBy(t => t.Order).Select(t => t.Summary()).ToList(),
        };

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
        var none = CancellationToken.None;
        // While the sources plan (connections, catalog and key queries), the destinations compile their landing paths.
        foreach (var d in destinations) d.WarmUp();
        var request = await RequestAsync(options, none).ConfigureAwait(false);
        var plan = await Planner.PlanAsync(sources, request, stop).ConfigureAwait(false);
        // Before any state is written: the lake must not hold units this store does not know, and the plan must not
        // re-land records under another configuration or other keys.
        await Planner.CheckLakeAsync(spec.Name, spec.FilePath, destinations, spec.Streams.ToList(), await state.KnownKeysAsync(spec.Name, none).ConfigureAwait(false), state.Describe, none).ConfigureAwait(false);
        var refresh = options.Refresh || options.FullRefresh;
        var units = Planner.Reconcile(spec.Name, plan.Units, request.Known, options.Refresh, options.FullRefresh);

        var ingestedAt = time.GetUtcNow();
        var run = new RunContext(RunId, spec.Name, ingestedAt);
        await state.StartRunAsync(new RunRecord(RunId, spec.Name, ingestedAt, null, "running", null, Http.Redact.Message(options.Args), null), none).ConfigureAwait(false);
        _runRecorded = true;
        // Before any request: every destination proves it can write, every field a setting names exists where the source knows its fields.
        await PreflightAsync(options, none).ConfigureAwait(false);

        // Recovery: files journaled by attempts that never committed go away; then the plan is stored before fetching.
        await DeleteAllAsync(await state.AbandonPendingAsync(spec.Name, none).ConfigureAwait(false)).ConfigureAwait(false);
        foreach (var d in destinations) await d.PrepareAsync(run, none).ConfigureAwait(false);
        // Only what the store does not hold as planned yet: a re-run of a done plan writes nothing here.
        await state.StorePlanAsync(spec.Name, units.Where(u => NeedsStoring(request.Known.GetValueOrDefault(u.Key), u)).ToList(), none).ConfigureAwait(false);
        // Storing the plan changes no unit's status, split or attempts: what planning read is still what the store holds.
        var known = request.Known;
        _known = known;

        var todo = units.Where(u => refresh || !IsDone(known.GetValueOrDefault(u.Key), u)).ToList();
        var fresh = todo.Select(u => u.Key).ToHashSet(StringComparer.Ordinal);
        _cursors = new CursorCheckpoints(units, u => !fresh.Contains(u.Key));
        var skipped = units.Count - todo.Count;
        foreach (var s in plan.Streams) _tally[s.Stream] = new StreamTally(s);
        foreach (var u in units) Tally(u).Units++;
        foreach (var u in units.Except(todo)) Tally(u).Skipped++;
        observer.RunStarted(Info, plan.Scope, units.Count, skipped);

        var queue = Channel.CreateBounded<WorkUnit>(new BoundedChannelOptions(Math.Max(1, todo.Count)) { SingleWriter = true });
        foreach (var u in todo) queue.Writer.TryWrite(u);
        queue.Writer.Complete();

        using var halt = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var fetchers = Math.Min(Math.Max(1, options.Concurrency ?? spec.Http.Concurrency), Math.Max(1, todo.Count));
        var groups = destinations.OfType<IGroupCommitDestination>().ToList();
        var group = groups.Count == 0 ? null : new GroupCommit(this, run, groups);
        // Fetching and landing are separate stages: a fetch worker streams a unit's pages into the unit's own small
        // channel and moves on; landers process, stage and commit. A unit reaches the landers once fetched, or as soon
        // as it has more pages than fit ahead — so requests stay in flight and memory stays bounded by pages.
        var landing = Channel.CreateBounded<UnitFlow>(new BoundedChannelOptions(fetchers));
        var fetchTasks = Enumerable.Range(0, fetchers).Select(_ => Task.Run(async () =>
        {
            while (!halt.IsCancellationRequested && !_quotaStop && queue.Reader.TryRead(out var unit))
            {
                // A stream stopped by identical permanent failures spends no further request; its units stay pending.
                if (_stoppedStreams.ContainsKey(unit.Stream)) continue;
                await FetchUnitAsync(unit, known.GetValueOrDefault(unit.Key), landing.Writer, halt).ConfigureAwait(false);
            }
        }, none)).ToList();
        // Landing is not interrupted by Ctrl+C or a quota stop: a unit whose data is fetched finishes (atomic files, then commit).
        var landers = Enumerable.Range(0, Math.Min(fetchers, 4)).Select(_ => Task.Run(async () =>
        {
            await foreach (var flow in landing.Reader.ReadAllAsync(none).ConfigureAwait(false))
            {
                await LandUnitAsync(run, flow, group, halt).ConfigureAwait(false);
            }
        }, none)).ToList();
        try
        {
            await Task.WhenAll(fetchTasks).ConfigureAwait(false);
        }
        finally
        {
            landing.Writer.Complete();
            await Task.WhenAll(landers).ConfigureAwait(false);
            if (group is not null) await group.FlushAsync().ConfigureAwait(false);
        }

        await UpdateCheckpointsAsync(units, run).ConfigureAwait(false);
        string? exportError = null;
        if (ExportState is not null)
        {
            try
            {
                await ExportState(none).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Whatever the store threw (disk, permissions, S3): the one failure mapping words it; the data is safe.
                exportError = $"state_export failed, the data and the state store are committed: {Failures.Describe(e).Message}";
                observer.Message(Info, "error", exportError);
            }
        }
        int exit;
        string status;
        if (stop.IsCancellationRequested) (exit, status) = (ExitCodes.Cancelled, "cancelled");
        else if (_quotaMessage is not null) (exit, status) = (ExitCodes.StoppedEarly, "quota_exhausted");
        else if (_halt is { } h) (exit, status) = (h.Exit, "failed");
        else if (_failed > 0 || _engineError is not null || !_stoppedStreams.IsEmpty) (exit, status) = (ExitCodes.FailedChunks, _engineError is null ? "failed_chunks" : "engine_error");
        else if (exportError is not null) (exit, status) = (ExitCodes.FailedChunks, "state_export_failed");
        else (exit, status) = (ExitCodes.Complete, "complete");
        var message = _quotaMessage ?? _halt?.Message ?? (_engineError is null ? null : Redact.Message(Failures.Describe(_engineError).Message))
            ?? (_stoppedStreams.IsEmpty ? null : string.Join("; ", _stoppedStreams.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"stream {kv.Key} {kv.Value}")))
            ?? exportError;
        var summary = Summarize(status, exit, message, clock, units.Count, skipped);
        await state.FinishRunAsync(RunId, status, exit, JsonSerializer.Serialize(summary), none).ConfigureAwait(false);
        _runClosed = true;
        observer.RunComplete(Info, summary);
        return summary;
    }

    private TagList Tags(WorkUnit unit, string outcome) => new()
    {
        { IngotTelemetry.PipelineTag, spec.Name },
        { IngotTelemetry.StreamTag, unit.Stream },
        { IngotTelemetry.OutcomeTag, outcome },
    };

    /// <summary>Called once the run's last state commit is done, before the summary: <c>state_export</c>.</summary>
    public Func<CancellationToken, Task>? ExportState { get; init; }

    /// <summary>Identical permanent failures in a row that stop their stream (or, on the destination side, the run).</summary>
    internal const int FailFastAfter = 3;

    private readonly ConcurrentDictionary<string, string> _stoppedStreams = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (string Signature, int Count)> _alike = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, IReadOnlyList<FieldRef>> _uncheckedFields = new(StringComparer.Ordinal);
    private (string Message, int Exit)? _halt;
    private readonly Lock _haltLock = new();

    /// <summary>The run-wide scope of fail-fast: failures of the destinations (or the state store) every stream shares.</summary>
    private const string RunScope = "";

    private void Halt(string message, int exit)
    {
        lock (_haltLock) _halt ??= (message, exit);
    }

    /// <summary>
    /// Before any request: each destination writes and removes a probe under its <c>_tmp</c> area, and every field a setting
    /// names (partition columns, an event time) is checked against the fields its stream can produce where the source
    /// knows them; streams whose fields only the data shows are checked on their first page, before it lands.
    /// </summary>
    private async Task PreflightAsync(RunOptions options, CancellationToken cancellationToken)
    {
        foreach (var d in destinations)
        {
            try
            {
                await d.ProbeAsync(spec.Name, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                throw new DestinationUnwritableException($"destination {d.Name} cannot write to {d.Where(spec.Name)}: {Failures.Describe(e).Message}", e);
            }
        }
        var problems = new List<string>();
        foreach (var source in sources)
        {
            var sourceSpec = spec.Sources.FirstOrDefault(s => s.Name == source.Name);
            foreach (var stream in source.Streams)
            {
                if (options.Streams is { } wanted && !wanted.Contains(stream)) continue;
                var refs = FieldCheck.RefsFor(spec, sourceSpec, stream);
                if (refs.Count == 0) continue;
                var fields = await source.FieldsAsync(stream, cancellationToken).ConfigureAwait(false);
                if (fields is null) _uncheckedFields[stream] = refs;
                else problems.AddRange(FieldCheck.Missing(FieldCheck.Produced(spec, fields), refs, stream, "its fields"));
            }
        }
        if (problems.Count > 0) throw new ConfigException(string.Join('\n', problems));
    }

    /// <summary><c>ingot validate</c>: the same preflight a run makes, without a lease, a run record or a request.</summary>
    public Task PreflightAsync(CancellationToken cancellationToken) => PreflightAsync(new RunOptions(), cancellationToken);

    /// <summary>A stream whose fields the source could not name: its first page with records is checked before anything lands.</summary>
    private void CheckFirstPage(WorkUnit unit, FetchedPage page)
    {
        if (page.Records.Count == 0 || !_uncheckedFields.TryGetValue(unit.Stream, out var refs)) return;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var r in page.Records.Take(1000))
        {
            foreach (var (k, _) in r.Fields) seen.Add(k);
        }
        var problems = FieldCheck.Missing(FieldCheck.Produced(spec, seen), refs, unit.Stream, $"the fields of its first records (unit {unit.Key})");
        if (problems.Count > 0) throw new ConfigException(string.Join('\n', problems));
        _uncheckedFields.TryRemove(unit.Stream, out _);
    }

    /// <summary>
    /// Fail fast on what retries cannot fix: a permanent failure (refused credentials, a full disk, no permission) that
    /// repeats identically stops its stream — or, on the destination side, the run — instead of costing a request per unit.
    /// </summary>
    private void CountAlike(WorkUnit unit, Exception e, bool destinationSide, CancellationTokenSource halt)
    {
        var failure = Failures.Describe(e);
        if (!failure.Permanent) return;
        var scope = destinationSide || failure.Cause is FailureCause.DiskFull ? RunScope : unit.Stream;
        var signature = Failures.Signature(failure, e);
        var (_, count) = _alike.AddOrUpdate(scope, (signature, 1), (_, old) => old.Signature == signature ? (signature, old.Count + 1) : (signature, 1));
        if (count < FailFastAfter) return;
        var reason = $"stopped after {count} units failed alike (retries cannot fix this): {failure.Message}";
        if (scope == RunScope)
        {
            Halt(reason, ExitCodes.FailedChunks);
            observer.Message(Info, "error", $"run {reason}");
            halt.Cancel();
        }
        else if (_stoppedStreams.TryAdd(unit.Stream, reason))
        {
            Tally(unit).Stop(reason);
            observer.Message(Info, "error", $"stream {unit.Stream} {reason}; its other units stay pending for the next run");
        }
    }

    private string? _quotaMessage;
    private volatile bool _quotaStop;
    private Exception? _engineError;
    private CursorCheckpoints _cursors = new([], _ => false);
    private IReadOnlyDictionary<string, ChunkState> _known = new Dictionary<string, ChunkState>();
    private readonly ConcurrentDictionary<string, ChunkState> _committed = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _failedKeys = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _commitGate = new(1, 1);

    private StreamTally Tally(WorkUnit unit) =>
        _tally.GetOrAdd(unit.Stream, s => new StreamTally(new StreamPlan(s, unit.SourceName, unit.LoadType, null)));

    /// <summary>A planned unit the store does not have yet, or has with another stream, identity or (while pending) bounds.</summary>
    private static bool NeedsStoring(ChunkState? s, WorkUnit u) =>
        s is null || s.Stream != u.Stream || s.Bounds is null
        || (s.Status != ChunkStatus.Done && (s.Identity != u.Identity.Text));

    /// <summary>Done, and (for a window cut short by an earlier range) covering the whole window asked now.</summary>
    private static bool IsDone(ChunkState? s, WorkUnit u) =>
        s is { Status: ChunkStatus.Done } && (u.Window is not { } w || s.CoveredTo is null || s.CoveredTo >= w.To);

    /// <summary>A unit on its way from fetch to landing: its pages, and a token the lander cancels when landing failed.</summary>
    private sealed class UnitFlow(WorkUnit unit, long started, CancellationTokenSource fetch)
    {
        public WorkUnit Unit { get; } = unit;
        public long Started { get; } = started;
        public Channel<FetchedPage> Pages { get; } = Channel.CreateBounded<FetchedPage>(new BoundedChannelOptions(PagesAhead) { SingleReader = true, SingleWriter = true });
        public CancellationTokenSource Fetch { get; } = fetch;

        public Activity? Activity { get; set; }

        /// <summary>Set when the fetch worker is done with the unit; the lander then disposes <see cref="Fetch"/>.</summary>
        public TaskCompletionSource Fetched { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private async Task FetchUnitAsync(WorkUnit unit, ChunkState? previous, ChannelWriter<UnitFlow> landing, CancellationTokenSource halt)
    {
        var fetch = CancellationTokenSource.CreateLinkedTokenSource(halt.Token);
        var flow = new UnitFlow(unit, time.GetTimestamp(), fetch);
        // The unit's span covers fetch to commit: started here (so its requests are its children), stopped by the lander.
        flow.Activity = IngotTelemetry.Source.StartActivity("ingot.unit", ActivityKind.Internal);
        flow.Activity?.SetTag(IngotTelemetry.PipelineTag, spec.Name);
        flow.Activity?.SetTag(IngotTelemetry.StreamTag, unit.Stream);
        flow.Activity?.SetTag(IngotTelemetry.UnitTag, unit.Key);
        var posted = false;
        try
        {
            var source = _sourceByName[unit.SourceName];
            // No state write before the fetch: files of an attempt that never finished are found through the journal.
            await foreach (var page in source.FetchAsync(unit, new UnitContext(state, spec.Name, unit.Key, previous), fetch.Token).ConfigureAwait(false))
            {
                if (flow.Pages.Writer.TryWrite(page)) continue;
                if (!posted)
                {
                    await landing.WriteAsync(flow, CancellationToken.None).ConfigureAwait(false);
                    posted = true;
                }
                await flow.Pages.Writer.WriteAsync(page, fetch.Token).ConfigureAwait(false);
            }
            flow.Pages.Writer.TryComplete();
        }
        catch (Exception e)
        {
            if (e is QuotaExhaustedException q)
            {
                // Our own daily quota is spent: take no further unit, but let the requests already reserved against it
                // finish and land — they are paid for, and cancelling them would spend quota for nothing.
                _quotaMessage ??= q.Message;
                _quotaStop = true;
            }
            else if (e is HttpFailure { Kind: FailureKind.QuotaExhausted } f)
            {
                _quotaMessage ??= $"the API says the quota is spent ({f.Message}); resume later";
                await halt.CancelAsync().ConfigureAwait(false);
            }
            flow.Pages.Writer.TryComplete(e);
        }
        flow.Fetched.TrySetResult();
        if (!posted) await landing.WriteAsync(flow, CancellationToken.None).ConfigureAwait(false);
    }

    private async Task LandUnitAsync(RunContext run, UnitFlow flow, GroupCommit? group, CancellationTokenSource halt)
    {
        var unit = flow.Unit;
        var writers = new List<(IDestination Destination, IUnitWriter Writer)>(destinations.Count);
        // Which side failed decides the scope of fail-fast: a source's refusal stops its stream, a destination's the run.
        var destinationSide = true;
        try
        {
            var journal = new Journal(state, spec.Name, unit.Key);
            foreach (var d in destinations) writers.Add((d, await d.BeginAsync(run, unit, journal, CancellationToken.None).ConfigureAwait(false)));
            long records = 0, quarantined = 0, bytes = 0;
            var pages = 0;
            string? cursor = null, memo = null;
            destinationSide = false;
            await foreach (var fetched in flow.Pages.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
            {
                if (fetched.Cursor is not null) (cursor, memo) = (fetched.Cursor, fetched.CursorMemo);
                var page = processor is null ? fetched : processor.Apply(unit.Key, fetched);
                CheckFirstPage(unit, page);
                destinationSide = true;
                foreach (var (_, w) in writers) await w.WriteAsync(page, CancellationToken.None).ConfigureAwait(false);
                destinationSide = false;
                records += page.Records.Count;
                quarantined += page.Quarantine.Count;
                bytes += page.BodyLength;
                pages++;
            }
            destinationSide = true;
            var totals = new UnitTotals(records, quarantined, pages, bytes) { Checkpoint = unit.Checkpoint ?? cursor };
            var receipts = new List<Receipt>(writers.Count);
            var staged = new List<(IGroupCommitDestination, Receipt)>();
            foreach (var (d, w) in writers)
            {
                var receipt = await w.CompleteAsync(totals, CancellationToken.None).ConfigureAwait(false);
                if (d is IGroupCommitDestination g) staged.Add((g, receipt));
                else receipts.Add(receipt);
            }
            var landed = new LandedUnit(unit, totals, receipts, staged, flow.Started) { CheckpointMemo = unit.CheckpointMemo ?? memo };
            if (staged.Count > 0 && group is not null) await group.AddAsync(landed).ConfigureAwait(false);
            else await CommitAsync([landed]).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            flow.Activity?.SetStatus(ActivityStatusCode.Error, Redact.Message(e.Message));
            await flow.Fetch.CancelAsync().ConfigureAwait(false);
            await FailOrRollBackAsync(unit, e, halt, destinationSide).ConfigureAwait(false);
            IngotTelemetry.UnitDuration.Record(time.GetElapsedTime(flow.Started).TotalSeconds, Tags(unit, "failed"));
        }
        finally
        {
            foreach (var (_, w) in writers) await w.DisposeAsync().ConfigureAwait(false);
            // Drain what a cancelled fetch still wrote, so its worker never waits on a full channel.
            while (!flow.Fetched.Task.IsCompleted)
            {
                while (flow.Pages.Reader.TryRead(out _)) { }
                await Task.WhenAny(flow.Fetched.Task, Task.Delay(50, CancellationToken.None)).ConfigureAwait(false);
            }
            while (flow.Pages.Reader.TryRead(out _)) { }
            flow.Fetch.Dispose();
            flow.Activity?.Dispose();
        }
    }

    /// <summary>A unit staged everywhere, waiting for its state commit (at once, or with its group).</summary>
    private sealed record LandedUnit(WorkUnit Unit, UnitTotals Totals, List<Receipt> Receipts, List<(IGroupCommitDestination Destination, Receipt Staged)> Staged, long Started)
    {
        public string? CheckpointMemo { get; init; }

        public CursorLanding Cursor => new(Unit.Key, Unit.Stream, Totals.Checkpoint, CheckpointMemo, Totals.Records);
    }

    /// <summary>
    /// One state transaction for the units: done with their receipts, superseded units retired, cursor checkpoints moved
    /// as far as the committed prefix now reaches; then obsolete files go.
    /// </summary>
    private async Task CommitAsync(IReadOnlyList<LandedUnit> units)
    {
        IReadOnlyList<PendingDeletion> obsolete;
        await _commitGate.WaitAsync().ConfigureAwait(false);
        try
        {
            var landings = units.Where(l => _cursors.Tracks(l.Unit.Stream)).Select(l => l.Cursor).ToList();
            var moves = landings.Count == 0 ? new Dictionary<string, CheckpointMove>() : _cursors.Moves(landings);
            var commits = units.Select(l => new UnitCommit(l.Unit.Key, l.Unit.Stream, RunId, l.Totals.Records, l.Unit.Window?.To, l.Unit.Identity.Text, l.Unit.Bounds.ToJson(), l.Receipts)
            {
                Retire = l.Unit.Replaces,
                Checkpoint = moves.GetValueOrDefault(l.Unit.Key),
            }).ToList();
            obsolete = await state.CommitUnitsAsync(spec.Name, commits, CancellationToken.None).ConfigureAwait(false);
            foreach (var l in units)
            {
                _committed[l.Unit.Key] = new ChunkState(spec.Name, l.Unit.Key, l.Unit.Stream, ChunkStatus.Done, 1, null, null, l.Totals.Records, RunId,
                    time.GetUtcNow(), [], l.Unit.Window?.To);
                _failedKeys.TryRemove(l.Unit.Key, out _);
            }
            _cursors.Committed(landings, moves);
        }
        finally
        {
            _commitGate.Release();
        }
        await DeleteAllAsync(obsolete).ConfigureAwait(false);
        foreach (var l in units)
        {
            var t = l.Totals;
            Interlocked.Add(ref _fetched, t.Records + t.Quarantined);
            Interlocked.Add(ref _landed, t.Records);
            Interlocked.Add(ref _quarantined, t.Quarantined);
            Interlocked.Add(ref _bytes, t.Bytes);
            Interlocked.Increment(ref _done);
            Tally(l.Unit).Landed(t);
            IngotTelemetry.Records.Add(t.Records, Tags(l.Unit, "landed"));
            if (t.Quarantined > 0) IngotTelemetry.Records.Add(t.Quarantined, Tags(l.Unit, "quarantined"));
            IngotTelemetry.UnitDuration.Record(time.GetElapsedTime(l.Started).TotalSeconds, Tags(l.Unit, "done"));
            _alike.TryRemove(l.Unit.Stream, out _);
            _alike.TryRemove(RunScope, out _);
            observer.ChunkLanded(Info, l.Unit, new ChunkOutcome(t.Records + t.Quarantined, t.Records, t.Quarantined, t.Bytes,
                _unitRequests.TryRemove(l.Unit.Key, out var n) ? n : 0, l.Receipts.Sum(r => r.Files.Count), time.GetElapsedTime(l.Started)));
        }
    }

    /// <summary>Every unit ends in exactly one place: rolled back (Ctrl+C, quota stop), failed (recorded, retried next run), or an engine error.</summary>
    private async Task FailOrRollBackAsync(WorkUnit unit, Exception e, CancellationTokenSource halt, bool destinationSide = true)
    {
        try
        {
            if (e is OperationCanceledException && halt.IsCancellationRequested || e is QuotaExhaustedException || e is HttpFailure { Kind: FailureKind.QuotaExhausted }
                || e is ConfigException)
            {
                // A field the configuration names is missing from the data: no unit of the stream can land as configured.
                if (e is ConfigException)
                {
                    Halt(Failures.Describe(e).Message, ExitCodes.Usage);
                    await halt.CancelAsync().ConfigureAwait(false);
                }
                await DeleteAllAsync(await state.AbandonChunkAsync(spec.Name, unit.Key, CancellationToken.None).ConfigureAwait(false)).ConfigureAwait(false);
                return;
            }
            var message = Redact.Message(e is HttpFailure or FormatException or InvalidOperationException or IOException or InvalidDataException or Records.InvalidRecordsException or Sources.Files.FileParseException
                ? e.Message : $"{e.GetType().Name}: {e.Message}");
            var obsolete = await state.FailChunkAsync(spec.Name, unit.Key, unit.Stream, RunId, message, CancellationToken.None).ConfigureAwait(false);
            _failedKeys[unit.Key] = true;
            _committed.TryRemove(unit.Key, out _);
            await DeleteAllAsync(obsolete).ConfigureAwait(false);
            Interlocked.Increment(ref _failed);
            Tally(unit).Fail(message);
            var attempts = (await state.GetChunksAsync(spec.Name, CancellationToken.None).ConfigureAwait(false)).GetValueOrDefault(unit.Key)?.Attempts ?? 1;
            observer.ChunkFailed(Info, unit, message, attempts);
            CountAlike(unit, e, destinationSide, halt);
        }
        catch (Exception engine)
        {
            // The state store or a destination broke in a way the unit's own failure path could not record: stop taking
            // units, say so, and end with a summary rather than hang or lose track.
            _engineError ??= engine;
            observer.Message(Info, "error", $"engine error on chunk {unit.Key}: {Redact.Message(engine.Message)}");
            await halt.CancelAsync().ConfigureAwait(false);
        }
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

    /// <summary>
    /// Time-windowed streams: the end of the longest run of done windows from the start (every station group of a window
    /// done). Other streams: the last sync is this run's ingestion time, when it landed any of the stream's units.
    /// </summary>
    private async Task UpdateCheckpointsAsync(IReadOnlyList<WorkUnit> units, RunContext run)
    {
        // What planning read, with this run's commits and failures on top: the same as re-reading the store, without
        // loading every unit and its files again (a re-run of a done 10,000-unit plan reads the store once).
        var known = new Dictionary<string, ChunkState>(_known, StringComparer.Ordinal);
        foreach (var (key, c) in _committed) known[key] = c;
        foreach (var key in _failedKeys.Keys) known.Remove(key);
        foreach (var stream in units.GroupBy(u => u.Stream))
        {
            if (_cursors.Tracks(stream.Key)) continue; // moved with the commits that extended the done prefix
            if (stream.All(u => u.Window is not null))
            {
                DateTimeOffset? mark = null;
                long records = 0;
                foreach (var window in stream.GroupBy(u => u.Window!.From).OrderBy(g => g.Key))
                {
                    if (!window.All(u => IsDone(known.GetValueOrDefault(u.Key), u))) break;
                    mark = window.Max(u => u.Window!.To);
                    records += window.Sum(u => known[u.Key].Records);
                }
                if (mark is not null)
                    await state.SetWatermarkAsync(spec.Name, stream.Key, Stamp(mark.Value), records, CancellationToken.None).ConfigureAwait(false);
            }
            else if (_tally.TryGetValue(stream.Key, out var t) && t.Done > 0)
            {
                await state.SetWatermarkAsync(spec.Name, stream.Key, Stamp(run.IngestedAt), t.RecordsLanded, CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    private static string Stamp(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>Group commit: staged units gather until a destination's group size, then commit together in each group destination and in the state.</summary>
    private sealed class GroupCommit(Runner runner, RunContext run, IReadOnlyList<IGroupCommitDestination> destinations)
    {
        private readonly SemaphoreSlim _gate = new(1, 1);
        private readonly List<LandedUnit> _staged = [];
        private readonly int _size = Math.Max(1, destinations.Min(d => d.GroupSize));

        public async Task AddAsync(LandedUnit unit)
        {
            await _gate.WaitAsync().ConfigureAwait(false);
            try
            {
                _staged.Add(unit);
                if (_staged.Count >= _size) await FlushLockedAsync().ConfigureAwait(false);
            }
            finally
            {
                _gate.Release();
            }
        }

        public async Task FlushAsync()
        {
            await _gate.WaitAsync().ConfigureAwait(false);
            try
            {
                await FlushLockedAsync().ConfigureAwait(false);
            }
            finally
            {
                _gate.Release();
            }
        }

        private async Task FlushLockedAsync()
        {
            if (_staged.Count == 0) return;
            var batch = _staged.ToList();
            _staged.Clear();
            try
            {
                foreach (var d in destinations)
                {
                    var mine = batch.Select(l => (l.Unit, l.Staged.First(s => ReferenceEquals(s.Destination, d)).Staged)).ToList();
                    var final = await d.CommitGroupAsync(run, mine, CancellationToken.None).ConfigureAwait(false);
                    for (var i = 0; i < batch.Count; i++) batch[i].Receipts.Add(final[i]);
                }
                await runner.CommitAsync(batch).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                using var none = new CancellationTokenSource();
                foreach (var l in batch) await runner.FailOrRollBackAsync(l.Unit, e, none).ConfigureAwait(false);
            }
        }
    }

    /// <summary>A stream's counts during the run.</summary>
    private sealed class StreamTally(StreamPlan plan)
    {
        private static int _next;
        public int Order { get; } = Interlocked.Increment(ref _next);
        public int Units, Skipped, Done, Failed;
        public long RecordsLanded, RecordsQuarantined;
        private string? _error;
        private readonly Lock _lock = new();

        public void Landed(UnitTotals t)
        {
            lock (_lock)
            {
                Done++;
                RecordsLanded += t.Records;
                RecordsQuarantined += t.Quarantined;
            }
        }

        public void Fail(string error)
        {
            lock (_lock)
            {
                Failed++;
                _error ??= error;
            }
        }

        /// <summary>Stopped by fail-fast: the reason replaces the first unit's error.</summary>
        public void Stop(string reason)
        {
            lock (_lock) _error = reason;
        }

        public StreamSummary Summary()
        {
            var pending = Units - Skipped - Done - Failed;
            var status = Failed > 0 ? "failed" : pending > 0 ? "incomplete" : Done == 0 ? "up_to_date" : "complete";
            return new StreamSummary(plan.Stream, plan.Source, plan.LoadType == LoadType.Full ? "full" : "incremental", status, Units, Done, Failed, Skipped,
                RecordsLanded, RecordsQuarantined, _error);
        }
    }

    private sealed class Journal(IStateStore state, string pipeline, string chunkKey) : IFileJournal
    {
        public Task WillWriteAsync(string destination, IReadOnlyList<string> paths, CancellationToken cancellationToken) =>
            state.JournalFilesAsync(pipeline, chunkKey, destination, paths, cancellationToken);
    }

    private sealed class UnitContext(IStateStore state, string pipeline, string chunkKey, ChunkState? previous) : IUnitContext
    {
        public ChunkState? Previous => previous;

        public Task RecordSplitAsync(string split, CancellationToken cancellationToken) => state.RecordSplitAsync(pipeline, chunkKey, split, cancellationToken);
    }
}
