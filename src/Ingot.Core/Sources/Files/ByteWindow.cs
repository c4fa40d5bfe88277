namespace Ingot.Sources.Files;

/// <summary>
/// A sliding window over a stream for the JSON readers: the bytes not yet consumed, refilled in place and grown only
/// while one record does not fit, so memory follows the largest record, not the file. Counts <c>'\n'</c> as it slides
/// (the line breaks of JSON text and of NDJSON records).
/// </summary>
internal sealed class ByteWindow(Stream source, string path, int maxBytes)
{
    private byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;
    private long _line = 1;

    /// <summary>The stream has ended: <see cref="Data"/> is all that is left.</summary>
    public bool Eof { get; private set; }

    /// <summary>The bytes read and not yet consumed; valid until the next <see cref="FillAsync"/>.</summary>
    public ReadOnlySpan<byte> Data => _buffer.AsSpan(_start, _end - _start);

    /// <summary>The 1-based line of <see cref="Data"/>[<paramref name="offset"/>].</summary>
    public long LineAt(int offset) => _line + Data[..offset].Count((byte)'\n');

    public void Advance(int count)
    {
        _line = LineAt(count);
        _start += count;
    }

    /// <summary>
    /// Reads until the window is full or the stream ends, first making room (moving the unconsumed bytes to the front,
    /// or doubling the window when they fill it). Offsets into <see cref="Data"/> stay valid.
    /// </summary>
    public async ValueTask FillAsync(CancellationToken cancellationToken)
    {
        if (Eof) return;
        if (_start > 0)
        {
            Data.CopyTo(_buffer);
            _end -= _start;
            _start = 0;
        }
        if (_end == _buffer.Length)
        {
            if (_buffer.Length >= maxBytes) throw new FileParseException(path, _line, $"a record is larger than {Size(maxBytes)}");
            Array.Resize(ref _buffer, (int)Math.Min(_buffer.Length * 2L, maxBytes));
        }
        while (_end < _buffer.Length)
        {
            var read = await source.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                Eof = true;
                return;
            }
            _end += read;
        }
    }

    private static string Size(int bytes) => bytes >= 1024 * 1024 ? $"{bytes / (1024 * 1024)} MiB" : $"{bytes / 1024} KiB";
}
