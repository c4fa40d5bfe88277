using System.Buffers;
using System.Buffers.Binary;

namespace Ingot.Postgres.Source;

/// <summary>
/// The rows of <c>COPY (…) TO STDOUT (FORMAT binary)</c> read from the raw copy stream: the 19-byte header, then per row
/// a 16-bit field count and, per field, a 32-bit length (−1 for NULL) and that many bytes, then the −1 trailer.
/// A row's fields stay valid until the next <see cref="FillAsync"/>. Why a page is read this way and not through
/// <see cref="Npgsql.NpgsqlDataReader"/>: see <see cref="RowJson"/>.
/// </summary>
internal sealed class BinaryCopyRows(int fields, int capacity = 1 << 18) : IDisposable
{
    // "PGCOPY\n\xff\r\n\0"
    private static readonly byte[] Signature = [0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00];
    private const int HeaderLength = 11 + 4 + 4;

    // Rented: a unit after unit would otherwise put one large array per page query on the large-object heap.
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(capacity);
    private int _start;
    private int _end;
    private bool _header;
    private readonly int[] _offsets = new int[fields];
    private readonly int[] _lengths = new int[fields];

    /// <summary>The trailer was read: every row of the copy has been handed out.</summary>
    public bool Ended { get; private set; }

    /// <summary>Reads more of the stream into the buffer (moving what is left of a row to its start first); false at the stream's end.</summary>
    public async ValueTask<bool> FillAsync(Stream stream, CancellationToken cancellationToken)
    {
        if (_buffer.Length - _end < 4096 || _start == _end)
        {
            // What is left is less than a row: moving it is cheap. A row longer than the buffer grows it.
            var left = _end - _start;
            if (left > _buffer.Length / 2)
            {
                var grown = ArrayPool<byte>.Shared.Rent(_buffer.Length * 2);
                _buffer.AsSpan(_start, left).CopyTo(grown);
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = grown;
            }
            else
            {
                _buffer.AsSpan(_start, left).CopyTo(_buffer);
            }
            _start = 0;
            _end = left;
        }
        var read = await stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
        _end += read;
        return read > 0;
    }

    /// <summary>The next whole row in the buffer; false when more bytes are needed or the copy has <see cref="Ended"/>.</summary>
    public bool TryNext()
    {
        if (Ended) return false;
        var data = _buffer.AsSpan(_start, _end - _start);
        if (!_header)
        {
            if (data.Length < HeaderLength) return false;
            if (!data[..11].SequenceEqual(Signature)) throw new InvalidDataException("the server's COPY output does not start with the binary signature");
            var extension = BinaryPrimitives.ReadInt32BigEndian(data[15..]);
            if (data.Length < HeaderLength + extension) return false;
            _start += HeaderLength + extension;
            _header = true;
            data = data[(HeaderLength + extension)..];
        }
        if (data.Length < 2) return false;
        var count = BinaryPrimitives.ReadInt16BigEndian(data);
        if (count == -1)
        {
            Ended = true;
            _start += 2;
            return false;
        }
        if (count != fields) throw new InvalidDataException($"a COPY row of {count} fields where {fields} were selected");
        var at = 2;
        for (var i = 0; i < fields; i++)
        {
            if (data.Length - at < 4) return false;
            var length = BinaryPrimitives.ReadInt32BigEndian(data[at..]);
            at += 4;
            _lengths[i] = length;
            if (length < 0) continue;
            if (data.Length - at < length) return false;
            _offsets[i] = _start + at;
            at += length;
        }
        _start += at;
        return true;
    }

    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
    }

    public bool IsNull(int field) => _lengths[field] < 0;

    /// <summary>A field's bytes as the server sent them (its binary form; text in the client encoding).</summary>
    public ReadOnlySpan<byte> Field(int field) => _buffer.AsSpan(_offsets[field], _lengths[field]);
}
