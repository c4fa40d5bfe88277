using Ingot.Records;

namespace Ingot.Destinations;

/// <summary>Everything one run knows that every landed record carries.</summary>
public sealed record RunContext(
    Guid RunId,
    string Pipeline,
    string SourceSystem,
    DateTimeOffset IngestedAt,
    LoadType LoadType);

public enum LoadType { Full, Incremental }

/// <summary>One response body (a page, or one part of a split chunk) and the records parsed from it.</summary>
public sealed record FetchedPage(
    string Key,
    ReadOnlyMemory<byte> Body,
    string RedactedRequest,
    int Status,
    DateTimeOffset FetchedAt,
    IReadOnlyList<Record> Records);

/// <summary>A fetched chunk, ready to land: its pages in order.</summary>
public sealed record ChunkData(
    string ChunkKey,
    string Stream,
    DateTimeOffset From,
    IReadOnlyList<FetchedPage> Pages)
{
    /// <summary>The records to land (valid, or kept with their validation status).</summary>
    public IEnumerable<Record> Records => Pages.SelectMany(p => p.Records);

    public long RecordCount => Pages.Sum(p => (long)p.Records.Count);

    /// <summary>Records that failed validation and go to the quarantine instead of the destinations.</summary>
    public IReadOnlyList<QuarantinedRecord> Quarantine { get; init; } = [];

    public long Quarantined => Quarantine.Count;
}

/// <summary>An invalid record with the reasons it failed validation.</summary>
public sealed record QuarantinedRecord(Record Record, string PageKey, IReadOnlyList<string> Errors);

/// <summary>A file a destination made durable, as recorded in the state store and checked by <c>ingot verify</c>.</summary>
public sealed record LandedFile(string Destination, string Path, string Sha256, long Bytes);

/// <summary>
/// Told each path before a destination makes it visible, so that a crash between writing files and the
/// chunk's commit never leaves an unrecorded file: the engine deletes every journaled path that the
/// chunk's final commit does not keep.
/// </summary>
public interface IFileJournal
{
    Task WillWriteAsync(string destination, string path, CancellationToken cancellationToken);

    /// <summary>Journals several paths in one state write (a chunk's pages and manifest).</summary>
    async Task WillWriteAsync(string destination, IReadOnlyList<string> paths, CancellationToken cancellationToken)
    {
        foreach (var p in paths) await WillWriteAsync(destination, p, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>
/// A bronze destination. It lands one chunk at a time, atomically per file, and throws on failure
/// (the engine retries and accounts; a chunk is done only when every destination returned).
/// </summary>
public interface IDestination : IAsyncDisposable
{
    /// <summary>Unique within a pipeline, e.g. <c>raw</c>, <c>parquet</c>, <c>parquet#2</c>.</summary>
    string Name { get; }

    /// <summary>Run start: remove temp files a crashed run left behind; create what is missing.</summary>
    Task PrepareAsync(RunContext run, CancellationToken cancellationToken);

    /// <summary>Lands a chunk; returns every file it made visible. Rewriting the same chunk replaces its files.</summary>
    Task<IReadOnlyList<LandedFile>> LandAsync(RunContext run, ChunkData chunk, IFileJournal journal, CancellationToken cancellationToken);

    /// <summary>Deletes a file this destination landed earlier (a replaced version of a chunk).</summary>
    Task DeleteAsync(string path, CancellationToken cancellationToken);

    /// <summary>Re-reads a landed file and returns its sha256 hex, or null when it is missing.</summary>
    Task<string?> HashAsync(string path, CancellationToken cancellationToken);

    /// <summary>Where this destination puts a pipeline's data, for people (a folder or URL).</summary>
    string Where(string pipeline) => Name;
}
