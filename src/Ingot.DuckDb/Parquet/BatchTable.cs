using System.Buffers;
using System.Text;
using Ingot.Records;

namespace Ingot.DuckDb.Parquet;

/// <summary>What the Parquet destination reads of a part's rows, whichever form they came in.</summary>
internal interface IPartTable : IDisposable
{
    int RowCount { get; }
    List<string> Names { get; }
    List<ColumnType> Types { get; }
    int ColumnCount { get; }

    /// <summary>Row <c>i</c>'s hash as 32 lowercase hex bytes at <c>32 * i</c>.</summary>
    byte[] Hashes { get; }

    /// <summary>A field as text (a string's value, any other value's JSON), null when null: a partition folder's value.</summary>
    string? Text(int row, int column);

    /// <summary>A rough uncompressed size of a row (its JSON plus the metadata columns): enough to roll files near a target.</summary>
    long EstimateBytes(int row);

    /// <summary>A hash of a field's value (null and missing alike): for telling columns of (nearly) unique values.</summary>
    int SampleHash(int row, int column);
}

/// <summary>
/// A part whose records are all rows of typed batches (<see cref="RowBatch"/>, a database source's pages) of one column
/// list: the values are read where the batch holds them, with no JSON written or scanned, and each row's hash is the
/// batch's. Column order and types are what <see cref="RowTable"/> gives the same records' JSON (tests compare the files
/// both make). A part with a Json column (objects, arrays) is left to <see cref="RowTable"/>, which types them by their contents.
/// </summary>
internal sealed class BatchTable : IPartTable, IDisposable
{
    private RowBatch[] _batchOf;
    private int[] _rowOf;

    private BatchTable(int count, RowBatch[] batchOf, int[] rowOf, BatchColumn[] columns, List<ColumnType> types, byte[] hashes)
    {
        RowCount = count;
        _batchOf = batchOf;
        _rowOf = rowOf;
        Columns = columns;
        Names = [.. columns.Select(c => c.Name)];
        Types = types;
        Hashes = hashes;
    }

    public int RowCount { get; }
    public BatchColumn[] Columns { get; }
    public List<string> Names { get; }
    public List<ColumnType> Types { get; }
    public int ColumnCount => Names.Count;
    public byte[] Hashes { get; private set; }

    public RowBatch BatchOf(int row) => _batchOf[row];
    public int RowOf(int row) => _rowOf[row];

    /// <summary>The part as typed batches, or null when some record is not a batch row (or the batches differ, or hold Json).</summary>
    public static BatchTable? TryRead(IReadOnlyList<Record> records, CancellationToken cancellationToken)
    {
        if (records.Count == 0 || !records[0].TryGetRow(out var first, out _)) return null;
        var columns = first.ColumnArray;
        if (Array.Exists(columns, c => c.Kind == BatchKind.Json)) return null;
        var count = records.Count;
        var batchOf = ArrayPool<RowBatch>.Shared.Rent(count);
        var rowOf = ArrayPool<int>.Shared.Rent(count);
        for (var r = 0; r < count; r++)
        {
            if (!records[r].TryGetRow(out var batch, out var row) || batch.ColumnArray != columns)
            {
                Return(batchOf, rowOf, count);
                return null;
            }
            batchOf[r] = batch;
            rowOf[r] = row;
        }
        // Each batch hashes its rows into the part's array, batches in parallel. A part is mostly whole pages; a page whose
        // records validation thinned (quarantined rows left out) is hashed whole and its kept rows' hashes copied.
        var hashes = ArrayPool<byte>.Shared.Rent(count * RowBatch.HashLength);
        var runs = new List<(RowBatch Batch, int At)>();
        for (var r = 0; r < count; r++)
        {
            if (runs.Count == 0 || runs[^1].Batch != batchOf[r]) runs.Add((batchOf[r], r));
        }
        Parallel.ForEach(runs, new ParallelOptions { CancellationToken = cancellationToken }, run => Hash(run.Batch, run.At));
        var types = new List<ColumnType>(columns.Length);
        for (var c = 0; c < columns.Length; c++) types.Add(TypeOf(c, columns[c].Kind, batchOf, rowOf, count));
        return new BatchTable(count, batchOf, rowOf, columns, types, hashes);

        void Hash(RowBatch batch, int at)
        {
            var first = rowOf[at];
            var n = 1;
            while (at + n < count && batchOf[at + n] == batch && rowOf[at + n] == first + n) n++;
            if (first == 0 && n == batch.Count)
            {
                batch.WriteHashes(hashes.AsSpan(at * RowBatch.HashLength, n * RowBatch.HashLength));
                return;
            }
            var all = ArrayPool<byte>.Shared.Rent(batch.Count * RowBatch.HashLength);
            batch.WriteHashes(all);
            for (var i = at; i < count && batchOf[i] == batch; i++) all.AsSpan(rowOf[i] * RowBatch.HashLength, RowBatch.HashLength).CopyTo(hashes.AsSpan(i * RowBatch.HashLength));
            ArrayPool<byte>.Shared.Return(all);
        }
    }

    /// <summary>The type <see cref="RowTable"/> gives the column's JSON values: none while every value is null.</summary>
    private static ColumnType TypeOf(int c, BatchKind kind, RowBatch[] batchOf, int[] rowOf, int count)
    {
        var type = ColumnType.Unknown;
        for (var r = 0; r < count; r++)
        {
            var batch = batchOf[r];
            var row = rowOf[r];
            if (batch.IsNull(c, row)) continue;
            var value = kind switch
            {
                BatchKind.Boolean => ColumnType.Boolean,
                BatchKind.Integer => ColumnType.BigInt,
                BatchKind.Number when batch.IsNumberText(c, row) => ColumnType.Varchar,
                BatchKind.Number => RowTable.IsInt64(batch.Bytes(c, row)) ? ColumnType.BigInt : ColumnType.Double,
                _ => ColumnType.Varchar,
            };
            type = ColumnTypes.MergeWithinChunk(type, value);
            // Nothing follows Varchar, and the fixed kinds never change.
            if (type == ColumnType.Varchar || kind != BatchKind.Number) return type;
        }
        return type;
    }

    public string? Text(int row, int column)
    {
        var batch = _batchOf[row];
        var i = _rowOf[row];
        if (batch.IsNull(column, i)) return null;
        return Columns[column].Kind switch
        {
            BatchKind.Boolean => batch.Int64(column, i) != 0 ? "true" : "false",
            BatchKind.Integer => batch.Int64(column, i).ToString(System.Globalization.CultureInfo.InvariantCulture),
            _ => Encoding.UTF8.GetString(batch.Bytes(column, i)),
        };
    }

    public long EstimateBytes(int row) => 120 + _batchOf[row].JsonLength(_rowOf[row]);

    public int SampleHash(int row, int column)
    {
        var batch = _batchOf[row];
        var i = _rowOf[row];
        var hash = new HashCode();
        var isNull = batch.IsNull(column, i);
        hash.Add(isNull);
        if (isNull) return hash.ToHashCode();
        if (Columns[column].Kind is BatchKind.Boolean or BatchKind.Integer) hash.Add(batch.Int64(column, i));
        else hash.AddBytes(batch.Bytes(column, i));
        return hash.ToHashCode();
    }

    /// <summary>What the JSON path's cell would be called in an error (a value that does not fit its column's type).</summary>
    public string KindOf(int row, int column)
    {
        var batch = _batchOf[row];
        var i = _rowOf[row];
        return Columns[column].Kind switch
        {
            _ when batch.IsNull(column, i) => "Null",
            BatchKind.Boolean => batch.Int64(column, i) != 0 ? "True" : "False",
            BatchKind.Integer => "Number",
            BatchKind.Number when !batch.IsNumberText(column, i) => "Number",
            _ => "String",
        };
    }

    public void Dispose()
    {
        Return(_batchOf, _rowOf, RowCount);
        ArrayPool<byte>.Shared.Return(Hashes);
        _batchOf = [];
        _rowOf = [];
        Hashes = [];
    }

    private static void Return(RowBatch[] batchOf, int[] rowOf, int count)
    {
        // The batches are the records' own: drop the references before the array goes back to the pool.
        Array.Clear(batchOf, 0, count);
        ArrayPool<RowBatch>.Shared.Return(batchOf);
        ArrayPool<int>.Shared.Return(rowOf);
    }
}
