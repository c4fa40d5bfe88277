using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ingot.Records;

/// <summary>
/// One source record as the source served it (after transforms), plus its business time stamp. A record is either a
/// <see cref="JsonObject"/> or the UTF-8 text of one JSON object as the source read it (<see cref="FromUtf8"/>): the
/// text form costs no objects per field, and destinations that can read UTF-8 (<see cref="TryGetUtf8"/>) never build
/// them. A third form is a row of a <see cref="RowBatch"/> (<see cref="FromBatch"/>): typed values, whose JSON is
/// written only when someone asks for it (<see cref="TryGetUtf8"/>), and which columnar destinations read as values
/// (<see cref="TryGetRow"/>). Touching <see cref="Fields"/> parses the text once; from then on the object is the record
/// (a transform may change it), and the text is dropped.
/// </summary>
public sealed class Record
{
    private JsonObject? _fields;
    private ReadOnlyMemory<byte> _utf8;
    private RowBatch? _batch;
    private readonly int _row;

    public Record(JsonObject fields, DateTimeOffset? eventTs)
    {
        ArgumentNullException.ThrowIfNull(fields);
        _fields = fields;
        EventTs = eventTs;
    }

    private Record(ReadOnlyMemory<byte> utf8, DateTimeOffset? eventTs, long line)
    {
        _utf8 = utf8;
        EventTs = eventTs;
        Line = line;
    }

    /// <summary>
    /// A record held as the UTF-8 text of one JSON object. The memory must stay unchanged for the record's life.
    /// The text is checked when it is read (by <see cref="Fields"/> or a destination), not here.
    /// </summary>
    public static Record FromUtf8(ReadOnlyMemory<byte> json, DateTimeOffset? eventTs, long line = 0) => new(json, eventTs, line);

    private Record(RowBatch batch, int row, DateTimeOffset? eventTs)
    {
        _batch = batch;
        _row = row;
        EventTs = eventTs;
    }

    /// <summary>Row <paramref name="row"/> of <paramref name="batch"/> (finished rows only).</summary>
    public static Record FromBatch(RowBatch batch, int row, DateTimeOffset? eventTs)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)row, (uint)batch.Count, nameof(row));
        return new(batch, row, eventTs);
    }

    /// <summary>The record as an object (parsed from the UTF-8 text on first use; the caller may change it).</summary>
    public JsonObject Fields
    {
        get
        {
            if (_fields is { } fields) return fields;
            JsonObject parsed;
            var text = _batch is { } batch ? batch.Json(_row) : _utf8;
            try
            {
                parsed = JsonNode.Parse(text.Span) as JsonObject ?? throw new InvalidDataException("the record is not a JSON object");
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"the record is not valid JSON: {e.Message}", e);
            }
            // Two threads may race to parse: one object wins and every caller sees that one.
            fields = Interlocked.CompareExchange(ref _fields, parsed, null) ?? parsed;
            _utf8 = default;
            _batch = null;
            return fields;
        }
    }

    public DateTimeOffset? EventTs { get; }

    /// <summary>Where the record starts in its source file (1-based line; the files source), else 0: provenance for destinations that keep it.</summary>
    public long Line { get; }

    /// <summary>The record's UTF-8 JSON text while no one has asked for <see cref="Fields"/> (so it is still exact).</summary>
    public bool TryGetUtf8(out ReadOnlyMemory<byte> json)
    {
        json = Volatile.Read(ref _batch) is { } batch ? batch.Json(_row) : _utf8;
        return Volatile.Read(ref _fields) is null;
    }

    /// <summary>The batch and row this record is, while no one has asked for <see cref="Fields"/> (so the values are still the record).</summary>
    public bool TryGetRow(out RowBatch batch, out int row)
    {
        batch = Volatile.Read(ref _batch)!;
        row = _row;
        return batch is not null && Volatile.Read(ref _fields) is null;
    }

    /// <summary>The length of the record's JSON when it is known without writing it (text or a batch row), else 256.</summary>
    public int JsonLength => Volatile.Read(ref _batch) is { } batch ? batch.JsonLength(_row) : Volatile.Read(ref _fields) is null ? _utf8.Length : 256;

    /// <summary>Lowercase MD5 hex of the canonical JSON (keys sorted at every level, no whitespace).</summary>
    public string Hash() => RecordHasher.Md5Hex(Fields);
}

/// <summary>The metadata columns every bronze record carries (DESIGN §5).</summary>
public static class MetadataColumns
{
    public const string IngestionId = "_ingestion_id";
    public const string IngestedAt = "_ingested_at";
    public const string SourceSystem = "_source_system";
    public const string Stream = "_stream";
    public const string ChunkKey = "_chunk_key";
    public const string RecordHash = "_record_hash";
    public const string EventTs = "_event_ts";

    public static readonly IReadOnlyList<string> All = [IngestionId, IngestedAt, SourceSystem, Stream, ChunkKey, RecordHash, EventTs];
}

public static class RecordHasher
{
    private static readonly JsonWriterOptions WriterOptions = new() { Indented = false, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    // Hashing runs once per landed record: one writer, buffer and key scratch per thread instead of per call.
    [ThreadStatic] private static CanonicalWriter? t_writer;

    /// <summary>Lowercase MD5 hex of the canonical JSON (keys sorted ordinally at every level, no whitespace).</summary>
    public static string Md5Hex(JsonNode? node)
    {
        Span<byte> hash = stackalloc byte[16];
        Md5(node, hash);
        return Convert.ToHexStringLower(hash);
    }

    /// <summary><see cref="Md5Hex"/> as 32 lowercase ASCII hex bytes, without allocating a string.</summary>
    public static void Md5HexUtf8(JsonNode? node, Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, 32, nameof(destination));
        var writer = t_writer ??= new CanonicalWriter();
        Records.Md5.HashHexUtf8(writer.Write(node), destination);
    }

    /// <summary>Canonical JSON as UTF-8 (a new array).</summary>
    public static byte[] CanonicalUtf8(JsonNode? node)
    {
        var writer = t_writer ??= new CanonicalWriter();
        return writer.Write(node).ToArray();
    }

    /// <summary>Canonical JSON text: object keys sorted ordinally at every level.</summary>
    public static string Canonical(JsonNode? node)
    {
        var writer = t_writer ??= new CanonicalWriter();
        return Encoding.UTF8.GetString(writer.Write(node));
    }

    private static void Md5(JsonNode? node, Span<byte> hash)
    {
        var writer = t_writer ??= new CanonicalWriter();
        Records.Md5.HashData(writer.Write(node), hash);
    }

    private sealed class CanonicalWriter
    {
        private static readonly KeyComparer ByKey = new();
        private readonly ArrayBufferWriter<byte> _buffer = new(512);
        private readonly Utf8JsonWriter _writer;
        // A stack of object members: each object level sorts its own segment, nested levels push above it.
        private KeyValuePair<string, JsonNode?>[] _members = new KeyValuePair<string, JsonNode?>[32];
        private int _top;

        public CanonicalWriter() => _writer = new Utf8JsonWriter(_buffer, WriterOptions);

        /// <summary>The canonical UTF-8 text, valid until the next call on this thread.</summary>
        public ReadOnlySpan<byte> Write(JsonNode? node)
        {
            _buffer.ResetWrittenCount();
            _writer.Reset(_buffer);
            _top = 0;
            try
            {
                WriteNode(node);
                _writer.Flush();
            }
            catch
            {
                // A writer left mid-object would corrupt the next record's text: start over clean.
                _writer.Reset(_buffer);
                Array.Clear(_members);
                throw;
            }
            return _buffer.WrittenSpan;
        }

        private void WriteNode(JsonNode? node)
        {
            switch (node)
            {
                case null:
                    _writer.WriteNullValue();
                    break;
                case JsonObject obj:
                    WriteObject(obj);
                    break;
                case JsonArray array:
                    _writer.WriteStartArray();
                    for (var i = 0; i < array.Count; i++) WriteNode(array[i]);
                    _writer.WriteEndArray();
                    break;
                default:
                    node.WriteTo(_writer);
                    break;
            }
        }

        private void WriteObject(JsonObject obj)
        {
            var start = _top;
            var count = obj.Count;
            if (_members.Length < start + count) Array.Resize(ref _members, Math.Max(_members.Length * 2, start + count));
            for (var i = 0; i < count; i++) _members[_top++] = obj.GetAt(i);
            // Keys are unique within an object, so an unstable sort gives the same order as a stable one.
            Array.Sort(_members, start, count, ByKey);
            _writer.WriteStartObject();
            for (var i = start; i < start + count; i++)
            {
                _writer.WritePropertyName(_members[i].Key);
                WriteNode(_members[i].Value);
            }
            _writer.WriteEndObject();
            // Drop the references so a cached scratch array does not keep records alive.
            Array.Clear(_members, start, count);
            _top = start;
        }
    }

    private sealed class KeyComparer : IComparer<KeyValuePair<string, JsonNode?>>
    {
        public int Compare(KeyValuePair<string, JsonNode?> x, KeyValuePair<string, JsonNode?> y) => string.CompareOrdinal(x.Key, y.Key);
    }
}

/// <summary>
/// Records built on first use: the count is known from a cheap scan, the objects are made only when a
/// destination, transform or validator reads them (a raw-only pipeline never does).
/// </summary>
public sealed class LazyRecords(int count, Func<IReadOnlyList<Record>> build) : IReadOnlyList<Record>
{
    private IReadOnlyList<Record>? _records;

    public int Count => _records?.Count ?? count;

    public Record this[int index] => Materialized[index];

    private IReadOnlyList<Record> Materialized => _records ??= build();

    public IEnumerator<Record> GetEnumerator() => Materialized.GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
