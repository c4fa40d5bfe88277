using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.Json;
using Ingot.Destinations;
using Ingot.Records;
using Ingot.Sources;
using ParquetSharp;
using ParquetSharp.Schema;

namespace Ingot.DuckDb.Parquet;

/// <summary>
/// Writes a chunk's rows (<see cref="RowTable"/>) as one bronze Parquet file through ParquetSharp (Apache Arrow's C++
/// Parquet writer), column by column straight from the rows' UTF-8: no intermediate Arrow batch, no SQL engine.
/// The file has the schema DuckDB's <c>COPY</c> gave the same rows (every column OPTIONAL; BIGINT → INT64, DOUBLE,
/// BOOLEAN, VARCHAR → STRING, lists as 3-level LIST of <c>element</c>, the metadata times as TIMESTAMP(UTC, µs)), so
/// readers see the same table. Measured on the Parquet bench: about a third of the CPU of staging the rows as Arrow and
/// running DuckDB's COPY (the scheduler, the Arrow scan and a dictionary tried on every string column, the record
/// hash included), which is what lets the job run ahead of DuckDB doing it alone. DuckDB still reads, verifies and
/// queries the files; Iceberg data files (field ids, stats from DuckDB) keep the COPY path (<see cref="BronzeStaging"/>).
/// </summary>
internal static partial class BronzeParquetWriter
{
    /// <summary>DuckDB's default row group, so files read back with the same row groups as before.</summary>
    internal const int RowGroupRows = 122_880;

    /// <summary>Rows handed to the native writer per call: bounds the scratch (levels, value pointers, bytes).</summary>
    private const int BatchRows = 4096;

    /// <summary>
    /// Writes <paramref name="order"/>'s rows of <paramref name="rows"/> to <paramref name="path"/>: the fields typed as
    /// <paramref name="types"/> says, then the metadata columns. <paramref name="compression"/>: zstd (level 1), snappy or
    /// uncompressed. A value that does not fit its column's type fails the chunk with the record and the reason.
    /// </summary>
    public static void Write(string path, string compression, RunContext run, WorkUnit chunk, Record[] records, IPartTable rows, ColumnType[] types, List<int> order, CancellationToken cancellationToken)
    {
        using var schema = Schema(rows.Names, types);
        using var properties = Properties(compression, UniqueColumns(rows, types, order, records));
        using var file = new ParquetFileWriter(path, schema, properties);
        // A lander's thread writes file after file: its scratch (levels, values, pointers, bytes) is kept for the next.
        var scratch = t_scratch ?? new Scratch();
        t_scratch = null;
        try
        {
            WriteGroups(file, rows, types, order, records, new Constants(run, chunk), scratch, cancellationToken);
        }
        finally
        {
            // A scratch grown by unusually large values is not kept.
            if (scratch.Capacity <= KeptScratchBytes) t_scratch = scratch;
            else scratch.Dispose();
        }
        file.Close();
    }

    [ThreadStatic] private static Scratch? t_scratch;
    private const long KeptScratchBytes = 4 << 20;

    private static void WriteGroups(ParquetFileWriter file, IPartTable rows, ColumnType[] types, List<int> order, Record[] records, Constants constants, Scratch scratch, CancellationToken cancellationToken)
    {
        for (var from = 0; from < order.Count; from += RowGroupRows)
        {
            var to = Math.Min(order.Count, from + RowGroupRows);
            using var group = file.AppendRowGroup();
            for (var c = 0; c < rows.ColumnCount; c++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var column = group.NextColumn();
                if (rows is BatchTable batches) WriteField(column, batches, c, types[c], order, from, to, scratch);
                else WriteField(column, (RowTable)rows, c, types[c], order, from, to, scratch);
            }
            WriteMetadata(group, constants, records, rows, order, from, to, scratch);
        }
    }

    private static GroupNode Schema(IReadOnlyList<string> names, ColumnType[] types)
    {
        var fields = new List<Node>(names.Count + MetadataColumns.All.Count);
        for (var c = 0; c < names.Count; c++)
        {
            fields.Add(types[c] switch
            {
                ColumnType.BigInt => new PrimitiveNode(names[c], Repetition.Optional, LogicalType.None(), PhysicalType.Int64),
                ColumnType.Double => new PrimitiveNode(names[c], Repetition.Optional, LogicalType.None(), PhysicalType.Double),
                ColumnType.Boolean => new PrimitiveNode(names[c], Repetition.Optional, LogicalType.None(), PhysicalType.Boolean),
                ColumnType.DoubleList => List(names[c], new PrimitiveNode("element", Repetition.Optional, LogicalType.None(), PhysicalType.Double)),
                ColumnType.VarcharList or ColumnType.EmptyList => List(names[c], Utf8("element")),
                _ => Utf8(names[c]),
            });
        }
        fields.Add(Utf8(MetadataColumns.IngestionId));
        fields.Add(Timestamp(MetadataColumns.IngestedAt));
        fields.Add(Utf8(MetadataColumns.SourceSystem));
        fields.Add(Utf8(MetadataColumns.Stream));
        fields.Add(Utf8(MetadataColumns.ChunkKey));
        fields.Add(Utf8(MetadataColumns.RecordHash));
        fields.Add(Timestamp(MetadataColumns.EventTs));
        try
        {
            return new GroupNode("duckdb_schema", Repetition.Required, fields);
        }
        finally
        {
            // The group holds its own copies of the nodes.
            foreach (var node in fields) node.Dispose();
        }

        static PrimitiveNode Utf8(string name) => new(name, Repetition.Optional, LogicalType.String(), PhysicalType.ByteArray);
        static PrimitiveNode Timestamp(string name) => new(name, Repetition.Optional, LogicalType.Timestamp(true, TimeUnit.Micros), PhysicalType.Int64);
        static GroupNode List(string name, Node element)
        {
            using (element)
            using (var entry = new GroupNode("list", Repetition.Repeated, [element]))
                return new GroupNode(name, Repetition.Optional, [entry], LogicalType.List());
        }
    }

    /// <summary>
    /// zstd at level 1 (on bronze rows about a third faster than level 3, and no larger, measured on the bench's NOAA
    /// rows). No dictionary for the record hash, nor for the columns this file holds (nearly) one value per row in
    /// (<see cref="UniqueColumns"/>): a dictionary of every value is larger than the values, and building it is work.
    /// </summary>
    private static WriterProperties Properties(string compression, List<string> unique)
    {
        using var builder = new WriterPropertiesBuilder();
        builder.Compression(compression switch
        {
            "zstd" => Compression.Zstd,
            "snappy" => Compression.Snappy,
            _ => Compression.Uncompressed,
        });
        if (compression == "zstd") builder.CompressionLevel(1);
        builder.DisableDictionary(MetadataColumns.RecordHash);
        foreach (var column in unique) builder.DisableDictionary(column);
        builder.MaxRowGroupLength(RowGroupRows);
        // The C library's allocator, not Arrow's default pool (jemalloc), which keeps freed pages: measured on the
        // Parquet bench at 5 M rows, peak RSS 250 → 153 MB, same speed.
        builder.MemoryPool(MemoryPool.SystemMemoryPool());
        return builder.Build();
    }

    private const int SampledRows = 1024;

    /// <summary>
    /// The scalar columns whose values are (nearly) all different in this file, judged on up to <see cref="SampledRows"/>
    /// rows spread over it: at least 63 in 64 sampled values distinct (keys, timestamps, the event time). A column of
    /// repeating values keeps its dictionary. Measured on the postgres-source bench's 1 M orders (order id, customer id,
    /// two timestamps and the event time unique within a file) with <c>--baseline</c> the build before, 4 repeats taking
    /// turns: wall 0.86 – 0.89 – 0.92×, machine CPU 0.82 – 0.90 – 0.92×, files 38.1 → 28.4 MB, peak RSS 195 → 163 MB.
    /// </summary>
    internal static List<string> UniqueColumns(IPartTable rows, ColumnType[] types, List<int> order, Record[] records)
    {
        var unique = new List<string>();
        if (order.Count < 128) return unique;
        var samples = Math.Min(order.Count, SampledRows);
        var step = order.Count / samples;
        var seen = new HashSet<int>(samples);
        for (var c = 0; c < rows.ColumnCount; c++)
        {
            if (types[c] is ColumnType.DoubleList or ColumnType.VarcharList or ColumnType.EmptyList) continue;
            seen.Clear();
            for (var i = 0; i < samples; i++)
            {
                seen.Add(rows.SampleHash(order[i * step], c));
            }
            if (MostlyDistinct()) unique.Add(rows.Names[c]);
        }
        seen.Clear();
        for (var i = 0; i < samples; i++) seen.Add(records[order[i * step]].EventTs?.UtcTicks.GetHashCode() ?? 0);
        if (MostlyDistinct()) unique.Add(MetadataColumns.EventTs);
        return unique;

        bool MostlyDistinct() => seen.Count >= samples - samples / 64;
    }

    // ---- fields ------------------------------------------------------------------------------------------------

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WriteField(ColumnWriter column, RowTable rows, int c, ColumnType type, List<int> order, int from, int to, Scratch scratch)
    {
        switch (type)
        {
            case ColumnType.BigInt:
                WriteFixed<long, CellValues<long>>(column, order, from, to, scratch, new(rows, c, type, static (rows, r, cell) => RowTable.ParseInt64(rows.Bytes(r, cell)), CellKind.Number, CellKind.Missing));
                break;
            case ColumnType.Double:
                WriteFixed<double, CellValues<double>>(column, order, from, to, scratch, new(rows, c, type, static (rows, r, cell) => RowTable.ParseDouble(rows.Bytes(r, cell)), CellKind.Number, CellKind.Missing));
                break;
            case ColumnType.Boolean:
                WriteFixed<bool, CellValues<bool>>(column, order, from, to, scratch, new(rows, c, type, static (_, _, cell) => cell.Kind == CellKind.True, CellKind.True, CellKind.False));
                break;
            case ColumnType.VarcharList or ColumnType.EmptyList or ColumnType.DoubleList:
                WriteList(column, rows, c, type, order, from, to, scratch);
                break;
            default:
                // Strings as their value, anything else as its compact JSON text (numbers keep the source's digits).
                WriteText(column, order, from, to, scratch, new CellText(rows, c));
                break;
        }
    }

    /// <summary>Where a text column's values come from: adds the row's bytes to the scratch, or false for a null (or missing) value.</summary>
    private interface ITextValues
    {
        bool TryAdd(int row, Scratch scratch);
    }

    /// <summary>A row table's cells of one column as text.</summary>
    private readonly record struct CellText(RowTable Rows, int Column) : ITextValues
    {
        public bool TryAdd(int row, Scratch scratch)
        {
            var cell = Rows.CellAt(row, Column);
            switch (cell.Kind)
            {
                case CellKind.Missing or CellKind.Null: return false;
                case CellKind.String: scratch.AddBytes(Rows.Bytes(row, cell)); break;
                case CellKind.EscapedString: scratch.AddBytes(Rows.StringValue(row, cell, ref scratch.Text)); break;
                default: scratch.AddBytes(Rows.JsonText(row, cell, ref scratch.Text)); break;
            }
            return true;
        }
    }

    /// <summary>A VARCHAR column: definition levels and the present values' bytes, batch by batch.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WriteText<TText>(ColumnWriter column, List<int> order, int from, int to, Scratch scratch, TText source)
        where TText : ITextValues
    {
        var writer = (ColumnWriter<ByteArray>)column;
        for (var b = from; b < to; b += BatchRows)
        {
            var n = Math.Min(BatchRows, to - b);
            var defs = scratch.Defs(n);
            scratch.StartBytes();
            for (var i = 0; i < n; i++) defs[i] = source.TryAdd(order[b + i], scratch) ? (short)1 : (short)0;
            writer.WriteBatch(n, defs, default, scratch.ByteArrays());
        }
    }

    private delegate T CellValue<T>(RowTable rows, int row, Cell cell);

    /// <summary>Where a fixed-width column's values come from: false for a null (or missing) value.</summary>
    private interface IFixedValues<T>
        where T : unmanaged
    {
        bool TryGet(int row, out T value);
    }

    /// <summary>A row table's cells of one of <paramref name="Kind"/>, <paramref name="OtherKind"/>, converted by <paramref name="Value"/>.</summary>
    private readonly record struct CellValues<T>(RowTable Rows, int Column, ColumnType Type, CellValue<T> Value, CellKind Kind, CellKind OtherKind) : IFixedValues<T>
        where T : unmanaged
    {
        public bool TryGet(int row, out T value)
        {
            var cell = Rows.CellAt(row, Column);
            value = default;
            if (cell.Kind is CellKind.Missing or CellKind.Null) return false;
            if (cell.Kind != Kind && cell.Kind != OtherKind) throw Misfit(Rows, row, Column, cell, Type);
            value = Value(Rows, row, cell);
            return true;
        }
    }

    /// <summary>A fixed-width column (BIGINT, DOUBLE, BOOLEAN): definition levels and the present values, batch by batch.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WriteFixed<T, TValues>(ColumnWriter column, List<int> order, int from, int to, Scratch scratch, TValues source)
        where T : unmanaged
        where TValues : IFixedValues<T>
    {
        var writer = (ColumnWriter<T>)column;
        var values = new T[Math.Min(BatchRows, to - from)];
        for (var b = from; b < to; b += BatchRows)
        {
            var n = Math.Min(BatchRows, to - b);
            var defs = scratch.Defs(n);
            var k = 0;
            for (var i = 0; i < n; i++)
            {
                if (!source.TryGet(order[b + i], out var value)) { defs[i] = 0; continue; }
                defs[i] = 1;
                values[k++] = value;
            }
            writer.WriteBatch(n, defs, default, values.AsSpan(0, k));
        }
    }

    /// <summary>
    /// A LIST column (3 levels: list, repeated entry, element; all optional): definition level 0 for a null list, 1 for
    /// an empty one, 2 for a null element, 3 for a value; repetition 1 for every element after a list's first.
    /// </summary>
    private static void WriteList(ColumnWriter column, RowTable rows, int c, ColumnType type, List<int> order, int from, int to, Scratch scratch)
    {
        var doubles = type == ColumnType.DoubleList;
        var byteWriter = doubles ? null : (ColumnWriter<ByteArray>)column;
        var doubleWriter = doubles ? (ColumnWriter<double>)column : null;
        var defs = new List<short>(BatchRows);
        var reps = new List<short>(BatchRows);
        var numbers = new List<double>();
        for (var b = from; b < to; b += BatchRows)
        {
            var n = Math.Min(BatchRows, to - b);
            defs.Clear();
            reps.Clear();
            numbers.Clear();
            scratch.StartBytes();
            for (var i = 0; i < n; i++)
            {
                var r = order[b + i];
                var cell = rows.CellAt(r, c);
                if (cell.Kind is CellKind.Missing or CellKind.Null)
                {
                    defs.Add(0);
                    reps.Add(0);
                    continue;
                }
                if (cell.Kind != CellKind.Array) throw Misfit(rows, r, c, cell, type);
                var reader = new Utf8JsonReader(rows.Bytes(r, cell));
                reader.Read();
                var count = 0;
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    reps.Add(count++ == 0 ? (short)0 : (short)1);
                    if (reader.TokenType == JsonTokenType.Null)
                    {
                        defs.Add(2);
                        continue;
                    }
                    defs.Add(3);
                    switch (reader.TokenType)
                    {
                        case JsonTokenType.Number when doubles:
                            numbers.Add(reader.GetDouble());
                            break;
                        case JsonTokenType.String when !doubles:
                            if (!reader.ValueIsEscaped)
                            {
                                scratch.AddBytes(reader.ValueSpan);
                            }
                            else
                            {
                                if (scratch.Text.Length < reader.ValueSpan.Length) scratch.Text = new byte[reader.ValueSpan.Length * 2];
                                scratch.AddBytes(scratch.Text.AsSpan(0, reader.CopyString(scratch.Text)));
                            }
                            break;
                        case JsonTokenType.Number or JsonTokenType.True or JsonTokenType.False when !doubles:
                            scratch.AddBytes(reader.ValueSpan);
                            break;
                        default:
                            throw Misfit(rows, r, c, cell, type);
                    }
                }
                if (count == 0)
                {
                    defs.Add(1);
                    reps.Add(0);
                }
            }
            var levels = CollectionsMarshal.AsSpan(defs);
            if (doubles) doubleWriter!.WriteBatch(levels.Length, levels, CollectionsMarshal.AsSpan(reps), CollectionsMarshal.AsSpan(numbers));
            else byteWriter!.WriteBatch(levels.Length, levels, CollectionsMarshal.AsSpan(reps), scratch.ByteArrays());
        }
    }

    // ---- metadata ----------------------------------------------------------------------------------------------

    /// <summary>The run's and the chunk's constants as UTF-8, and the run's time in microseconds.</summary>
    private sealed class Constants(RunContext run, WorkUnit chunk)
    {
        public readonly byte[] IngestionId = System.Text.Encoding.UTF8.GetBytes(run.RunId.ToString());
        public readonly long IngestedAt = Micros(run.IngestedAt);
        public readonly byte[] SourceSystem = System.Text.Encoding.UTF8.GetBytes(chunk.SourceSystem);
        public readonly byte[] Stream = System.Text.Encoding.UTF8.GetBytes(chunk.Stream);
        public readonly byte[] ChunkKey = System.Text.Encoding.UTF8.GetBytes(chunk.Key);
    }

    private static long Micros(DateTimeOffset at) => (at.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / TimeSpan.TicksPerMicrosecond;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WriteMetadata(RowGroupWriter group, Constants constants, Record[] records, IPartTable rows, List<int> order, int from, int to, Scratch scratch)
    {
        WriteConstant(group, constants.IngestionId, from, to, scratch);
        using (var column = (ColumnWriter<long>)group.NextColumn())
        {
            for (var b = from; b < to; b += BatchRows)
            {
                var n = Math.Min(BatchRows, to - b);
                var values = scratch.Longs(n);
                values.Fill(constants.IngestedAt);
                var defs = scratch.Defs(n);
                defs.Fill(1);
                column.WriteBatch(n, defs, default, values);
            }
        }
        WriteConstant(group, constants.SourceSystem, from, to, scratch);
        WriteConstant(group, constants.Stream, from, to, scratch);
        WriteConstant(group, constants.ChunkKey, from, to, scratch);
        using (var column = (ColumnWriter<ByteArray>)group.NextColumn())
        {
            for (var b = from; b < to; b += BatchRows)
            {
                var n = Math.Min(BatchRows, to - b);
                var defs = scratch.Defs(n);
                defs.Fill(1);
                scratch.StartBytes();
                for (var i = 0; i < n; i++) scratch.AddBytes(rows.Hashes.AsSpan(order[b + i] * RowTable.HashLength, RowTable.HashLength));
                column.WriteBatch(n, defs, default, scratch.ByteArrays());
            }
        }
        using (var column = (ColumnWriter<long>)group.NextColumn())
        {
            for (var b = from; b < to; b += BatchRows)
            {
                var n = Math.Min(BatchRows, to - b);
                var values = scratch.Longs(n);
                var defs = scratch.Defs(n);
                var k = 0;
                for (var i = 0; i < n; i++)
                {
                    if (records[order[b + i]].EventTs is { } ts)
                    {
                        defs[i] = 1;
                        values[k++] = Micros(ts);
                    }
                    else
                    {
                        defs[i] = 0;
                    }
                }
                column.WriteBatch(n, defs, default, values[..k]);
            }
        }
    }

    private static unsafe void WriteConstant(RowGroupWriter group, byte[] value, int from, int to, Scratch scratch)
    {
        using var column = (ColumnWriter<ByteArray>)group.NextColumn();
        fixed (byte* p = value)
        {
            for (var b = from; b < to; b += BatchRows)
            {
                var n = Math.Min(BatchRows, to - b);
                var defs = scratch.Defs(n);
                defs.Fill(1);
                var values = scratch.Pointers(n);
                values.Fill(new ByteArray((IntPtr)p, value.Length));
                column.WriteBatch(n, defs, default, values);
            }
        }
    }

    private static InvalidDataException Misfit(RowTable rows, int row, int column, Cell cell, ColumnType type) =>
        new($"record {row + 1}: field '{rows.Names[column]}' holds {cell.Kind}, which does not fit the column's type {type.Sql()}");

    /// <summary>
    /// A file's reusable buffers: levels and values per batch, and the batch's string bytes in native memory (the
    /// writer reads them through pointers, so they must not move while it runs; they are copied into its pages). Kept
    /// per thread from file to file; the native bytes are freed by <see cref="Dispose"/> or, when the thread ends, the finalizer.
    /// </summary>
    private sealed unsafe class Scratch : IDisposable
    {
        ~Scratch() => NativeMemory.Free(_bytes);

        public long Capacity => _capacity;

        private short[] _defs = new short[BatchRows];
        private long[] _longs = new long[BatchRows];
        private ByteArray[] _pointers = new ByteArray[BatchRows];
        private readonly List<(long Offset, int Length)> _spans = new(BatchRows);
        private byte* _bytes;
        private long _capacity;
        private long _used;

        /// <summary>Scratch for unescaping a string or compacting a JSON value.</summary>
        public byte[] Text = new byte[256];

        public Span<short> Defs(int n) => _defs.AsSpan(0, n);
        public Span<long> Longs(int n) => _longs.AsSpan(0, n);
        public Span<ByteArray> Pointers(int n) => _pointers.AsSpan(0, n);

        public void StartBytes()
        {
            _spans.Clear();
            _used = 0;
        }

        public void AddBytes(ReadOnlySpan<byte> value)
        {
            if (_used + value.Length > _capacity)
            {
                var capacity = Math.Max(Math.Max(_capacity * 2, 1 << 16), _used + value.Length);
                _bytes = (byte*)NativeMemory.Realloc(_bytes, (nuint)capacity);
                _capacity = capacity;
            }
            value.CopyTo(new Span<byte>(_bytes + _used, value.Length));
            _spans.Add((_used, value.Length));
            _used += value.Length;
        }

        /// <summary>The batch's values as pointers into the byte buffer (valid until the next <see cref="AddBytes"/>).</summary>
        public ReadOnlySpan<ByteArray> ByteArrays()
        {
            if (_pointers.Length < _spans.Count) _pointers = new ByteArray[_spans.Count * 2];
            for (var i = 0; i < _spans.Count; i++) _pointers[i] = new ByteArray((IntPtr)(_bytes + _spans[i].Offset), _spans[i].Length);
            return _pointers.AsSpan(0, _spans.Count);
        }

        public void Dispose()
        {
            NativeMemory.Free(_bytes);
            _bytes = null;
            _capacity = 0;
            GC.SuppressFinalize(this);
        }
    }
}
