using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using Ingot.Records;

namespace Ingot.Sources.Files;

/// <summary>
/// One batch's records as UTF-8 JSON objects written end to end into one buffer, each record a slice of it, with the
/// line where each starts. <see cref="Build"/> hands the buffer out and starts a fresh one, so records never share
/// memory with a later batch.
/// </summary>
internal sealed class BatchBuilder
{
    private static readonly JsonWriterOptions WriterOptions = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        // Every object is written start to end by one method here; validation would only re-check that.
        SkipValidation = true,
    };

    private readonly int _capacity;
    private ArrayBufferWriter<byte> _buffer = new(64 * 1024);
    private readonly Utf8JsonWriter _writer;
    private readonly List<int> _ends = [];
    private List<long> _lines = [];

    public BatchBuilder(int capacity)
    {
        _capacity = capacity;
        _writer = new Utf8JsonWriter(_buffer, WriterOptions);
    }

    public int Count => _lines.Count;

    /// <summary>The batch holds its maximum: build it before adding the next record.</summary>
    public bool IsFull => _lines.Count >= _capacity;

    /// <summary>The writer for one record's object, which the caller writes whole and then closes with <see cref="EndRecord"/>.</summary>
    public Utf8JsonWriter StartRecord(long line)
    {
        _lines.Add(line);
        return _writer;
    }

    public void EndRecord()
    {
        _writer.Flush();
        // Each record is a document of its own: without a reset the writer would put a comma before the next.
        _writer.Reset();
        _ends.Add(_buffer.WrittenCount);
    }

    /// <summary>Adds one record from validated JSON text of one object, without its insignificant whitespace.</summary>
    public void AddJson(ReadOnlySpan<byte> json, long line)
    {
        var written = JsonText.Minify(json, _buffer.GetSpan(json.Length));
        _buffer.Advance(written);
        _lines.Add(line);
        _ends.Add(_buffer.WrittenCount);
    }

    public FileBatch Build(ReadOnlyMemory<byte> raw)
    {
        var text = _buffer.WrittenMemory;
        var records = new Record[_ends.Count];
        for (int i = 0, start = 0; i < records.Length; start = _ends[i], i++)
            records[i] = Record.FromUtf8(text[start.._ends[i]], eventTs: null, _lines[i]);
        var batch = new FileBatch(records, _lines, raw);

        // The next batch is likely the same size: start there (plus a margin) rather than growing from small.
        _buffer = new ArrayBufferWriter<byte>(Math.Max(text.Length + text.Length / 4, 4 * 1024));
        _writer.Reset(_buffer);
        _ends.Clear();
        _lines = new List<long>(records.Length);
        return batch;
    }
}
