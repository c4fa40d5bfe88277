using Ingot.Sources;

namespace Ingot.Engine;

/// <summary>What a run tells the outside world: logs, progress bar, metrics. Implementations must be thread-safe.</summary>
public interface IRunObserver
{
    void RunStarted(RunInfo run, IReadOnlyDictionary<string, object> scope, int chunksTotal, int chunksSkipped);
    void ChunkLanded(RunInfo run, WorkUnit unit, ChunkOutcome outcome);
    void ChunkFailed(RunInfo run, WorkUnit unit, string error, int attempts);
    void Retry(RunInfo run, string chunkKey, int attempt, int? status, string reason, TimeSpan wait);
    void CircuitOpen(RunInfo run, TimeSpan pause, string reason);
    void Message(RunInfo run, string level, string message, IReadOnlyDictionary<string, object?>? fields = null);
    void RunComplete(RunInfo run, RunSummary summary);
}

public sealed record RunInfo(Guid RunId, string Pipeline);

/// <summary>An observer that drops every event (planning, state rebuild, tests).</summary>
public sealed class NullRunObserver : IRunObserver
{
    public static readonly NullRunObserver Instance = new();
    public void RunStarted(RunInfo run, IReadOnlyDictionary<string, object> scope, int chunksTotal, int chunksSkipped) { }
    public void ChunkLanded(RunInfo run, WorkUnit unit, ChunkOutcome outcome) { }
    public void ChunkFailed(RunInfo run, WorkUnit unit, string error, int attempts) { }
    public void Retry(RunInfo run, string chunkKey, int attempt, int? status, string reason, TimeSpan wait) { }
    public void CircuitOpen(RunInfo run, TimeSpan pause, string reason) { }
    public void Message(RunInfo run, string level, string message, IReadOnlyDictionary<string, object?>? fields = null) { }
    public void RunComplete(RunInfo run, RunSummary summary) { }
}

public sealed record ChunkOutcome(long Records, long Landed, long Quarantined, long Bytes, int Requests, int Files, TimeSpan Latency);

/// <summary>The final accounting of a run: fetched = landed + quarantined.</summary>
public sealed record RunSummary(
    Guid RunId,
    string Pipeline,
    string Status,
    int ExitCode,
    int ChunksTotal,
    int ChunksDone,
    int ChunksFailed,
    int ChunksSkipped,
    int ChunksPending,
    long RecordsFetched,
    long RecordsLanded,
    long RecordsQuarantined,
    long Bytes,
    long Requests,
    long Retries,
    double DurationSeconds,
    string? Message,
    IReadOnlyList<string> Where)
{
    /// <summary>Each stream's own outcome: one stream failing does not stop the others.</summary>
    public IReadOnlyList<StreamSummary> Streams { get; init; } = [];
}

/// <summary>One stream of a run: load type, units done/failed/skipped, records, and its first error.</summary>
public sealed record StreamSummary(
    string Stream,
    string Source,
    string LoadType,
    string Status,
    int Units,
    int Done,
    int Failed,
    int Skipped,
    long RecordsLanded,
    long RecordsQuarantined,
    string? Error);

public static class ExitCodes
{
    public const int Complete = 0;
    public const int FailedChunks = 1;
    public const int Usage = 2;
    public const int LeaseHeld = 3;
    public const int StoppedEarly = 4;
    public const int Cancelled = 130;
}
