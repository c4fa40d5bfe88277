using Ingot.Destinations;

namespace Ingot.State;

public enum ChunkStatus { Pending, Done, Failed }

public sealed record ChunkState(
    string Pipeline,
    string Key,
    string Stream,
    ChunkStatus Status,
    int Attempts,
    string? LastError,
    string? Split,
    long Records,
    Guid? RunId,
    DateTimeOffset UpdatedAt,
    IReadOnlyList<LandedFile> Files,
    DateTimeOffset? CoveredTo);

public sealed record RunRecord(
    Guid RunId,
    string Pipeline,
    DateTimeOffset StartedAt,
    DateTimeOffset? FinishedAt,
    string Status,
    int? ExitCode,
    string Args,
    string? Summary);

public sealed record Watermark(string Pipeline, string Stream, string Value, long RecordCount, DateTimeOffset UpdatedAt);

public sealed record LeaseHolder(Guid RunId, string Host, int Pid, DateTimeOffset HeartbeatAt, DateTimeOffset ExpiresAt);

public sealed record LeaseResult(bool Acquired, LeaseHolder? Holder, bool TookOver);

public sealed record PendingDeletion(string Pipeline, string ChunkKey, string Destination, string Path);

/// <summary>
/// Runs, chunks (status, attempts, errors, files + sha256), watermarks, quota usage and leases.
/// One store per deployment: SQLite by default.
/// </summary>
public interface IStateStore : IAsyncDisposable
{
    string Describe { get; }

    Task<LeaseResult> TryAcquireLeaseAsync(string pipeline, Guid runId, TimeSpan ttl, CancellationToken cancellationToken);
    Task<bool> RenewLeaseAsync(string pipeline, Guid runId, TimeSpan ttl, CancellationToken cancellationToken);
    Task ReleaseLeaseAsync(string pipeline, Guid runId, CancellationToken cancellationToken);

    Task StartRunAsync(RunRecord run, CancellationToken cancellationToken);
    Task FinishRunAsync(Guid runId, string status, int exitCode, string summaryJson, CancellationToken cancellationToken);
    Task<IReadOnlyList<RunRecord>> ListRunsAsync(string? pipeline, int limit, CancellationToken cancellationToken);

    Task<IReadOnlyDictionary<string, ChunkState>> GetChunksAsync(string pipeline, CancellationToken cancellationToken);
    Task RecordSplitAsync(string pipeline, string key, string split, CancellationToken cancellationToken);
    Task JournalFileAsync(string pipeline, string key, string destination, string path, CancellationToken cancellationToken);
    Task JournalFilesAsync(string pipeline, string key, string destination, IReadOnlyList<string> paths, CancellationToken cancellationToken);

    /// <summary>Marks the chunk done with exactly these files, in one transaction; returns the journaled files it no longer keeps.</summary>
    Task<IReadOnlyList<PendingDeletion>> CommitChunkAsync(string pipeline, string key, string stream, Guid runId, long records, DateTimeOffset coveredTo, IReadOnlyList<LandedFile> files, CancellationToken cancellationToken);

    /// <summary>Marks the chunk failed; returns the files an unfinished attempt journaled that no commit keeps.</summary>
    Task<IReadOnlyList<PendingDeletion>> FailChunkAsync(string pipeline, string key, string stream, Guid runId, string error, CancellationToken cancellationToken);

    /// <summary>An interrupted attempt (Ctrl+C, quota stop): its journaled, uncommitted files become obsolete; the chunk's status and attempts stay.</summary>
    Task<IReadOnlyList<PendingDeletion>> AbandonChunkAsync(string pipeline, string key, CancellationToken cancellationToken);

    /// <summary>Run start (under the lease): every file journaled by an attempt that never committed becomes obsolete.</summary>
    Task<IReadOnlyList<PendingDeletion>> AbandonPendingAsync(string pipeline, CancellationToken cancellationToken);
    Task ForgetDeletionAsync(PendingDeletion deletion, CancellationToken cancellationToken);

    Task SetWatermarkAsync(string pipeline, string stream, string value, long recordCount, CancellationToken cancellationToken);
    Task<IReadOnlyList<Watermark>> GetWatermarksAsync(string pipeline, CancellationToken cancellationToken);

    Task<long> GetQuotaUsageAsync(string scope, DateOnly day, CancellationToken cancellationToken);
    /// <summary>Atomically reserves one request attempt if usage stays within <paramref name="quota"/>; returns false when it would pass it.</summary>
    Task<bool> TryReserveQuotaAsync(string scope, DateOnly day, long quota, CancellationToken cancellationToken);
}
