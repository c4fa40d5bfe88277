using System.Runtime.InteropServices;
using System.Text;

namespace Ingot.DuckDb.Native;

/// <summary>
/// Fast row ingestion into one table (DuckDB's appender): call one <c>Append*</c> per column in table order,
/// then <see cref="EndRow"/>. Values must match the column types exactly (no per-value casts on the hot path).
/// <see cref="Dispose"/> flushes nothing: call <see cref="Close"/> to commit the rows, dispose always.
/// </summary>
internal sealed unsafe class DuckDbAppender : IDisposable
{
    private nint _appender;
    private byte[] _utf8 = new byte[256];

    // No finalizer: destroying an appender after its connection closed is unsafe; owners dispose it.
    internal DuckDbAppender(nint appender) => _appender = appender;

    private nint Handle => _appender != 0 ? _appender : throw new ObjectDisposedException(nameof(DuckDbAppender));

    public void AppendNull() => Check(NativeMethods.duckdb_append_null(Handle));
    public void Append(bool value) => Check(NativeMethods.duckdb_append_bool(Handle, value ? (byte)1 : (byte)0));
    public void Append(int value) => Check(NativeMethods.duckdb_append_int32(Handle, value));
    public void Append(long value) => Check(NativeMethods.duckdb_append_int64(Handle, value));
    public void Append(double value) => Check(NativeMethods.duckdb_append_double(Handle, value));

    /// <summary>Appends a TIMESTAMP (no zone): microseconds since the Unix epoch, UTC.</summary>
    public void AppendTimestamp(DateTimeOffset value) =>
        Check(NativeMethods.duckdb_append_timestamp(Handle, (value.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / TimeSpan.TicksPerMicrosecond));

    public void Append(string value) => Append(value.AsSpan());

    public void Append(ReadOnlySpan<char> value)
    {
        var max = Encoding.UTF8.GetMaxByteCount(value.Length);
        if (max > _utf8.Length) _utf8 = new byte[Math.Max(max, _utf8.Length * 2)];
        var n = Encoding.UTF8.GetBytes(value, _utf8);
        AppendUtf8(_utf8.AsSpan(0, n));
    }

    /// <summary>Appends a VARCHAR given as UTF-8 bytes (not NUL-terminated).</summary>
    public void AppendUtf8(ReadOnlySpan<byte> utf8)
    {
        fixed (byte* p = utf8)
        {
            // A non-null pointer even for the empty string: NULL data would be read as a missing value.
            byte empty = 0;
            Check(NativeMethods.duckdb_append_varchar_length(Handle, utf8.IsEmpty ? &empty : p, (ulong)utf8.Length));
        }
    }

    /// <summary>Appends every row of <paramref name="chunk"/> (its columns must match the table's types).</summary>

    public void EndRow() => Check(NativeMethods.duckdb_appender_end_row(Handle));

    public void Flush() => Check(NativeMethods.duckdb_appender_flush(Handle));

    /// <summary>Flushes the remaining rows and closes the appender (errors surface here).</summary>
    public void Close() => Check(NativeMethods.duckdb_appender_close(Handle));

    public void Dispose()
    {
        var p = Interlocked.Exchange(ref _appender, 0);
        if (p != 0) NativeMethods.duckdb_appender_destroy(ref p);
    }

    private void Check(int state)
    {
        if (state == NativeMethods.DuckDbSuccess) return;
        var error = Marshal.PtrToStringUTF8(NativeMethods.duckdb_appender_error(_appender)) ?? "unknown error";
        throw new DuckDbException($"DuckDB append failed: {error}");
    }
}
