// Over ~400 lines on purpose: one hot loop (records -> typed columns + MD5 per row, straight from UTF-8) measured as a
// whole on the Parquet bench; its helpers are small and only make sense beside it.
using System.Buffers.Text;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ingot.Records;
using System.Runtime.CompilerServices;

namespace Ingot.DuckDb.Parquet;

/// <summary>What a cell of a <see cref="RowTable"/> holds; <see cref="Missing"/> when the record has no such field.</summary>
internal enum CellKind : byte
{
    Missing,
    Null,
    /// <summary>A string without escapes: the cell's bytes are its UTF-8 value.</summary>
    String,
    /// <summary>A string with escape sequences: the cell's bytes are the escaped text between the quotes.</summary>
    EscapedString,
    Number,
    True,
    False,
    Object,
    Array,
}

/// <summary>One field of one row: where its JSON text sits in the row's UTF-8 and what it is.</summary>
internal readonly record struct Cell(int Start, int Length, CellKind Kind);

/// <summary>
/// A chunk's records read once from their UTF-8 JSON text: the columns (first-seen order) with the type each holds in
/// this chunk (<see cref="ColumnTypes"/>), every field as a <see cref="Cell"/> pointing into the row's text, and each
/// row's <c>_record_hash</c> (MD5 of the canonical JSON: keys sorted ordinally at every level, no whitespace — the same
/// bytes <see cref="RecordHasher"/> hashes). No object is built per field; rows are read in parallel blocks.
/// Records held as objects are written to UTF-8 first.
/// </summary>
internal sealed class RowTable : IPartTable, IDisposable
{
    public const int HashLength = 32;
    private const int BlockRows = 4096;
    private static readonly JavaScriptEncoder Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping;
    private static readonly JsonWriterOptions WriterOptions = new() { Indented = false, Encoder = Encoder };

    // Per-chunk arrays run to megabytes: rented, so a chunk after chunk does not churn the large-object heap.
    private ReadOnlyMemory<byte>[] _json;
    private Cell[] _cells;
    private readonly int _count;

    private RowTable(int count, ReadOnlyMemory<byte>[] json, List<string> names, List<ColumnType> types, Cell[] cells, byte[] hashes)
    {
        _count = count;
        _json = json;
        Names = names;
        Types = types;
        _cells = cells;
        Hashes = hashes;
    }

    public int RowCount => _count;
    public List<string> Names { get; }
    public List<ColumnType> Types { get; }
    public int ColumnCount => Names.Count;

    /// <summary>Row <c>i</c>'s hash as 32 lowercase hex bytes at <c>32 * i</c>.</summary>
    public byte[] Hashes { get; private set; }

    public void Dispose()
    {
        // The row texts are references into the records: clear them before the array goes back to the pool.
        Array.Clear(_json, 0, _count);
        System.Buffers.ArrayPool<ReadOnlyMemory<byte>>.Shared.Return(_json);
        System.Buffers.ArrayPool<Cell>.Shared.Return(_cells);
        System.Buffers.ArrayPool<byte>.Shared.Return(Hashes);
        _json = [];
        _cells = [];
        Hashes = [];
    }

    public ReadOnlySpan<byte> Json(int row) => _json[row].Span;

    public string? Text(int row, int column) => Text(row, CellAt(row, column));

    public long EstimateBytes(int row) => 120 + _json[row].Length;

    public int SampleHash(int row, int column)
    {
        var cell = CellAt(row, column);
        var hash = new HashCode();
        var isNull = cell.Kind is CellKind.Missing or CellKind.Null;
        hash.Add(isNull);
        if (!isNull) hash.AddBytes(Bytes(row, cell));
        return hash.ToHashCode();
    }

    public Cell CellAt(int row, int column) => _cells[row * Names.Count + column];

    /// <summary>The bytes a cell points at (for a string, without its quotes).</summary>
    public ReadOnlySpan<byte> Bytes(int row, Cell cell) => _json[row].Span.Slice(cell.Start, cell.Length);

    /// <summary>
    /// Reads every record; a record that is not a JSON object fails the chunk with its position and the reason.
    /// <paramref name="plainScan"/> off reads every row with <see cref="Utf8JsonReader"/> (tests compare the two).
    /// </summary>
    public static RowTable Read(string chunkKey, IReadOnlyList<Record> records, CancellationToken cancellationToken, bool plainScan = true)
    {
        var count = records.Count;
        var json = System.Buffers.ArrayPool<ReadOnlyMemory<byte>>.Shared.Rent(count);
        var hashes = System.Buffers.ArrayPool<byte>.Shared.Rent(count * HashLength);
        var blocks = new BlockReader[(count + BlockRows - 1) / BlockRows];
        void ReadBlock(int b)
        {
            var reader = new BlockReader(chunkKey, records, json, hashes, b * BlockRows, Math.Min(count, (b + 1) * BlockRows), plainScan);
            reader.Run(cancellationToken);
            blocks[b] = reader;
        }
        try
        {
            if (blocks.Length == 1) ReadBlock(0);
            else Parallel.For(0, blocks.Length, new ParallelOptions { CancellationToken = cancellationToken }, ReadBlock);
        }
        catch
        {
            foreach (var block in blocks) block?.Release();
            Array.Clear(json, 0, count);
            System.Buffers.ArrayPool<ReadOnlyMemory<byte>>.Shared.Return(json);
            System.Buffers.ArrayPool<byte>.Shared.Return(hashes);
            throw;
        }

        // Merge the blocks' columns in block order: a column first seen in an earlier block comes first, which is the
        // chunk's first-seen order whatever the block size.
        var names = new List<string>();
        var types = new List<ColumnType>();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var maps = new int[blocks.Length][];
        for (var b = 0; b < blocks.Length; b++)
        {
            var block = blocks[b];
            var map = maps[b] = new int[block.Names.Count];
            for (var c = 0; c < block.Names.Count; c++)
            {
                if (!index.TryGetValue(block.Names[c], out var g))
                {
                    index[block.Names[c]] = g = names.Count;
                    names.Add(block.Names[c]);
                    types.Add(ColumnType.Unknown);
                }
                types[g] = ColumnTypes.MergeWithinChunk(types[g], block.Types[c]);
                map[c] = g;
            }
        }
        var size = checked(count * names.Count);
        var cells = System.Buffers.ArrayPool<Cell>.Shared.Rent(Math.Max(size, 1));
        Array.Clear(cells, 0, size);
        for (var b = 0; b < blocks.Length; b++)
        {
            blocks[b].CopyCells(cells, names.Count, maps[b]);
            blocks[b].Release();
        }
        return new RowTable(count, json, names, types, cells, hashes);
    }

    /// <summary>A string cell's value as UTF-8 (escapes resolved), into <paramref name="scratch"/> when it needs unescaping.</summary>
    public ReadOnlySpan<byte> StringValue(int row, Cell cell, ref byte[] scratch)
    {
        var raw = Bytes(row, cell);
        if (cell.Kind == CellKind.String) return raw;
        // The token with its quotes, read again: the reader resolves the escapes into UTF-8.
        var reader = new Utf8JsonReader(_json[row].Span.Slice(cell.Start - 1, cell.Length + 2));
        reader.Read();
        if (scratch.Length < raw.Length) scratch = new byte[Math.Max(raw.Length, scratch.Length * 2)];
        var written = reader.CopyString(scratch);
        return scratch.AsSpan(0, written);
    }

    /// <summary>A non-string cell as compact JSON text (numbers keep the source's digits).</summary>
    public ReadOnlySpan<byte> JsonText(int row, Cell cell, ref byte[] scratch) => cell.Kind switch
    {
        CellKind.Number => Bytes(row, cell),
        CellKind.True => "true"u8,
        CellKind.False => "false"u8,
        CellKind.Null or CellKind.Missing => "null"u8,
        _ => Compact(Bytes(row, cell), ref scratch),
    };

    /// <summary>A cell as text: a string's value, any other value's compact JSON; null when null or missing.</summary>
    public string? Text(int row, Cell cell)
    {
        var scratch = Array.Empty<byte>();
        return cell.Kind switch
        {
            CellKind.Missing or CellKind.Null => null,
            CellKind.String or CellKind.EscapedString => Encoding.UTF8.GetString(StringValue(row, cell, ref scratch)),
            _ => Encoding.UTF8.GetString(JsonText(row, cell, ref scratch)),
        };
    }

    private static ReadOnlySpan<byte> Compact(ReadOnlySpan<byte> json, ref byte[] scratch)
    {
        using var document = JsonDocument.Parse(json.ToArray());
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(json.Length + 16);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions)) document.RootElement.WriteTo(writer);
        if (scratch.Length < buffer.WrittenCount) scratch = new byte[buffer.WrittenCount];
        buffer.WrittenSpan.CopyTo(scratch);
        return scratch.AsSpan(0, buffer.WrittenCount);
    }

    /// <summary>Reads rows [from, to) with its own column list, so blocks run in parallel without sharing state.</summary>
    private sealed class BlockReader(string chunkKey, IReadOnlyList<Record> records, ReadOnlyMemory<byte>[] json, byte[] hashes, int from, int to, bool plainScan)
    {
        private ColumnType[] _rowTypes = new ColumnType[16];
        private readonly Dictionary<string, int> _index = new(StringComparer.Ordinal);
        private readonly List<byte[]> _nameUtf8 = [];
        private readonly List<byte[]> _canonicalName = [];
        private int[] _seen = new int[16];
        // Per row: its fields (column, cell) in source order.
        private readonly int[] _rowStart = new int[to - from + 1];
        private int[] _fieldColumn = System.Buffers.ArrayPool<int>.Shared.Rent((to - from) * 8);
        private Cell[] _fieldCell = System.Buffers.ArrayPool<Cell>.Shared.Rent((to - from) * 8);
        private int _fieldCount;
        // The previous row's column order and its sorted permutation: most rows repeat both.
        private int[] _lastColumns = [];
        private int[] _lastOrder = [];
        private int[] _order = new int[16];
        private byte[] _canonical = new byte[4096];
        private readonly int[] _batchStart = new int[8];
        private readonly int[] _batchLength = new int[8];
        private readonly int[] _batchRow = new int[8];
        private int _batchCount;
        private int _batchUsed;
        private byte[] _scratch = new byte[256];
        private byte[]? _arena;
        private int _arenaUsed;
        private System.Buffers.ArrayBufferWriter<byte>? _objectBuffer;
        private Utf8JsonWriter? _objectWriter;

        public List<string> Names { get; } = [];
        public List<ColumnType> Types { get; } = [];

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(CancellationToken cancellationToken)
        {
            for (var row = from; row < to; row++)
            {
                if (((row - from) & 1023) == 0) cancellationToken.ThrowIfCancellationRequested();
                var record = records[row];
                json[row] = record.TryGetUtf8(out var utf8) ? utf8 : Serialize(record.Fields);
                try
                {
                    ReadRow(row);
                }
                catch (JsonException e)
                {
                    throw new InvalidDataException($"chunk '{chunkKey}': record {row + 1} is not valid JSON: {e.Message}", e);
                }
            }
            FlushHashes();
            _rowStart[to - from] = _fieldCount;
        }

        public void Release()
        {
            System.Buffers.ArrayPool<int>.Shared.Return(_fieldColumn);
            System.Buffers.ArrayPool<Cell>.Shared.Return(_fieldCell);
            _fieldColumn = [];
            _fieldCell = [];
        }

        public void CopyCells(Cell[] cells, int columns, int[] map)
        {
            for (var row = from; row < to; row++)
            {
                var start = _rowStart[row - from];
                var end = _rowStart[row - from + 1];
                for (var f = start; f < end; f++) cells[row * columns + map[_fieldColumn[f]]] = _fieldCell[f];
            }
        }

        private InvalidDataException Bad(int row, string what) => new($"chunk '{chunkKey}': record {row + 1} {what}");

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void ReadRow(int row)
        {
            var span = json[row].Span;
            if (plainScan && TryReadPlainRow(row, span)) return;
            var reader = new Utf8JsonReader(span);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) throw Bad(row, "is not a JSON object");
            _rowStart[row - from] = _fieldCount;
            var firstField = _fieldCount;
            var stamp = row - from + 1;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var column = Column(ref reader, _fieldCount - firstField);
                if (_seen[column] == stamp) throw Bad(row, $"has the field '{Names[column]}' twice");
                _seen[column] = stamp;
                reader.Read();
                Cell cell;
                ColumnType type;
                switch (reader.TokenType)
                {
                    case JsonTokenType.String:
                        cell = new Cell((int)reader.TokenStartIndex + 1, reader.ValueSpan.Length, reader.ValueIsEscaped ? CellKind.EscapedString : CellKind.String);
                        type = ColumnType.Varchar;
                        break;
                    case JsonTokenType.Number:
                        cell = new Cell((int)reader.TokenStartIndex, reader.ValueSpan.Length, CellKind.Number);
                        type = IsInt64(reader.ValueSpan) ? ColumnType.BigInt : ColumnType.Double;
                        break;
                    case JsonTokenType.True:
                    case JsonTokenType.False:
                        cell = new Cell((int)reader.TokenStartIndex, reader.ValueSpan.Length, reader.TokenType == JsonTokenType.True ? CellKind.True : CellKind.False);
                        type = ColumnType.Boolean;
                        break;
                    case JsonTokenType.Null:
                        cell = new Cell((int)reader.TokenStartIndex, 4, CellKind.Null);
                        type = ColumnType.Unknown;
                        break;
                    case JsonTokenType.StartObject:
                    {
                        var start = (int)reader.TokenStartIndex;
                        reader.Skip();
                        cell = new Cell(start, (int)reader.BytesConsumed - start, CellKind.Object);
                        type = ColumnType.Varchar;
                        break;
                    }
                    default:
                    {
                        var start = (int)reader.TokenStartIndex;
                        type = ClassifyArray(ref reader);
                        cell = new Cell(start, (int)reader.BytesConsumed - start, CellKind.Array);
                        break;
                    }
                }
                Types[column] = ColumnTypes.MergeWithinChunk(Types[column], type);
                if (_fieldCount == _fieldColumn.Length) Grow();
                _fieldColumn[_fieldCount] = column;
                _fieldCell[_fieldCount++] = cell;
            }
            // Anything after the object (a second value, stray text) makes the reader throw here.
            while (reader.Read()) { }
            Hash(row, span, firstField, _fieldCount - firstField);
        }

        /// <summary>
        /// Reads a row that is a flat object of plain values — names and strings of printable ASCII without escapes,
        /// numbers, true, false, null, JSON whitespace between tokens — without <see cref="Utf8JsonReader"/>: the shape
        /// nearly every bronze record has. It accepts only text that is valid JSON and gives the cells the reader gives;
        /// anything else (nesting, escapes, non-ASCII, a syntax error) returns false having changed nothing, and the row
        /// is read by the reader. Measured on the Parquet bench (5 M NOAA rows, perf): the reader's path was ~15% of the
        /// CPU, this scan ~10%; 1 M rows land in 1.09–1.14 s instead of 1.20–1.27 s (RowTableTests compares the two paths
        /// on the same rows).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private bool TryReadPlainRow(int row, ReadOnlySpan<byte> span)
        {
            var firstField = _fieldCount;
            var stamp = row - from + 1;
            var i = SkipSpace(span, 0);
            if (i >= span.Length || span[i] != (byte)'{') return false;
            i = SkipSpace(span, i + 1);
            if (i < span.Length && span[i] == (byte)'}')
            {
                i++;
            }
            else
            {
                while (true)
                {
                    // "name"
                    if (i >= span.Length || span[i] != (byte)'"') return Undo(firstField);
                    var nameStart = i + 1;
                    var nameEnd = PlainStringEnd(span, nameStart);
                    if (nameEnd < 0) return Undo(firstField);
                    i = SkipSpace(span, nameEnd + 1);
                    if (i >= span.Length || span[i] != (byte)':') return Undo(firstField);
                    i = SkipSpace(span, i + 1);
                    if (i >= span.Length) return Undo(firstField);
                    // value
                    Cell cell;
                    ColumnType type;
                    var b = span[i];
                    if (b == (byte)'"')
                    {
                        var end = PlainStringEnd(span, i + 1);
                        if (end < 0) return Undo(firstField);
                        cell = new Cell(i + 1, end - i - 1, CellKind.String);
                        type = ColumnType.Varchar;
                        i = end + 1;
                    }
                    else if (b == (byte)'-' || (uint)(b - '0') <= 9)
                    {
                        var end = NumberEnd(span, i);
                        if (end < 0) return Undo(firstField);
                        var number = span[i..end];
                        cell = new Cell(i, end - i, CellKind.Number);
                        type = IsInt64(number) ? ColumnType.BigInt : ColumnType.Double;
                        i = end;
                    }
                    else if (span[i..].StartsWith("true"u8))
                    {
                        cell = new Cell(i, 4, CellKind.True);
                        type = ColumnType.Boolean;
                        i += 4;
                    }
                    else if (span[i..].StartsWith("false"u8))
                    {
                        cell = new Cell(i, 5, CellKind.False);
                        type = ColumnType.Boolean;
                        i += 5;
                    }
                    else if (span[i..].StartsWith("null"u8))
                    {
                        cell = new Cell(i, 4, CellKind.Null);
                        type = ColumnType.Unknown;
                        i += 4;
                    }
                    else
                    {
                        return Undo(firstField);
                    }
                    // A literal or number must end at a delimiter ("truex", "12a" are not JSON).
                    i = SkipSpace(span, i);
                    if (i >= span.Length || (span[i] != (byte)',' && span[i] != (byte)'}')) return Undo(firstField);

                    var column = Column(span.Slice(nameStart, nameEnd - nameStart), _fieldCount - firstField);
                    if (_seen[column] == stamp) return Undo(firstField);
                    _seen[column] = stamp;
                    if (_fieldCount == _fieldColumn.Length) Grow();
                    var k = _fieldCount - firstField;
                    if (k == _rowTypes.Length) Array.Resize(ref _rowTypes, k * 2);
                    _rowTypes[k] = type;
                    _fieldColumn[_fieldCount] = column;
                    _fieldCell[_fieldCount++] = cell;

                    if (span[i] == (byte)'}')
                    {
                        i++;
                        break;
                    }
                    i = SkipSpace(span, i + 1);
                }
            }
            if (SkipSpace(span, i) != span.Length) return Undo(firstField);

            // Valid: the row's fields and types count now, as the reader's path counts them.
            _rowStart[row - from] = firstField;
            for (var f = firstField; f < _fieldCount; f++)
            {
                var column = _fieldColumn[f];
                Types[column] = ColumnTypes.MergeWithinChunk(Types[column], _rowTypes[f - firstField]);
            }
            Hash(row, span, firstField, _fieldCount - firstField, plainStrings: true);
            return true;
        }

        /// <summary>Takes back the fields a plain scan added (and their marks), so the reader starts the row afresh.</summary>
        private bool Undo(int firstField)
        {
            for (var f = firstField; f < _fieldCount; f++) _seen[_fieldColumn[f]] = 0;
            _fieldCount = firstField;
            return false;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static int SkipSpace(ReadOnlySpan<byte> span, int i)
        {
            // Compact JSON: the next byte is a token.
            if ((uint)i < (uint)span.Length && span[i] > (byte)' ') return i;
            while (i < span.Length && span[i] is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r') i++;
            return i;
        }

        /// <summary>The index of the closing quote of a string of printable ASCII without escapes starting at <paramref name="i"/>; -1 for anything else.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static int PlainStringEnd(ReadOnlySpan<byte> span, int i)
        {
            var classes = ByteClass;
            for (; (uint)i < (uint)span.Length; i++)
            {
                var c = classes[span[i]];
                if (c == 0) continue;
                return c == 1 ? i : -1;
            }
            return -1;
        }

        /// <summary>Per byte inside a plain string: 0 printable ASCII, 1 the closing quote, 2 anything that is not plain (backslash, control, non-ASCII).</summary>
        private static ReadOnlySpan<byte> ByteClass =>
        [
            2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
            0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0,
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
            2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
            2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
            2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
            2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
        ];

        /// <summary>The end of a JSON number (RFC 8259 grammar) starting at <paramref name="i"/>; -1 when the text there is not one.</summary>
        private static int NumberEnd(ReadOnlySpan<byte> span, int i)
        {
            if (span[i] == (byte)'-') i++;
            if (i >= span.Length) return -1;
            if (span[i] == (byte)'0') i++;
            else if ((uint)(span[i] - '1') <= 8) i = Digits(span, i + 1);
            else return -1;
            if (i < span.Length && span[i] == (byte)'.')
            {
                var start = i + 1;
                i = Digits(span, start);
                if (i == start) return -1;
            }
            if (i < span.Length && (span[i] | 0x20) == (byte)'e')
            {
                i++;
                if (i < span.Length && span[i] is (byte)'+' or (byte)'-') i++;
                var start = i;
                i = Digits(span, start);
                if (i == start) return -1;
            }
            return i;

            static int Digits(ReadOnlySpan<byte> span, int i)
            {
                while (i < span.Length && (uint)(span[i] - '0') <= 9) i++;
                return i;
            }
        }

        private void Grow()
        {
            var columns = System.Buffers.ArrayPool<int>.Shared.Rent(_fieldColumn.Length * 2);
            var cells = System.Buffers.ArrayPool<Cell>.Shared.Rent(_fieldColumn.Length * 2);
            _fieldColumn.AsSpan(0, _fieldCount).CopyTo(columns);
            _fieldCell.AsSpan(0, _fieldCount).CopyTo(cells);
            System.Buffers.ArrayPool<int>.Shared.Return(_fieldColumn);
            System.Buffers.ArrayPool<Cell>.Shared.Return(_fieldCell);
            _fieldColumn = columns;
            _fieldCell = cells;
        }

        /// <summary>The column of the property under the reader: the previous row's column at this position when the name matches.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private int Column(ref Utf8JsonReader reader, int position)
        {
            ReadOnlySpan<byte> name;
            if (reader.ValueIsEscaped)
            {
                if (_scratch.Length < reader.ValueSpan.Length) _scratch = new byte[reader.ValueSpan.Length * 2];
                name = _scratch.AsSpan(0, reader.CopyString(_scratch));
            }
            else
            {
                name = reader.ValueSpan;
            }
            return Column(name, position);
        }

        /// <summary>The column of the property name <paramref name="name"/> (unescaped UTF-8) at <paramref name="position"/> in its row.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private int Column(ReadOnlySpan<byte> name, int position)
        {
            if (position < _lastColumns.Length && _nameUtf8[_lastColumns[position]].AsSpan().SequenceEqual(name))
                return _lastColumns[position];
            var text = Encoding.UTF8.GetString(name);
            if (_index.TryGetValue(text, out var column)) return column;
            column = Names.Count;
            _index[text] = column;
            Names.Add(text);
            Types.Add(ColumnType.Unknown);
            _nameUtf8.Add(name.ToArray());
            _canonicalName.Add(BatchColumn.KeyFor(text));
            if (_seen.Length < Names.Count) Array.Resize(ref _seen, _seen.Length * 2);
            return column;
        }

        /// <summary>The column type of an array (reader on its start; left on its end): see <see cref="ColumnTypes.Classify"/>.</summary>
        private static ColumnType ClassifyArray(ref Utf8JsonReader reader)
        {
            var kind = ColumnType.EmptyList;
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                ColumnType item;
                switch (reader.TokenType)
                {
                    case JsonTokenType.Null:
                        continue;
                    case JsonTokenType.String:
                        item = ColumnType.VarcharList;
                        break;
                    case JsonTokenType.Number:
                        item = ColumnType.DoubleList;
                        break;
                    case JsonTokenType.StartObject:
                    case JsonTokenType.StartArray:
                        reader.Skip();
                        item = ColumnType.Varchar;
                        break;
                    default:
                        item = ColumnType.Varchar;
                        break;
                }
                if (kind == ColumnType.EmptyList) kind = item;
                else if (kind != item) kind = ColumnType.Varchar;
            }
            return kind;
        }

        /// <summary>The canonical JSON of a row (fields sorted by name) hashed into <see cref="RowTable.Hashes"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Hash(int row, ReadOnlySpan<byte> span, int first, int count, bool plainStrings = false)
        {
            if (_order.Length < count) _order = new int[count * 2];
            var order = _order.AsSpan(0, count);
            var columns = _fieldColumn.AsSpan(first, count);
            if (columns.SequenceEqual(_lastColumns))
            {
                _lastOrder.CopyTo(order);
            }
            else
            {
                for (var i = 0; i < count; i++) order[i] = i;
                // Insertion sort by name: records have few fields, and names are unique within a record.
                for (var i = 1; i < count; i++)
                {
                    var item = order[i];
                    var j = i - 1;
                    while (j >= 0 && string.CompareOrdinal(Names[columns[order[j]]], Names[columns[item]]) > 0)
                    {
                        order[j + 1] = order[j];
                        j--;
                    }
                    order[j + 1] = item;
                }
                _lastColumns = columns.ToArray();
                _lastOrder = order.ToArray();
            }

            // Rows' canonical texts queue up in one buffer and are hashed eight at a time (one per vector lane).
            var start = _batchUsed;
            var length = plainStrings ? AppendPlain(span, first, order) : start;
            if (plainStrings) goto Queued;
            Append(ref length, "{"u8);
            for (var i = 0; i < count; i++)
            {
                if (i > 0) Append(ref length, ","u8);
                var f = first + order[i];
                Append(ref length, _canonicalName[_fieldColumn[f]]);
                var cell = _fieldCell[f];
                var bytes = span.Slice(cell.Start, cell.Length);
                switch (cell.Kind)
                {
                    // The plain scan took only printable ASCII without escapes.
                    case CellKind.String when plainStrings || IsPlainAscii(bytes):
                        Append(ref length, "\""u8);
                        Append(ref length, bytes);
                        Append(ref length, "\""u8);
                        break;
                    case CellKind.String:
                    case CellKind.EscapedString:
                    {
                        // Non-ASCII or escaped text: written the way the canonical writer writes any string.
                        var reader = new Utf8JsonReader(span.Slice(cell.Start - 1, cell.Length + 2));
                        reader.Read();
                        var encoded = JsonEncodedText.Encode(reader.GetString()!, Encoder).EncodedUtf8Bytes;
                        Append(ref length, "\""u8);
                        Append(ref length, encoded);
                        Append(ref length, "\""u8);
                        break;
                    }
                    case CellKind.Object:
                    case CellKind.Array:
                        Append(ref length, Encoding.UTF8.GetBytes(RecordHasher.Canonical(JsonNode.Parse(bytes))));
                        break;
                    default:
                        // Numbers keep the source's digits; true, false and null are their own text.
                        Append(ref length, bytes);
                        break;
                }
            }
            Append(ref length, "}"u8);

        Queued:
            if (!Md5.IsBatchAccelerated)
            {
                Md5.HashHexUtf8(_canonical.AsSpan(start, length - start), hashes.AsSpan(row * HashLength, HashLength));
                return;
            }
            _batchStart[_batchCount] = start;
            _batchLength[_batchCount] = length - start;
            _batchRow[_batchCount++] = row;
            _batchUsed = length;
            if (_batchCount == 8) FlushHashes();
        }

        /// <summary>
        /// A plain-scanned row's canonical text (every value a plain string, number or literal: its bytes are its canonical
        /// form) appended at <see cref="_batchUsed"/>, sized once instead of checked per piece; returns the end.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private int AppendPlain(ReadOnlySpan<byte> span, int first, ReadOnlySpan<int> order)
        {
            var size = 2 + order.Length;
            foreach (var o in order)
            {
                var cell = _fieldCell[first + o];
                size += _canonicalName[_fieldColumn[first + o]].Length + cell.Length + (cell.Kind == CellKind.String ? 2 : 0);
            }
            if (_batchUsed + size > _canonical.Length) Array.Resize(ref _canonical, Math.Max(_canonical.Length * 2, _batchUsed + size));
            var to = _canonical.AsSpan(_batchUsed, size);
            var at = 0;
            to[at++] = (byte)'{';
            for (var i = 0; i < order.Length; i++)
            {
                if (i > 0) to[at++] = (byte)',';
                var f = first + order[i];
                var name = _canonicalName[_fieldColumn[f]];
                name.CopyTo(to[at..]);
                at += name.Length;
                var cell = _fieldCell[f];
                var bytes = span.Slice(cell.Start, cell.Length);
                if (cell.Kind == CellKind.String)
                {
                    to[at++] = (byte)'"';
                    bytes.CopyTo(to[at..]);
                    at += bytes.Length;
                    to[at++] = (byte)'"';
                }
                else
                {
                    bytes.CopyTo(to[at..]);
                    at += bytes.Length;
                }
            }
            to[at++] = (byte)'}';
            return _batchUsed + at;
        }

        /// <summary>Hashes the queued rows: eight through the vector path, fewer one by one.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void FlushHashes()
        {
            if (_batchCount == 8)
            {
                Span<byte> digests = stackalloc byte[8 * Md5.HashSize];
                Md5.HashData8(_canonical, _batchStart, _batchLength, digests);
                for (var l = 0; l < 8; l++) Md5.ToHexUtf8(digests.Slice(l * Md5.HashSize, Md5.HashSize), hashes.AsSpan(_batchRow[l] * HashLength, HashLength));
            }
            else
            {
                for (var l = 0; l < _batchCount; l++)
                    Md5.HashHexUtf8(_canonical.AsSpan(_batchStart[l], _batchLength[l]), hashes.AsSpan(_batchRow[l] * HashLength, HashLength));
            }
            _batchCount = 0;
            _batchUsed = 0;
        }

        private void Append(ref int length, ReadOnlySpan<byte> bytes)
        {
            if (length + bytes.Length > _canonical.Length) Array.Resize(ref _canonical, Math.Max(_canonical.Length * 2, length + bytes.Length));
            bytes.CopyTo(_canonical.AsSpan(length));
            length += bytes.Length;
        }

        /// <summary>Printable ASCII, which the canonical writer's encoder never escapes (quote and backslash cannot occur unescaped).</summary>
        private static bool IsPlainAscii(ReadOnlySpan<byte> bytes) => bytes.IndexOfAnyExceptInRange((byte)0x20, (byte)0x7E) < 0;

        /// <summary>A record held as an object, as compact UTF-8 in this block's arena.</summary>
        private ReadOnlyMemory<byte> Serialize(JsonObject fields)
        {
            _objectBuffer ??= new System.Buffers.ArrayBufferWriter<byte>(512);
            _objectBuffer.ResetWrittenCount();
            if (_objectWriter is null) _objectWriter = new Utf8JsonWriter(_objectBuffer, WriterOptions);
            else _objectWriter.Reset(_objectBuffer);
            fields.WriteTo(_objectWriter);
            _objectWriter.Flush();
            var written = _objectBuffer.WrittenSpan;
            if (_arena is null || _arenaUsed + written.Length > _arena.Length)
            {
                _arena = new byte[Math.Max(1 << 20, written.Length)];
                _arenaUsed = 0;
            }
            written.CopyTo(_arena.AsSpan(_arenaUsed));
            var memory = _arena.AsMemory(_arenaUsed, written.Length);
            _arenaUsed += written.Length;
            return memory;
        }
    }

    /// <summary>An integral JSON number that fits in 64 bits (what <see cref="JsonElement.TryGetInt64"/> accepts).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static bool IsInt64(ReadOnlySpan<byte> number)
    {
        // JSON numbers are already valid: integral means no fraction and no exponent, and 64 bits means the parse fits.
        foreach (var b in number)
        {
            if (b is (byte)'.' or (byte)'e' or (byte)'E') return false;
        }
        return number.Length < 19 || (Utf8Parser.TryParse(number, out long _, out var consumed) && consumed == number.Length);
    }

    public static long ParseInt64(ReadOnlySpan<byte> number) =>
        Utf8Parser.TryParse(number, out long value, out var consumed) && consumed == number.Length
            ? value
            : throw new InvalidDataException($"'{Encoding.UTF8.GetString(number)}' is not a 64-bit integer");

    public static double ParseDouble(ReadOnlySpan<byte> number) =>
        double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new InvalidDataException($"'{Encoding.UTF8.GetString(number)}' is not a number");
}
