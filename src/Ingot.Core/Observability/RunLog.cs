using Ingot.Engine;
using Ingot.Sources;
using Microsoft.Extensions.Logging;

namespace Ingot.Observability;

/// <summary>
/// The run's events as source-generated <see cref="LoggerMessage"/> calls: the message is the event's fixed name
/// (<c>"Chunk landed"</c>, DESIGN §3) and every parameter is a structured field, which the CLI's formatter writes as a
/// snake_case key of the JSON line. Fields are deliberately not in the message template (SYSLIB1015 is off for this
/// file's project): the JSON shape wants them as keys, not interpolated text.
/// </summary>
internal static partial class RunLog
{
    public static class Events
    {
        public const int RunStarted = 1, ChunkLanded = 2, ChunkFailed = 3, Retry = 4, CircuitOpen = 5, Message = 6, RunComplete = 7;
    }

    [LoggerMessage(EventId = Events.RunStarted, Level = LogLevel.Information, Message = "Run started")]
    public static partial void RunStarted(ILogger logger, Guid runId, string pipeline, IReadOnlyDictionary<string, object> scope, int chunksTotal, int chunksSkipped, int chunksTodo);

    [LoggerMessage(EventId = Events.ChunkLanded, Level = LogLevel.Information, Message = "Chunk landed")]
    public static partial void ChunkLanded(ILogger logger, Guid runId, string pipeline, string chunkKey, string stream, IReadOnlyList<string>? stations, DateTimeOffset? from, DateTimeOffset? to,
        long records, long landed, long quarantined, long bytes, int requests, int attempts, int files, double latencyMs);

    [LoggerMessage(EventId = Events.ChunkFailed, Level = LogLevel.Error, Message = "Chunk failed")]
    public static partial void ChunkFailed(ILogger logger, Guid runId, string pipeline, string chunkKey, string stream, string error, int attempts);

    [LoggerMessage(EventId = Events.Retry, Level = LogLevel.Warning, Message = "Retry")]
    public static partial void Retry(ILogger logger, Guid runId, string pipeline, string chunkKey, int attempt, int? status, string reason, double waitMs);

    [LoggerMessage(EventId = Events.CircuitOpen, Level = LogLevel.Warning, Message = "Circuit open: pausing all requests")]
    public static partial void CircuitOpen(ILogger logger, Guid runId, string pipeline, double pauseMs, string reason);

    /// <summary>The final summary: logged whatever the level (the provider lets this event through), shown as <c>info</c>.</summary>
    [LoggerMessage(EventId = Events.RunComplete, Level = LogLevel.Information, Message = "Run complete")]
    public static partial void RunComplete(ILogger logger, Guid runId, string pipeline, string status, int exitCode, int chunksTotal, int chunksDone, int chunksFailed, int chunksSkipped,
        int chunksPending, long recordsFetched, long recordsLanded, long recordsQuarantined, long bytes, long requests, long retries, double durationS, string? message,
        IReadOnlyList<string> where, IReadOnlyList<Dictionary<string, object?>> streams);

    public static LogLevel Level(string level) => level switch
    {
        "debug" => LogLevel.Debug,
        "warn" or "warning" => LogLevel.Warning,
        "error" => LogLevel.Error,
        _ => LogLevel.Information,
    };
}

/// <summary>A free-form event: a fixed message and fields given as a map (already snake_case).</summary>
internal sealed class MessageState(string message, Guid runId, string pipeline, IReadOnlyDictionary<string, object?>? fields) : IReadOnlyList<KeyValuePair<string, object?>>
{
    private readonly List<KeyValuePair<string, object?>> _items = Build(message, runId, pipeline, fields);

    public string Text => message;

    private static List<KeyValuePair<string, object?>> Build(string message, Guid runId, string pipeline, IReadOnlyDictionary<string, object?>? fields)
    {
        var list = new List<KeyValuePair<string, object?>> { new("run_id", runId), new("pipeline", pipeline) };
        if (fields is not null) list.AddRange(fields);
        list.Add(new("{OriginalFormat}", message));
        return list;
    }

    public KeyValuePair<string, object?> this[int index] => _items[index];
    public int Count => _items.Count;
    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() => _items.GetEnumerator();
    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    public override string ToString() => message;
}

/// <summary>
/// The run's observer that logs: every engine event through <see cref="ILogger"/> (Core logs nothing any other way).
/// The CLI renders it as JSON lines or text; <c>serve</c> will hand it its own logger.
/// </summary>
public sealed class LoggingRunObserver(ILogger logger) : IRunObserver
{
    public const string Category = "Ingot.Run";

    public void RunStarted(RunInfo run, IReadOnlyDictionary<string, object> scope, int chunksTotal, int chunksSkipped) =>
        RunLog.RunStarted(logger, run.RunId, run.Pipeline, scope, chunksTotal, chunksSkipped, chunksTotal - chunksSkipped);

    public void ChunkLanded(RunInfo run, WorkUnit unit, ChunkOutcome o) =>
        RunLog.ChunkLanded(logger, run.RunId, run.Pipeline, unit.Key, unit.Stream, unit.Window?.Stations, unit.Window?.From, unit.Window?.To,
            o.Records, o.Landed, o.Quarantined, o.Bytes, o.Requests, o.Requests, o.Files, Math.Round(o.Latency.TotalMilliseconds, 1));

    public void ChunkFailed(RunInfo run, WorkUnit unit, string error, int attempts) =>
        RunLog.ChunkFailed(logger, run.RunId, run.Pipeline, unit.Key, unit.Stream, error, attempts);

    public void Retry(RunInfo run, string chunkKey, int attempt, int? status, string reason, TimeSpan wait) =>
        RunLog.Retry(logger, run.RunId, run.Pipeline, chunkKey, attempt, status, reason, Math.Round(wait.TotalMilliseconds));

    public void CircuitOpen(RunInfo run, TimeSpan pause, string reason) =>
        RunLog.CircuitOpen(logger, run.RunId, run.Pipeline, pause.TotalMilliseconds, reason);

    public void Message(RunInfo run, string level, string message, IReadOnlyDictionary<string, object?>? fields = null)
    {
        var logLevel = RunLog.Level(level);
        if (!logger.IsEnabled(logLevel)) return;
        logger.Log(logLevel, new EventId(RunLog.Events.Message, "Message"), new MessageState(message, run.RunId, run.Pipeline, fields), null, static (s, _) => s.Text);
    }

    public void RunComplete(RunInfo run, RunSummary s) =>
        RunLog.RunComplete(logger, run.RunId, run.Pipeline, s.Status, s.ExitCode, s.ChunksTotal, s.ChunksDone, s.ChunksFailed, s.ChunksSkipped, s.ChunksPending,
            s.RecordsFetched, s.RecordsLanded, s.RecordsQuarantined, s.Bytes, s.Requests, s.Retries, s.DurationSeconds, s.Message, s.Where,
            s.Streams.Select(t => new Dictionary<string, object?>
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
            }).ToList());
}
