namespace Ingot.Sources.Files;

/// <summary>
/// A read-only pass-through that keeps every byte read from the inner stream until <see cref="Take"/> hands them out,
/// so each batch carries the exact bytes consumed since the one before (read-ahead included): the batches' bytes
/// put end to end are the file. The inner stream is not disposed.
/// </summary>
internal sealed class CaptureStream(Stream inner) : Stream
{
    private byte[] _pending = new byte[64 * 1024];
    private int _count;
    private readonly byte[] _prefix = new byte[4];
    private int _prefixLength;

    /// <summary>The bytes read since the last <see cref="Take"/>.</summary>
    public ReadOnlySpan<byte> Pending => _pending.AsSpan(0, _count);

    /// <summary>The first (up to four) bytes of the file, for byte order marks.</summary>
    public ReadOnlySpan<byte> Prefix => _prefix.AsSpan(0, _prefixLength);

    /// <summary>A copy of the bytes read since the last call; the buffer is then reused.</summary>
    public byte[] Take()
    {
        var taken = Pending.ToArray();
        _count = 0;
        return taken;
    }

    /// <summary>Reads the stream to its end, so the last batch carries whatever the parser did not need to see.</summary>
    public async ValueTask DrainAsync(CancellationToken cancellationToken)
    {
        var scratch = new byte[16 * 1024];
        while (await ReadAsync(scratch, cancellationToken).ConfigureAwait(false) > 0)
        {
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var read = inner.Read(buffer);
        Keep(buffer[..read]);
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        Keep(buffer.Span[..read]);
        return read;
    }

    private void Keep(ReadOnlySpan<byte> bytes)
    {
        if (_prefixLength < _prefix.Length)
        {
            var first = bytes[..Math.Min(bytes.Length, _prefix.Length - _prefixLength)];
            first.CopyTo(_prefix.AsSpan(_prefixLength));
            _prefixLength += first.Length;
        }
        if (_count + bytes.Length > _pending.Length) Array.Resize(ref _pending, Math.Max(_pending.Length * 2, _count + bytes.Length));
        bytes.CopyTo(_pending.AsSpan(_count));
        _count += bytes.Length;
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
