using Ingot.Records;
using Ingot.Sources;

namespace Ingot.Destinations;

/// <summary>Everything one run knows that every landed record carries.</summary>
public sealed record RunContext(Guid RunId, string Pipeline, DateTimeOffset IngestedAt);

public enum LoadType { Full, Incremental }

/// <summary>
/// One response body (a page, one part of a split unit, a segment of a file) and the records parsed from it.
/// <see cref="ContinuesRaw"/>: the body continues the previous page's raw file (a file read in segments lands in the
/// raw archive as one file, byte for byte).
/// </summary>
public sealed record FetchedPage(
    string Key,
    ReadOnlyMemory<byte> Body,
    string RedactedRequest,
    int Status,
    DateTimeOffset FetchedAt,
    IReadOnlyList<Record> Records)
{
    private readonly ReadOnlyMemory<byte> _body = Body;

    /// <summary>The response body; for a page read as a <see cref="Batch"/>, its NDJSON, written on first use.</summary>
    public ReadOnlyMemory<byte> Body
    {
        get => Batch is { } batch ? batch.Ndjson : _body;
        init => _body = value;
    }

    /// <summary>The page's rows as typed values, when the source read them so (<see cref="Records"/> are then its rows).</summary>
    public RowBatch? Batch { get; init; }

    /// <summary>The length of <see cref="Body"/>, without writing a batch's NDJSON.</summary>
    public long BodyLength => Batch?.NdjsonLength ?? _body.Length;

    public bool ContinuesRaw { get; init; }

    /// <summary>The raw archive's file extension for this page's body.</summary>
    public string RawExtension { get; init; } = "json";

    /// <summary>
    /// Cursor streams: the stream's checkpoint after this page — the largest cursor value the unit has delivered so far,
    /// in the source's own sortable text form (the source compares; the engine only keeps the last page's value). Used
    /// when the unit has no planned <see cref="Sources.WorkUnit.Checkpoint"/>.
    /// </summary>
    public string? Cursor { get; init; }

    /// <summary>With <see cref="Cursor"/>: the source's memo to keep with the checkpoint (see <see cref="Sources.WorkUnit.CheckpointMemo"/>).</summary>
    public string? CursorMemo { get; init; }

    /// <summary>Records of this page that failed validation (set by the engine's record processing).</summary>
    public IReadOnlyList<QuarantinedRecord> Quarantine { get; init; } = [];

    /// <summary>
    /// Each kept record's validation outcome, in the order of <see cref="Records"/> (set by the engine's record
    /// processing); null when the pipeline neither validates nor transforms (every record is valid). Destinations that
    /// keep invalid rows (<see cref="Config.DestinationSpec.KeepsInvalidRows"/>) store it beside the record.
    /// </summary>
    public IReadOnlyList<RecordCheck>? Checks { get; init; }
}

public enum RecordStatus { Valid, Invalid, Warning }

/// <summary>A record's validation status and, unless valid, its reasons joined with <c>"; "</c>.</summary>
public readonly record struct RecordCheck(RecordStatus Status, string? Message)
{
    public static RecordCheck Valid => default;

    /// <summary><c>valid</c>, <c>invalid</c> or <c>warning</c>, as bronze tables spell it.</summary>
    public string StatusText => Status switch { RecordStatus.Invalid => "invalid", RecordStatus.Warning => "warning", _ => "valid" };
}

/// <summary>An invalid record with the reasons it failed validation.</summary>
public sealed record QuarantinedRecord(Record Record, string PageKey, IReadOnlyList<string> Errors);

/// <summary>A file a destination made durable, as recorded in the state store and checked by <c>ingot verify</c>.</summary>
public sealed record LandedFile(string Destination, string Path, string Sha256, long Bytes);

/// <summary>
/// What a destination hands back for a landed unit: the files it made visible (file journal mode), the rows it holds
/// for the unit, and an opaque token (a table's transaction, an Iceberg snapshot id, Kafka offsets).
/// </summary>
public sealed record Receipt(string Destination, IReadOnlyList<LandedFile> Files, long Rows, string? Token = null)
{
    public static Receipt Empty(string destination) => new(destination, [], 0);
}

/// <summary>The records and pages a unit delivered, for a destination's own record of the unit.</summary>
public sealed record UnitTotals(long Records, long Quarantined, int Pages, long Bytes)
{
    /// <summary>
    /// Cursor streams: the checkpoint this unit carries its stream to (planned, or the last page's cursor). Destinations
    /// keep it in their record of the unit, so <c>ingot state rebuild</c> restores the checkpoint from the lake alone.
    /// </summary>
    public string? Checkpoint { get; init; }
}

/// <summary>
/// How a destination makes a unit's data visible exactly once (DESIGN §2, invariant 3). The engine then commits
/// {unit, receipts, checkpoint} in one state transaction, the same way for all three.
/// </summary>
public enum CommitMode
{
    /// <summary>Files (raw, Parquet): every path journaled before it appears; the unit's commit keeps exactly its files.</summary>
    FileJournal,

    /// <summary>Tables (PostgreSQL): the unit's rows replace that unit key's earlier rows in one destination transaction.</summary>
    ReplaceByUnitKey,

    /// <summary>Iceberg snapshots, Kafka transactions: many units staged, then committed together; the commit names the units it holds.</summary>
    GroupCommit,
}

/// <summary>
/// Told each path before a destination makes it visible, so that a crash between writing files and the unit's commit
/// never leaves an unrecorded file: the engine deletes every journaled path that the unit's final commit does not keep.
/// </summary>
public interface IFileJournal
{
    Task WillWriteAsync(string destination, IReadOnlyList<string> paths, CancellationToken cancellationToken);
}

/// <summary>
/// A unit a destination says it holds, read from the destination itself (raw manifests, Parquet unit records, a
/// table's rows, an Iceberg snapshot summary): the lake remembers what landed even when the state store does not.
/// </summary>
public sealed record LakeUnit(
    string Destination,
    string Key,
    string Stream,
    Guid? RunId,
    string? Identity,
    string? Bounds,
    long Records,
    IReadOnlyList<LandedFile> Files)
{
    /// <summary>The checkpoint the unit carried its cursor stream to (<see cref="UnitTotals.Checkpoint"/>), when recorded.</summary>
    public string? Checkpoint { get; init; }
}

/// <summary>Stages one unit, page by page; <see cref="CompleteAsync"/> makes it durable the destination's way.</summary>
public interface IUnitWriter : IAsyncDisposable
{
    Task WriteAsync(FetchedPage page, CancellationToken cancellationToken);

    /// <summary>
    /// File journal: the unit's files are visible (and its lake record written); replace by key: the destination's
    /// transaction committed; group commit: staged, visible only after <see cref="IGroupCommitDestination.CommitGroupAsync"/>.
    /// </summary>
    Task<Receipt> CompleteAsync(UnitTotals totals, CancellationToken cancellationToken);
}

/// <summary>
/// A bronze destination. It lands one unit at a time (several may land concurrently) and throws on failure: the engine
/// retries and accounts, and a unit is done only when every destination returned its receipt.
/// </summary>
public interface IDestination : IAsyncDisposable
{
    /// <summary>Unique within a pipeline, e.g. <c>raw</c>, <c>parquet</c>, <c>parquet#2</c>.</summary>
    string Name { get; }

    CommitMode Mode { get; }

    /// <summary>False for a destination that holds only some units (the quarantine holds units with invalid records).</summary>
    bool HoldsEveryUnit => true;

    /// <summary>
    /// Preflight, before any request: proves the destination can write where it lands <paramref name="pipeline"/> — a file
    /// destination writes a small probe under its <c>_tmp</c> area and removes it again (<see cref="Storage.StoreProbe"/>),
    /// a table or topic checks its connection and rights. Throws the store's own error when it cannot. A destination that
    /// writes nothing of its own (none yet) keeps the default.
    /// </summary>
    Task ProbeAsync(string pipeline, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// The run is about to plan: a destination may start, in the background, what makes its first unit fast (compiling
    /// its landing path). It must write nothing the run can see and must not fail the run; the default does nothing.
    /// </summary>
    void WarmUp()
    {
    }

    /// <summary>Run start: remove temp files a crashed run left behind; create what is missing.</summary>
    Task PrepareAsync(RunContext run, CancellationToken cancellationToken);

    Task<IUnitWriter> BeginAsync(RunContext run, WorkUnit unit, IFileJournal journal, CancellationToken cancellationToken);

    /// <summary>
    /// The units this destination holds for <paramref name="streams"/> of <paramref name="pipeline"/>; with
    /// <paramref name="details"/> false only keys and streams need be filled (a listing, no reads).
    /// </summary>
    IAsyncEnumerable<LakeUnit> ListCommittedAsync(string pipeline, IReadOnlyCollection<string> streams, bool details, CancellationToken cancellationToken);

    /// <summary>Deletes a file this destination landed earlier (a replaced version of a unit).</summary>
    Task DeleteAsync(string path, CancellationToken cancellationToken);

    /// <summary>Re-reads a landed file and returns its sha256 hex, or null when it is missing.</summary>
    Task<string?> HashAsync(string path, CancellationToken cancellationToken);

    /// <summary>
    /// Data files under the destination that no committed unit keeps (<paramref name="committed"/>: every path the state
    /// holds for this destination): each is a record landed a second time or a leftover, reported by <c>verify</c>.
    /// </summary>
    IAsyncEnumerable<string> ListUnkeptAsync(string pipeline, IReadOnlyCollection<string> streams, IReadOnlySet<string> committed, CancellationToken cancellationToken) =>
        AsyncEnumerable.Empty<string>();

    /// <summary>Where this destination puts a pipeline's data, for people (a folder or URL).</summary>
    string Where(string pipeline) => Name;
}

/// <summary>A destination in <see cref="CommitMode.GroupCommit"/>: staged units become visible together.</summary>
public interface IGroupCommitDestination : IDestination
{
    /// <summary>How many staged units make a group (the engine also commits a smaller group when fetching ends).</summary>
    int GroupSize { get; }

    /// <summary>Commits the staged units in one destination commit that names them; returns their final receipts in order.</summary>
    Task<IReadOnlyList<Receipt>> CommitGroupAsync(RunContext run, IReadOnlyList<(WorkUnit Unit, Receipt Staged)> units, CancellationToken cancellationToken);
}
