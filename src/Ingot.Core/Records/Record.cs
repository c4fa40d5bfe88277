using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ingot.Records;

/// <summary>One source record as the source served it (after transforms), plus its business time stamp.</summary>
public sealed class Record(JsonObject fields, DateTimeOffset? eventTs)
{
    public JsonObject Fields { get; } = fields;
    public DateTimeOffset? EventTs { get; } = eventTs;

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
    public static string Md5Hex(JsonNode? node)
    {
        var buffer = new ArrayBufferWriterStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = false, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            WriteCanonical(writer, node);
        }
        Span<byte> hash = stackalloc byte[16];
        MD5.HashData(buffer.WrittenSpan, hash);
        return Convert.ToHexStringLower(hash);
    }

    /// <summary>Canonical JSON text: object keys sorted ordinally at every level.</summary>
    public static string Canonical(JsonNode? node)
    {
        var buffer = new ArrayBufferWriterStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = false, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            WriteCanonical(writer, node);
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void WriteCanonical(Utf8JsonWriter writer, JsonNode? node)
    {
        switch (node)
        {
            case null:
                writer.WriteNullValue();
                break;
            case JsonObject obj:
                writer.WriteStartObject();
                foreach (var (key, value) in obj.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    writer.WritePropertyName(key);
                    WriteCanonical(writer, value);
                }
                writer.WriteEndObject();
                break;
            case JsonArray array:
                writer.WriteStartArray();
                foreach (var item in array) WriteCanonical(writer, item);
                writer.WriteEndArray();
                break;
            default:
                node.WriteTo(writer);
                break;
        }
    }

    private sealed class ArrayBufferWriterStream : Stream
    {
        private byte[] _buffer = new byte[256];
        private int _length;
        public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _length);
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => _length;
        public override long Position { get => _length; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (_length + buffer.Length > _buffer.Length) Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + buffer.Length));
            buffer.CopyTo(_buffer.AsSpan(_length));
            _length += buffer.Length;
        }
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
