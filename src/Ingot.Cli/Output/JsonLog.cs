using System.Text.Encodings.Web;
using System.Text.Json;
using Ingot.Engine;
using Ingot.Http;
using Ingot.Sources;

namespace Ingot.Cli.Output;

/// <summary>JSON-lines events: to stdout (when not a terminal or asked) and always to the run log under INGOT_HOME.</summary>
internal sealed class JsonLog : IRunObserver, IDisposable
{
    private static readonly JsonSerializerOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private readonly TextWriter? _console;
    private readonly StreamWriter? _file;
    private readonly TimeProvider _time;
    private readonly int _minLevel;
    private readonly Lock _lock = new();

    public JsonLog(TextWriter? console, string? runLogPath, TimeProvider time, string level)
    {
        _console = console;
        _time = time;
        _minLevel = Level(level);
        if (runLogPath is not null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(runLogPath)!);
            _file = new StreamWriter(new FileStream(runLogPath, FileMode.Append, FileAccess.Write, FileShare.Read)) { AutoFlush = true };
        }
    }

    private static int Level(string level) => level.ToLowerInvariant() switch
    {
        "debug" => 0,
        "info" => 1,
        "warn" or "warning" => 2,
        "error" => 3,
        _ => 1,
    };

    public void Write(string level, string message, RunInfo? run, IEnumerable<KeyValuePair<string, object?>> fields)
    {
        if (Level(level) < _minLevel && level != "summary") return;
        var e = new Dictionary<string, object?>
        {
            ["ts"] = _time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture),
            ["level"] = level == "summary" ? "info" : level,
            ["msg"] = message,
        };
        if (run is not null)
        {
            e["run_id"] = run.RunId;
            e["pipeline"] = run.Pipeline;
        }
        foreach (var (k, v) in fields) e[k] = v;
        var line = Redact.Message(JsonSerializer.Serialize(e, Options));
        lock (_lock)
        {
            _console?.WriteLine(line);
            _file?.WriteLine(line);
        }
    }

    /// <summary>A failure's full details (redacted), kept in the run log only: the console gets the one-line message.</summary>
    public void Detail(RunInfo run, string message, string detail)
    {
        if (_file is null) return;
        var line = Redact.Message(JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["ts"] = _time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture),
            ["level"] = "debug",
            ["msg"] = message,
            ["run_id"] = run.RunId,
            ["pipeline"] = run.Pipeline,
            ["detail"] = detail,
        }, Options));
        lock (_lock) _file.WriteLine(line);
    }

    public void RunStarted(RunInfo run, IReadOnlyDictionary<string, object> scope, int chunksTotal, int chunksSkipped) =>
        Write("info", "Run started", run, new Dictionary<string, object?> { ["scope"] = scope, ["chunks_total"] = chunksTotal, ["chunks_skipped"] = chunksSkipped, ["chunks_todo"] = chunksTotal - chunksSkipped });

    public void ChunkLanded(RunInfo run, WorkUnit chunk, ChunkOutcome o) =>
        Write("info", "Chunk landed", run, new Dictionary<string, object?>
        {
            ["chunk_key"] = chunk.Key,
            ["stream"] = chunk.Stream,
            ["stations"] = chunk.Window?.Stations,
            ["from"] = chunk.Window?.From,
            ["to"] = chunk.Window?.To,
            ["records"] = o.Records,
            ["landed"] = o.Landed,
            ["quarantined"] = o.Quarantined,
            ["bytes"] = o.Bytes,
            ["requests"] = o.Requests,
            ["attempts"] = o.Requests,
            ["files"] = o.Files,
            ["latency_ms"] = Math.Round(o.Latency.TotalMilliseconds, 1),
        });

    public void ChunkFailed(RunInfo run, WorkUnit chunk, string error, int attempts) =>
        Write("error", "Chunk failed", run, new Dictionary<string, object?> { ["chunk_key"] = chunk.Key, ["stream"] = chunk.Stream, ["error"] = error, ["attempts"] = attempts });

    public void Retry(RunInfo run, string chunkKey, int attempt, int? status, string reason, TimeSpan wait) =>
        Write("warn", "Retry", run, new Dictionary<string, object?> { ["chunk_key"] = chunkKey, ["attempt"] = attempt, ["status"] = status, ["reason"] = reason, ["wait_ms"] = Math.Round(wait.TotalMilliseconds) });

    public void CircuitOpen(RunInfo run, TimeSpan pause, string reason) =>
        Write("warn", "Circuit open: pausing all requests", run, new Dictionary<string, object?> { ["pause_ms"] = pause.TotalMilliseconds, ["reason"] = reason });

    public void Message(RunInfo run, string level, string message, IReadOnlyDictionary<string, object?>? fields = null) =>
        Write(level, message, run, fields ?? new Dictionary<string, object?>());

    public void RunComplete(RunInfo run, RunSummary s) =>
        Write("summary", "Run complete", run, new Dictionary<string, object?>
        {
            ["status"] = s.Status,
            ["exit_code"] = s.ExitCode,
            ["chunks_total"] = s.ChunksTotal,
            ["chunks_done"] = s.ChunksDone,
            ["chunks_failed"] = s.ChunksFailed,
            ["chunks_skipped"] = s.ChunksSkipped,
            ["chunks_pending"] = s.ChunksPending,
            ["records_fetched"] = s.RecordsFetched,
            ["records_landed"] = s.RecordsLanded,
            ["records_quarantined"] = s.RecordsQuarantined,
            ["bytes"] = s.Bytes,
            ["requests"] = s.Requests,
            ["retries"] = s.Retries,
            ["duration_s"] = s.DurationSeconds,
            ["message"] = s.Message,
            ["where"] = s.Where,
            ["streams"] = s.Streams.Select(t => new Dictionary<string, object?>
            {
                ["stream"] = t.Stream,
                ["source"] = t.Source,
                ["load_type"] = t.LoadType,
                ["status"] = t.Status,
                ["units"] = t.Units,
                ["done"] = t.Done,
                ["failed"] = t.Failed,
                ["skipped"] = t.Skipped,
                ["records_landed"] = t.RecordsLanded,
                ["records_quarantined"] = t.RecordsQuarantined,
                ["error"] = t.Error,
            }).ToList(),
        });

    public void Dispose() => _file?.Dispose();
}

/// <summary>Sends every event to several observers (the log and the progress bar).</summary>
internal sealed class FanOut(params IRunObserver[] observers) : IRunObserver
{
    public void RunStarted(RunInfo run, IReadOnlyDictionary<string, object> scope, int chunksTotal, int chunksSkipped) { foreach (var o in observers) o.RunStarted(run, scope, chunksTotal, chunksSkipped); }
    public void ChunkLanded(RunInfo run, WorkUnit chunk, ChunkOutcome outcome) { foreach (var o in observers) o.ChunkLanded(run, chunk, outcome); }
    public void ChunkFailed(RunInfo run, WorkUnit chunk, string error, int attempts) { foreach (var o in observers) o.ChunkFailed(run, chunk, error, attempts); }
    public void Retry(RunInfo run, string chunkKey, int attempt, int? status, string reason, TimeSpan wait) { foreach (var o in observers) o.Retry(run, chunkKey, attempt, status, reason, wait); }
    public void CircuitOpen(RunInfo run, TimeSpan pause, string reason) { foreach (var o in observers) o.CircuitOpen(run, pause, reason); }
    public void Message(RunInfo run, string level, string message, IReadOnlyDictionary<string, object?>? fields = null) { foreach (var o in observers) o.Message(run, level, message, fields); }
    public void RunComplete(RunInfo run, RunSummary summary) { foreach (var o in observers) o.RunComplete(run, summary); }
}
