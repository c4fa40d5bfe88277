using System.Security.Cryptography;
using Ingot.Destinations;
using Ingot.Records;

namespace Ingot.DuckDb.Parquet;

/// <summary>
/// A unit's records gathered over its pages up to a part's size (<see cref="ParquetDestination.PartRecords"/> records or
/// <see cref="ParquetDestination.PartBytes"/> of UTF-8): memory bounded by a part, not by the unit. Shared by the file
/// destinations that write a unit's parts through DuckDB (Parquet, Iceberg).
/// </summary>
/// <param name="write">Writes one part (never empty).</param>
internal sealed class PartBuffer(Func<Record[], CancellationToken, Task> write)
{
    // A part that is one page (the usual unit) is that page's own array, not a copy: gathering 20k records in a list
    // and copying them out made ~0.5 MB of large-object garbage per unit, and with it a gen-2 collection every few units
    // (measured on the Parquet bench at 5 M rows: 34 gen-2 collections, 0.34 s of pauses).
    private Record[]? _page;
    private readonly List<Record> _records = [];
    private long _bytes;

    private int Count => _page?.Length ?? _records.Count;

    /// <summary>Adds a page's records, writing the part when it is full.</summary>
    public async Task AddAsync(FetchedPage page, CancellationToken cancellationToken)
    {
        if (Count == 0 && page.Records is Record[] { Length: > 0 } array)
        {
            _page = array;
        }
        else
        {
            if (_page is not null)
            {
                _records.AddRange(_page);
                _page = null;
            }
            _records.AddRange(page.Records);
        }
        foreach (var r in page.Records) _bytes += r.JsonLength;
        if (Count >= ParquetDestination.PartRecords || _bytes >= ParquetDestination.PartBytes) await FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Writes what is gathered (nothing when empty), and the buffer starts over.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (Count == 0) return;
        var part = _page ?? _records.ToArray();
        _page = null;
        _records.Clear();
        _bytes = 0;
        await write(part, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A finished scratch file's size and sha256 hex, read once before it is made visible.</summary>
    public static async Task<(string Sha256, long Bytes)> HashFileAsync(string path, CancellationToken cancellationToken)
    {
        // Unbuffered: the hash reads in large blocks of its own (a 64 KB buffer per file was garbage per landed file).
        var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 0, FileOptions.Asynchronous | FileOptions.SequentialScan);
        await using (fs.ConfigureAwait(false))
        {
            return (Convert.ToHexStringLower(await SHA256.HashDataAsync(fs, cancellationToken).ConfigureAwait(false)), fs.Length);
        }
    }
}
