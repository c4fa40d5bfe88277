namespace Ingot.Storage;

/// <summary>
/// A place files land: a local folder or an object store. Every write is atomic: a reader never sees a
/// partial file under its final name (local: temp name in the same folder, fsync, rename; S3: one PUT or a
/// completed multipart upload). Paths are relative to the store root and always use '/'.
/// </summary>
public interface IBlobStore
{
    /// <summary>The root as the user wrote it (a folder or s3://bucket/prefix), for messages.</summary>
    string Root { get; }

    /// <summary>Writes <paramref name="content"/> atomically under <paramref name="path"/>, replacing any file there.</summary>
    Task WriteAsync(string path, ReadOnlyMemory<byte> content, CancellationToken cancellationToken);

    /// <summary>Moves or uploads a finished local file to <paramref name="path"/> atomically; the local file is consumed.</summary>
    Task PutFileAsync(string path, string localFile, CancellationToken cancellationToken);

    /// <summary>Opens a file for reading, or null when it does not exist.</summary>
    Task<Stream?> OpenReadAsync(string path, CancellationToken cancellationToken);

    /// <summary>Lists files under a prefix (recursively), excluding nothing.</summary>
    IAsyncEnumerable<BlobInfo> ListAsync(string prefix, CancellationToken cancellationToken);

    /// <summary>Deletes a file; a missing file is not an error.</summary>
    Task DeleteAsync(string path, CancellationToken cancellationToken);

    /// <summary>Removes temp files (<c>_tmp_*</c> names or anything under a <c>_tmp/</c> folder) left under a prefix by a crashed run.</summary>
    Task<int> RemoveStaleTempsAsync(string prefix, CancellationToken cancellationToken);

    /// <summary>A local folder DuckDB may write scratch files into before <see cref="PutFileAsync"/>.</summary>
    string LocalScratchFor(string path);
}

/// <summary>A listed file; <paramref name="LastModified"/> is when it was last written (file system / the object store's LastModified), null when the store does not say.</summary>
public sealed record BlobInfo(string Path, long Length, DateTimeOffset? LastModified = null);

/// <summary>Opens stores by path; the CLI registers the S3 opener.</summary>
public interface IBlobStoreOpener
{
    bool CanOpen(string root);
    IBlobStore Open(string root, StoreOptions options);
}

/// <summary>Per-destination store settings from the pipeline (S3 endpoint and the like); null = environment defaults.</summary>
public sealed record StoreOptions(string? Endpoint = null, string? Region = null, bool? PathStyle = null, string? AccessKey = null, string? SecretKey = null);
