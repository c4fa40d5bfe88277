using System.Runtime.InteropServices;
using System.Text;

namespace Ingot.DuckDb.Native;

/// <summary>One DuckDB connection. Not thread-safe: use one per thread (they are cheap).</summary>
internal sealed unsafe class DuckDbConnection : IDisposable
{
    private readonly ConnectionHandle _handle;

    internal DuckDbConnection(ConnectionHandle handle) => _handle = handle;

    internal nint Handle => _handle.IsClosed ? throw new ObjectDisposedException(nameof(DuckDbConnection)) : _handle.DangerousGetHandle();

    /// <summary>Runs a statement and throws on error; returns the rows changed (0 for statements without a count).</summary>
    public long Execute(string sql)
    {
        using var result = Query(sql);
        return result.RowsChanged;
    }

    /// <summary>Runs a query and returns its materialized result; dispose it.</summary>
    public DuckDbResult Query(string sql)
    {
        var result = new DuckDbResult();
        try
        {
            var max = Encoding.UTF8.GetMaxByteCount(sql.Length) + 1;
            var rented = max <= 4096 ? null : System.Buffers.ArrayPool<byte>.Shared.Rent(max);
            Span<byte> buffer = rented ?? stackalloc byte[4096];
            var n = Encoding.UTF8.GetBytes(sql, buffer);
            buffer[n] = 0;
            int state;
            fixed (byte* p = buffer) state = NativeMethods.duckdb_query(Handle, p, result.Pointer);
            if (rented is not null) System.Buffers.ArrayPool<byte>.Shared.Return(rented);
            if (state != NativeMethods.DuckDbSuccess)
            {
                var error = Marshal.PtrToStringUTF8(NativeMethods.duckdb_result_error(result.Pointer)) ?? "unknown error";
                throw new DuckDbException($"DuckDB query failed: {error}");
            }
            return result;
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    /// <summary>Opens an appender on a table in the default schema.</summary>
    public DuckDbAppender CreateAppender(string table)
    {
        if (NativeMethods.duckdb_appender_create(Handle, null, table, out var appender) != NativeMethods.DuckDbSuccess)
        {
            var error = appender == 0 ? "unknown error" : Marshal.PtrToStringUTF8(NativeMethods.duckdb_appender_error(appender));
            if (appender != 0) NativeMethods.duckdb_appender_destroy(ref appender);
            throw new DuckDbException($"DuckDB could not create an appender on '{table}': {error}");
        }
        return new DuckDbAppender(appender);
    }

    public void Dispose() => _handle.Dispose();
}
