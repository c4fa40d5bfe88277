using System.Runtime.InteropServices;

namespace Ingot.DuckDb.Native;

/// <summary>An open DuckDB database (in memory when no path is given). Thread-safe: open one connection per thread.</summary>
internal sealed class DuckDbDatabase : IDisposable
{
    private readonly DatabaseHandle _handle;

    private DuckDbDatabase(DatabaseHandle handle) => _handle = handle;

    /// <summary>Opens (or creates) a database file, or an in-memory database when <paramref name="path"/> is null.</summary>
    public static DuckDbDatabase Open(string? path = null)
    {
        NativeMethods.EnsureLoaded();
        var state = NativeMethods.duckdb_open_ext(path, out var db, 0, out var error);
        if (state != NativeMethods.DuckDbSuccess)
        {
            var message = error == 0 ? "unknown error" : Marshal.PtrToStringUTF8(error);
            if (error != 0) NativeMethods.duckdb_free(error);
            if (db != 0) NativeMethods.duckdb_close(ref db);
            throw new DuckDbException($"DuckDB could not open {(path is null ? "an in-memory database" : $"'{path}'")}: {message}");
        }
        return new DuckDbDatabase(new DatabaseHandle(db));
    }

    public DuckDbConnection Connect()
    {
        var added = false;
        _handle.DangerousAddRef(ref added);
        try
        {
            if (NativeMethods.duckdb_connect(_handle.DangerousGetHandle(), out var connection) != NativeMethods.DuckDbSuccess)
                throw new DuckDbException("DuckDB could not open a connection");
            return new DuckDbConnection(new ConnectionHandle(connection, _handle));
        }
        catch
        {
            _handle.DangerousRelease();
            throw;
        }
    }

    public void Dispose() => _handle.Dispose();

    private sealed class DatabaseHandle : SafeHandle
    {
        public DatabaseHandle(nint db) : base(0, ownsHandle: true) => SetHandle(db);
        public override bool IsInvalid => handle == 0;
        protected override bool ReleaseHandle()
        {
            var db = handle;
            NativeMethods.duckdb_close(ref db);
            return true;
        }
    }
}

/// <summary>Owns a <c>duckdb_connection</c>; keeps its database alive until it is closed.</summary>
internal sealed class ConnectionHandle : SafeHandle
{
    private readonly SafeHandle _database;

    /// <summary>Takes over one reference on <paramref name="database"/> (already added by the caller).</summary>
    public ConnectionHandle(nint connection, SafeHandle database) : base(0, ownsHandle: true)
    {
        _database = database;
        SetHandle(connection);
    }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle()
    {
        var connection = handle;
        NativeMethods.duckdb_disconnect(ref connection);
        _database.DangerousRelease();
        return true;
    }
}
