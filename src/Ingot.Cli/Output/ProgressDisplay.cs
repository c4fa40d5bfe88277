using Ingot.Engine;
using Ingot.Sources;
using Spectre.Console;

namespace Ingot.Cli.Output;

/// <summary>
/// The live display on a terminal, on Spectre.Console's <see cref="Progress"/>: units done of the run's total, requests
/// per second, retries and failures in the task's description, time remaining; failures, pauses and warnings print
/// above it; the summary below it when the run ends.
/// </summary>
internal sealed class ProgressDisplay(IAnsiConsole console, TimeProvider time) : IRunObserver
{
    private ProgressContext? _context;
    private ProgressTask? _task;
    private string _pipeline = "";
    private long _requests, _retries;
    private int _failed;
    private long _started;

    /// <summary>Runs <paramref name="work"/> with the display live; the display ends when the work does.</summary>
    public Task<T> RunAsync<T>(Func<Task<T>> work) =>
        console.Progress()
            .AutoClear(false)
            .AutoRefresh(true)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .StartAsync(async ctx =>
            {
                _context = ctx;
                return await work().ConfigureAwait(false);
            });

    public void RunStarted(RunInfo run, IReadOnlyDictionary<string, object> scope, int chunksTotal, int chunksSkipped)
    {
        _pipeline = run.Pipeline;
        _started = time.GetTimestamp();
        var todo = chunksTotal - chunksSkipped;
        console.MarkupLineInterpolated($"[bold]ingot[/] run [blue]{run.Pipeline}[/] {run.RunId}: {todo} units to do, {chunksSkipped} already done");
        _task = _context?.AddTask(Description(), maxValue: Math.Max(1, todo));
        if (todo == 0) _task?.Increment(1);
    }

    public void ChunkLanded(RunInfo run, WorkUnit unit, ChunkOutcome outcome)
    {
        Interlocked.Add(ref _requests, outcome.Requests);
        Advance();
    }

    public void ChunkFailed(RunInfo run, WorkUnit unit, string error, int attempts)
    {
        Interlocked.Increment(ref _failed);
        console.MarkupLineInterpolated($"[red]failed[/] {unit.Key}: {error}");
        Advance();
    }

    public void Retry(RunInfo run, string chunkKey, int attempt, int? status, string reason, TimeSpan wait)
    {
        Interlocked.Increment(ref _retries);
        if (_task is not null) _task.Description = Description();
    }

    public void CircuitOpen(RunInfo run, TimeSpan pause, string reason) =>
        console.MarkupLineInterpolated($"[yellow]API looks down ({reason}): pausing all requests for {pause.TotalSeconds:0}s[/]");

    public void Message(RunInfo run, string level, string message, IReadOnlyDictionary<string, object?>? fields = null)
    {
        if (level is "warn" or "error") console.MarkupLineInterpolated($"[yellow]{message}[/]");
    }

    public void RunComplete(RunInfo run, RunSummary s)
    {
        if (_task is not null)
        {
            _task.Description = Description();
            _task.StopTask();
        }
        var color = s.ExitCode == 0 ? "green" : "yellow";
        console.MarkupLine($"[{color}]{s.Status}[/]: {s.ChunksDone} done, {s.ChunksFailed} failed, {s.ChunksSkipped} skipped, {s.ChunksPending} pending; " +
            $"records fetched {s.RecordsFetched:N0} = landed {s.RecordsLanded:N0} + quarantined {s.RecordsQuarantined:N0}; {s.Requests:N0} requests, {s.Retries:N0} retries, {s.DurationSeconds:0.0}s");
        foreach (var t in s.Streams.Where(_ => s.Streams.Count > 1))
            console.MarkupLineInterpolated($"  {t.Stream} ({t.LoadType}): {t.Status}, {t.Done} done, {t.Failed} failed, {t.RecordsLanded:N0} records{(t.Error is null ? "" : " — " + t.Error)}");
        if (s.Message is not null) console.MarkupLineInterpolated($"{s.Message}");
        foreach (var w in s.Where) console.MarkupLineInterpolated($"data → {w}");
    }

    private void Advance()
    {
        if (_task is null) return;
        _task.Increment(1);
        _task.Description = Description();
    }

    private string Description()
    {
        var elapsed = time.GetElapsedTime(_started).TotalSeconds;
        var rate = elapsed > 0 ? Interlocked.Read(ref _requests) / elapsed : 0;
        var failed = Volatile.Read(ref _failed);
        return Markup.Escape($"{_pipeline}  {rate:0.0} req/s  {Interlocked.Read(ref _retries)} retries{(failed > 0 ? $"  {failed} failed" : "")}");
    }
}
