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
    private readonly List<Record> _records = [];
    private long _bytes;

    /// <summary>Adds a page's records, writing the part when it is full.</summary>
    public async Task AddAsync(FetchedPage page, CancellationToken cancellationToken)
    {
        foreach (var r in page.Records)
        {
            _records.Add(r);
            _bytes += r.TryGetUtf8(out var utf8) ? utf8.Length : 256;
        }
        if (_records.Count >= ParquetDestination.PartRecords || _bytes >= ParquetDestination.PartBytes) await FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Writes what is gathered (nothing when empty), and the buffer starts over.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (_records.Count == 0) return;
        var part = _records.ToArray();
        _records.Clear();
        _bytes = 0;
        await write(part, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A finished scratch file's size and sha256 hex, read once before it is made visible.</summary>
    public static async Task<(string Sha256, long Bytes)> HashFileAsync(string path, CancellationToken cancellationToken)
    {
        var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        await using (fs.ConfigureAwait(false))
        {
            return (Convert.ToHexStringLower(await SHA256.HashDataAsync(fs, cancellationToken).ConfigureAwait(false)), fs.Length);
        }
    }
}
