using System.Buffers;

namespace Ingot.Postgres.Source;

/// <summary>
/// A page's NDJSON as it is written row by row: one array, not zeroed (every byte handed out is written before it is
/// read), started at the size the previous page of the fetch reached, so a page of the usual size is never copied to grow.
/// <see cref="ArrayBufferWriter{T}"/> started at 64 KB doubled ~5 times per 1.5 MB page, zeroing each new array: measured
/// on the postgres-source bench, ~3% of the process's CPU in memset and memmove.
/// </summary>
internal sealed class PageBuffer(int capacity) : IBufferWriter<byte>
{
    private byte[] _buffer = GC.AllocateUninitializedArray<byte>(Math.Max(capacity, 256));

    public int WrittenCount { get; private set; }

    public ReadOnlyMemory<byte> WrittenMemory => _buffer.AsMemory(0, WrittenCount);

    public void Advance(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (WrittenCount + count > _buffer.Length) throw new InvalidOperationException("advanced past the buffer's end");
        WrittenCount += count;
    }

    /// <summary>Takes the written bytes back to <paramref name="count"/> (a row dropped after it was written).</summary>
    public void Truncate(int count) => WrittenCount = count <= WrittenCount ? count : throw new ArgumentOutOfRangeException(nameof(count));

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        // Grow first: `_buffer.AsMemory(Reserve(…))` would slice the array from before the growth.
        var at = Reserve(sizeHint);
        return _buffer.AsMemory(at);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        var at = Reserve(sizeHint);
        return _buffer.AsSpan(at);
    }

    private int Reserve(int sizeHint)
    {
        var need = WrittenCount + Math.Max(sizeHint, 1);
        if (need > _buffer.Length)
        {
            var grown = GC.AllocateUninitializedArray<byte>((int)Math.Min(Array.MaxLength, Math.Max(need, (long)_buffer.Length * 2)));
            _buffer.AsSpan(0, WrittenCount).CopyTo(grown);
            _buffer = grown;
        }
        return WrittenCount;
    }
}
