using DuckDB.NET.Data;

namespace Ingot.DuckDb;

/// <summary>
/// One in-memory DuckDB database shared by several sessions: the destinations stage each unit on a session of its own
/// (<see cref="Connect"/>), so units land concurrently while sharing one buffer pool and thread pool. The database lives
/// while this object or any session from it is open. Thread-safe: <see cref="Connect"/> from any thread.
/// </summary>
internal sealed class DuckDbDatabase : IDisposable
{
    // Opened on the thread pool: loading DuckDB's ~60 MB native library and creating the database is start-up work the
    // first request must not wait for (destinations are built before it); the first unit to land waits for it instead.
    private readonly Task<DuckDBConnection> _root;

    private DuckDbDatabase(Task<DuckDBConnection> root) => _root = root;

    /// <summary>Starts opening an in-memory database; a failure to open surfaces at the first <see cref="Connect"/>.</summary>
    public static DuckDbDatabase Open() => new(Task.Run(() => DuckDbSession.OpenConnection(path: null)));

    /// <summary>A new session on this database (the provider's <c>Duplicate</c>: a second native connection to the same database).</summary>
    public DuckDbSession Connect()
    {
        var connection = _root.GetAwaiter().GetResult().Duplicate();
        try
        {
            connection.Open();
        }
        catch (DuckDBException e)
        {
            connection.Dispose();
            throw new DuckDbException($"DuckDB could not open a connection: {e.Message}", e);
        }
        return new DuckDbSession(connection);
    }

    public void Dispose()
    {
        try
        {
            _root.GetAwaiter().GetResult().Dispose();
        }
        catch (DuckDbException)
        {
            // Never opened: nothing to close (the failure was reported by the first Connect, if anything connected).
        }
    }
}
