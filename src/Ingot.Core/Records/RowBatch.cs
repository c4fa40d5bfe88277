// Over ~300 lines on purpose: one page's typed rows and the three forms made from them (the record's JSON, the
// canonical JSON and its MD5) are one exactness argument; each form must equal what the JSON path makes of the same row.
using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ingot.Records;

/// <summary>How a <see cref="RowBatch"/> column's values appear in the record's JSON.</summary>
public enum BatchKind : byte
{
    /// <summary><c>true</c> or <c>false</c>.</summary>
    Boolean,

    /// <summary>A JSON number held as a 64-bit integer.</summary>
    Integer,

    /// <summary>A JSON string held as its UTF-8 value (unescaped).</summary>
    Text,

    /// <summary>A decimal's text: a JSON number when it is one (every digit kept), else a string (<c>NaN</c>, <c>Infinity</c>).</summary>
    Number,

    /// <summary>A JSON value's text as the source wrote it (objects, arrays, …).</summary>
    Json,
}

/// <summary>A column of a <see cref="RowBatch"/>: the record's field name and how its values are held.</summary>
public sealed class BatchColumn
{
    private static readonly JavaScriptEncoder Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping;

    public BatchColumn(string name, BatchKind kind)
    {
        ArgumentNullException.ThrowIfNull(name);
        Name = name;
        Kind = kind;
        Key = KeyFor(name);
    }

    /// <summary><c>"name":</c> as UTF-8, the name escaped the way the sources' JSON and the canonical JSON escape it.</summary>
    public static byte[] KeyFor(string name)
    {
        var encoded = JsonEncodedText.Encode(name, Encoder).EncodedUtf8Bytes;
        var key = new byte[encoded.Length + 3];
        key[0] = (byte)'"';
        encoded.CopyTo(key.AsSpan(1));
        key[^2] = (byte)'"';
        key[^1] = (byte)':';
        return key;
    }

    public string Name { get; }

    public BatchKind Kind { get; }

    /// <summary><c>"name":</c> as the record's JSON and its canonical JSON both write it.</summary>
    internal byte[] Key { get; }
}

/// <summary>
/// One page of rows read typed from a database: values held column by column (integers as integers, text as its UTF-8
/// bytes), no JSON written per row. The forms bronze needs are made from the values when asked for:
/// <list type="bullet">
/// <item>the record's JSON (<see cref="Json"/>, <see cref="Ndjson"/>), made once for the whole page on first use, byte for
/// byte what <see cref="Utf8JsonWriter"/> writes for the same fields in column order (relaxed escaping, as the sources do);</item>
/// <item>each row's <c>_record_hash</c> (<see cref="WriteHashes"/>): MD5 of the canonical JSON, the bytes
/// <see cref="RecordHasher"/> hashes for the same record, eight rows per vector pass.</item>
/// </list>
/// Columnar destinations read the values straight (<see cref="IsNull"/>, <see cref="Int64"/>, <see cref="Bytes"/>).
/// Built by one thread (the source's fetch); read by any number once handed over. No array of a batch of up to 10,000
/// rows reaches the large-object heap (text lives in 64 KB segments): measured on the postgres-source bench's 1 M orders,
/// the page-sized arrays of the JSON path made every collection a gen-2 one (69 of them, 0.56 s of pauses).
/// </summary>
public sealed class RowBatch
{
    public const int HashLength = 32;
    private static readonly JavaScriptEncoder Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping;

    private readonly BatchColumn[] _columns;
    private readonly int[] _canonicalOrder;
    private readonly int[] _columnOrder;
    private readonly int _keysLength;
    private readonly long[]?[] _longs;
    // Text values live in segments of SegmentBytes; a value never straddles two, one longer than a segment gets its own.
    private const int SegmentBytes = 64 << 10;
    private readonly List<byte[]>?[] _segments;
    // Per text column and row: where the value starts (segment << 16 | offset) and its length.
    private readonly int[]?[] _starts;
    private readonly int[]?[] _lengths;
    private readonly int[] _used;
    // Per column and row: 0 null, 1 a value, 2 a Number column's value that is not a JSON number (written as a string);
    // with NeedsEscapes, a string whose JSON escapes some byte (decided once, when the value arrives).
    private const byte NeedsEscapes = 0x80;
    private readonly byte[][] _state;
    private int[] _jsonLength;
    private int _capacity;
    private int _rowJson;
    private int _set;
    private long _ndjsonLength;
    private readonly Lock _gate = new();
    private byte[]? _ndjson;
    private int[]? _jsonStart;

    /// <param name="columns">The record's fields in order (a stream's pages share one array).</param>
    /// <param name="rows">Rows expected (the arrays grow past it).</param>
    public RowBatch(BatchColumn[] columns, int rows)
    {
        ArgumentNullException.ThrowIfNull(columns);
        _columns = columns;
        _capacity = Math.Max(rows, 16);
        _longs = new long[]?[columns.Length];
        _segments = new List<byte[]>?[columns.Length];
        _starts = new int[]?[columns.Length];
        _lengths = new int[]?[columns.Length];
        _used = new int[columns.Length];
        _state = new byte[columns.Length][];
        _jsonLength = new int[_capacity];
        for (var c = 0; c < columns.Length; c++)
        {
            _state[c] = new byte[_capacity];
            _keysLength += columns[c].Key.Length;
            if (columns[c].Kind is BatchKind.Boolean or BatchKind.Integer)
            {
                _longs[c] = new long[_capacity];
            }
            else
            {
                _segments[c] = [];
                _used[c] = SegmentBytes;
                _starts[c] = new int[_capacity];
                _lengths[c] = new int[_capacity];
            }
        }
        _columnOrder = [.. Enumerable.Range(0, columns.Length)];
        _canonicalOrder = [.. Enumerable.Range(0, columns.Length).OrderBy(c => columns[c].Name, StringComparer.Ordinal)];
    }

    public IReadOnlyList<BatchColumn> Columns => _columns;

    /// <summary>The column array the batch was made with: batches of one stream share it.</summary>
    public BatchColumn[] ColumnArray => _columns;

    /// <summary>Finished rows.</summary>
    public int Count { get; private set; }

    /// <summary>The length of the page's NDJSON (every row's JSON and a line feed): known without writing it.</summary>
    public long NdjsonLength => _ndjsonLength;

    /// <summary>The length of row <paramref name="row"/>'s JSON.</summary>
    public int JsonLength(int row) => _jsonLength[row];

    // ---- building (the source's thread) ------------------------------------------------------------------------

    public void Null(int c)
    {
        if (_lengths[c] is { } lengths) lengths[Count] = 0;
        _state[c][Count] = 0;
        _rowJson += 4;
        _set++;
    }

    public void Boolean(int c, bool value)
    {
        _longs[c]![Count] = value ? 1 : 0;
        _state[c][Count] = 1;
        _rowJson += value ? 4 : 5;
        _set++;
    }

    public void Integer(int c, long value)
    {
        _longs[c]![Count] = value;
        _state[c][Count] = 1;
        _rowJson += Digits(value);
        _set++;
    }

    /// <summary>Room for a text value of <paramref name="length"/> bytes in column <paramref name="c"/>: write it at <paramref name="offset"/>, then <see cref="EndText"/>.</summary>
    public byte[] TextBuffer(int c, int length, out int offset)
    {
        var segments = _segments[c]!;
        if (length == 0)
        {
            // An empty value takes no room (and no offset, which could be a full segment's end).
            offset = 0;
            return [];
        }
        if (_used[c] + length > SegmentBytes)
        {
            if (segments.Count >= short.MaxValue) throw new InvalidOperationException($"column '{_columns[c].Name}': more text than a batch holds");
            // A value longer than a segment gets one of its own, full at once, so the next value starts a new one.
            segments.Add(GC.AllocateUninitializedArray<byte>(Math.Max(SegmentBytes, length)));
            _used[c] = 0;
        }
        offset = _used[c];
        return segments[^1];
    }

    /// <summary>Ends the text value of <paramref name="length"/> bytes written into <see cref="TextBuffer"/>.</summary>
    public void EndText(int c, int length)
    {
        var segments = _segments[c]!;
        var offset = length == 0 ? 0 : _used[c];
        var value = length == 0 ? [] : segments[^1].AsSpan(offset, length);
        byte state = 1;
        var kind = _columns[c].Kind;
        if (kind == BatchKind.Json || (kind == BatchKind.Number && IsJsonNumber(value)))
        {
            _rowJson += length;
        }
        else
        {
            if (kind == BatchKind.Number) state = 2;
            if (IsPlain(value))
            {
                _rowJson += 2 + length;
            }
            else
            {
                state |= NeedsEscapes;
                _rowJson += 2 + JsonEncodedText.Encode(value, Encoder).EncodedUtf8Bytes.Length;
            }
        }
        _starts[c]![Count] = length == 0 ? 0 : (segments.Count - 1) << 16 | offset;
        _lengths[c]![Count] = length;
        if (length > 0) _used[c] = length > SegmentBytes ? SegmentBytes : offset + length;
        _state[c][Count] = state;
        _set++;
    }

    /// <summary>A text value copied in.</summary>
    public void Text(int c, ReadOnlySpan<byte> utf8)
    {
        var buffer = TextBuffer(c, utf8.Length, out var offset);
        utf8.CopyTo(buffer.AsSpan(offset));
        EndText(c, utf8.Length);
    }

    /// <summary>Ends the row whose every column was set once.</summary>
    public void EndRow()
    {
        if (_set != _columns.Length) throw new InvalidOperationException($"row {Count + 1} set {_set} values for {_columns.Length} columns");
        var length = 2 + _keysLength + Math.Max(_columns.Length - 1, 0) + _rowJson;
        _jsonLength[Count] = length;
        _ndjsonLength += length + 1;
        _rowJson = 0;
        _set = 0;
        Count++;
        if (Count == _capacity) Grow();
    }

    /// <summary>Forgets the row being set (a row the source decided not to keep after reading it).</summary>
    public void DropRow()
    {
        _rowJson = 0;
        _set = 0;
    }

    private void Grow()
    {
        _capacity *= 2;
        Array.Resize(ref _jsonLength, _capacity);
        for (var c = 0; c < _columns.Length; c++)
        {
            Array.Resize(ref _state[c], _capacity);
            if (_longs[c] is not null) Array.Resize(ref _longs[c], _capacity);
            if (_starts[c] is not null) Array.Resize(ref _starts[c], _capacity);
            if (_lengths[c] is not null) Array.Resize(ref _lengths[c], _capacity);
        }
    }

    // ---- values --------------------------------------------------------------------------------------------------

    public bool IsNull(int c, int row) => _state[c][row] == 0;

    /// <summary>A Number column's value that is not a JSON number (the record holds it as a string).</summary>
    public bool IsNumberText(int c, int row) => (_state[c][row] & ~NeedsEscapes) == 2;

    /// <summary>An Integer column's value, or a Boolean column's as 1 or 0.</summary>
    public long Int64(int c, int row) => _longs[c]![row];

    /// <summary>A Text, Number or Json column's bytes (a string's UTF-8 value, a number's digits, a JSON value's text).</summary>
    public ReadOnlySpan<byte> Bytes(int c, int row)
    {
        var length = _lengths[c]![row];
        if (length == 0) return [];
        var start = _starts[c]![row];
        return _segments[c]![start >> 16].AsSpan(start & 0xFFFF, length);
    }

    // ---- the record's JSON -----------------------------------------------------------------------------------------

    /// <summary>Row <paramref name="row"/>'s JSON object (the page's NDJSON is written on first use).</summary>
    public ReadOnlyMemory<byte> Json(int row)
    {
        var ndjson = EnsureNdjson();
        return ndjson.AsMemory(_jsonStart![row], _jsonLength[row]);
    }

    /// <summary>The page as NDJSON: each row's JSON followed by a line feed (written on first use).</summary>
    public ReadOnlyMemory<byte> Ndjson => EnsureNdjson().AsMemory(0, (int)_ndjsonLength);

    private byte[] EnsureNdjson()
    {
        if (Volatile.Read(ref _ndjson) is { } done) return done;
        lock (_gate)
        {
            if (_ndjson is not null) return _ndjson;
            var buffer = GC.AllocateUninitializedArray<byte>(checked((int)_ndjsonLength));
            var starts = new int[Count];
            var at = 0;
            for (var row = 0; row < Count; row++)
            {
                starts[row] = at;
                var end = WriteRow(buffer, at, row, canonical: false, _columnOrder);
                if (end - at != _jsonLength[row]) throw new InvalidOperationException($"row {row + 1}: wrote {end - at} bytes of JSON, counted {_jsonLength[row]}");
                buffer[end] = (byte)'\n';
                at = end + 1;
            }
            _jsonStart = starts;
            Volatile.Write(ref _ndjson, buffer);
            return buffer;
        }
    }

    /// <summary>
    /// Writes row <paramref name="row"/> as a JSON object at <paramref name="at"/> with the columns in <paramref name="order"/>;
    /// <paramref name="canonical"/> writes Json values in canonical form (keys sorted). Returns the end.
    /// </summary>
    private int WriteRow(byte[] to, int at, int row, bool canonical, int[] order)
    {
        to[at++] = (byte)'{';
        var first = true;
        foreach (var c in order)
        {
            if (!first) to[at++] = (byte)',';
            first = false;
            at = Put(to, at, _columns[c].Key);
            at = WriteValue(to, at, c, row, canonical);
        }
        to[at++] = (byte)'}';
        return at;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int WriteValue(byte[] to, int at, int c, int row, bool canonical)
    {
        var state = _state[c][row];
        if (state == 0) return Put(to, at, "null"u8);
        switch (_columns[c].Kind)
        {
            case BatchKind.Boolean:
                return Put(to, at, _longs[c]![row] != 0 ? "true"u8 : "false"u8);
            case BatchKind.Integer:
                _longs[c]![row].TryFormat(to.AsSpan(at), out var n, default, System.Globalization.CultureInfo.InvariantCulture);
                return at + n;
            case BatchKind.Number when state == 1:
                return Put(to, at, Bytes(c, row));
            case BatchKind.Json when canonical:
                return Put(to, at, CanonicalJson(Bytes(c, row)));
            case BatchKind.Json:
                return Put(to, at, Bytes(c, row));
            default:
                // A string, as Utf8JsonWriter writes it with relaxed escaping.
                to[at++] = (byte)'"';
                at = (state & NeedsEscapes) == 0 ? Put(to, at, Bytes(c, row)) : Put(to, at, JsonEncodedText.Encode(Bytes(c, row), Encoder).EncodedUtf8Bytes);
                to[at++] = (byte)'"';
                return at;
        }
    }

    private static byte[] CanonicalJson(ReadOnlySpan<byte> json) => RecordHasher.CanonicalUtf8(JsonNode.Parse(json));

    private static int Put(byte[] to, int at, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(to.AsSpan(at));
        return at + bytes.Length;
    }

    /// <summary>Printable ASCII without a quote or backslash: the relaxed encoder leaves it as it is.</summary>
    private static bool IsPlain(ReadOnlySpan<byte> value) => value.IndexOfAnyExcept(PlainBytes) < 0;

    private static readonly SearchValues<byte> PlainBytes = SearchValues.Create([.. Enumerable.Range(0x20, 0x7F - 0x20).Where(b => b is not ('"' or '\\')).Select(b => (byte)b)]);

    /// <summary>Text that starts as a JSON number does (a digit, or a minus and a digit): the way decimals' text is told from NaN and infinities.</summary>
    private static bool IsJsonNumber(ReadOnlySpan<byte> text) =>
        text.Length > 0 && (char.IsAsciiDigit((char)text[0]) || (text[0] == '-' && text.Length > 1 && char.IsAsciiDigit((char)text[1])));

    private static int Digits(long value)
    {
        var negative = value < 0;
        var magnitude = negative ? (ulong)(-(value + 1)) + 1 : (ulong)value;
        var n = 1;
        while (magnitude >= 10)
        {
            magnitude /= 10;
            n++;
        }
        return negative ? n + 1 : n;
    }

    // ---- the record hash ---------------------------------------------------------------------------------------

    /// <summary>
    /// Each row's <c>_record_hash</c> as 32 lowercase hex bytes at <c>32 * row</c> of <paramref name="hashes"/>: MD5 of the
    /// row's canonical JSON (keys sorted ordinally, no whitespace), equal to <see cref="RecordHasher.Md5Hex"/> of the record.
    /// </summary>
    public void WriteHashes(Span<byte> hashes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(hashes.Length, Count * HashLength, nameof(hashes));
        // Eight rows' canonical texts in one buffer, hashed together (one per vector lane).
        var longest = 0;
        for (var row = 0; row < Count; row++) longest = Math.Max(longest, _jsonLength[row]);
        var hasJson = Array.Exists(_columns, col => col.Kind == BatchKind.Json);
        var buffer = hasJson ? null : ArrayPool<byte>.Shared.Rent(8 * longest);
        Span<int> starts = stackalloc int[8];
        Span<int> lengths = stackalloc int[8];
        Span<byte> digests = stackalloc byte[8 * Md5.HashSize];
        try
        {
            for (var from = 0; from < Count; from += 8)
            {
                var n = Math.Min(8, Count - from);
                if (buffer is null || n < 8 || !Md5.IsBatchAccelerated)
                {
                    for (var row = from; row < from + n; row++) Md5.HashHexUtf8(Canonical(row), hashes.Slice(row * HashLength, HashLength));
                    continue;
                }
                var at = 0;
                for (var l = 0; l < 8; l++)
                {
                    starts[l] = at;
                    // A row's canonical text is its JSON reordered (no Json column here): the same length.
                    at = WriteRow(buffer, at, from + l, canonical: true, _canonicalOrder);
                    lengths[l] = at - starts[l];
                }
                Md5.HashData8(buffer, starts, lengths, digests);
                for (var l = 0; l < 8; l++) Md5.ToHexUtf8(digests.Slice(l * Md5.HashSize, Md5.HashSize), hashes.Slice((from + l) * HashLength, HashLength));
            }
        }
        finally
        {
            if (buffer is not null) ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Row <paramref name="row"/>'s canonical JSON (a Json column's value re-written with its keys sorted).</summary>
    public byte[] Canonical(int row)
    {
        var length = _jsonLength[row];
        for (var c = 0; c < _columns.Length; c++)
        {
            if (_columns[c].Kind == BatchKind.Json && _state[c][row] != 0) length += CanonicalJson(Bytes(c, row)).Length - Bytes(c, row).Length;
        }
        var buffer = new byte[length];
        var end = WriteRow(buffer, 0, row, canonical: true, _canonicalOrder);
        return end == length ? buffer : throw new InvalidOperationException($"row {row + 1}: wrote {end} bytes of canonical JSON, counted {length}");
    }
}
