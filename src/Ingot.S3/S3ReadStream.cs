using Amazon.S3.Model;

namespace Ingot.S3;

/// <summary>The body of a GetObject response: owns the response, and wraps network failures while reading.</summary>
internal sealed class S3ReadStream(GetObjectResponse response, Func<Exception, S3StoreException> wrap) : Stream
{
    private readonly Stream _inner = response.ResponseStream;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => response.ContentLength;
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count)
    {
        try { return _inner.Read(buffer, offset, count); }
        catch (Exception ex) when (ex is IOException or HttpRequestException) { throw wrap(ex); }
    }

    public override int Read(Span<byte> buffer)
    {
        try { return _inner.Read(buffer); }
        catch (Exception ex) when (ex is IOException or HttpRequestException) { throw wrap(ex); }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try { return await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false); }
        catch (Exception ex) when (ex is IOException or HttpRequestException) { throw wrap(ex); }
    }

    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
            response.Dispose();
        }
        base.Dispose(disposing);
    }
}
