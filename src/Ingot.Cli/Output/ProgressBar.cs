using Ingot.Engine;
using Ingot.Sources;
using Spectre.Console;

namespace Ingot.Cli.Output;

/// <summary>A live line on a terminal: chunks done/total, requests/s, retries, ETA. Redrawn at most 4 times a second.</summary>
internal sealed class ProgressBar(IAnsiConsole console, TimeProvider time) : IRunObserver
{
    private readonly Lock _lock = new();
    private int _total, _done, _failed;
    private long _requests, _retries;
    private long _started;
    private long _lastDraw;

    public void RunStarted(RunInfo run, IReadOnlyDictionary<string, object> scope, int chunksTotal, int chunksSkipped)
    {
        _total = chunksTotal - chunksSkipped;
        _started = time.GetTimestamp();
        console.MarkupLine($"[bold]ingot[/] run [blue]{run.Pipeline}[/] {run.RunId}: {_total} chunks to do, {chunksSkipped} already done");
    }

    public void ChunkLanded(RunInfo run, WorkUnit chunk, ChunkOutcome outcome)
    {
        Interlocked.Increment(ref _done);
        Interlocked.Add(ref _requests, outcome.Requests);
        Draw(false);
    }

    public void ChunkFailed(RunInfo run, WorkUnit chunk, string error, int attempts)
    {
        Interlocked.Increment(ref _failed);
        lock (_lock) console.MarkupLineInterpolated($"\r[red]failed[/] {chunk.Key}: {error}");
        Draw(false);
    }

    public void Retry(RunInfo run, string chunkKey, int attempt, int? status, string reason, TimeSpan wait)
    {
        Interlocked.Increment(ref _retries);
        Draw(false);
    }

    public void CircuitOpen(RunInfo run, TimeSpan pause, string reason)
    {
        lock (_lock) console.MarkupLineInterpolated($"\r[yellow]API looks down ({reason}): pausing all requests for {pause.TotalSeconds:0}s[/]");
    }

    public void Message(RunInfo run, string level, string message, IReadOnlyDictionary<string, object?>? fields = null)
    {
        if (level is "warn" or "error") lock (_lock) console.MarkupLineInterpolated($"\r[yellow]{message}[/]");
    }

    public void RunComplete(RunInfo run, RunSummary s)
    {
        Draw(true);
        console.WriteLine();
        var color = s.ExitCode == 0 ? "green" : "yellow";
        console.MarkupLine($"[{color}]{s.Status}[/]: {s.ChunksDone} done, {s.ChunksFailed} failed, {s.ChunksSkipped} skipped, {s.ChunksPending} pending; " +
            $"records fetched {s.RecordsFetched:N0} = landed {s.RecordsLanded:N0} + quarantined {s.RecordsQuarantined:N0}; {s.Requests:N0} requests, {s.Retries:N0} retries, {s.DurationSeconds:0.0}s");
        if (s.Message is not null) console.MarkupLineInterpolated($"{s.Message}");
        foreach (var w in s.Where) console.MarkupLineInterpolated($"data → {w}");
    }

    private void Draw(bool force)
    {
        var now = time.GetTimestamp();
        lock (_lock)
        {
            if (!force && time.GetElapsedTime(_lastDraw, now) < TimeSpan.FromMilliseconds(250)) return;
            _lastDraw = now;
            var elapsed = time.GetElapsedTime(_started, now).TotalSeconds;
            var finished = _done + _failed;
            var rate = elapsed > 0 ? Interlocked.Read(ref _requests) / elapsed : 0;
            var eta = finished > 0 ? TimeSpan.FromSeconds(elapsed / finished * (_total - finished)) : TimeSpan.Zero;
            var width = 30;
            var filled = _total == 0 ? width : (int)(width * (double)finished / _total);
            var bar = new string('█', filled) + new string('░', width - filled);
            console.Write(new Text($"\r{bar} {finished}/{_total} chunks  {rate:0.0} req/s  {Interlocked.Read(ref _retries)} retries  ETA {eta:hh\\:mm\\:ss}   "));
        }
    }
}
