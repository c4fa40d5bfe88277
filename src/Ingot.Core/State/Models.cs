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
    DateTimeOffset? CoveredTo)
{
    /// <summary>The unit's identity (<see cref="Sources.UnitIdentity.Text"/>) when it was last landed or planned; null for units of older versions.</summary>
    public string? Identity { get; init; }

    /// <summary>The unit's bounds as JSON (<see cref="Sources.UnitBounds"/>); null for units of older versions.</summary>
    public string? Bounds { get; init; }

    /// <summary>Rows each destination said it holds for the unit (table, Iceberg and Kafka destinations; files are in <see cref="Files"/>).</summary>
    public IReadOnlyList<Receipt> Receipts { get; init; } = [];
}

/// <summary>A stream's checkpoint moving in the same transaction as the unit that carried it there.</summary>
public sealed record CheckpointMove(string Stream, string Value, long RecordCount)
{
    /// <summary>The source's memo kept with the checkpoint (<see cref="Sources.WorkUnit.CheckpointMemo"/>).</summary>
    public string? Memo { get; init; }
}

/// <summary>
/// One unit's commit: done, with exactly these receipts (files and rows), its identity and bounds; the units it
/// supersedes retired; the stream's checkpoint moved — all in one state transaction (invariant 4).
/// </summary>
public sealed record UnitCommit(
    string Key,
    string Stream,
    Guid RunId,
    long Records,
    DateTimeOffset? CoveredTo,
    string? Identity,
    string? Bounds,
    IReadOnlyList<Receipt> Receipts)
{
    public IReadOnlyList<string> Retire { get; init; } = [];

    public CheckpointMove? Checkpoint { get; init; }

    public IEnumerable<LandedFile> Files => Receipts.SelectMany(r => r.Files);
}

/// <summary>A unit restored from the lake by <c>ingot state rebuild</c>: done with its files, or pending with files to clean up.</summary>
public sealed record AdoptedUnit(string Key, string Stream, bool Done, Guid? RunId, long Records, DateTimeOffset? CoveredTo, string? Identity, string? Bounds, IReadOnlyList<LandedFile> Files);

public sealed record RunRecord(
    Guid RunId,
    string Pipeline,
    DateTimeOffset StartedAt,
    DateTimeOffset? FinishedAt,
    string Status,
    int? ExitCode,
    string Args,
    string? Summary);

public sealed record Watermark(string Pipeline, string Stream, string Value, long RecordCount, DateTimeOffset UpdatedAt)
{
    /// <summary>What the source kept with the checkpoint when it last moved (a snapshot fence, look-back keys), or null.</summary>
    public string? Memo { get; init; }
}

public sealed record LeaseHolder(Guid RunId, string Host, int Pid, DateTimeOffset HeartbeatAt, DateTimeOffset ExpiresAt);

public sealed record LeaseResult(bool Acquired, LeaseHolder? Holder, bool TookOver);

/// <summary>The state store cannot be opened or used; <see cref="Unreadable"/>: its file is damaged (exit 2, <c>ingot state rebuild</c>).</summary>
public sealed class StateStoreException(string message, bool unreadable, Exception? inner = null) : Exception(message, inner)
{
    public bool Unreadable { get; } = unreadable;
}

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

    /// <summary>
    /// Closes a run still marked <c>running</c> whose process is gone (its lease was taken over): status and reason are
    /// recorded, a run that did finish is left as it is. True when the record was closed.
    /// </summary>
    Task<bool> CloseAbandonedRunAsync(Guid runId, string status, string reason, CancellationToken cancellationToken);
    Task<IReadOnlyList<RunRecord>> ListRunsAsync(string? pipeline, int limit, CancellationToken cancellationToken);

    Task<IReadOnlyDictionary<string, ChunkState>> GetChunksAsync(string pipeline, CancellationToken cancellationToken);
    Task RecordSplitAsync(string pipeline, string key, string split, CancellationToken cancellationToken);

    /// <summary>Every unit key the store has any record of for the pipeline: a unit row, or a journaled file.</summary>
    Task<IReadOnlySet<string>> KnownKeysAsync(string pipeline, CancellationToken cancellationToken);
    Task JournalFileAsync(string pipeline, string key, string destination, string path, CancellationToken cancellationToken);
    Task JournalFilesAsync(string pipeline, string key, string destination, IReadOnlyList<string> paths, CancellationToken cancellationToken);

    /// <summary>Stores a run's plan before fetching starts: a pending row for every unit the store does not know yet.</summary>
    Task StorePlanAsync(string pipeline, IReadOnlyList<Sources.WorkUnit> units, CancellationToken cancellationToken);

    /// <summary>
    /// Commits units (one, or a group commit's many) in one transaction: each done with exactly its receipts, the units
    /// it retires removed, its checkpoint moved; returns the journaled files no unit keeps any more, to delete.
    /// </summary>
    Task<IReadOnlyList<PendingDeletion>> CommitUnitsAsync(string pipeline, IReadOnlyList<UnitCommit> commits, CancellationToken cancellationToken);

    /// <summary>Marks the chunk done with exactly these files, in one transaction; returns the journaled files it no longer keeps.</summary>
    Task<IReadOnlyList<PendingDeletion>> CommitChunkAsync(string pipeline, string key, string stream, Guid runId, long records, DateTimeOffset coveredTo, IReadOnlyList<LandedFile> files, CancellationToken cancellationToken);

    /// <summary><c>ingot state rebuild</c>: records runs and units found in the lake, in one transaction, replacing what the store had for them.</summary>
    Task AdoptAsync(string pipeline, IReadOnlyList<RunRecord> runs, IReadOnlyList<AdoptedUnit> units, CancellationToken cancellationToken);

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
